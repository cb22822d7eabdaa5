//! Deciding what is out of date.
//!
//! An output is fresh when it exists, was made by the same command line,
//! and is no older than anything it was made from. Comparing the command
//! (a hash stored beside the output) catches what mtimes cannot: a changed
//! define, flag or profile setting. For objects, "made from" is the
//! compiler's own dependency file, so a header edit recompiles exactly the
//! files that included it. Each check returns the reason, which `--verbose`
//! prints.

use super::depfile;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// FNV-1a over the arguments: stable across runs and Rust versions, which
/// std's hasher does not promise.
pub fn command_hash(args: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for a in args {
        for &b in a.as_bytes().iter().chain(std::iter::once(&0u8)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Where the command hash of an object is kept: beside it.
pub fn stamp_of(output: &Path) -> PathBuf {
    let mut s = output.as_os_str().to_owned();
    s.push(".cmd");
    PathBuf::from(s)
}

pub fn write_stamp(stamp: &Path, hash: &str) -> std::io::Result<()> {
    std::fs::write(stamp, format!("{hash}\n"))
}

/// An interrupted or failed step must not leave an output that looks fresh.
pub fn forget(stamp: &Path) {
    let _ = std::fs::remove_file(stamp);
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn command_changed(stamp: &Path, hash: &str) -> bool {
    std::fs::read_to_string(stamp).map_or(true, |s| s.trim() != hash)
}

/// Why `obj` must be recompiled, or None if it is fresh. Paths in the
/// dependency file are relative to `root`, where the compiler ran.
pub fn object_stale(root: &Path, obj: &Path, depfile: &Path, hash: &str) -> Option<String> {
    let Some(built) = mtime(&root.join(obj)) else {
        return Some("not built yet".into());
    };
    if command_changed(&stamp_of(&root.join(obj)), hash) {
        return Some("command line changed".into());
    }
    let Some(deps) = std::fs::read_to_string(root.join(depfile))
        .ok()
        .and_then(|t| depfile::parse(&t))
    else {
        return Some("no dependency file".into());
    };
    newer_input(root, built, deps.iter().map(PathBuf::as_path))
}

/// Why a link or archive step must run again, or None.
pub fn output_stale<'a>(
    root: &Path,
    out: &Path,
    stamp: &Path,
    hash: &str,
    inputs: impl IntoIterator<Item = &'a Path>,
) -> Option<String> {
    let Some(built) = mtime(&root.join(out)) else {
        return Some("not built yet".into());
    };
    if command_changed(&root.join(stamp), hash) {
        return Some("command line changed".into());
    }
    newer_input(root, built, inputs)
}

fn newer_input<'a>(
    root: &Path,
    built: SystemTime,
    inputs: impl IntoIterator<Item = &'a Path>,
) -> Option<String> {
    for input in inputs {
        match mtime(&root.join(input)) {
            None => return Some(format!("{} is gone", input.display())),
            Some(t) if t > built => return Some(format!("{} changed", input.display())),
            Some(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, File};
    use std::time::Duration;

    #[test]
    fn hash_separates_arguments() {
        let a = command_hash(&["-DA".into(), "B".into()]);
        assert_ne!(a, command_hash(&["-DAB".into()]));
        assert_eq!(a, command_hash(&["-DA".into(), "B".into()]));
    }

    #[test]
    fn object_goes_stale_on_header_and_command() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("x.c"), "").unwrap();
        fs::write(root.join("x.h"), "").unwrap();
        fs::write(root.join("x.o"), "").unwrap();
        fs::write(root.join("x.d"), "x.o: x.c x.h\n").unwrap();
        let (o, d) = (Path::new("x.o"), Path::new("x.d"));
        assert_eq!(
            object_stale(root, o, d, "h1").as_deref(),
            Some("command line changed")
        );
        write_stamp(&stamp_of(&root.join(o)), "h1").unwrap();
        let old = SystemTime::now() - Duration::from_secs(60);
        for f in ["x.c", "x.h"] {
            File::options()
                .write(true)
                .open(root.join(f))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        assert_eq!(object_stale(root, o, d, "h1"), None);
        File::options()
            .write(true)
            .open(root.join("x.h"))
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(60))
            .unwrap();
        assert_eq!(
            object_stale(root, o, d, "h1").as_deref(),
            Some("x.h changed")
        );
        fs::remove_file(root.join("x.h")).unwrap();
        assert_eq!(
            object_stale(root, o, d, "h1").as_deref(),
            Some("x.h is gone")
        );
    }
}
