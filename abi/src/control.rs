//! The update protocol: what `lucc update` says to a running program's
//! control socket, and what an old process and its new version say over
//! the update channel between them.
//!
//! Both are JSON lines (one message per line) so that a person can talk to
//! a program with `socat` and a test can send garbage. Every conversation
//! opens with a hello carrying [`PROTOCOL_VERSION`]; a peer of another
//! version is refused before anything happens. Encoding and decoding live
//! here so that the runtime needs no JSON library of its own.

use serde::{Deserialize, Serialize};

/// Version of both conversations; bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 2;

/// Environment variable naming, in a new version started by an update,
/// the descriptor of its channel to the old process.
pub const CHANNEL_ENV: &str = "LUCC_UPDATE_CHANNEL";

/// Longest line either side accepts; a longer one is a protocol error.
pub const MAX_LINE: usize = 64 * 1024;

/// Client (the CLI) to program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Must come first.
    Hello { version: u32 },
    Status,
    /// Replace the program by `new_binary`; the reply is a stream of
    /// [`Response::Stage`] then one [`Response::Outcome`].
    /// `transform`: the text of a declarative transform file.
    Update {
        new_binary: String,
        timeout_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transform: Option<String>,
        /// A fault for the new version to inject (`lucc update
        /// --inject-fault`): proves that a failure there rolls back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<Fault>,
        /// Everything up to and including the transfer, into a new process
        /// that is then discarded: the program runs on untouched.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        dry_run: bool,
        /// `lucc update --no-check`: the transferred state is not checked
        /// against the new version's static invariants.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        no_check: bool,
        /// `lucc update --ttst`: before commit, the state goes back from
        /// the new version into a fresh instance of the old one and must
        /// come out equal to the running program's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttst: Option<TtstRequest>,
        /// `lucc update --probation SECS`: after commit the old process
        /// stays parked this long and resumes if the new one crashes or
        /// exits abnormally meanwhile; 0: it exits at commit.
        #[serde(default, skip_serializing_if = "is_zero")]
        probation_ms: u64,
    },
}

/// What `lucc update --ttst` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtstRequest {
    /// The transform file for the way back (new version -> old), keyed by
    /// the old version's names; empty: the automatic transfer alone.
    #[serde(default)]
    pub inverse_transform: String,
}

/// Carried in the state image (not on the channel: descriptors and paths
/// belong with the state they describe) from the old process P1 to the
/// new one P2, and from P2 to the old version's TTST instance P3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum TtstOrder {
    /// To P2: after the transfer, send the state back into a fresh
    /// process of `old_binary` (the old process's own executable) with
    /// `inverse_transform`, within `timeout_ms`.
    RoundTrip { old_binary: String, inverse_transform: String, timeout_ms: u64 },
    /// To P3: after the transfer, compare with P1's state (inherited
    /// duplicates of P1's state memfd and heap memfd, which P2 kept
    /// before its own transfer consumed its copies), report, and never
    /// resume.
    Compare { old_state_fd: i32, old_arena: ArenaHandover },
}

/// What a TTST comparison looked at (the report's counts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtstCounts {
    /// Globals and static locals compared by name.
    pub variables: u64,
    /// Heap objects paired through typed or untyped pointers from them.
    pub objects: u64,
    /// Objects reached from no variable, paired by type in address order.
    pub unreached: u64,
    /// Scalars and pointers compared.
    pub values: u64,
    /// Pointers outside the program's image and heap (libc, stacks,
    /// mappings): they differ between processes, so they are not compared.
    pub foreign_pointers: u64,
    /// Objects the round trip has that the old state lacks (allocated by
    /// the new version, reached from none of the old version's variables).
    pub extra_objects: u64,
    /// Values the forward update drops by design (fields and variables the
    /// new version lacks, `dropped`/`set` rules, array tails cut): no round
    /// trip can bring them back, so they are not compared.
    #[serde(default)]
    pub dropped: u64,
    pub ms: u64,
}

/// Where a new version injects a fault, as `lucc update --inject-fault
/// POINT:KIND` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultPoint {
    /// At the first update point, before the transfer.
    Startup,
    /// After the state is converted, before it is reported.
    Transfer,
    /// Everything done, just before reporting ready for commit.
    Ready,
    /// Inside the transfer, as the program's transfer callbacks (lucc.h)
    /// run.
    Callbacks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A segmentation fault.
    Crash,
    /// abort().
    Abort,
    /// exit(1), running the program's exit handlers.
    Exit,
    /// Sleeps forever: the deadline must catch it.
    Hang,
    /// Reports a transfer error and exits.
    Error,
    /// After the transfer (point `transfer`): a scalar field or variable
    /// given a wrong value (an enum an enumerator no version has).
    CorruptValue,
    /// After the transfer: the heap object a pointer refers to is freed,
    /// the pointer left as it was.
    DanglingPointer,
    /// After the transfer: a pointer moved to another object of the same
    /// allocation site.
    MisdirectPointer,
    /// After the transfer: a pointer to a heap object cleared, the object
    /// lost to the program.
    LoseObject,
    /// At point `callbacks`: every transfer callback handed another
    /// object's old bytes.
    WrongCallback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub at: FaultPoint,
    pub kind: FaultKind,
    /// Chooses the victim of a corruption among the state's candidates
    /// (`POINT:KIND:SEED`), so that a campaign is reproducible.
    #[serde(default)]
    pub seed: u64,
}

impl std::str::FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Fault, String> {
        const USAGE: &str = "a fault is POINT:KIND[:SEED]: POINT one of startup, transfer, ready, callbacks; KIND one of crash, abort, exit, hang, error, or, after the transfer (POINT transfer), corrupt_value, dangling_pointer, misdirect_pointer, lose_object, or in the callbacks wrong_callback";
        let mut parts = s.splitn(3, ':');
        let (Some(at), Some(kind)) = (parts.next(), parts.next()) else { return Err(format!("{s:?}: {USAGE}")) };
        let seed = match parts.next() {
            Some(n) => n.parse().map_err(|_| format!("bad fault seed {n:?}: {USAGE}"))?,
            None => 0,
        };
        let at = match at {
            "startup" => FaultPoint::Startup,
            "transfer" => FaultPoint::Transfer,
            "ready" => FaultPoint::Ready,
            "callbacks" => FaultPoint::Callbacks,
            _ => return Err(format!("unknown fault point {at:?}: {USAGE}")),
        };
        let kind = match kind {
            "crash" => FaultKind::Crash,
            "abort" => FaultKind::Abort,
            "exit" => FaultKind::Exit,
            "hang" => FaultKind::Hang,
            "error" => FaultKind::Error,
            "corrupt_value" => FaultKind::CorruptValue,
            "dangling_pointer" => FaultKind::DanglingPointer,
            "misdirect_pointer" => FaultKind::MisdirectPointer,
            "lose_object" => FaultKind::LoseObject,
            "wrong_callback" => FaultKind::WrongCallback,
            _ => return Err(format!("unknown fault kind {kind:?}: {USAGE}")),
        };
        let corruption = matches!(kind, FaultKind::CorruptValue | FaultKind::DanglingPointer | FaultKind::MisdirectPointer | FaultKind::LoseObject);
        if corruption && at != FaultPoint::Transfer {
            return Err(format!("{kind:?} corrupts the transferred state: its point is transfer ({USAGE})"));
        }
        if kind == FaultKind::WrongCallback && at != FaultPoint::Callbacks {
            return Err(format!("wrong_callback happens in the callbacks: its point is callbacks ({USAGE})"));
        }
        Ok(Fault { at, kind, seed })
    }
}

/// Program to client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    Hello { version: u32, pid: u32 },
    Status(Status),
    /// A stage of an update finished (`ok`) or failed.
    /// `counts`: with the transfer stage.
    Stage {
        stage: Stage,
        ms: u64,
        ok: bool,
        detail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counts: Option<TransferCounts>,
        /// With the TTST stage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttst: Option<TtstCounts>,
    },
    Outcome(Outcome),
    /// The request was refused; nothing changed in the program.
    Error { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub build_id: String,
    pub uptime_ms: u64,
    pub heap_objects: u64,
}

/// The update's stages, in order (DESIGN.md, "Update").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Request,
    Quiesce,
    Spawn,
    Startup,
    Transfer,
    /// `--ttst`: the round trip through the old version and the comparison.
    Ttst,
    Commit,
    /// `--probation`: the old process waits, parked, for the new one to
    /// prove itself.
    Probation,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Request => "request",
            Stage::Quiesce => "quiesce",
            Stage::Spawn => "spawn",
            Stage::Startup => "startup",
            Stage::Transfer => "transfer",
            Stage::Ttst => "ttst",
            Stage::Commit => "commit",
            Stage::Probation => "probation",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The old process exits right after sending this.
    Committed { new_pid: u32 },
    /// The new process was killed; the old one resumed.
    RolledBack { reason: String },
    /// A dry run reached ready: the update would have committed. The new
    /// process (`new_pid`, now gone) was discarded.
    WouldCommit { new_pid: u32 },
}

/// Old process to new over the update channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromOld {
    /// Sent first. `cloexec`: descriptors that had FD_CLOEXEC in the old
    /// process (cleared so they survive exec; the new one sets it back).
    ///
    /// `state_fd`: a memfd holding the old process's state as the runtime
    /// serialises it (startup record, type map, writable memory, heap
    /// object list, epoll registrations); `arena`: the old heap's range
    /// and memfd, to be mapped copy-on-write at the same addresses. Both
    /// descriptors are inherited; the new process closes them.
    Hello {
        version: u32,
        build_id: String,
        cloexec: Vec<i32>,
        #[serde(default = "no_fd")]
        state_fd: i32,
        #[serde(default)]
        arena: Option<ArenaHandover>,
        #[serde(default)]
        fault: Option<Fault>,
        /// `lucc update --no-check`: skip the invariant check.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        no_check: bool,
    },
    /// The new process owns the program from now on.
    Commit,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn no_fd() -> i32 {
    -1
}

/// The old heap's range, as the new process maps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArenaHandover {
    pub base: u64,
    pub len: u64,
    pub fd: i32,
}

/// What the new process's transfer stage did (the report's counts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferCounts {
    /// Heap objects the old process had.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Objects converted to a new type (in place or moved).
    pub converted: u64,
    /// Of those, moved because the new type did not fit the old block.
    pub moved: u64,
    /// Globals and static locals transferred.
    pub variables: u64,
    /// Pointers rewritten.
    pub pointers: u64,
    /// Words of untyped memory traced conservatively.
    pub conservative_words: u64,
    /// Objects of the new version's startup kept (moved into the heap).
    pub startup_kept: u64,
    /// Objects of the new version's startup freed (replaced by old state).
    pub startup_freed: u64,
    /// Kernel epoll registrations rewritten to moved objects.
    pub epoll_rewritten: u64,
    /// The program's transfer callbacks run (lucc.h).
    #[serde(default)]
    pub callbacks: u64,
    /// Scalars and pointers of the transferred state checked against the
    /// new version's static invariants (0 with `--no-check`).
    #[serde(default)]
    pub checked: u64,
    pub ms: u64,
    /// Objects and bytes per old type, largest first (what the pause went
    /// to); filled by the transfer, drawn by `lucc update --report`.
    #[serde(default)]
    pub per_type: Vec<TypeCount>,
    /// Where the transfer's time went, phase by phase in the order run
    /// (adopting the heap, indexing it, planning, converting, ...), in
    /// microseconds: what `--json` reports for finding a slow update.
    #[serde(default)]
    pub phases: Vec<Phase>,
}

/// One phase of the new process's transfer stage and its duration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub us: u64,
}

/// One old type's share of the transfer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCount {
    /// The type's name as the sidecar spells it (`struct entry`, `char[]`,
    /// `untyped` for sites with no type).
    pub name: String,
    pub objects: u64,
    pub bytes: u64,
    /// Of those, converted to a changed type (in place or moved).
    pub converted: u64,
    /// Of those, moved to a new block.
    pub moved: u64,
}

/// New process to old over the update channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromNew {
    Hello { version: u32, build_id: String },
    /// Reached its first update point: its own startup is over.
    StartupDone,
    /// The old state is in place.
    Transferred(TransferCounts),
    /// `--ttst`: the round trip came back equal (P2 to P1, and P3 to P2).
    Ttst(TtstCounts),
    /// Waiting for commit.
    Ready,
    /// Cannot go on; the old process rolls back.
    Error { message: String },
}

/// One message as a line (with its newline).
pub fn encode<T: Serialize>(msg: &T) -> String {
    let mut s = serde_json::to_string(msg).expect("protocol messages always serialise");
    s.push('\n');
    s
}

/// One line (newline optional) as a message.
pub fn decode<'a, T: Deserialize<'a>>(line: &'a str) -> Result<T, String> {
    if line.len() > MAX_LINE {
        return Err(format!("message longer than {MAX_LINE} bytes"));
    }
    serde_json::from_str(line.trim_end()).map_err(|e| format!("malformed message: {e}"))
}

/// The directory holding control sockets: `$XDG_RUNTIME_DIR/lucc` when
/// that is set, else `/tmp/lucc-UID`.
pub fn socket_dir(xdg_runtime_dir: Option<&std::ffi::OsStr>, uid: u32) -> std::path::PathBuf {
    match xdg_runtime_dir.filter(|d| !d.is_empty()) {
        Some(d) => std::path::Path::new(d).join("lucc"),
        None => std::path::PathBuf::from(format!("/tmp/lucc-{uid}")),
    }
}

/// The control socket of process `pid` in `dir`.
pub fn socket_path(dir: &std::path::Path, pid: u32) -> std::path::PathBuf {
    dir.join(format!("{pid}.sock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_as_single_lines() {
        let msgs = [
            Response::Stage { stage: Stage::Quiesce, ms: 3, ok: true, detail: "a\nb".into(), counts: None, ttst: None },
            Response::Outcome(Outcome::Committed { new_pid: 7 }),
            Response::Status(Status { pid: 1, build_id: "ab".into(), uptime_ms: 2, heap_objects: 3 }),
        ];
        for m in msgs {
            let line = encode(&m);
            assert_eq!(line.matches('\n').count(), 1, "{line}");
            assert_eq!(decode::<Response>(&line).unwrap(), m);
        }
        let r = Request::Update {
            new_binary: "/x".into(),
            timeout_ms: 5,
            transform: Some("[x]".into()),
            fault: Some("transfer:hang".parse().unwrap()),
            dry_run: true,
            no_check: true,
            ttst: Some(TtstRequest { inverse_transform: "[types]".into() }),
            probation_ms: 5000,
        };
        assert_eq!(decode::<Request>(&encode(&r)).unwrap(), r);
        assert_eq!(decode::<Request>(r#"{"type":"hello","version":1}"#).unwrap(), Request::Hello { version: 1 });
    }

    #[test]
    fn fault_specs_parse_or_say_what_is_allowed() {
        let f: Fault = "ready:crash".parse().unwrap();
        assert_eq!(f, Fault { at: FaultPoint::Ready, kind: FaultKind::Crash, seed: 0 });
        let f: Fault = "transfer:misdirect_pointer:17".parse().unwrap();
        assert_eq!(f, Fault { at: FaultPoint::Transfer, kind: FaultKind::MisdirectPointer, seed: 17 });
        assert!("ready:lose_object".parse::<Fault>().is_err());
        assert!("transfer:wrong_callback".parse::<Fault>().is_err());
        let e = "commit:crash".parse::<Fault>().unwrap_err();
        assert!(e.contains("unknown fault point") && e.contains("startup, transfer, ready"), "{e}");
        assert!("transfer".parse::<Fault>().unwrap_err().contains("POINT:KIND"));
        assert!("transfer:melt".parse::<Fault>().unwrap_err().contains("unknown fault kind"));
    }

    #[test]
    fn garbage_and_unknown_requests_are_errors() {
        assert!(decode::<Request>("not json").is_err());
        assert!(decode::<Request>(r#"{"type":"format_disk"}"#).is_err());
        assert!(decode::<Request>(&"x".repeat(MAX_LINE + 1)).is_err());
    }

    #[test]
    fn socket_dir_prefers_xdg() {
        use std::ffi::OsStr;
        assert_eq!(socket_dir(Some(OsStr::new("/run/user/5")), 5), std::path::Path::new("/run/user/5/lucc"));
        assert_eq!(socket_dir(Some(OsStr::new("")), 5), std::path::Path::new("/tmp/lucc-5"));
        assert_eq!(socket_dir(None, 5), std::path::Path::new("/tmp/lucc-5"));
    }
}
