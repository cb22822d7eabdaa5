//! Building a test program with one compiler into a private directory.
//!
//! Every program is built once per test process and compiler (builds are
//! the slow part, and several tests share one binary); the two builds go to
//! different directories through the Makefiles' `O=` so they never see each
//! other's objects. A build failure is remembered too, so every test that
//! needs it reports the same compiler output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, bail, Context, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compiler {
    /// The system C compiler (`$LUCC_TEST_CC`, else `cc`): the reference.
    Cc,
    /// lucc in cc-compatible mode.
    Lucc,
}

impl Compiler {
    pub fn label(self) -> &'static str {
        match self {
            Compiler::Cc => "cc",
            Compiler::Lucc => "lucc",
        }
    }
}

/// A program built by one compiler.
#[derive(Debug, Clone)]
pub struct Built {
    pub compiler: Compiler,
    /// The linked executable; a lucc build has its sidecar beside it.
    pub exe: PathBuf,
}

/// `testsuite/programs`.
pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testsuite sits in the workspace").to_path_buf()
}

/// The lucc binary: `$LUCC`, else the workspace's release build, else its
/// debug build.
pub fn lucc_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("LUCC") {
        return Ok(PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    for profile in ["release", "debug"] {
        let p = target.join(profile).join("lucc");
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!("no lucc binary: set LUCC or run `cargo build -p lucc -p lucc-rt` first")
}

fn compiler_command(compiler: Compiler) -> Result<String> {
    Ok(match compiler {
        Compiler::Cc => std::env::var("LUCC_TEST_CC").unwrap_or_else(|_| "cc".into()),
        Compiler::Lucc => lucc_path()?.display().to_string(),
    })
}

/// Shared scratch directory for this test process; removed at exit only if
/// the process ends normally, which is fine for a temp dir.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::Builder::new().prefix("lucc-testsuite-").tempdir().expect("temp dir")).path()
}

type Slot = Arc<OnceLock<Result<Built, String>>>;

/// Builds `programs/<program>` (e.g. `kvstore/v1`) whose executable is
/// named `exe_name`, once per process and compiler.
pub fn build(program: &str, exe_name: &str, compiler: Compiler) -> Result<Built> {
    static CACHE: OnceLock<Mutex<HashMap<(String, Compiler), Slot>>> = OnceLock::new();
    let slot = {
        let mut map = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        map.entry((program.to_string(), compiler)).or_default().clone()
    };
    slot.get_or_init(|| build_uncached(program, exe_name, compiler).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn build_uncached(program: &str, exe_name: &str, compiler: Compiler) -> Result<Built> {
    let src = programs_dir().join(program);
    let out = scratch().join(compiler.label()).join(program);
    std::fs::create_dir_all(&out)?;
    let cc = compiler_command(compiler)?;
    let output = Command::new("make")
        .arg("-C")
        .arg(&src)
        .arg(format!("O={}", out.display()))
        .arg(format!("CC={cc}"))
        .arg("CFLAGS=-O2 -g")
        .output()
        .with_context(|| format!("running make for {program}"))?;
    if !output.status.success() {
        bail!(
            "building {program} with {}: make failed ({})\n{}{}",
            compiler.label(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let exe = out.join(exe_name);
    if !exe.is_file() {
        bail!("building {program} with {}: make succeeded but {} is missing", compiler.label(), exe.display());
    }
    Ok(Built { compiler, exe })
}
