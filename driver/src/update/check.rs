//! `lucc check PID [--json] [--timeout SECS]`: the update-time invariant
//! check on a running program, without updating it. It is a dry run of an
//! update to the program's own binary (`/proc/PID/exe`) with the check on:
//! the new process adopts a copy-on-write view of the state, checks it and
//! is discarded; the program runs on untouched.
//!
//! Exit codes: 0 clean, 2 the state breaks an invariant, 4 refused
//! (nothing changed), 1 the check could not run (the dry run failed for
//! another reason).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use lucc_abi::control::{Outcome, Response, Stage};
use serde_json::json;

use super::{binary, client, EXIT_COMMITTED, EXIT_ERROR, EXIT_REFUSED};

pub const EXIT_VIOLATIONS: i32 = 2;

const USAGE: &str = "usage: lucc check PID [--json] [--timeout SECS]";

/// The count the new process's failure message carries: `(N values checked)`.
fn checked_in(reason: &str) -> Option<u64> {
    let end = reason.find(" values checked)")?;
    let start = reason[..end].rfind('(')? + 1;
    reason[start..end].parse().ok()
}

pub fn main(args: &[OsString]) -> i32 {
    let (mut json, mut pid, mut timeout) = (false, None, 10.0);
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = true,
            "--timeout" => match it.next().and_then(|v| v.parse::<f64>().ok()).filter(|t| t.is_finite() && *t > 0.0) {
                Some(t) => timeout = t,
                None => {
                    eprintln!("lucc check: --timeout needs a number of seconds\n{USAGE}");
                    return EXIT_REFUSED;
                }
            },
            s if s.starts_with('-') || pid.is_some() => {
                eprintln!("lucc check: unexpected {s}\n{USAGE}");
                return EXIT_REFUSED;
            }
            s => match s.parse::<u32>() {
                Ok(p) => pid = Some(p),
                Err(_) => {
                    eprintln!("lucc check: bad PID {s}\n{USAGE}");
                    return EXIT_REFUSED;
                }
            },
        }
    }
    let Some(pid) = pid else {
        eprintln!("lucc check: expected PID\n{USAGE}");
        return EXIT_REFUSED;
    };
    let report = |outcome: &str, checked: Option<u64>, reason: Option<&str>, code: i32| -> i32 {
        if json {
            println!("{}", json!({ "pid": pid, "outcome": outcome, "checked": checked, "reason": reason }));
        } else {
            match outcome {
                "clean" => println!("process {pid}: clean: {} values checked against invariants", checked.unwrap_or(0)),
                "violations" => eprintln!("lucc check: process {pid}: {}", reason.unwrap_or_default()),
                _ => eprintln!("lucc check: process {pid}: {}", reason.unwrap_or_default()),
            }
        }
        code
    };
    // The program's own executable, as it runs now: a build replaced on
    // disk since has no sidecar describing this process.
    let exe = PathBuf::from(format!("/proc/{pid}/exe"));
    let binary = match binary::check(&exe) {
        Ok(b) => b,
        Err(e) => return report("refused", None, Some(&e), EXIT_REFUSED),
    };
    let mut conn = match client::Conn::open(pid) {
        Ok(c) => c,
        Err(client::OpenError::Refused(e)) => return report("refused", None, Some(&e), EXIT_REFUSED),
        Err(client::OpenError::Other(e)) => return report("error", None, Some(&e), EXIT_ERROR),
    };
    let request = client::UpdateRequest { transform: None, fault: None, dry_run: true, no_check: false, ttst: None, probation: Duration::ZERO };
    let mut checked = None;
    let result = conn.update(&binary, Duration::from_secs_f64(timeout), request, &mut |r| {
        if let Response::Stage { stage: Stage::Transfer, counts: Some(c), .. } = r {
            checked = Some(c.checked);
        }
    });
    match result {
        Ok(Outcome::WouldCommit { .. }) => report("clean", checked, None, EXIT_COMMITTED),
        Ok(Outcome::RolledBack { reason }) if reason.contains("invariant violation") => {
            report("violations", checked_in(&reason), Some(&reason), EXIT_VIOLATIONS)
        }
        Ok(Outcome::RolledBack { reason }) => report("error", None, Some(&format!("the check did not run: {reason}")), EXIT_ERROR),
        Ok(Outcome::Committed { .. }) => report("error", None, Some("the program committed a dry run"), EXIT_ERROR),
        Err(client::Failure::Refused(e)) => report("refused", None, Some(&e), EXIT_REFUSED),
        Err(client::Failure::Other(e)) => report("error", None, Some(&e), EXIT_ERROR),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_count_is_read_from_the_failure_message() {
        let r = "transfer: new process: 2 invariant violations in the transferred state (1234 values checked): variable x = 3, ...";
        assert_eq!(super::checked_in(r), Some(1234));
        assert_eq!(super::checked_in("new process crashed"), None);
    }
}
