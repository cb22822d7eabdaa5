//! The systemd path (docs/systemd.md) with a stand-in for systemd's notify
//! socket, since systemd cannot run in the test's container. The stand-in
//! does what systemd does with `Type=notify`, `NotifyAccess=main` and
//! `ExecReload=lucc update $MAINPID NEW`: it binds a datagram socket, gives
//! its address to the service as `NOTIFY_SOCKET` (and to the reload
//! command, which systemd runs with the same variable), reads each
//! datagram's sender from its kernel credentials (SO_PASSCRED), drops
//! messages from any process but the current main one, and follows
//! `MAINPID=`. After a committed update the main pid must be the new
//! process, which answers requests; a failed update must change nothing,
//! exit non-zero (what makes `systemctl reload` fail), and leave the main
//! process serving.

use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::time::Duration;

use lucc_testsuite::build::Compiler;
use lucc_testsuite::client::LineClient;
use lucc_testsuite::server::Server;

use crate::common::{built, EXIT_TIMEOUT, KVSTORE};
use crate::live_update::update_support::lucc_update_env;
use crate::live_update::update_support::{process_gone, wait_gone, Updated, EXIT_COMMITTED, EXIT_ROLLED_BACK};

const KVSTORE_V2: (&str, &str) = ("kvstore/v2", "kvstore");

// recvmsg with SCM_CREDENTIALS, as systemd reads its notify socket
// (Linux x86_64/aarch64 layouts; the testsuite has no libc crate).
const SOL_SOCKET: i32 = 1;
const SO_PASSCRED: i32 = 16;
const SCM_CREDENTIALS: i32 = 2;

#[repr(C)]
struct IoVec {
    base: *mut u8,
    len: usize,
}

#[repr(C)]
struct MsgHdr {
    name: *mut u8,
    namelen: u32,
    iov: *mut IoVec,
    iovlen: usize,
    control: *mut u8,
    controllen: usize,
    flags: i32,
}

#[repr(C)]
struct CmsgHdr {
    len: usize,
    level: i32,
    kind: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct UCred {
    pid: i32,
    uid: u32,
    gid: u32,
}

extern "C" {
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const i32, len: u32) -> i32;
    fn recvmsg(fd: i32, msg: *mut MsgHdr, flags: i32) -> isize;
}

/// systemd's side of the notify protocol, for one service.
struct NotifyStandIn {
    sock: UnixDatagram,
    /// What the service gets as NOTIFY_SOCKET.
    address: String,
    main_pid: u32,
    /// Every datagram: (sender pid, text, accepted).
    log: Vec<(u32, String, bool)>,
}

impl NotifyStandIn {
    fn bind(sock: UnixDatagram, address: String) -> NotifyStandIn {
        let on = 1i32;
        // SAFETY: a valid descriptor and a 4-byte option value.
        let r = unsafe { setsockopt(sock.as_raw_fd(), SOL_SOCKET, SO_PASSCRED, &on, 4) };
        assert_eq!(r, 0, "SO_PASSCRED: {}", std::io::Error::last_os_error());
        NotifyStandIn { sock, address, main_pid: 0, log: Vec::new() }
    }

    fn at_path(path: &Path) -> NotifyStandIn {
        let sock = UnixDatagram::bind(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        NotifyStandIn::bind(sock, path.display().to_string())
    }

    /// systemd's own default is a path; an abstract name is written with '@'.
    fn abstract_named(name: &str) -> NotifyStandIn {
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap_or_else(|e| panic!("@{name}: {e}"));
        NotifyStandIn::bind(sock, format!("@{name}"))
    }

    /// One datagram and its sender, or None after `wait`.
    fn recv(&self, wait: Duration) -> Option<(u32, String)> {
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4096];
        let mut control = [0u64; 8];
        let mut iov = IoVec { base: buf.as_mut_ptr(), len: buf.len() };
        let mut msg = MsgHdr {
            name: std::ptr::null_mut(),
            namelen: 0,
            iov: &mut iov,
            iovlen: 1,
            control: control.as_mut_ptr().cast(),
            controllen: std::mem::size_of_val(&control),
            flags: 0,
        };
        // SAFETY: every pointer in `msg` is to a live buffer of the given size.
        let n = unsafe { recvmsg(self.sock.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            assert!(matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "recvmsg: {e}");
            return None;
        }
        assert!(msg.controllen >= std::mem::size_of::<CmsgHdr>() + std::mem::size_of::<UCred>(), "a datagram without credentials");
        // SAFETY: the kernel wrote one SCM_CREDENTIALS header and its data
        // at the start of the 8-aligned control buffer.
        let (hdr, cred) = unsafe {
            let hdr = &*(control.as_ptr() as *const CmsgHdr);
            (hdr, *(control.as_ptr().cast::<u8>().add(std::mem::size_of::<CmsgHdr>()) as *const UCred))
        };
        assert_eq!((hdr.level, hdr.kind), (SOL_SOCKET, SCM_CREDENTIALS));
        Some((cred.pid as u32, String::from_utf8_lossy(&buf[..n as usize]).into_owned()))
    }

    /// Reads datagrams until none comes for `quiet`, applying them as
    /// systemd would with NotifyAccess=main.
    fn drain(&mut self, quiet: Duration) {
        while let Some((sender, text)) = self.recv(quiet) {
            let accepted = sender == self.main_pid;
            if accepted {
                for line in text.lines() {
                    if let Some(pid) = line.strip_prefix("MAINPID=") {
                        self.main_pid = pid.parse().unwrap_or_else(|_| panic!("bad MAINPID in {text:?}"));
                    }
                }
            }
            self.log.push((sender, text, accepted));
        }
    }
}

/// `lucc update PID NEW --json [extra]`, run as ExecReload would run it.
fn reload(notify: &NotifyStandIn, pid: u32, new: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let r = lucc_update_env(pid, new, extra, &[("NOTIFY_SOCKET", notify.address.as_ref())]);
    (r.code, r.json.clone(), r.describe())
}

fn version(port: u16) -> String {
    let mut c = LineClient::connect(port).unwrap_or_else(|e| panic!("{e:#}"));
    c.request("VERSION").unwrap_or_else(|e| panic!("{e:#}"))
}

/// Starts kvstore v1 as the service's main process and updates it to v2.
/// Returns the new main pid (guarded) and the server (its port).
fn committed_reload(notify: &mut NotifyStandIn) -> (Server, Updated) {
    let v1 = built(KVSTORE, Compiler::Lucc).exe;
    let v2 = built(KVSTORE_V2, Compiler::Lucc).exe;
    let server = Server::start(&v1, &[("NOTIFY_SOCKET", &notify.address)]).unwrap_or_else(|e| panic!("{e:#}"));
    notify.main_pid = server.pid();
    assert_eq!(version(server.port), "v1");

    let (code, json, text) = reload(notify, server.pid(), &v2, &[]);
    assert_eq!(code, EXIT_COMMITTED, "{text}");
    let new_pid = json["new_pid"].as_u64().unwrap_or_else(|| panic!("no new_pid: {text}")) as u32;
    let guard = Updated(new_pid);
    notify.drain(Duration::from_millis(500));
    assert_eq!(notify.main_pid, new_pid, "{}: the service's main pid did not follow the update; datagrams: {:?}", notify.address, notify.log);
    // Sent by the main process itself, so NotifyAccess=main accepts it.
    assert!(notify.log.iter().any(|(from, text, ok)| *ok && *from == server.pid() && text.contains("READY=1")), "{:?}", notify.log);
    assert!(notify.log.iter().all(|(_, _, ok)| *ok), "a datagram systemd would have refused: {:?}", notify.log);
    wait_gone(server.pid(), EXIT_TIMEOUT).unwrap_or_else(|e| panic!("the old main process: {e:#}"));
    assert!(!process_gone(new_pid), "the new main process {new_pid} is not running");
    assert_eq!(version(server.port), "v2", "the service after the reload");
    (server, guard)
}

#[test]
fn the_new_process_becomes_the_main_process_and_a_failed_reload_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut notify = NotifyStandIn::at_path(&dir.path().join("notify"));
    let (server, guard) = committed_reload(&mut notify);
    let main = notify.main_pid;

    // A bad build: the reload fails (non-zero exit), the main pid stays,
    // and the service keeps serving from it.
    let v2 = built(KVSTORE_V2, Compiler::Lucc).exe;
    notify.log.clear();
    let (code, json, text) = reload(&notify, main, &v2, &["--inject-fault", "startup:crash"]);
    assert_eq!(code, EXIT_ROLLED_BACK, "{text}");
    assert_ne!(code, 0, "systemctl reload must see the failure");
    assert_eq!(json["outcome"], "rolled_back", "{text}");
    notify.drain(Duration::from_millis(500));
    assert!(notify.log.is_empty(), "a failed update notified systemd: {:?}", notify.log);
    assert_eq!(notify.main_pid, main);
    assert!(!process_gone(main), "the main process is gone after a failed reload");
    assert_eq!(version(server.port), "v2", "the service after a failed reload");

    // The next reload, from the process that became main, is followed too.
    let (code, _, text) = reload(&notify, main, &v2, &[]);
    assert_eq!(code, EXIT_COMMITTED, "{text}");
    notify.drain(Duration::from_millis(500));
    assert_ne!(notify.main_pid, main, "{:?}", notify.log);
    let _next = Updated(notify.main_pid);
    assert!(notify.log.iter().all(|(from, _, ok)| *ok && *from == main), "{:?}", notify.log);
    assert_eq!(version(server.port), "v2");
    drop(guard);
}

#[test]
fn an_abstract_notify_socket_is_followed_too() {
    let name = format!("lucc-test-notify-{}", std::process::id());
    let mut notify = NotifyStandIn::abstract_named(&name);
    let (_server, _guard) = committed_reload(&mut notify);
}
