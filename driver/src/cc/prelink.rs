//! The runtime as one pre-linked, garbage-collected object.
//!
//! `liblucc_rt.a` is a Rust staticlib: the runtime with the standard
//! library and every crate it uses, some 400 members and 28 MB. A program
//! linked against it makes ld read the archive's index and pull in about
//! 120 members, with all their sections, for the few entry points the
//! program and the C shim call: most of each link's time, and 3 MB of code
//! in every program. So each runtime archive is linked once, on first use,
//! into a relocatable object (`ld -r --whole-archive --gc-sections`) that
//! keeps what the runtime's exported symbols reach, and programs link that
//! object instead.
//!
//! - **Roots** are read from the archive itself: every defined symbol of
//!   default visibility whose name is not Rust-mangled, which is the
//!   runtime's C API (`lucc_rt_*`, `__lucc_*`, `lucc_*`, `__wrap_*`) plus
//!   compiler-rt's helpers. Constructors (`.init_array`) are kept by ld
//!   whatever references them.
//! - **`--wrap` still works**: calls the runtime makes to wrapped functions
//!   and its `__real_*` references stay undefined in the object, and the
//!   program's link resolves them exactly as it would from the archive.
//! - **Debug information is kept**: when the C shim is built with it (the
//!   dev profile), the sidecar lists the shim's functions from the
//!   program's DWARF, so that pointers to them survive an update; and the
//!   runtime's own backtraces keep their source lines.
//! - **Never stale**: the object's name carries a hash of the archive's
//!   identity (device, inode, size, modification time), so a rebuilt
//!   runtime gets a new object; objects older than their archive are removed.
//! - **Concurrent links** (`make -j`) each write a private temporary file
//!   and rename it into place; a reader sees a whole object or none.
//! - The object sits beside the archive, or in the user's cache directory
//!   when that directory is not writable. If it cannot be made, the link
//!   uses the archive itself after a one-line warning.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use anyhow::{bail, Context, Result};
use object::{Object, ObjectSymbol};

use crate::{log, lucc_log};

/// Part of every cache key: changing how the object is made (the roots,
/// ld's options) must not reuse objects made the old way.
const FORMAT: u32 = 1;

/// What the program's link should name for the runtime: the pre-linked
/// object of `archive`, made now if there is none yet, else (with a
/// warning) the archive.
pub fn runtime_for_link(clang: &Path, archive: &Path) -> PathBuf {
    if !is_archive(archive) {
        // LUCC_RUNTIME may name an object or a shared library: linked as given
        return archive.to_path_buf();
    }
    match prelinked(clang, archive) {
        Ok(object) => object,
        Err(e) => {
            eprintln!("lucc: warning: linking the whole runtime archive (slower): cannot pre-link {}: {e:#}", archive.display());
            archive.to_path_buf()
        }
    }
}

fn is_archive(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"!<arch>\n"
}

fn prelinked(clang: &Path, archive: &Path) -> Result<PathBuf> {
    let meta = std::fs::metadata(archive).with_context(|| format!("cannot read {}", archive.display()))?;
    let name = object_name(archive, &meta);
    let dirs = cache_dirs(archive);
    if let Some(found) = dirs.iter().map(|d| d.join(&name)).find(|p| p.is_file()) {
        return Ok(found);
    }
    let start = Instant::now();
    let roots = roots(archive)?;
    let ld = linker(clang)?;
    let mut last_error = None;
    for dir in &dirs {
        match create(&ld, archive, &meta, &roots, dir, &name) {
            Ok(object) => {
                lucc_log!("pre-linked {} ({} roots) into {} in {}", archive.display(), roots.len(), object.display(), log::elapsed(start));
                remove_stale(dir, &prefix(archive), &object, &meta);
                return Ok(object);
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no directory to write it in")))
}

/// `liblucc_rt.<hash>.prelinked.o`: the archive's stem and a hash of its
/// identity, so that a rebuilt archive is never matched with an old object.
fn object_name(archive: &Path, meta: &std::fs::Metadata) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (FORMAT, meta.dev(), meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec()).hash(&mut h);
    format!("{}{:016x}.prelinked.o", prefix(archive), h.finish())
}

/// The common start of the names of `archive`'s objects.
fn prefix(archive: &Path) -> String {
    let stem = archive.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "runtime".into());
    format!("{stem}.")
}

/// Beside the archive first, then `$XDG_CACHE_HOME/lucc` or `~/.cache/lucc`.
fn cache_dirs(archive: &Path) -> Vec<PathBuf> {
    let beside = archive.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p });
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let user = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache"))).map(|c| c.join("lucc"));
    beside.map(Path::to_path_buf).into_iter().chain(user).collect()
}

/// The archive's exported C symbols: defined, global or weak, default
/// visibility, not Rust-mangled. (The staticlib exports Rust's mangled
/// symbols too, which no C code can name; LLVM's internal `anon.*` ones
/// are hidden.)
pub fn roots(archive: &Path) -> Result<Vec<String>> {
    let data = std::fs::read(archive).with_context(|| format!("cannot read {}", archive.display()))?;
    let ar = object::read::archive::ArchiveFile::parse(&*data).context("not an archive")?;
    let mut roots = Vec::new();
    for member in ar.members() {
        let member = member.context("unreadable archive member")?;
        let bytes = member.data(&*data).context("unreadable archive member")?;
        let Ok(file) = object::File::parse(bytes) else {
            // not an object (a symbol table, a bitcode file): nothing to root
            continue;
        };
        for sym in file.symbols() {
            let exported = sym.is_global() && sym.is_definition() && is_default_visibility(sym.flags());
            if let (true, Ok(name)) = (exported, sym.name()) {
                if !is_rust_mangled(name) {
                    roots.push(name.to_string());
                }
            }
        }
    }
    roots.sort();
    roots.dedup();
    if roots.is_empty() {
        bail!("it exports no C symbol");
    }
    Ok(roots)
}

fn is_default_visibility(flags: object::SymbolFlags<object::SectionIndex, object::SymbolIndex>) -> bool {
    match flags {
        object::SymbolFlags::Elf { st_other, .. } => st_other.visibility() == object::elf::STV_DEFAULT,
        _ => true,
    }
}

/// Rust's legacy (`_ZN...E`) and v0 (`_R...`) manglings.
fn is_rust_mangled(name: &str) -> bool {
    let b = name.as_bytes();
    name.starts_with("_ZN") || (b.len() > 2 && b.starts_with(b"_R") && (b[2].is_ascii_uppercase() || b[2].is_ascii_digit()))
}

/// The linker clang runs for the program's link, so that both links are
/// done by the same ld. (Run directly: clang would add a build id and PIE
/// options that do not belong in a relocatable object.)
fn linker(clang: &Path) -> Result<PathBuf> {
    let out = Command::new(clang)
        .arg("-print-prog-name=ld")
        .output()
        .with_context(|| format!("cannot run {}", clang.display()))?;
    let ld = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || ld.is_empty() {
        bail!("{} does not name its linker", clang.display());
    }
    Ok(PathBuf::from(ld))
}

/// Links `archive` into `dir/name` through a temporary file in `dir`.
fn create(ld: &Path, archive: &Path, meta: &std::fs::Metadata, roots: &[String], dir: &Path, name: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?
        .into_temp_path();
    let mut cmd = Command::new(ld);
    cmd.args(["-r", "--gc-sections", "--whole-archive"]).arg(archive).arg("--no-whole-archive");
    for r in roots {
        cmd.args(["-u", r]);
    }
    cmd.arg("-o").arg(&tmp);
    let out = cmd.output().with_context(|| format!("cannot run {}", ld.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("{} failed: {}", ld.display(), err.lines().next().unwrap_or("no message"));
    }
    // readable by whoever may read the archive (a temporary file is private)
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(meta.mode() & 0o666))
        .with_context(|| format!("cannot set the permissions of {}", tmp.display()))?;
    let object = dir.join(name);
    tmp.persist(&object).with_context(|| format!("cannot rename into {}", object.display()))?;
    Ok(object)
}

/// Removes the objects in `dir` made from an earlier build of an archive
/// of this name: older than the archive itself, they cannot be of it. (In a
/// shared cache directory, an object of another archive of that name that
/// is older than this one goes too; it is made again when next needed.)
fn remove_stale(dir: &Path, prefix: &str, keep: &Path, archive: &std::fs::Metadata) {
    let Ok(archive_time) = archive.modified() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path == keep || !name.starts_with(prefix) || !name.ends_with(".prelinked.o") {
            continue;
        }
        let made = entry.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::now());
        if made < archive_time {
            lucc_log!("removing {}, made from an older runtime", path.display());
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLANG: &str = "clang-14";

    /// An archive of two C objects: `api.o` exports `rt_entry` (which calls
    /// `helper`, in `lib.o`) and has a constructor; `lib.o` also has an
    /// exported function nothing calls, a hidden one and one named as Rust
    /// would mangle it.
    fn archive(dir: &Path) -> PathBuf {
        let api = "extern int helper(int); int ctor_ran;\n\
                   __attribute__((constructor)) static void ctor(void) { ctor_ran = 1; }\n\
                   int rt_entry(int x) { return helper(x) + 1; }\n";
        let lib = "int helper(int x) { return x * 2; }\n\
                   int unused_export(int x) { return x - 1; }\n\
                   __attribute__((visibility(\"hidden\"))) int hidden_fn(int x) { return x; }\n\
                   int _ZN4rust6unused17h0123456789abcdefE(int x) { return x + 3; }\n";
        for (n, src) in [("api", api), ("lib", lib)] {
            std::fs::write(dir.join(format!("{n}.c")), src).unwrap();
            let ok = Command::new(CLANG)
                // -O0: the optimiser would evaluate the constructor at compile time
                .args(["-c", "-O0", "-ffunction-sections", "-fdata-sections"])
                .arg(dir.join(format!("{n}.c")))
                .arg("-o")
                .arg(dir.join(format!("{n}.o")))
                .status()
                .unwrap()
                .success();
            assert!(ok, "clang failed on {n}.c");
        }
        let a = dir.join("librt.a");
        let ok = Command::new("ar").arg("rcs").arg(&a).arg(dir.join("api.o")).arg(dir.join("lib.o")).status().unwrap();
        assert!(ok.success());
        a
    }

    fn defined(object: &Path) -> Vec<String> {
        let data = std::fs::read(object).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let mut names: Vec<String> = file
            .symbols()
            .filter(|s| s.is_definition())
            .filter_map(|s| s.name().ok().map(String::from))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn roots_are_the_exported_unmangled_definitions() {
        let dir = tempfile::tempdir().unwrap();
        let a = archive(dir.path());
        assert_eq!(roots(&a).unwrap(), ["ctor_ran", "helper", "rt_entry", "unused_export"]);
        assert!(is_rust_mangled("_ZN3std2rt10lang_start17h0123456789abcdefE"));
        assert!(is_rust_mangled("_RNvCs1234_7mycrate3foo"));
        assert!(!is_rust_mangled("lucc_rt_init") && !is_rust_mangled("_Rfoo") && !is_rust_mangled("__wrap_socket"));
    }

    #[test]
    fn prelinked_object_keeps_what_the_roots_and_constructors_reach_and_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = archive(dir.path());
        let object = runtime_for_link(Path::new(CLANG), &a);
        assert_ne!(object, a, "pre-linking failed");
        assert_eq!(object.parent(), a.parent(), "made beside the archive");
        let names = defined(&object);
        for want in ["rt_entry", "helper", "unused_export", "ctor_ran"] {
            assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
        }
        for unreached in ["hidden_fn", "_ZN4rust6unused17h0123456789abcdefE"] {
            assert!(!names.iter().any(|n| n == unreached), "unreachable {unreached} kept: {names:?}");
        }
        let data = std::fs::read(&object).unwrap();
        let file = object::File::parse(&*data).unwrap();
        use object::ObjectSection;
        assert!(file.sections().any(|s| s.name().map(|n| n.starts_with(".init_array")).unwrap_or(false)));
        // a program links against it, and its constructor runs
        let main = dir.path().join("main.c");
        std::fs::write(&main, "extern int rt_entry(int); extern int ctor_ran;\n\
                               int main(void) { return rt_entry(20) + ctor_ran == 42 ? 0 : 1; }\n").unwrap();
        let prog = dir.path().join("prog");
        assert!(Command::new(CLANG).arg(&main).arg(&object).arg("-o").arg(&prog).status().unwrap().success());
        assert!(Command::new(&prog).status().unwrap().success(), "the constructor did not run");

        // found again, not made again
        let made = std::fs::metadata(&object).unwrap().modified().unwrap();
        assert_eq!(runtime_for_link(Path::new(CLANG), &a), object);
        assert_eq!(std::fs::metadata(&object).unwrap().modified().unwrap(), made);
    }

    #[test]
    fn a_rebuilt_archive_gets_a_new_object_and_the_old_one_goes() {
        let dir = tempfile::tempdir().unwrap();
        let a = archive(dir.path());
        let old = runtime_for_link(Path::new(CLANG), &a);
        assert_ne!(old, a);
        // a rebuild: new contents, a later modification time
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::remove_file(&a).unwrap();
        let a = archive(dir.path());
        let new = runtime_for_link(Path::new(CLANG), &a);
        assert_ne!(new, a);
        assert_ne!(new, old);
        assert!(new.is_file());
        assert!(!old.exists(), "the object of the old archive is left behind");
    }

    #[test]
    fn a_broken_archive_falls_back_to_itself() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("librt.a");
        std::fs::write(&a, "!<arch>\n").unwrap();
        assert_eq!(runtime_for_link(Path::new(CLANG), &a), a);
        // not an archive at all: used as it is
        let o = dir.path().join("rt.o");
        std::fs::write(&o, "\x7fELF").unwrap();
        assert_eq!(runtime_for_link(Path::new(CLANG), &o), o);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }
}
