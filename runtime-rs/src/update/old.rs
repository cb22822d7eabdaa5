//! The old process's side of an update, run on the control thread:
//! request, quiesce, spawn, startup, then commit or roll back.
//!
//! Rollback is "resume": the old process writes nothing of its own during
//! an update (only the flags it owns: pending, parked), so killing the new
//! process and waking the parked threads restores it exactly.

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use lucc_abi::control::{decode, encode, Fault, FromNew, FromOld, Outcome, Phase, Response, Stage, TransferCounts, TtstCounts, TtstRequest, PROTOCOL_VERSION};

use super::{channel, quiesce, spawn, state, ttst};

/// How often the startup wait looks at the new process's state.
const TICK: Duration = Duration::from_millis(20);

struct Stages<'a> {
    report: &'a mut dyn FnMut(&Response),
    started: Instant,
}

impl Stages<'_> {
    fn done(&mut self, stage: Stage, ok: bool, detail: String) {
        self.done_with(stage, ok, detail, None)
    }

    fn done_with(&mut self, stage: Stage, ok: bool, detail: String, counts: Option<TransferCounts>) {
        let ms = self.started.elapsed().as_millis() as u64;
        (self.report)(&Response::Stage { stage, ms, ok, detail, counts, ttst: None });
        self.started = Instant::now();
    }

    fn ttst_done(&mut self, c: TtstCounts) {
        let ms = self.started.elapsed().as_millis() as u64;
        let detail = format!(
            "the state came back equal from the old version: {} variables, {} heap objects ({} reached from no variable), {} values compared; {} values the update drops by design, {} pointers outside the program not compared; {} objects only the new version has",
            c.variables, c.objects, c.unreached, c.values, c.dropped, c.foreign_pointers, c.extra_objects
        );
        (self.report)(&Response::Stage { stage: Stage::Ttst, ms, ok: true, detail, counts: None, ttst: Some(c) });
        self.started = Instant::now();
    }

    fn roll_back(&mut self, stage: Stage, reason: String) -> Outcome {
        self.done(stage, false, reason.clone());
        Outcome::RolledBack { reason: format!("{}: {reason}", stage.name()) }
    }
}

/// How an update is to run, besides its binary and deadline.
#[derive(Default)]
pub struct Options<'a> {
    /// The text of the operator's transform file.
    pub transform: Option<&'a str>,
    /// A fault for the new version to inject (testing rollback).
    pub fault: Option<Fault>,
    /// Up to ready, then the new process is discarded.
    pub dry_run: bool,
    /// `--no-check`: the new version skips the invariant check.
    pub no_check: bool,
    /// `--ttst`: the round trip through the old version before commit.
    pub ttst: Option<&'a TtstRequest>,
    /// After commit, how long the old process stays parked, ready to
    /// resume if the new one crashes (zero: it exits at commit).
    pub probation: Duration,
}

/// Runs an update to `new_binary`. Err: refused, nothing was done. Returns
/// Ok only on rollback: on commit the process exits right after reporting.
pub fn run(
    new_binary: &str,
    timeout: Duration,
    opts: &Options<'_>,
    runtime_fds: &[RawFd],
    report: &mut dyn FnMut(&Response),
) -> Result<Outcome, String> {
    let deadline = Instant::now() + timeout;
    let mut st = Stages { report, started: Instant::now() };

    let path = Path::new(new_binary);
    let cpath = std::ffi::CString::new(new_binary).map_err(|_| "binary path contains a NUL byte".to_string())?;
    // SAFETY: access only reads the path.
    if !path.is_absolute() || unsafe { libc::access(cpath.as_ptr(), libc::X_OK) } != 0 {
        return Err(format!("{new_binary} is not an absolute path to an executable"));
    }
    // The state image's memory is allocated while the program still runs:
    // the capture then only copies, inside the pause.
    let image = state::capture::prepare()?;
    st.done(Stage::Request, true, new_binary.into());
    Ok(quiesce_spawn_commit(path, image, deadline, opts, runtime_fds, &mut st))
}

/// Puts the old process back as it was: the new one is dead, the shared
/// epoll instances get our registrations back, the program threads wake.
fn resume_old() {
    crate::epoll::restore_all();
    quiesce::resume();
}

fn quiesce_spawn_commit(path: &Path, image: state::Writer, deadline: Instant, opts: &Options<'_>, runtime_fds: &[RawFd], st: &mut Stages<'_>) -> Outcome {
    let Options { transform, fault, dry_run, no_check, ttst, probation } = *opts;
    if let Err(e) = quiesce::quiesce(deadline) {
        return st.roll_back(Stage::Quiesce, e);
    }
    st.done(Stage::Quiesce, true, "all program threads parked".into());

    let order = match ttst.map(|t| ttst::order_section(t, deadline.saturating_duration_since(Instant::now()).as_millis() as u64)) {
        Some(Ok(o)) => Some(o),
        Some(Err(e)) => {
            quiesce::resume();
            return st.roll_back(Stage::Spawn, e);
        }
        None => None,
    };
    let extra: Vec<(u32, &[u8])> = order.iter().map(|o| (ttst::TAG_TTST, o.as_slice())).collect();
    let captured = match state::capture::capture_into(image, transform, None, &extra) {
        Ok(c) => c,
        Err(e) => {
            quiesce::resume();
            return st.roll_back(Stage::Spawn, format!("capturing the state: {e}"));
        }
    };
    let handover = spawn::Handover { state_fd: captured.state.as_raw_fd(), arena: captured.arena, fault };
    let started = Instant::now();
    let spawned = spawn::spawn_checked(path, runtime_fds, &handover, !no_check);
    let mut phases = captured.phases.clone();
    phases.push(Phase { name: "start the new process".into(), us: started.elapsed().as_micros() as u64 });
    // Our copy of the image stays open until the update ends: the new
    // process's unmapping it then frees nothing (the last one to let go of
    // a memfd frees its pages), and at commit we free all but what the new
    // process keeps.
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            quiesce::resume();
            return st.roll_back(Stage::Spawn, e);
        }
    };
    st.done_with(
        Stage::Spawn,
        true,
        format!("pid {}, heap of {} objects ({} bytes) handed over", child.pid, captured.objects, captured.bytes),
        Some(TransferCounts { objects: captured.objects, bytes: captured.bytes, phases, ..TransferCounts::default() }),
    );

    let fd = child.channel.as_raw_fd();
    if let Err((stage, e)) = wait_ready(fd, child.pid, deadline, ttst.is_some(), st) {
        kill(child.pid);
        resume_old();
        return st.roll_back(stage, e);
    }

    if dry_run {
        // Ready is as far as a dry run goes: the new process, which has
        // written nothing the old one uses, is discarded like a failed one.
        kill(child.pid);
        resume_old();
        st.done(Stage::Commit, true, "dry run: the update would commit; new process discarded".into());
        return Outcome::WouldCommit { new_pid: child.pid as u32 };
    }
    if let Err(e) = channel::send(fd, &encode(&FromOld::Commit)) {
        kill(child.pid);
        resume_old();
        return st.roll_back(Stage::Commit, e);
    }
    if !probation.is_zero() {
        st.done(Stage::Commit, true, format!("the new version serves; the old process stays parked for {} ms of probation", probation.as_millis()));
        if let Some(why) = on_probation(child.pid, probation) {
            resume_old();
            return st.roll_back(Stage::Probation, why);
        }
    }
    // Before the old process exits, so a service manager never sees its
    // main process end without knowing its successor (docs/systemd.md).
    let notified = notify_main_pid(child.pid as u32);
    if probation.is_zero() {
        st.done(Stage::Commit, true, format!("old process exits{notified}"));
    } else {
        st.done(Stage::Probation, true, format!("the new version came through its probation; old process exits{notified}"));
    }
    (st.report)(&Response::Outcome(Outcome::Committed { new_pid: child.pid as u32 }));
    crate::control::remove_socket();
    captured.release_all_but_registry();
    // SAFETY: ends the process without running the program's atexit
    // handlers or flushing its stdio: the new version owns all of that.
    unsafe { libc::_exit(0) }
}

/// Tells systemd (`$NOTIFY_SOCKET`, sd_notify's datagram protocol) that
/// the new process is the service's main process. Sent by the old process
/// because it is the main process until it exits: systemd accepts it with
/// the default `NotifyAccess=main`, and it arrives before the old process's
/// exit. The program may have unset the variable (sd_notify's
/// `unset_environment`), so the environment it was started with counts too.
/// Returns what the commit stage's detail says about it.
fn notify_main_pid(new_pid: u32) -> String {
    let socket = std::env::var_os("NOTIFY_SOCKET").or_else(|| {
        let env = std::fs::read("/proc/self/environ").ok()?;
        env.split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(b"NOTIFY_SOCKET=".as_slice()))
            .map(|v| std::ffi::OsStr::from_bytes(v).to_os_string())
    });
    let Some(socket) = socket.filter(|s| !s.is_empty()) else { return String::new() };
    let msg = format!("MAINPID={new_pid}\nREADY=1\n");
    match send_notify(socket.as_bytes(), msg.as_bytes()) {
        Ok(()) => format!("; MAINPID={new_pid} sent to NOTIFY_SOCKET"),
        Err(e) => format!("; NOTIFY_SOCKET {}: {e}", socket.to_string_lossy()),
    }
}

/// One datagram to a notify socket: a path, or an abstract name written
/// with a leading '@'.
fn send_notify(socket: &[u8], msg: &[u8]) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let addr = match socket.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(socket))?,
    };
    let sock = UnixDatagram::unbound()?;
    let sent = sock.send_to_addr(msg, &addr)?;
    if sent != msg.len() {
        return Err(std::io::Error::other("short datagram"));
    }
    Ok(())
}

/// After commit, with the program's threads still parked: waits out the
/// probation on the new process (our child). Some(cause) if it died of a
/// signal or exited with a nonzero status meanwhile: the old process then
/// resumes from its untouched state. A clean exit (status 0, the program
/// shutting down as asked) ends the probation like its expiry does.
fn on_probation(pid: libc::pid_t, period: Duration) -> Option<String> {
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: non-blocking wait for our own child.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            let after = format!("after {} ms of service", started.elapsed().as_millis());
            return if libc::WIFSIGNALED(status) {
                Some(format!("new process {pid} killed by signal {} {after}; the old process resumed", libc::WTERMSIG(status)))
            } else if libc::WEXITSTATUS(status) != 0 {
                Some(format!("new process {pid} exited with status {} {after}; the old process resumed", libc::WEXITSTATUS(status)))
            } else {
                None
            };
        }
        let left = period.saturating_sub(started.elapsed());
        if left.is_zero() {
            return None;
        }
        std::thread::sleep(TICK.min(left));
    }
}

fn kill(pid: libc::pid_t) {
    // SAFETY: our own child, not yet reaped, so the pid cannot be reused.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

/// Some(description) once the child has exited (and is reaped); `stage`
/// says how far it had come.
fn exited(pid: libc::pid_t, stage: Stage) -> Option<String> {
    let mut status = 0;
    // SAFETY: non-blocking wait for our own child.
    if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != pid {
        return None;
    }
    let when = match stage {
        Stage::Startup => "before its first update point",
        Stage::Transfer => "during the state transfer",
        Stage::Ttst => "during the round trip through the old version (--ttst)",
        _ => "before it was ready to commit",
    };
    Some(if libc::WIFSIGNALED(status) {
        format!("new process killed by signal {} {when}", libc::WTERMSIG(status))
    } else {
        format!("new process exited with status {} {when}", libc::WEXITSTATUS(status))
    })
}

/// Waits for the new version's hello, the end of its startup, its
/// transfer, then Ready; reports the stages as they finish. Err names the
/// stage that failed. What the new process said is read before its exit
/// is looked at, so that an error it reported and then died of is the
/// reason given, not just its exit status.
fn wait_ready(fd: RawFd, pid: libc::pid_t, deadline: Instant, ttst: bool, st: &mut Stages<'_>) -> Result<(), (Stage, String)> {
    let mut hello = false;
    let mut eof = false;
    let mut stage = Stage::Startup;
    loop {
        let now = Instant::now();
        let line = if eof {
            None
        } else {
            let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            let wait = TICK.min(deadline.saturating_duration_since(now)).as_millis().max(1) as i32;
            // SAFETY: one pollfd on the stack.
            if unsafe { libc::poll(&mut p, 1, wait) } > 0 {
                match channel::recv(fd).map_err(|e| (stage, e))? {
                    Some(l) => Some(l),
                    None => {
                        eof = true;
                        None
                    }
                }
            } else {
                None
            }
        };
        let Some(line) = line else {
            if let Some(why) = exited(pid, stage) {
                return Err((stage, why));
            }
            if Instant::now() >= deadline {
                let what = match stage {
                    Stage::Startup => "new process did not reach an update point before the deadline",
                    Stage::Transfer => "new process did not finish the state transfer before the deadline",
                    Stage::Ttst => "new process did not finish the round trip through the old version before the deadline",
                    _ => "new process did not report ready before the deadline",
                };
                return Err((stage, what.into()));
            }
            if eof {
                // Closed its end: it is exiting; give it a tick to be reaped.
                std::thread::sleep(TICK.min(deadline.saturating_duration_since(Instant::now())));
            }
            continue;
        };
        match decode::<FromNew>(&line).map_err(|e| (stage, e))? {
            FromNew::Hello { version, .. } if version != PROTOCOL_VERSION => {
                return Err((stage, format!("new version speaks update protocol {version}, this one {PROTOCOL_VERSION}")))
            }
            FromNew::Hello { .. } => hello = true,
            _ if !hello => return Err((stage, "new process skipped its hello".into())),
            FromNew::StartupDone => {
                st.done(Stage::Startup, true, "new version reached its first update point".into());
                stage = Stage::Transfer;
            }
            FromNew::Transferred(c) => {
                st.done_with(
                    Stage::Transfer,
                    true,
                    format!(
                        "{} objects ({} bytes), {} converted ({} moved), {} variables, {} pointers remapped, {} words traced conservatively, new startup: {} objects kept, {} freed; {} epoll registrations rewritten; {} transfer callbacks",
                        c.objects, c.bytes, c.converted, c.moved, c.variables, c.pointers, c.conservative_words,
                        c.startup_kept, c.startup_freed, c.epoll_rewritten, c.callbacks
                    ),
                    Some(c.clone()),
                );
                stage = if ttst { Stage::Ttst } else { Stage::Commit };
            }
            FromNew::Ttst(c) if stage == Stage::Ttst => {
                st.ttst_done(c);
                stage = Stage::Commit;
            }
            FromNew::Ttst(_) => return Err((stage, "new process reported a round trip nobody asked for".into())),
            FromNew::Ready if stage == Stage::Ttst => return Err((stage, "new process reported ready without the round trip".into())),
            FromNew::Ready => return Ok(()),
            FromNew::Error { message } => return Err((stage, format!("new process: {message}"))),
        }
    }
}
