//! Talking to a program's control socket (protocol in
//! `lucc_abi::control`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use lucc_abi::control::{decode, encode, socket_dir, socket_path, Fault, Outcome, Request, Response, TtstRequest, PROTOCOL_VERSION};

/// What an update asks for besides its binary and timeout.
pub struct UpdateRequest {
    pub transform: Option<String>,
    pub fault: Option<Fault>,
    pub dry_run: bool,
    /// `--no-check`: no invariant check after the transfer.
    pub no_check: bool,
    pub ttst: Option<TtstRequest>,
    /// The outcome comes only after it.
    pub probation: Duration,
}

pub enum OpenError {
    /// Bad input or permission: nothing was changed.
    Refused(String),
    Other(String),
}

pub enum Failure {
    Refused(String),
    Other(String),
}

pub struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks existence and permission.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

impl Conn {
    pub fn open(pid: u32) -> Result<Conn, OpenError> {
        // SAFETY: no arguments.
        let uid = unsafe { libc::geteuid() };
        let path = socket_path(&socket_dir(std::env::var_os("XDG_RUNTIME_DIR").as_deref(), uid), pid);
        let stream = UnixStream::connect(&path).map_err(|e| {
            if path.exists() && !alive(pid) {
                // Left by a process that died without cleaning up.
                let _ = std::fs::remove_file(&path);
            }
            match e.kind() {
                std::io::ErrorKind::PermissionDenied => OpenError::Refused(format!("{}: {e}", path.display())),
                _ => OpenError::Refused(format!("process {pid} is not a lucc program or is not running")),
            }
        })?;
        let writer = stream.try_clone().map_err(|e| OpenError::Other(e.to_string()))?;
        let mut c = Conn { reader: BufReader::new(stream), writer };
        match c.ask(&Request::Hello { version: PROTOCOL_VERSION }) {
            Ok(Response::Hello { .. }) => Ok(c),
            Ok(Response::Error { message }) => Err(OpenError::Refused(format!("process {pid}: {message}"))),
            Ok(other) => Err(OpenError::Refused(format!("process {pid}: unexpected reply {other:?}"))),
            Err(e) => Err(OpenError::Other(format!("process {pid}: {e}"))),
        }
    }

    fn send(&mut self, r: &Request) -> Result<(), String> {
        self.writer.write_all(encode(r).as_bytes()).map_err(|e| format!("control socket: {e}"))
    }

    fn recv(&mut self) -> Result<Response, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("the program closed the control connection".into()),
            Ok(_) => decode(&line),
            Err(e) => Err(format!("control socket: {e}")),
        }
    }

    pub fn ask(&mut self, r: &Request) -> Result<Response, String> {
        // A program that refuses a peer replies and closes at once, so the
        // request may meet a closed socket; its reply still explains why.
        let sent = self.send(r);
        match (sent, self.recv()) {
            (_, Ok(resp)) => Ok(resp),
            (Err(e), Err(_)) | (Ok(()), Err(e)) => Err(e),
        }
    }

    /// Sends the update and passes every reply to `seen` until the outcome.
    pub fn update(&mut self, binary: &Path, timeout: Duration, r: UpdateRequest, seen: &mut dyn FnMut(&Response)) -> Result<Outcome, Failure> {
        let UpdateRequest { transform, fault, dry_run, no_check, ttst, probation } = r;
        let probation_ms = probation.as_millis() as u64;
        let req = Request::Update { new_binary: binary.display().to_string(), timeout_ms: timeout.as_millis() as u64, transform, fault, dry_run, no_check, ttst, probation_ms };
        // The program answers within its timeout plus the probation; the
        // margin covers the rest.
        let _ = self.reader.get_ref().set_read_timeout(Some(timeout + probation + Duration::from_secs(10)));
        self.send(&req).map_err(Failure::Other)?;
        loop {
            let r = self.recv().map_err(Failure::Other)?;
            seen(&r);
            if !super::is_final(&r) {
                continue;
            }
            return match r {
                Response::Outcome(o) => Ok(o),
                Response::Error { message } => Err(Failure::Refused(message)),
                other => Err(Failure::Other(format!("unexpected reply {other:?}"))),
            };
        }
    }
}
