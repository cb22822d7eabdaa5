//! One client of the control socket at a time: peer check, hello, then
//! requests. Malformed or out-of-order messages get an error reply and
//! change nothing.

use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use lucc_abi::control::{decode, encode, Request, Response, Status, PROTOCOL_VERSION};

use crate::update::{build_id, channel, old};

/// A client that says nothing for this long is dropped.
const IDLE: Duration = Duration::from_secs(60);

pub fn serve(listener: UnixListener) {
    for s in listener.incoming().flatten() {
        handle(s);
    }
}

fn reply(s: &mut UnixStream, r: &Response) {
    // A client that went away does not concern the program.
    let _ = s.write_all(encode(r).as_bytes());
}

/// The peer's uid, from the kernel (SO_PEERCRED).
fn peer_uid(fd: RawFd) -> Option<u32> {
    // SAFETY: getsockopt into a correctly sized local.
    unsafe {
        let mut cred: libc::ucred = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        let r = libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len);
        (r == 0).then_some(cred.uid)
    }
}

fn handle(mut s: UnixStream) {
    let fd = s.as_raw_fd();
    // SAFETY: no arguments.
    let me = unsafe { libc::geteuid() };
    match peer_uid(fd) {
        Some(uid) if uid == me || uid == 0 => {}
        Some(uid) => {
            let message = format!("permission denied: uid {uid} may not control this process (owner uid {me})");
            return reply(&mut s, &Response::Error { message });
        }
        None => return,
    }
    let _ = s.set_read_timeout(Some(IDLE));
    let mut greeted = false;
    loop {
        let line = match channel::recv(fd) {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(message) => return reply(&mut s, &Response::Error { message }),
        };
        let req = match decode::<Request>(&line) {
            Ok(r) => r,
            Err(message) => {
                reply(&mut s, &Response::Error { message });
                continue;
            }
        };
        let r = match (greeted, req) {
            (false, Request::Hello { version }) if version == PROTOCOL_VERSION => {
                greeted = true;
                Response::Hello { version, pid: std::process::id() }
            }
            (false, Request::Hello { version }) => Response::Error {
                message: format!("protocol version {version} is not supported (this program speaks {PROTOCOL_VERSION})"),
            },
            (false, _) => Response::Error { message: "the first message must be hello".into() },
            (true, Request::Hello { .. }) => Response::Error { message: "hello was already received".into() },
            (true, Request::Status) => Response::Status(Status {
                pid: std::process::id(),
                build_id: build_id::get().into(),
                uptime_ms: super::started().elapsed().as_millis() as u64,
                heap_objects: crate::registry::object_count() as u64,
            }),
            (true, Request::Update { new_binary, timeout_ms, transform, fault, dry_run, no_check, ttst, probation_ms }) => {
                let mut fds = super::runtime_fds();
                fds.push(fd);
                let mut out = s.try_clone().ok();
                let opts = old::Options { transform: transform.as_deref(), fault, dry_run, no_check, ttst: ttst.as_ref(), probation: Duration::from_millis(probation_ms) };
                let run = old::run(&new_binary, Duration::from_millis(timeout_ms), &opts, &fds, &mut |r| {
                    if let Some(o) = out.as_mut() {
                        let _ = o.write_all(encode(r).as_bytes());
                    }
                });
                match run {
                    Ok(outcome) => Response::Outcome(outcome),
                    Err(message) => Response::Error { message },
                }
            }
        };
        reply(&mut s, &r);
    }
}
