//! The update history: one JSON line per `lucc update` attempt, appended by
//! the CLI to a per-user file, read back by `lucc status PID`.
//!
//! Where: `$XDG_STATE_HOME/lucc/history.jsonl` when that is set, else
//! `history.jsonl` in the owner-only control directory (`/tmp/lucc-UID` or
//! `$XDG_RUNTIME_DIR/lucc`). Either directory must be ours and private, as
//! the control socket's is: the history says which binaries ran, and a file
//! another user could write would make `lucc status` lie. The file is
//! opened without following symlinks and must be a regular file of ours,
//! mode 0600.
//!
//! A record names a process by its pid and its start time (pids are
//! reused); a committed record's `new_pid` is the pid of the process the
//! next records of the chain are about.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use lucc_abi::control::socket_dir;
use serde::{Deserialize, Serialize};

/// Slack when matching a process's start time (computed from its uptime,
/// so a few milliseconds apart between two readings).
const START_SLACK_MS: u64 = 2000;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// When the attempt ended, milliseconds since the epoch.
    pub time_ms: u64,
    /// The process the update was aimed at.
    pub pid: u32,
    /// Its build id and start (ms since the epoch), when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_build: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_started_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_exe: Option<String>,
    pub new_binary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_build: Option<String>,
    /// The successor, when committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_pid: Option<u32>,
    /// `committed`, `rolled_back`, `refused`, `would_commit` (a dry run
    /// that reached ready), `error`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    /// Sum of the stages' durations.
    #[serde(default)]
    pub ms: u64,
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The history file's path and the directory it lives in.
pub fn path() -> (PathBuf, PathBuf) {
    // SAFETY: no arguments.
    let uid = unsafe { libc::geteuid() };
    let dir = match std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        Some(d) => Path::new(&d).join("lucc"),
        None => socket_dir(std::env::var_os("XDG_RUNTIME_DIR").as_deref(), uid),
    };
    (dir.join("history.jsonl"), dir)
}

/// A binary's GNU build id, for the record (the update itself checks the
/// binary more thoroughly, `binary::check`).
pub fn build_id(path: &Path) -> Option<String> {
    super::binary::gnu_build_id(path).ok().flatten()
}

/// The directory, created 0700 if missing; refused unless it is a
/// directory of ours that nobody else can enter.
fn private_dir(dir: &Path) -> Result<(), String> {
    // SAFETY: no arguments.
    let uid = unsafe { libc::geteuid() };
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let m = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !m.is_dir() || m.uid() != uid || m.permissions().mode() & 0o077 != 0 {
        return Err(format!("{} is not a private directory of uid {uid} (owner {}, mode {:o})", dir.display(), m.uid(), m.permissions().mode() & 0o7777));
    }
    Ok(())
}

/// Opens the file for appending (`create`) or reading, refusing symlinks
/// and files that are not ours or that others may read or write.
fn open(create: bool) -> Result<Option<File>, String> {
    let (file, dir) = path();
    if create {
        private_dir(&dir)?;
    } else if !dir.is_dir() {
        return Ok(None);
    }
    let mut o = OpenOptions::new();
    if create {
        o.append(true).create(true).mode(0o600);
    } else {
        o.read(true);
    }
    let f = match o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&file) {
        Ok(f) => f,
        Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    let m = f.metadata().map_err(|e| format!("{}: {e}", file.display()))?;
    // SAFETY: no arguments.
    let uid = unsafe { libc::geteuid() };
    if !m.is_file() || m.uid() != uid || m.permissions().mode() & 0o077 != 0 {
        return Err(format!("{} is not a private file of uid {uid} (owner {}, mode {:o}); not using it", file.display(), m.uid(), m.permissions().mode() & 0o7777));
    }
    Ok(Some(f))
}

/// Appends one record. A line is one `write` to a file opened O_APPEND,
/// so concurrent updates do not interleave their records.
pub fn append(r: &Record) -> Result<(), String> {
    let mut f = open(true)?.expect("created");
    let mut line = serde_json::to_string(r).map_err(|e| e.to_string())?;
    line.push('\n');
    f.write_all(line.as_bytes()).map_err(|e| format!("{}: {e}", path().0.display()))
}

/// Every record, oldest first; lines that do not parse (a torn write, a
/// newer format) are skipped.
pub fn read() -> Result<Vec<Record>, String> {
    let Some(f) = open(false)? else { return Ok(Vec::new()) };
    let mut out: Vec<Record> = BufReader::new(f).lines().map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()).collect();
    out.sort_by_key(|r| r.time_ms);
    Ok(out)
}

/// A process as the records know it: pid and start time.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: u32,
    started_ms: u64,
}

fn about(r: &Record, p: Proc, until_ms: u64) -> bool {
    r.pid == p.pid
        && r.time_ms + START_SLACK_MS >= p.started_ms
        && r.time_ms <= until_ms
        && r.old_started_ms.is_none_or(|s| s.abs_diff(p.started_ms) <= START_SLACK_MS)
}

/// The records of the process `pid` started at `started_ms` and of the
/// processes it replaced, followed back through committed records (the
/// `new_pid` of one is the `pid` of the next), oldest first.
pub fn chain(records: &[Record], pid: u32, started_ms: u64) -> Vec<Record> {
    let mut out = Vec::new();
    let mut p = Proc { pid, started_ms };
    let mut until = u64::MAX;
    // Each step moves strictly back in time, so this ends; the bound keeps
    // a corrupt file from making it long.
    for _ in 0..records.len() + 1 {
        out.extend(records.iter().filter(|r| about(r, p, until)).cloned());
        // The update that started this process: committed into its pid,
        // after it started (the record is written once the new process
        // runs) and before anything else happened to it.
        let Some(into) = records
            .iter()
            .filter(|r| r.outcome == "committed" && r.new_pid == Some(p.pid) && r.time_ms + START_SLACK_MS >= p.started_ms && r.time_ms <= until)
            .min_by_key(|r| r.time_ms)
        else {
            break;
        };
        until = into.time_ms;
        let Some(prev_started) = into.old_started_ms else { break };
        p = Proc { pid: into.pid, started_ms: prev_started };
        // The committing record itself is about the previous process: it
        // is picked up by the next round (it ends exactly at `until`).
    }
    out.sort_by_key(|r| r.time_ms);
    out.dedup();
    out
}

/// `2026-11-29 05:20:01 UTC` from milliseconds since the epoch.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(time_ms: u64, pid: u32, started: u64, outcome: &str, new_pid: Option<u32>) -> Record {
        Record { time_ms, pid, old_started_ms: Some(started), new_binary: "/b".into(), outcome: outcome.into(), new_pid, ..Default::default() }
    }

    #[test]
    fn the_chain_follows_committed_updates_back_and_ignores_reused_pids() {
        let records = vec![
            // An older, unrelated process that had pid 20.
            rec(1_000, 20, 500, "rolled_back", None),
            rec(10_000, 10, 9_000, "rolled_back", None),
            rec(11_000, 10, 9_000, "committed", Some(20)),
            rec(12_000, 20, 10_900, "would_commit", None),
            rec(13_000, 20, 10_900, "committed", Some(30)),
            // Another program entirely.
            rec(13_500, 40, 100, "committed", Some(41)),
            rec(14_000, 30, 12_950, "refused", None),
        ];
        let got: Vec<u64> = chain(&records, 30, 12_950).iter().map(|r| r.time_ms).collect();
        assert_eq!(got, [10_000, 11_000, 12_000, 13_000, 14_000]);
        // The middle process: its own records and its predecessor's.
        let got: Vec<u64> = chain(&records, 20, 10_900).iter().map(|r| r.time_ms).collect();
        assert_eq!(got, [10_000, 11_000, 12_000, 13_000]);
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000 + 3_661_000), "2000-02-29 01:01:01 UTC");
        assert_eq!(utc(1_798_761_599_000), "2026-12-31 23:59:59 UTC");
    }
}
