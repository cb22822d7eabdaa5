//! What `lucc update` prints: each stage with its duration as it is
//! reported, then the outcome; with --json, the same as one JSON object
//! at the end.

use std::path::Path;

use lucc_abi::control::Response;
use serde_json::{json, Value};

use super::{EXIT_COMMITTED, EXIT_ERROR, EXIT_REFUSED, EXIT_ROLLED_BACK};

pub struct Report {
    pid: u32,
    binary: String,
    json: bool,
    stages: Vec<Value>,
}

impl Report {
    pub fn new(pid: u32, binary: &Path, json: bool) -> Report {
        Report { pid, binary: binary.display().to_string(), json, stages: Vec::new() }
    }

    pub fn response(&mut self, r: &Response) {
        if let Response::Stage { stage, ms, ok, detail, counts, ttst } = r {
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

    fn finish(&self, outcome: &str, extra: Value, text: String, code: i32) -> i32 {
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

    pub fn committed(&self, new_pid: u32) -> i32 {
        self.finish("committed", json!({ "new_pid": new_pid }), format!("committed: process {} replaced by pid {new_pid}", self.pid), EXIT_COMMITTED)
    }

    /// A dry run that reached ready: exit 0, as the update would have.
    pub fn would_commit(&self, discarded_pid: u32) -> i32 {
        self.finish(
            "would_commit",
            json!({ "dry_run": true, "discarded_pid": discarded_pid }),
            format!("dry run: the update would commit (new process {discarded_pid} discarded); process {} runs on untouched", self.pid),
            EXIT_COMMITTED,
        )
    }

    pub fn rolled_back(&self, reason: &str) -> i32 {
        self.finish("rolled_back", json!({ "reason": reason }), format!("rolled back ({reason}); process {} runs on", self.pid), EXIT_ROLLED_BACK)
    }

    pub fn refused(&self, reason: &str) -> i32 {
        self.finish("refused", json!({ "reason": reason }), format!("refused: {reason}"), EXIT_REFUSED)
    }

    pub fn error(&self, reason: &str) -> i32 {
        self.finish("error", json!({ "reason": reason }), reason.to_string(), EXIT_ERROR)
    }
}
