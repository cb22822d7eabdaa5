//! What live-update tests share: running `lucc update --json` and reading
//! its report, the processes an update leaves behind, and what /proc says
//! about them (which process holds a connection, how much memory it uses).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lucc_testsuite::build::lucc_path;
use lucc_testsuite::client::LineClient;
use serde_json::Value;

/// `lucc update`'s exit codes (driver/src/update/mod.rs).
pub const EXIT_COMMITTED: i32 = 0;
pub const EXIT_ROLLED_BACK: i32 = 3;

/// What `lucc update --json` reported.
pub struct UpdateResult {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
}

impl UpdateResult {
    /// Everything the report said, for failure messages.
    pub fn describe(&self) -> String {
        format!("lucc update exited {}: {}\n{}", self.code, self.json, self.stderr)
    }

    /// The new process's pid; panics unless the update committed.
    pub fn committed_pid(&self, what: &str) -> u32 {
        assert_eq!(self.code, EXIT_COMMITTED, "{what}: {}", self.describe());
        assert_eq!(self.json["outcome"], "committed", "{what}: {}", self.describe());
        self.json["new_pid"].as_u64().unwrap_or_else(|| panic!("{what}: no new_pid: {}", self.describe())) as u32
    }

    /// The rollback's reason; panics unless the update rolled back.
    pub fn rollback_reason(&self, what: &str) -> String {
        assert_eq!(self.code, EXIT_ROLLED_BACK, "{what}: {}", self.describe());
        assert_eq!(self.json["outcome"], "rolled_back", "{what}: {}", self.describe());
        self.json["reason"].as_str().unwrap_or_default().to_string()
    }
}

/// `lucc update PID NEW --json [--transform FILE]`.
pub fn lucc_update(pid: u32, new: &Path, transform: Option<&Path>) -> UpdateResult {
    match transform {
        Some(t) => lucc_update_args(pid, new, &["--transform".as_ref(), t.as_os_str()]),
        None => lucc_update_args::<&str>(pid, new, &[]),
    }
}

/// `lucc update PID NEW --json ARGS...`.
pub fn lucc_update_args<A: AsRef<OsStr>>(pid: u32, new: &Path, args: &[A]) -> UpdateResult {
    lucc_update_env(pid, new, args, &[])
}

/// [`lucc_update_args`] with more environment (`NOTIFY_SOCKET`, as
/// systemd's ExecReload runs it).
pub fn lucc_update_env<A: AsRef<OsStr>>(pid: u32, new: &Path, args: &[A], env: &[(&str, &OsStr)]) -> UpdateResult {
    let lucc = lucc_path().unwrap_or_else(|e| panic!("{e:#}"));
    let out = Command::new(&lucc)
        .arg("update")
        .arg(pid.to_string())
        .arg(new)
        .arg("--json")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", lucc.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    UpdateResult { code: out.status.code().unwrap_or(-1), json, stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// One request's answer; any failure is the test's.
pub fn ask(c: &mut LineClient, req: &str) -> String {
    c.request(req).unwrap_or_else(|e| panic!("{req:?}: {e:#}"))
}

/// The version pairs' DUMP: its lines up to the terminating ".".
pub fn dump(c: &mut LineClient) -> String {
    c.send("DUMP").unwrap_or_else(|e| panic!("DUMP: {e:#}"));
    let mut out = String::new();
    loop {
        let line = c.read_line().unwrap_or_else(|e| panic!("reading DUMP: {e:#}"));
        if line == "." {
            return out;
        }
        out.push_str(&line);
        out.push('\n');
    }
}

/// True once `pid` has exited (a zombie has: only its parent's wait is
/// missing, and the parent of an updated process is not the test).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...".
        Ok(stat) => stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')).unwrap_or(false),
    }
}

/// Waits until `pid` has exited; a process still running after `timeout`
/// is an error.
pub fn wait_gone(pid: u32, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while !process_gone(pid) {
        if start.elapsed() > timeout {
            bail!("process {pid} still runs after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// The process an update committed to. The test's `Server` only knows the
/// process it started, so this kills the successor by its pid when a failed
/// assertion leaves it running.
pub struct Updated(pub u32);

impl Drop for Updated {
    fn drop(&mut self) {
        if !process_gone(self.0) {
            let _ = Command::new("kill").arg("-KILL").arg(self.0.to_string()).status();
        }
    }
}

/// Resident memory of `pid` in kB, from /proc/PID/status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rss {
    /// VmRSS: everything resident.
    pub total: u64,
    /// RssAnon + RssShmem: the process's own memory (heap, the arena's
    /// memfd, stacks), without the pages of the binary and the libraries
    /// (RssFile), which vary with what the page cache holds.
    pub own: u64,
}

pub fn rss_kb(pid: u32) -> Result<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status.lines().find(|l| l.starts_with(name)).with_context(|| format!("no {name} in /proc/{pid}/status"))?;
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).with_context(|| format!("bad {line:?}"))
    };
    Ok(Rss { total: field("VmRSS:")?, own: field("RssAnon:")? + field("RssShmem:")? })
}

/// The socket inodes of the server side of every established TCP
/// connection to 127.0.0.1:`port` (/proc/net/tcp: local address, then
/// remote, state 01 is ESTABLISHED, the inode is the tenth column).
pub fn server_side_sockets(port: u16) -> Result<BTreeSet<u64>> {
    let table = std::fs::read_to_string("/proc/net/tcp").context("/proc/net/tcp")?;
    let local = format!("0100007F:{port:04X}");
    let mut inodes = BTreeSet::new();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() > 9 && cols[1] == local && cols[3] == "01" {
            inodes.insert(cols[9].parse().with_context(|| format!("inode in {line:?}"))?);
        }
    }
    Ok(inodes)
}

/// The socket inodes among `pid`'s open descriptors.
pub fn sockets_of(pid: u32) -> Result<BTreeSet<u64>> {
    let dir = format!("/proc/{pid}/fd");
    let mut inodes = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).with_context(|| dir.clone())? {
        let Ok(target) = std::fs::read_link(entry?.path()) else { continue };
        let target = target.to_string_lossy();
        if let Some(inode) = target.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
            inodes.insert(inode.parse().with_context(|| format!("{dir}: {target}"))?);
        }
    }
    Ok(inodes)
}

/// Checks that `pid` holds the server side of exactly `count` established
/// connections to `port`, and that nothing else does: the connections the
/// test keeps open are served by that process.
pub fn assert_serves_connections(pid: u32, port: u16, count: usize, what: &str) {
    let established = server_side_sockets(port).unwrap_or_else(|e| panic!("{what}: {e:#}"));
    let held = sockets_of(pid).unwrap_or_else(|e| panic!("{what}: {e:#}"));
    let missing: Vec<_> = established.difference(&held).collect();
    assert!(missing.is_empty(), "{what}: process {pid} does not hold the server side of connections {missing:?} (established: {established:?})");
    assert_eq!(established.len(), count, "{what}: established connections to port {port}: {established:?}");
}
