//! What `lucc update` prints: each stage with its duration as it is
//! reported, then the outcome; with --json, the same as one JSON object
//! at the end. Every attempt also goes to the update history (`history`)
//! and, with `--report FILE`, into a picture of it (`html`).

use std::path::{Path, PathBuf};

use lucc_abi::control::Response;
use serde_json::{json, Value};

use super::history::{self, Record};
use super::html;
use super::{EXIT_COMMITTED, EXIT_ERROR, EXIT_REFUSED, EXIT_ROLLED_BACK};

pub struct Report {
    pid: u32,
    binary: String,
    json: bool,
    stages: Vec<Value>,
    /// `--report FILE`.
    pub picture: Option<PathBuf>,
    /// The history record, filled in as the update goes.
    pub record: Record,
    /// `--no-check`: the transfer line says the invariants were not checked.
    pub no_check: bool,
}

impl Report {
    pub fn new(pid: u32, binary: &Path, json: bool) -> Report {
        let record = Record { pid, new_binary: binary.display().to_string(), ..Default::default() };
        Report { pid, binary: binary.display().to_string(), json, stages: Vec::new(), picture: None, record, no_check: false }
    }

    /// What the target said before the update (`Status`), for the history.
    pub fn old(&mut self, s: &lucc_abi::control::Status) {
        self.record.old_build = Some(s.build_id.clone());
        self.record.old_started_ms = Some(history::now_ms().saturating_sub(s.uptime_ms));
        self.record.old_exe = Some(super::status::exe_of(s.pid));
    }

    /// Appends the attempt to the history and draws the picture; neither
    /// changes the outcome or the exit code, so a failure is a warning.
    fn remember(&mut self, outcome: &str, extra: &Value) {
        let r = &mut self.record;
        r.time_ms = history::now_ms();
        r.outcome = outcome.to_string();
        r.reason = extra["reason"].as_str().map(str::to_string);
        r.new_pid = extra["new_pid"].as_u64().map(|p| p as u32);
        r.ms = self.stages.iter().map(|s| s["ms"].as_u64().unwrap_or(0)).sum();
        if let Err(e) = history::append(r) {
            eprintln!("lucc update: warning: not recorded in the history: {e}");
        }
        if let Some(path) = &self.picture {
            let view = html::View {
                pid: self.pid,
                binary: &self.binary,
                stages: &self.stages,
                outcome,
                reason: r.reason.as_deref(),
                new_pid: r.new_pid,
                old_build: r.old_build.as_deref(),
                new_build: r.new_build.as_deref(),
                when: history::utc(r.time_ms),
            };
            if let Err(e) = html::write(path, &view) {
                eprintln!("lucc update: warning: {e}");
            }
        }
    }

    pub fn response(&mut self, r: &Response) {
        if let Response::Stage { stage, ms, ok, detail, counts, ttst } = r {
            let detail = match counts {
                Some(_) if *stage != lucc_abi::control::Stage::Transfer => detail.clone(),
                Some(_) if self.no_check => format!("{detail}; invariants not checked (--no-check)"),
                Some(c) => format!("{detail}; {} values checked against invariants", c.checked),
                None => detail.clone(),
            };
            if !self.json {
                let mark = if *ok { "" } else { "FAILED: " };
                println!("  {:<8} {ms:>6} ms  {mark}{detail}", stage.name());
            }
            let mut v = json!({ "stage": stage.name(), "ms": ms, "ok": ok, "detail": detail });
            if let (Some(c), Some(o)) = (counts, v.as_object_mut()) {
                o.insert("counts".into(), serde_json::to_value(c).unwrap_or_default());
            }
            if let (Some(c), Some(o)) = (ttst, v.as_object_mut()) {
                o.insert("ttst".into(), serde_json::to_value(c).unwrap_or_default());
            }
            self.stages.push(v);
        }
    }

    fn finish(&mut self, outcome: &str, extra: Value, text: String, code: i32) -> i32 {
        self.remember(outcome, &extra);
        if self.json {
            let mut v = json!({ "pid": self.pid, "new_binary": self.binary, "stages": self.stages, "outcome": outcome });
            if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            println!("{v}");
        } else if code == EXIT_COMMITTED {
            println!("{text}");
        } else {
            eprintln!("lucc update: {text}");
        }
        code
    }

    pub fn committed(&mut self, new_pid: u32) -> i32 {
        self.finish("committed", json!({ "new_pid": new_pid }), format!("committed: process {} replaced by pid {new_pid}", self.pid), EXIT_COMMITTED)
    }

    /// A dry run that reached ready: exit 0, as the update would have.
    pub fn would_commit(&mut self, discarded_pid: u32) -> i32 {
        self.finish(
            "would_commit",
            json!({ "dry_run": true, "discarded_pid": discarded_pid }),
            format!("dry run: the update would commit (new process {discarded_pid} discarded); process {} runs on untouched", self.pid),
            EXIT_COMMITTED,
        )
    }

    pub fn rolled_back(&mut self, reason: &str) -> i32 {
        self.finish("rolled_back", json!({ "reason": reason }), format!("rolled back ({reason}); process {} runs on", self.pid), EXIT_ROLLED_BACK)
    }

    pub fn refused(&mut self, reason: &str) -> i32 {
        self.finish("refused", json!({ "reason": reason }), format!("refused: {reason}"), EXIT_REFUSED)
    }

    pub fn error(&mut self, reason: &str) -> i32 {
        self.finish("error", json!({ "reason": reason }), reason.to_string(), EXIT_ERROR)
    }
}
