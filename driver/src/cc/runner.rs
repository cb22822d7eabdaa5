//! The seam between lucc and the processes and libraries it drives.
//!
//! Which clang command lines lucc builds is the heart of "never worse than
//! cc", so it is tested without running clang: the pipeline only talks to a
//! [`CommandRunner`] (processes) and [`Steps`] (the pass and the sidecar),
//! and tests substitute recorders for both.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One clang invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Cmd {
    /// The command as a shell-like line, for logs.
    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// Runs a command with the user's stdin, stdout and stderr, so clang's
/// output (and its colours on a terminal) reaches the user untouched.
pub trait CommandRunner: Sync {
    /// The exit code; a death by signal N is reported as 128 + N, as a shell
    /// would.
    fn run(&self, cmd: &Cmd) -> std::io::Result<i32>;
    /// Like [`CommandRunner::run`], but stderr is returned instead of
    /// printed (for compiles that run side by side).
    fn run_captured(&self, cmd: &Cmd) -> std::io::Result<(i32, Vec<u8>)>;
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The real thing.
pub struct ProcessRunner;

impl CommandRunner for ProcessRunner {
    fn run(&self, cmd: &Cmd) -> std::io::Result<i32> {
        Ok(exit_code(Command::new(&cmd.program).args(&cmd.args).status()?))
    }

    fn run_captured(&self, cmd: &Cmd) -> std::io::Result<(i32, Vec<u8>)> {
        let out = Command::new(&cmd.program)
            .args(&cmd.args)
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .output()?;
        Ok((exit_code(out.status), out.stderr))
    }
}

/// The in-process steps of the pipeline.
pub trait Steps: Sync {
    /// Instruments one translation unit's bitcode; `source` is the absolute
    /// path of its C file.
    fn instrument(&self, input: &Path, output: &Path, source: &str) -> anyhow::Result<()>;
    /// Instruments one unit's bitcode and compiles it to `object` in this
    /// process. `Ok(None)`: the object is written. `Ok(Some(why))`: the
    /// backend declined (a diagnostic clang should report); the instrumented
    /// bitcode is in `bitcode`, for clang. `Err`: instrumentation failed, as
    /// with [`Steps::instrument`].
    fn instrument_to_object(
        &self,
        input: &Path,
        object: &Path,
        bitcode: &Path,
        source: &str,
        emit: &lucc_passes::EmitOptions,
    ) -> anyhow::Result<Option<String>>;
    /// Writes the sidecar of a freshly linked program.
    fn write_sidecar(&self, binary: &Path) -> anyhow::Result<PathBuf>;
    /// What a program's link names for the runtime archive: its pre-linked
    /// object, or the archive itself (`prelink.rs`).
    fn runtime_for_link(&self, tc: &super::Toolchain) -> PathBuf;
}

/// What the passes found in one unit, for `LUCC_LOG`.
fn log_fragment(source: &str, fragment: &lucc_abi::fragment::Fragment) {
    crate::lucc_log!("{source}: {} allocation sites, {} wrappers", fragment.sites.len(), fragment.wrappers.len());
}

/// lucc's passes and sidecar writer.
pub struct RealSteps;

impl Steps for RealSteps {
    fn instrument(&self, input: &Path, output: &Path, source: &str) -> anyhow::Result<()> {
        let opts = lucc_passes::PassOptions { source: source.to_string() };
        log_fragment(source, &lucc_passes::instrument_bitcode_file(input, output, &opts)?);
        Ok(())
    }

    fn instrument_to_object(
        &self,
        input: &Path,
        object: &Path,
        bitcode: &Path,
        source: &str,
        emit: &lucc_passes::EmitOptions,
    ) -> anyhow::Result<Option<String>> {
        let opts = lucc_passes::PassOptions { source: source.to_string() };
        match lucc_passes::instrument_to_object(input, object, &opts, emit)? {
            lucc_passes::Emitted::Object(fragment) => {
                log_fragment(source, &fragment);
                Ok(None)
            }
            lucc_passes::Emitted::Declined(_, why) => {
                // the module was optimised in place: instrument afresh for clang
                let _ = std::fs::remove_file(object);
                self.instrument(input, bitcode, source)?;
                Ok(Some(why))
            }
        }
    }

    fn write_sidecar(&self, binary: &Path) -> anyhow::Result<PathBuf> {
        crate::sidecar::write_for_binary(binary)
    }

    fn runtime_for_link(&self, tc: &super::Toolchain) -> PathBuf {
        super::prelink::runtime_for_link(&tc.clang, &tc.runtime)
    }
}
