//! `lucc status [PID] [--json]`: with no PID, the lucc programs this user
//! runs (one control socket each in the owner-only control directory);
//! with a PID, what that program says about itself over its control socket
//! (build id, uptime, live heap objects) and its update history, followed
//! back through the processes it replaced (`history`).

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;

use lucc_abi::control::{socket_dir, Request, Response, Status};
use serde_json::{json, Value};

use super::history::{self, Record};
use super::{client, EXIT_ERROR, EXIT_REFUSED};

/// What one running program says, and where its executable is.
struct Program {
    status: Status,
    exe: String,
    started_ms: u64,
}

impl Program {
    fn json(&self) -> Value {
        let s = &self.status;
        json!({ "pid": s.pid, "executable": self.exe, "build_id": s.build_id, "uptime_ms": s.uptime_ms,
                "started_ms": self.started_ms, "heap_objects": s.heap_objects })
    }
}

fn ask(pid: u32) -> Result<Program, (i32, String)> {
    let mut conn = match client::Conn::open(pid) {
        Ok(c) => c,
        Err(client::OpenError::Refused(e)) => return Err((EXIT_REFUSED, e)),
        Err(client::OpenError::Other(e)) => return Err((EXIT_ERROR, e)),
    };
    match conn.ask(&Request::Status) {
        Ok(Response::Status(status)) => Ok(Program {
            exe: exe_of(pid),
            started_ms: history::now_ms().saturating_sub(status.uptime_ms),
            status,
        }),
        Ok(other) => Err((EXIT_ERROR, format!("unexpected reply {other:?}"))),
        Err(e) => Err((EXIT_ERROR, e)),
    }
}

/// The program's executable as the kernel knows it (`(deleted)` once the
/// file was replaced on disk).
pub fn exe_of(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe")).map_or_else(|_| "?".into(), |p| p.display().to_string())
}

fn short(build_id: &str) -> &str {
    &build_id[..build_id.len().min(12)]
}

fn uptime(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{:.1}s", ms as f64 / 1000.0),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// The pids of this user's control sockets. Another user's programs have
/// their sockets in their own private directory, which we cannot read;
/// a socket file not owned by us is skipped all the same.
fn socket_pids() -> Vec<u32> {
    // SAFETY: no arguments.
    let uid = unsafe { libc::geteuid() };
    let dir = socket_dir(std::env::var_os("XDG_RUNTIME_DIR").as_deref(), uid);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut pids: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".sock")?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

fn list(json: bool) -> i32 {
    // A socket whose process is gone is left over (a crash or a kill -9):
    // `Conn::open` removes it and it is not listed.
    let programs: Vec<Program> = socket_pids().into_iter().filter_map(|pid| ask(pid).ok()).collect();
    if json {
        println!("{}", Value::Array(programs.iter().map(Program::json).collect()));
        return 0;
    }
    if programs.is_empty() {
        println!("no lucc programs running for this user");
        return 0;
    }
    println!("{:<8} {:<12} {:>9} {:>12}  EXECUTABLE", "PID", "BUILD", "UPTIME", "HEAP OBJECTS");
    for p in &programs {
        let s = &p.status;
        println!("{:<8} {:<12} {:>9} {:>12}  {}", s.pid, short(&s.build_id), uptime(s.uptime_ms), s.heap_objects, p.exe);
    }
    0
}

/// One history line for people.
fn describe(r: &Record) -> String {
    let build = |b: &Option<String>| b.as_deref().map_or("?".to_string(), |b| short(b).to_string());
    let what = match r.outcome.as_str() {
        "committed" => format!("committed: pid {} (build {}) -> pid {} (build {})", r.pid, build(&r.old_build), r.new_pid.unwrap_or(0), build(&r.new_build)),
        "would_commit" => format!("dry run: pid {} (build {}) -> build {} would commit", r.pid, build(&r.old_build), build(&r.new_build)),
        "rolled_back" => format!(
            "{}rolled back: pid {} (build {}) stayed, build {} failed: {}",
            if r.dry_run { "dry run " } else { "" },
            r.pid,
            build(&r.old_build),
            build(&r.new_build),
            r.reason.as_deref().unwrap_or("?")
        ),
        "refused" => format!("refused: pid {}, {}: {}", r.pid, r.new_binary, r.reason.as_deref().unwrap_or("?")),
        other => format!("{other}: pid {}, {}: {}", r.pid, r.new_binary, r.reason.as_deref().unwrap_or("?")),
    };
    format!("  {}  {what}", history::utc(r.time_ms))
}

fn one(pid: u32, json: bool) -> i32 {
    let p = match ask(pid) {
        Ok(p) => p,
        Err((code, e)) => {
            eprintln!("lucc status: {e}");
            return code;
        }
    };
    let (records, warning) = match history::read() {
        Ok(r) => (history::chain(&r, pid, p.started_ms), None),
        Err(e) => (Vec::new(), Some(e)),
    };
    if json {
        let mut v = p.json();
        v["history"] = serde_json::to_value(&records).unwrap_or_default();
        println!("{v}");
    } else {
        let s = &p.status;
        println!("pid {}\nexecutable {}\nbuild id {}\nuptime {:.1} s\nheap objects {}", s.pid, p.exe, s.build_id, s.uptime_ms as f64 / 1000.0, s.heap_objects);
        if records.is_empty() {
            println!("update history: none");
        } else {
            println!("update history (oldest first):");
            for r in &records {
                println!("{}", describe(r));
            }
        }
    }
    if let Some(w) = warning {
        eprintln!("lucc status: no history: {w}");
    }
    0
}

pub fn main(args: &[OsString]) -> i32 {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let json = args.iter().any(|a| a == "--json");
    let pids: Vec<&String> = args.iter().filter(|a| *a != "--json").collect();
    match pids.as_slice() {
        [] => list(json),
        [pid] => match pid.parse::<u32>() {
            Ok(pid) => one(pid, json),
            Err(_) => {
                eprintln!("lucc status: bad PID {pid}");
                EXIT_REFUSED
            }
        },
        _ => {
            eprintln!("usage: lucc status [PID] [--json]");
            EXIT_REFUSED
        }
    }
}
