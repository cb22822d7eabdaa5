//! JSON lines over a raw descriptor: the update channel between the old
//! process and the new one.
//!
//! Why raw and unbuffered: in the new process the channel is read first
//! in the constructor and again at the first update point, with the
//! program running in between; reading a byte at a time never takes more
//! than one message off the socket, so no buffer has to live in between.

use std::os::fd::RawFd;

use lucc_abi::control::MAX_LINE;

/// Sends one encoded message (`lucc_abi::control::encode`).
pub fn send(fd: RawFd, line: &str) -> Result<(), String> {
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        // SAFETY: writes from a live buffer.
        let n = unsafe { libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("update channel: {e}"));
        }
        rest = &rest[n as usize..];
    }
    Ok(())
}

/// The next line, for `lucc_abi::control::decode`; Ok(None) at end of file.
pub fn recv(fd: RawFd) -> Result<Option<String>, String> {
    let mut line = Vec::new();
    loop {
        let mut b = 0u8;
        // SAFETY: reads one byte into a local.
        let n = unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) };
        match n {
            0 if line.is_empty() => return Ok(None),
            0 => return Err("update channel: truncated message".into()),
            1 if b == b'\n' => break,
            1 if line.len() < MAX_LINE => line.push(b),
            1 => return Err("update channel: message too long".into()),
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!("update channel: {e}"));
                }
            }
        }
    }
    String::from_utf8(line).map(Some).map_err(|_| "update channel: message is not UTF-8".to_string())
}
