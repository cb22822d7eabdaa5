//! Startup record and replay with real processes: `tests/c/startup_server.c`
//! built with the real driver (`lucc`, so with the `--wrap` flags), run as
//! the old version, which then starts itself again with its descriptors
//! inherited and its own record to replay, as the update flow will.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lucc_rt::startup::record::{self, Kind};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The driver binary, built in the tests' profile.
fn lucc() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let release = !cfg!(debug_assertions);
    let st = Command::new(cargo)
        .args(["build", "-q", "-p", "lucc", "--manifest-path"])
        .arg(manifest().join("Cargo.toml"))
        .args(release.then_some("--release"))
        .status()
        .expect("cargo runs");
    assert!(st.success(), "building lucc failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| manifest().join("../target"));
    target.join(if release { "release" } else { "debug" }).join("lucc")
}

fn build_server(dir: &Path) -> PathBuf {
    build_c(dir, "startup_server")
}

fn build_c(dir: &Path, name: &str) -> PathBuf {
    let exe = dir.join(name);
    let out = Command::new(lucc())
        .env("LUCC_RUNTIME", common::archive())
        .env("LUCC_INCLUDE", manifest().join("../runtime-c/include"))
        .args(["-O1", "-g", "-Wall", "-Werror", "-I"])
        .arg(manifest().join("../runtime-c/include"))
        .arg(manifest().join(format!("tests/c/{name}.c")))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("lucc runs");
    assert!(out.status.success(), "lucc: {}", String::from_utf8_lossy(&out.stderr));
    exe
}

#[derive(Debug, Clone, PartialEq)]
struct Ready {
    pid: i32,
    fields: Vec<(String, String)>,
}

impl Ready {
    fn parse(line: &str) -> Ready {
        assert!(line.starts_with("ready "), "unexpected output: {line:?}");
        let fields: Vec<(String, String)> = line
            .split_whitespace()
            .skip(1)
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let r = Ready { pid: 0, fields };
        Ready { pid: r.get("pid").parse().unwrap(), ..r }
    }
    fn get(&self, k: &str) -> &str {
        &self.fields.iter().find(|(n, _)| n == k).unwrap_or_else(|| panic!("no {k}")).1
    }
}

/// Kills the processes by pid whatever the test's outcome.
struct Reap(Vec<i32>, Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        for &pid in self.0.iter().rev() {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if let Some(c) = self.1.as_mut() {
            let _ = c.wait();
        }
    }
}

fn link(pid: i32, fd: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap().display().to_string()
}

fn ask(mut s: impl Read) -> String {
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn the_new_version_reuses_what_the_old_startup_created() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let exe = build_server(dir);
    let mut old = Command::new(&exe)
        .arg(dir)
        .arg("--spawn-update")
        .env("LUCC_STARTUP_RECORD_OUT", dir.join("record"))
        .env_remove("LUCC_STARTUP_REPLAY_IN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = old.stdout.take().unwrap();
    let mut err = old.stderr.take().unwrap();
    let mut reap = Reap(vec![old.id() as i32], Some(old));
    let mut lines = BufReader::new(out).lines();
    let mut next = || match lines.next() {
        Some(Ok(l)) => Ready::parse(&l),
        _ => {
            let mut e = String::new();
            let _ = err.read_to_string(&mut e);
            panic!("server ended early; stderr:\n{e}");
        }
    };
    let o = next();
    let n = next();
    reap.0.push(n.pid);

    assert_eq!(o.get("update"), "0");
    assert_eq!(n.get("update"), "1");
    assert_ne!(o.pid, n.pid);
    // Same port, same descriptor numbers, and they are the old one's
    // objects: nothing was created anew (no EADDRINUSE either, or the
    // program would have died in bind).
    for k in ["port", "tcp", "ep", "unix", "log", "pidino"] {
        assert_eq!(o.get(k), n.get(k), "{k} differs between old and new");
    }
    for k in ["tcp", "ep", "unix", "log"] {
        assert_eq!(link(o.pid, o.get(k)), link(n.pid, n.get(k)), "{k} is not the inherited descriptor");
    }

    // The new process serves on the shared listeners (the old is parked).
    let tcp = TcpStream::connect(("127.0.0.1", o.get("port").parse::<u16>().unwrap())).unwrap();
    assert_eq!(ask(tcp), format!("pong pid={}\n", n.pid));
    let unix = UnixStream::connect(dir.join("sock")).unwrap();
    assert_eq!(ask(unix), format!("pong pid={}\n", n.pid));

    // The pidfile is the one the old created (same inode), now naming the new process.
    let pidfile = std::fs::read_to_string(dir.join("pid")).unwrap();
    assert_eq!(pidfile.lines().next().unwrap(), n.pid.to_string());
    assert_eq!(std::fs::metadata(dir.join("pid")).unwrap().ino().to_string(), o.get("pidino"));
    // Both appended to the one log.
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert_eq!(log, format!("started pid={} update=0\nstarted pid={} update=1\n", o.pid, n.pid));

    // The new version's own record (for its next update) describes the same
    // startup on the same objects (inodes) as the old one's. The program's
    // calls come last: only the runtime's own constructor work may precede
    // them.
    let old_rec = record::parse(&std::fs::read(dir.join("record")).unwrap()).unwrap();
    let new_rec = record::parse(&std::fs::read(dir.join("record.new")).unwrap()).unwrap();
    use Kind::*;
    let program = [Socket, Setsockopt, Bind, Listen, EpollCreate1, EpollCtl, Open, Open, Unlink, Socket, Bind, Listen, EpollCtl];
    assert!(old_rec.len() >= program.len() && new_rec.len() >= program.len(), "{old_rec:?}\n{new_rec:?}");
    let tail = |r: &[record::Entry]| {
        r[r.len() - program.len()..]
            .iter()
            .map(|e| (e.kind, e.ret < 0, e.err, e.fds.iter().map(|f| (f.dev, f.ino)).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    let kinds: Vec<Kind> = tail(&old_rec).into_iter().map(|t| t.0).collect();
    assert_eq!(kinds, program);
    assert_eq!(tail(&old_rec), tail(&new_rec));
}

#[test]
fn only_the_main_threads_startup_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = build_c(tmp.path(), "startup_threads");
    let rec = tmp.path().join("record");
    let out = Command::new(&exe).env("LUCC_STARTUP_RECORD_OUT", &rec).env_remove("LUCC_STARTUP_REPLAY_IN").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "update=0\n");
    let entries = record::parse(&std::fs::read(&rec).unwrap()).unwrap();
    let mine: Vec<_> = entries.iter().filter(|e| matches!(e.kind, Kind::Open | Kind::Pipe | Kind::Socket)).collect();
    assert_eq!(mine.len(), 2, "{entries:?}");
    assert_eq!(mine[0].kind, Kind::Open);
    assert!(mine[0].key.ends_with(b"/dev/null") && mine[0].key[1..5] == libc::O_RDONLY.to_le_bytes());
    assert_eq!(mine[1].kind, Kind::Pipe);
    assert_eq!(mine[1].fds.len(), 2);
}

#[test]
fn every_startup_call_has_its_wrapper_in_the_archive() {
    let out = Command::new("nm").args(["-g", "--defined-only"]).arg(common::archive()).output().expect("nm runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let defined: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    for f in lucc_abi::wrapped::STARTUP_CALLS {
        assert!(defined.contains(&format!("__wrap_{f}").as_str()), "__wrap_{f} is not defined");
    }
}

#[test]
fn a_daemonising_startup_is_not_repeated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let exe = build_c(dir, "startup_daemon");
    // The first process exits at once (its daemon child goes on), so the
    // test reads the daemon's and the new version's lines from the pipe.
    let out = Command::new(&exe)
        .arg(dir)
        .arg("--spawn-update")
        .env("LUCC_STARTUP_RECORD_OUT", dir.join("record"))
        .env_remove("LUCC_STARTUP_REPLAY_IN")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Ready> = text.lines().map(Ready::parse).collect();
    assert_eq!(lines.len(), 2, "{text}");
    let (o, n) = (&lines[0], &lines[1]);
    assert_eq!((o.get("update"), n.get("update")), ("0", "1"));
    assert_eq!(n.get("ppid"), o.pid.to_string(), "the new version forked again");
    assert_eq!(o.get("sid"), o.pid.to_string());
    assert_eq!(n.get("sid"), o.get("sid"));
    assert_eq!(n.get("lockfd"), o.get("lockfd"));
}

#[test]
fn a_startup_without_update_point_stops_recording() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = build_c(tmp.path(), "startup_long");
    let rec = tmp.path().join("record");
    let out = Command::new(&exe).env("LUCC_STARTUP_RECORD_OUT", &rec).env_remove("LUCC_STARTUP_REPLAY_IN").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the startup record ends here"));
    let entries = record::parse(&std::fs::read(&rec).unwrap()).unwrap();
    assert_eq!(entries.len(), 10_000);
}
