//! Where lucc finds clang 14, its runtime archive and `lucc.h`.
//!
//! clang is looked up as `LUCC_CLANG`, then `clang-14` on PATH, then LLVM's
//! own directory, and any candidate that is this very executable is skipped:
//! a build that puts lucc on PATH under clang's name (the ccache trick) must
//! not make lucc call itself forever. The runtime and header sit next to the
//! installed executable (`cargo build` puts `liblucc_rt.a` beside `lucc`),
//! with environment overrides for unusual layouts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What the environment says, gathered once so the rest is testable.
#[derive(Debug, Clone)]
pub struct Env {
    pub clang: Option<OsString>,
    pub runtime: Option<OsString>,
    pub include: Option<OsString>,
    pub exe: Option<PathBuf>,
    /// `PATH`, searched for `clang-14`.
    pub path: Option<OsString>,
    /// The last resort, LLVM's own clang.
    pub llvm_clang: PathBuf,
}

impl Env {
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        Env {
            clang: var("LUCC_CLANG"),
            runtime: var("LUCC_RUNTIME"),
            include: var("LUCC_INCLUDE"),
            exe: std::env::current_exe().ok(),
            path: std::env::var_os("PATH"),
            llvm_clang: PathBuf::from(LLVM_CLANG),
        }
    }

    fn exe_dir(&self) -> Option<&Path> {
        self.exe.as_deref().and_then(Path::parent)
    }
}

/// The tools and files every step needs.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub clang: PathBuf,
    /// `liblucc_rt.a`; only required when linking a program.
    pub runtime: PathBuf,
    /// The directory holding `lucc.h`, if one exists.
    pub include: Option<PathBuf>,
}

pub const NO_CLANG: &str = "lucc: clang 14 is required: sudo apt-get install clang-14";

const LLVM_CLANG: &str = "/usr/lib/llvm-14/bin/clang";

impl Toolchain {
    /// `Err` carries the message for the user when no clang 14 is found.
    pub fn locate(env: &Env) -> Result<Toolchain, &'static str> {
        let clang = find_clang(env).ok_or(NO_CLANG)?;
        let runtime = match &env.runtime {
            Some(r) => PathBuf::from(r),
            None => env.exe_dir().unwrap_or(Path::new(".")).join("liblucc_rt.a"),
        };
        Ok(Toolchain { clang, runtime, include: find_include(env) })
    }
}

fn is_self(candidate: &Path, exe: Option<&Path>) -> bool {
    let (Some(exe), Ok(c)) = (exe, candidate.canonicalize()) else {
        return false;
    };
    exe.canonicalize().map(|e| e == c).unwrap_or(false)
}

fn find_clang(env: &Env) -> Option<PathBuf> {
    let exe = env.exe.as_deref();
    let usable = |p: &Path| p.is_file() && !is_self(p, exe);
    let explicit = env.clang.as_ref().map(PathBuf::from).and_then(|p| {
        if p.components().count() > 1 {
            Some(p)
        } else {
            which_all(&p, env).into_iter().next()
        }
    });
    explicit
        .into_iter()
        .chain(which_all(Path::new("clang-14"), env))
        .chain(std::iter::once(env.llvm_clang.clone()))
        .find(|p| usable(p))
}

fn which_all(name: &Path, env: &Env) -> Vec<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_default();
    which::which_in_all(name, env.path.clone(), cwd).map(|found| found.collect()).unwrap_or_default()
}

fn find_include(env: &Env) -> Option<PathBuf> {
    if let Some(i) = &env.include {
        return Some(PathBuf::from(i));
    }
    let beside = env.exe_dir().map(|d| d.join("include")).filter(|d| d.join("lucc.h").is_file());
    let source_tree = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime-c/include"));
    beside.or_else(|| source_tree.is_dir().then_some(source_tree))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Default for Env {
        fn default() -> Env {
            Env {
                clang: None,
                runtime: None,
                include: None,
                exe: None,
                path: std::env::var_os("PATH"),
                llvm_clang: LLVM_CLANG.into(),
            }
        }
    }

    #[test]
    fn no_clang_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env {
            clang: Some("clang-14".into()),
            path: Some(dir.path().into()),
            llvm_clang: dir.path().join("clang"),
            ..Env::default()
        };
        assert_eq!(Toolchain::locate(&env).unwrap_err(), NO_CLANG);
        // found on the given PATH
        std::fs::write(dir.path().join("clang-14"), "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path().join("clang-14"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(Toolchain::locate(&env).unwrap().clang, dir.path().join("clang-14"));
    }

    #[test]
    fn explicit_clang_wins_and_self_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("my-clang");
        std::fs::write(&fake, "").unwrap();
        let env = Env { clang: Some(fake.clone().into()), ..Env::default() };
        assert_eq!(Toolchain::locate(&env).unwrap().clang, fake);
        // LUCC_CLANG naming lucc itself falls through to the real clang
        let env = Env { clang: Some(fake.clone().into()), exe: Some(fake.clone()), ..Env::default() };
        let found = Toolchain::locate(&env).unwrap().clang;
        assert_ne!(found, fake);
        // a symlink to lucc is lucc too
        let link = dir.path().join("clang-14");
        std::os::unix::fs::symlink(&fake, &link).unwrap();
        let env = Env { clang: Some(link.clone().into()), exe: Some(fake.clone()), ..Env::default() };
        assert_ne!(Toolchain::locate(&env).unwrap().clang, link);
    }

    #[test]
    fn runtime_defaults_to_beside_the_executable() {
        let env = Env { exe: Some("/opt/lucc/bin/lucc".into()), ..Env::default() };
        assert_eq!(Toolchain::locate(&env).unwrap().runtime, PathBuf::from("/opt/lucc/bin/liblucc_rt.a"));
        let env = Env { runtime: Some("/x/librt.a".into()), ..env };
        assert_eq!(Toolchain::locate(&env).unwrap().runtime, PathBuf::from("/x/librt.a"));
    }

    #[test]
    fn include_override() {
        let env = Env { include: Some("/inc".into()), ..Env::default() };
        assert_eq!(Toolchain::locate(&env).unwrap().include, Some(PathBuf::from("/inc")));
    }
}
