//! `lucc update` against real processes: a small epoll server
//! (`update_programs/server.c`) built by the real lucc, updated to a new
//! build, or to builds that fail before their first update point.
//!
//! The server takes its listening socket from fd 3 (socket activation), so
//! a new version needs no bind; replaying startup calls is not what these
//! tests are about. Each test gets its own XDG_RUNTIME_DIR, so the control
//! sockets of parallel tests never meet.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const LUCC: &str = env!("CARGO_BIN_EXE_lucc");

fn runtime() -> PathBuf {
    static RT: OnceLock<PathBuf> = OnceLock::new();
    RT.get_or_init(|| {
        if let Some(rt) = std::env::var_os("LUCC_RUNTIME") {
            return PathBuf::from(rt);
        }
        let rt = Path::new(LUCC).parent().unwrap().join("liblucc_rt.a");
        let st = Command::new(env!("CARGO")).args(["build", "-q", "-p", "lucc-rt"]).status().expect("cargo runs");
        assert!(st.success() && rt.is_file(), "cannot build {}", rt.display());
        rt
    })
    .clone()
}

/// The server built by lucc in each variant, once per test run.
fn programs() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/update_programs/server.c");
        let variants: &[(&str, &[&str])] = &[
            ("v1", &["-DVERSION=\"v1\""]),
            ("v2", &["-DVERSION=\"v2\""]),
            ("v1_nodump", &["-DVERSION=\"v1\"", "-DNON_DUMPABLE"]),
            ("abort", &["-DVERSION=\"bad\"", "-DSTARTUP_ABORT"]),
            ("exit", &["-DVERSION=\"bad\"", "-DSTARTUP_EXIT"]),
            ("hang", &["-DVERSION=\"bad\"", "-DSTARTUP_HANG"]),
        ];
        for (name, flags) in variants {
            let out = Command::new(LUCC)
                .env("LUCC_RUNTIME", runtime())
                .env_remove("LUCC_NO_SIDECAR")
                .env_remove("LUCC_DISABLE")
                .args(["-O1", "-g", "-Wall", "-Werror"])
                .args(*flags)
                .arg(&src)
                .arg("-o")
                .arg(dir.path().join(name))
                .output()
                .unwrap();
            assert!(out.status.success(), "building {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let busy = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/update_programs/busy.c");
        let timed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/update_programs/timed.c");
        for (name, src, flags) in
            [("busy", &busy, &[][..]), ("busy_point", &busy, &["-DEXPLICIT_POINT"][..]), ("timed", &timed, &[][..])]
        {
            let out = Command::new(LUCC)
                .env("LUCC_RUNTIME", runtime())
                .env_remove("LUCC_NO_SIDECAR")
                .env_remove("LUCC_DISABLE")
                .args(["-O1", "-g", "-Wall", "-Werror"])
                .args(flags)
                .arg(src)
                .arg("-o")
                .arg(dir.path().join(name))
                .output()
                .unwrap();
            assert!(out.status.success(), "building {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        // Not built by lucc: no sidecar.
        let out = Command::new("clang-14").arg(&src).arg("-o").arg(dir.path().join("plain")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        dir
    })
    .path()
}

/// A running server, its listening port and private runtime dir. Kills
/// whatever process serves at the end (the old one or its successor).
struct Server {
    child: Child,
    port: u16,
    xdg: tempfile::TempDir,
    successor: Option<i32>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(pid) = self.successor {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn socket_of(xdg: &Path, pid: u32) -> PathBuf {
    xdg.join("lucc").join(format!("{pid}.sock"))
}

fn start_in(xdg: tempfile::TempDir, wait_socket: bool) -> Server {
    start_variant("v1", xdg, wait_socket)
}

fn start_variant(variant: &str, xdg: tempfile::TempDir, wait_socket: bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lfd = listener.as_raw_fd();
    let mut cmd = Command::new(programs().join(variant));
    cmd.env("LISTEN_FDS", "1").env("XDG_RUNTIME_DIR", xdg.path()).stdout(Stdio::null());
    // SAFETY: dup2 and fcntl are async-signal-safe; fd 3 of the child is
    // the listener (dup2 onto itself would keep its close-on-exec flag).
    unsafe {
        cmd.pre_exec(move || {
            let r = if lfd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(lfd, 3) };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    drop(listener);
    let s = Server { child, port, xdg, successor: None };
    if wait_socket {
        wait_for(&socket_of(s.xdg.path(), s.child.id()));
    }
    s
}

fn wait_for(sock: &Path) {
    let t = Instant::now();
    while !sock.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "no control socket at {}", sock.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn start() -> Server {
    start_in(tempfile::tempdir().unwrap(), true)
}

fn ask(c: &mut BufReader<TcpStream>) -> String {
    c.get_mut().write_all(b"hello\n").unwrap();
    let mut line = String::new();
    c.read_line(&mut line).unwrap();
    line.trim_end().to_string()
}

fn connect(port: u16) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    BufReader::new(s)
}

fn update(s: &Server, binary: &str, extra: &[&str]) -> Output {
    Command::new(LUCC)
        .env("XDG_RUNTIME_DIR", s.xdg.path())
        .arg("update")
        .arg(s.child.id().to_string())
        .arg(programs().join(binary))
        .args(extra)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn alive(pid: i32) -> bool {
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn update_commits_and_the_new_version_serves() {
    let mut s = start();
    let mut old_conn = connect(s.port);
    assert_eq!(ask(&mut old_conn), "v1");

    let out = update(&s, "v2", &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints one JSON object");
    assert_eq!(report["outcome"], "committed");
    let stages: Vec<&str> = report["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["request", "quiesce", "spawn", "startup", "transfer", "commit"]);
    let new_pid = report["new_pid"].as_i64().unwrap() as i32;
    s.successor = Some(new_pid);
    // This server keeps its state on the stack and in the kernel: the
    // transfer has nothing to convert, but says so in numbers.
    let counts = &report["stages"][4]["counts"];
    assert!(counts["objects"].is_u64() && counts["variables"].is_u64(), "the transfer stage reports its counts: {report}");

    // The old process exited by itself, successfully.
    let status = s.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "old process: {status:?}");
    assert!(alive(new_pid));
    assert_eq!(ask(&mut connect(s.port)), "v2");
    // The new version can be updated in turn.
    wait_for(&socket_of(s.xdg.path(), new_pid as u32));
    assert!(!socket_of(s.xdg.path(), s.child.id()).exists(), "the old socket is removed");
}

/// A server that made itself non-dumpable (as one does after dropping
/// privileges) cannot be read through /proc/PID/mem or ptrace by anyone
/// but root: the update must not need either.
#[test]
fn non_dumpable_program_is_updated() {
    let mut s = start_variant("v1_nodump", tempfile::tempdir().unwrap(), true);
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    let mut old_conn = connect(s.port);
    assert_eq!(ask(&mut old_conn), "v1");
    let out = update(&s, "v2", &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{status}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    s.successor = Some(report["new_pid"].as_i64().unwrap() as i32);
    s.child.wait().unwrap();
    assert_eq!(ask(&mut old_conn), "v2");
}

#[test]
fn text_report_names_each_stage() {
    let mut s = start();
    let out = update(&s, "v2", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for stage in ["request", "quiesce", "spawn", "startup", "commit", "committed"] {
        assert!(stdout.contains(stage), "{stage} missing:\n{stdout}");
    }
    let new_pid: i32 = stdout.trim_end().rsplit(' ').next().unwrap().parse().expect("ends with the new pid");
    s.successor = Some(new_pid);
    s.child.wait().unwrap();
    assert_eq!(ask(&mut connect(s.port)), "v2");
}

fn rolls_back(variant: &str, extra: &[&str], why: &str) {
    let mut s = start();
    let mut old_conn = connect(s.port);
    assert_eq!(ask(&mut old_conn), "v1");
    let out = update(&s, variant, extra);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rolled back") && stderr.contains(why), "{}", text(&out));
    assert!(s.child.try_wait().unwrap().is_none(), "the old process must run on");
    assert_eq!(ask(&mut old_conn), "v1", "open connection after rollback");
    assert_eq!(ask(&mut connect(s.port)), "v1", "new connection after rollback");
    // And it can still be updated.
    let out = update(&s, "v2", &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    s.successor = Some(report["new_pid"].as_i64().unwrap() as i32);
    assert_eq!(ask(&mut connect(s.port)), "v2");
}

#[test]
fn new_version_crashing_in_startup_rolls_back() {
    rolls_back("abort", &[], "killed by signal 6");
}

#[test]
fn new_version_exiting_before_its_update_point_rolls_back() {
    rolls_back("exit", &[], "exited with status 1");
}

#[test]
fn new_version_hanging_rolls_back_at_the_deadline() {
    let t = Instant::now();
    rolls_back("hang", &["--timeout", "2"], "did not reach an update point");
    assert!(t.elapsed() < Duration::from_secs(30));
}

#[test]
fn binary_not_built_by_lucc_is_refused_before_contact() {
    let mut s = start();
    let mut conn = connect(s.port);
    for bad in ["plain", "does-not-exist"] {
        let out = update(&s, bad, &[]);
        assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    }
    assert!(s.child.try_wait().unwrap().is_none());
    assert_eq!(ask(&mut conn), "v1");
}

#[test]
fn unknown_process_is_refused_with_a_clear_message() {
    let s = start();
    let out = Command::new(LUCC)
        .env("XDG_RUNTIME_DIR", s.xdg.path())
        .args(["update", "999999999"])
        .arg(programs().join("v2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("process 999999999 is not a lucc program or is not running"));
}

/// JSON lines on the raw socket.
fn raw(s: &Server) -> (BufReader<std::os::unix::net::UnixStream>, std::os::unix::net::UnixStream) {
    let c = std::os::unix::net::UnixStream::connect(socket_of(s.xdg.path(), s.child.id())).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    (BufReader::new(c.try_clone().unwrap()), c)
}

fn say(r: &mut BufReader<std::os::unix::net::UnixStream>, w: &mut std::os::unix::net::UnixStream, line: &str) -> serde_json::Value {
    w.write_all(line.as_bytes()).unwrap();
    let mut reply = String::new();
    r.read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{e}: {reply}"))
}

#[test]
fn malformed_and_out_of_order_messages_get_errors_and_change_nothing() {
    let mut s = start();
    let mut conn = connect(s.port);
    let (mut r, mut w) = raw(&s);
    assert_eq!(say(&mut r, &mut w, "{\"type\":\"status\"}\n")["type"], "error", "status before hello");
    assert_eq!(say(&mut r, &mut w, "this is not json\n")["type"], "error");
    assert_eq!(say(&mut r, &mut w, "{\"type\":\"hello\",\"version\":99}\n")["type"], "error");
    let hello_line = format!("{{\"type\":\"hello\",\"version\":{}}}\n", lucc_abi::control::PROTOCOL_VERSION);
    let hello = say(&mut r, &mut w, &hello_line);
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["pid"], s.child.id());
    assert_eq!(say(&mut r, &mut w, &hello_line)["type"], "error", "second hello");
    assert_eq!(say(&mut r, &mut w, "{\"type\":\"update\"}\n")["type"], "error", "update without fields");
    let rel = say(&mut r, &mut w, "{\"type\":\"update\",\"new_binary\":\"v2\",\"timeout_ms\":100}\n");
    assert_eq!(rel["type"], "error", "relative binary path: {rel}");
    let st = say(&mut r, &mut w, "{\"type\":\"status\"}\n");
    assert_eq!(st["type"], "status");
    assert_eq!(st["pid"], s.child.id());
    assert_eq!(st["build_id"].as_str().unwrap().len(), 40, "{st}");
    assert!(s.child.try_wait().unwrap().is_none());
    assert_eq!(ask(&mut conn), "v1");
}

#[test]
fn control_directory_with_wide_permissions_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir(xdg.path().join("lucc")).unwrap();
    std::fs::set_permissions(xdg.path().join("lucc"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut s = start_in(xdg, false);
    assert_eq!(ask(&mut connect(s.port)), "v1", "the program runs without its control socket");
    let out = update(&s, "v2", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(!socket_of(s.xdg.path(), s.child.id()).exists());
    assert!(s.child.try_wait().unwrap().is_none());
}

#[test]
fn another_user_is_refused() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: cannot test a request from another uid");
        return;
    }
    let mut s = start();
    let sock = socket_of(s.xdg.path(), s.child.id());
    // Let the other user reach the socket itself, so that the peer
    // credential check is what refuses it, not the directory.
    use std::os::unix::fs::PermissionsExt;
    for p in [s.xdg.path().join("lucc"), sock.clone()] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    // The client: a forked child that drops to nobody and reports the
    // program's reply through a socketpair.
    let (mut rd, mut wr) = std::os::unix::net::UnixStream::pair().unwrap();
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                libc::_exit(2);
            }
        }
        let reply = std::os::unix::net::UnixStream::connect(&sock).and_then(|mut c| {
            // The refusal may come (and the socket close) before the
            // hello is written; the reply is what matters.
            let _ = c.write_all(b"{\"type\":\"hello\",\"version\":1}\n");
            let mut line = String::new();
            BufReader::new(c).read_line(&mut line)?;
            Ok(line)
        });
        let _ = wr.write_all(reply.unwrap_or_else(|e| format!("connect: {e}\n")).as_bytes());
        unsafe { libc::_exit(0) };
    }
    drop(wr);
    let mut got = String::new();
    std::io::Read::read_to_string(&mut rd, &mut got).unwrap();
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    assert!(got.contains("\"error\"") && got.contains("permission denied"), "{got}");
    assert!(s.child.try_wait().unwrap().is_none());
    assert_eq!(ask(&mut connect(s.port)), "v1");
}

/// A program that does not block: started without a listener.
fn start_busy(name: &str) -> Server {
    let xdg = tempfile::tempdir().unwrap();
    let child = Command::new(programs().join(name)).env("XDG_RUNTIME_DIR", xdg.path()).spawn().unwrap();
    let s = Server { child, port: 0, xdg, successor: None };
    wait_for(&socket_of(s.xdg.path(), s.child.id()));
    s
}

#[test]
fn program_that_never_reaches_an_update_point_rolls_back_at_quiesce() {
    let mut s = start_busy("busy");
    let out = update(&s, "busy_point", &["--timeout", "1", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let last = report["stages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["stage"].as_str(), last["ok"].as_bool()), (Some("quiesce"), Some(false)), "{report}");
    assert!(s.child.try_wait().unwrap().is_none(), "the busy program runs on");
}

#[test]
fn explicit_update_point_lets_a_busy_program_update() {
    let mut s = start_busy("busy_point");
    let out = update(&s, "busy_point", &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_pid = report["new_pid"].as_i64().unwrap() as i32;
    s.successor = Some(new_pid);
    assert_eq!(s.child.wait().unwrap().code(), Some(0));
    assert!(alive(new_pid));
}

/// A rollback while a timed call waits is invisible to the program.
fn rollback_during_timed_call(how: &str) {
    let xdg = tempfile::tempdir().unwrap();
    // LISTEN_FDS lets the hanging new version get past its argument check.
    let child = Command::new(programs().join("timed"))
        .arg(how)
        .env("XDG_RUNTIME_DIR", xdg.path())
        .env("LISTEN_FDS", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let s = Server { child, port: 0, xdg, successor: None };
    wait_for(&socket_of(s.xdg.path(), s.child.id()));
    let out = update(&s, "hang", &["--timeout", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let mut s = s;
    let mut printed = String::new();
    std::io::Read::read_to_string(s.child.stdout.as_mut().unwrap(), &mut printed).unwrap();
    let elapsed: u64 = printed.trim_end().rsplit('=').next().unwrap().parse().unwrap();
    assert!(printed.starts_with("ret=0 errno=0 "), "{how}: {printed}");
    assert!((2900..3700).contains(&elapsed), "{how}: the 3 s timeout took {elapsed} ms");
}

#[test]
fn rollback_keeps_poll_timeout_and_hides_eintr() {
    rollback_during_timed_call("poll");
}

#[test]
fn rollback_keeps_select_timeout_and_hides_eintr() {
    rollback_during_timed_call("select");
}

#[test]
fn rollback_keeps_epoll_wait_timeout_and_hides_eintr() {
    rollback_during_timed_call("epoll");
}

#[test]
fn status_reports_the_running_build() {
    let s = start();
    let out = Command::new(LUCC)
        .env("XDG_RUNTIME_DIR", s.xdg.path())
        .args(["status", "--json", &s.child.id().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["pid"], s.child.id());
    let data = std::fs::read(programs().join("v1")).unwrap();
    let id: String = object::Object::build_id(&object::File::parse(&*data).unwrap())
        .unwrap()
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(st["build_id"], id);
}
