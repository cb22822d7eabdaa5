//! Finding the runtime archive the C programs link against.
//!
//! `cargo test` builds this crate as an rlib only, so the staticlib in
//! `target/<profile>` may be stale or missing: unless `$LUCC_RUNTIME` names
//! an archive, the first caller builds it with the cargo running the tests,
//! in the tests' own profile (so `cargo test --release` tests the archive
//! the release driver links).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub fn archive() -> PathBuf {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("LUCC_RUNTIME") {
                return PathBuf::from(p);
            }
            let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let release = !cfg!(debug_assertions);
            let st = Command::new(cargo)
                .args(["build", "-q", "-p", "lucc-rt", "--manifest-path"])
                .arg(manifest.join("Cargo.toml"))
                .args(release.then_some("--release"))
                .status()
                .expect("cargo runs");
            assert!(st.success(), "building lucc-rt failed");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| manifest.join("../target"));
            let a = target.join(if release { "release" } else { "debug" }).join("liblucc_rt.a");
            assert!(a.exists(), "{} missing after the build", a.display());
            a
        })
        .clone()
}
