//! `lucc update PID NEW-BINARY [--timeout SECS] [--transform FILE] [--json]
//! [--dry-run] [--no-check] [--inject-fault POINT:KIND] [--ttst [--ttst-transform FILE]] [--probation SECS]
//! [--report FILE.html|FILE.svg]`: replaces a
//! running lucc program by a new build of it, through its control socket
//! (and `lucc status PID`, which asks the same socket about the program,
//! and `lucc check PID`, a dry run to its own binary that checks its state
//! against its invariants).
//!
//! The CLI checks everything it can before touching the program (the new
//! binary exists, was built by lucc, and its sidecar is its own), then
//! streams the program's stage reports. Exit codes tell scripts what
//! happened: 0 committed, 3 rolled back (the old process runs on), 4
//! refused (bad input, permission, protocol; nothing changed), 1 other
//! errors.

mod binary;
mod check;
mod client;
mod history;
mod html;
mod report;
mod status;

pub use check::main as check_main;
pub use status::main as status_main;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use lucc_abi::control::{Fault, Outcome, Response, TtstRequest};

pub const EXIT_COMMITTED: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_ROLLED_BACK: i32 = 3;
pub const EXIT_REFUSED: i32 = 4;

const DEFAULT_TIMEOUT_SECS: f64 = 10.0;

struct Args {
    pid: u32,
    binary: PathBuf,
    timeout: Duration,
    json: bool,
    /// The transform file's text (the program parses it).
    transform: Option<String>,
    /// Testing rollback: the new version fails on purpose.
    fault: Option<Fault>,
    /// Up to ready, then the new process is discarded.
    dry_run: bool,
    /// `--no-check`: the transferred state is not checked against the new
    /// version's invariants.
    no_check: bool,
    /// `--report FILE`: the update drawn as a page or a picture.
    picture: Option<PathBuf>,
    /// The round trip through the old version before commit.
    ttst: Option<TtstRequest>,
    /// After commit, how long the old process waits to take over again
    /// if the new one crashes.
    probation: Duration,
}

/// A transform file's `[inverse]` table is the transform of the way back
/// (`--ttst`), keyed by the old version's names; the rest is the forward
/// transform. Returns (forward, inverse); a file without the table is
/// passed on untouched.
fn split_inverse(text: &str, file: &str) -> Result<(String, Option<String>), String> {
    let mut table: toml::Table = text.parse().map_err(|e| format!("transform file {file}: {e}"))?;
    match table.remove("inverse") {
        None => Ok((text.to_string(), None)),
        Some(toml::Value::Table(inv)) => {
            let forward = toml::to_string(&table).map_err(|e| format!("transform file {file}: {e}"))?;
            let inverse = toml::to_string(&inv).map_err(|e| format!("transform file {file}: [inverse]: {e}"))?;
            Ok((forward, Some(inverse)))
        }
        Some(_) => Err(format!("transform file {file}: `inverse` must be a table")),
    }
}

fn parse(args: &[OsString]) -> Result<Args, String> {
    let mut pos = Vec::new();
    let (mut timeout, mut json, mut transform, mut fault, mut dry_run) = (DEFAULT_TIMEOUT_SECS, false, None, None, false);
    let (mut ttst, mut inverse, mut ttst_transform) = (false, None, None);
    let mut probation = 0.0;
    let mut picture = None;
    let mut no_check = false;
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = true,
            "--dry-run" => dry_run = true,
            "--no-check" => no_check = true,
            "--ttst" => ttst = true,
            "--probation" => {
                let v = it.next().ok_or("--probation needs a number of seconds")?;
                probation = v.parse().ok().filter(|t: &f64| t.is_finite() && *t >= 0.0).ok_or(format!("bad --probation {v}"))?;
            }
            "--ttst-transform" => {
                let f = it.next().ok_or("--ttst-transform needs a file")?;
                ttst_transform = Some(std::fs::read_to_string(&f).map_err(|e| format!("transform file {f}: {e}"))?);
            }
            "--timeout" => {
                let v = it.next().ok_or("--timeout needs a number of seconds")?;
                timeout = v.parse().ok().filter(|t: &f64| t.is_finite() && *t > 0.0).ok_or(format!("bad --timeout {v}"))?;
            }
            "--transform" => {
                let f = it.next().ok_or("--transform needs a file")?;
                let text = std::fs::read_to_string(&f).map_err(|e| format!("transform file {f}: {e}"))?;
                let (forward, inv) = split_inverse(&text, &f)?;
                transform = Some(forward);
                inverse = inv;
            }
            "--report" => picture = Some(PathBuf::from(it.next().ok_or("--report needs a file (.html, or .svg for the picture alone)")?)),
            "--inject-fault" => {
                let f = it.next().ok_or("--inject-fault needs POINT:KIND")?;
                fault = Some(f.parse::<Fault>()?);
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => pos.push(a),
        }
    }
    let [pid, binary] = pos.as_slice() else { return Err("expected PID and NEW-BINARY".into()) };
    let pid = pid.parse().map_err(|_| format!("bad PID {pid}"))?;
    if ttst_transform.is_some() && !ttst {
        return Err("--ttst-transform needs --ttst".into());
    }
    // The operator's file for the way back wins over the [inverse] table.
    let ttst = ttst.then(|| TtstRequest { inverse_transform: ttst_transform.or(inverse).unwrap_or_default() });
    Ok(Args { pid, binary: PathBuf::from(binary), timeout: Duration::from_secs_f64(timeout), json, transform, fault, dry_run, no_check, ttst, probation: Duration::from_secs_f64(probation), picture })
}

/// `lucc update ...`; returns the exit code.
pub fn update_main(args: &[OsString]) -> i32 {
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lucc update: {e}\nusage: lucc update PID NEW-BINARY [--timeout SECS] [--transform FILE] [--json] [--dry-run] [--no-check] [--inject-fault POINT:KIND] [--ttst [--ttst-transform FILE]] [--probation SECS] [--report FILE.html|FILE.svg]");
            return EXIT_REFUSED;
        }
    };
    let mut rep = report::Report::new(args.pid, &args.binary, args.json);
    rep.picture = args.picture.clone();
    rep.record.dry_run = args.dry_run;
    rep.no_check = args.no_check;
    rep.record.new_build = history::build_id(&args.binary);
    let binary = match binary::check(&args.binary) {
        Ok(b) => b,
        Err(e) => return rep.refused(&e),
    };
    let mut conn = match client::Conn::open(args.pid) {
        Ok(c) => c,
        Err(client::OpenError::Refused(e)) => return rep.refused(&e),
        Err(client::OpenError::Other(e)) => return rep.error(&e),
    };
    // Which build and which process the update starts from, for the
    // history; a program that cannot say is updated all the same.
    if let Ok(Response::Status(s)) = conn.ask(&lucc_abi::control::Request::Status) {
        rep.old(&s);
    }
    let request = client::UpdateRequest { transform: args.transform.clone(), fault: args.fault, dry_run: args.dry_run, no_check: args.no_check, ttst: args.ttst.clone(), probation: args.probation };
    let result = conn.update(&binary, args.timeout, request, &mut |r| rep.response(r));
    match result {
        Ok(Outcome::Committed { new_pid }) => rep.committed(new_pid),
        Ok(Outcome::RolledBack { reason }) => rep.rolled_back(&reason),
        Ok(Outcome::WouldCommit { new_pid }) => rep.would_commit(new_pid),
        Err(client::Failure::Refused(e)) => rep.refused(&e),
        Err(client::Failure::Other(e)) => rep.error(&e),
    }
}

/// The `Response`s of an update that are not stage reports end it.
fn is_final(r: &Response) -> bool {
    !matches!(r, Response::Stage { .. })
}
