//! Where outputs go and the exact command lines that make them.
//!
//! Layout: `build/<profile>/` holds the programs and `lib<name>.a`
//! archives; `build/<profile>/obj/<target>/<source minus extension>.o`
//! the objects, each with its `.d` (from the compiler) and `.cmd` (the
//! command's hash); the link or archive command's hash is kept there too,
//! in `.link.cmd`, so the directory users look into holds only products. Profiles never share a file, so switching between them
//! rebuilds nothing. Every path here is relative to the project root, where
//! the tools run.
//!
//! Flag order matters to the tools: user `cflags` come after the profile's
//! `-O`/`-g` so they can override them; `ldflags` come before the inputs
//! (for switches like `-Wl,--as-needed`) and `-l` libraries after them,
//! after the archives that need them.

use super::fresh;
use super::manifest::Kind;
use super::profile::Profile;
use super::targets::{Project, Target};
use std::path::{Path, PathBuf};

pub struct Tools {
    /// The C compiler, also used as the linker driver.
    pub cc: String,
    pub ar: String,
    /// Which build of the compiler this is (its resolved path, size and
    /// mtime): a new lucc may instrument differently, so its objects are
    /// stale even when the command line reads the same.
    pub cc_identity: String,
}

impl Tools {
    /// `LUCC_BUILD_CC` names another compiler (plain clang makes builds
    /// independent of lucc's instrumentation); by default lucc drives its
    /// own cc mode, so projects get live-updatable programs.
    pub fn from_env() -> Result<Tools, String> {
        let nonempty = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let cc = match nonempty("LUCC_BUILD_CC") {
            Some(cc) => cc,
            None => std::env::current_exe()
                .map_err(|e| format!("cannot find the lucc executable: {e}"))?
                .to_string_lossy()
                .into_owned(),
        };
        Ok(Tools {
            cc_identity: identity(&cc),
            cc,
            ar: nonempty("AR").unwrap_or_else(|| "ar".into()),
        })
    }

    /// The hash stored beside an output made by `argv` with these tools.
    pub fn hash(&self, argv: &[String]) -> String {
        let mut all = argv.to_vec();
        all.push(self.cc_identity.clone());
        fresh::command_hash(&all)
    }
}

fn identity(program: &str) -> String {
    let Ok(path) = which::which(program) else {
        // Not found: running it will say so, with the error that matters.
        return program.to_string();
    };
    let path = path.canonicalize().unwrap_or(path);
    let meta = std::fs::metadata(&path).ok();
    let mtime = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{} {} {mtime}", path.display(), meta.map_or(0, |m| m.len()))
}

pub fn profile_dir(profile: &str) -> PathBuf {
    Path::new("build").join(profile)
}

pub fn object_path(profile: &str, target: &str, source: &Path) -> PathBuf {
    profile_dir(profile)
        .join("obj")
        .join(target)
        .join(source.with_extension("o"))
}

pub fn link_stamp_path(profile: &str, target: &str) -> PathBuf {
    profile_dir(profile)
        .join("obj")
        .join(target)
        .join(".link.cmd")
}

pub fn depfile_path(object: &Path) -> PathBuf {
    object.with_extension("d")
}

pub fn output_path(profile: &str, t: &Target) -> PathBuf {
    match t.kind {
        Kind::Bin => profile_dir(profile).join(&t.name),
        Kind::Staticlib => profile_dir(profile).join(format!("lib{}.a", t.name)),
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

pub fn compile(
    tools: &Tools,
    p: &Profile,
    t: &Target,
    source: &Path,
    object: &Path,
) -> Vec<String> {
    let mut argv = vec![
        tools.cc.clone(),
        "-c".into(),
        s(source),
        "-o".into(),
        s(object),
    ];
    argv.extend(["-MMD".into(), "-MF".into(), s(&depfile_path(object))]);
    argv.push(format!("-O{}", p.opt));
    if p.debug {
        argv.push("-g".into());
    }
    argv.extend(t.include.iter().map(|i| format!("-I{i}")));
    argv.extend(p.defines.iter().chain(&t.defines).map(|d| format!("-D{d}")));
    argv.extend(p.cflags.iter().chain(&t.cflags).cloned());
    argv
}

/// The archive or link command for `t`, given its objects.
pub fn produce(
    tools: &Tools,
    prof: &Profile,
    proj: &Project,
    t: &Target,
    objects: &[PathBuf],
) -> Vec<String> {
    let out = s(&output_path(&prof.name, t));
    match t.kind {
        Kind::Staticlib => {
            let mut argv = vec![tools.ar.clone(), "rcs".into(), out];
            argv.extend(objects.iter().map(|o| s(o)));
            argv
        }
        Kind::Bin => {
            let mut argv = vec![tools.cc.clone()];
            argv.extend(prof.ldflags.iter().chain(&t.ldflags).cloned());
            argv.extend(objects.iter().map(|o| s(o)));
            argv.extend(
                t.archives
                    .iter()
                    .map(|&a| s(&output_path(&prof.name, &proj.targets[a]))),
            );
            argv.extend(["-o".into(), out]);
            argv.extend(t.libs.iter().map(|l| format!("-l{l}")));
            argv
        }
    }
}
