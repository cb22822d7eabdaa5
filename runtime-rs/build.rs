//! Compiles the C shim into this crate, so the one archive
//! `liblucc_rt.a` carries both halves of the runtime.

use std::path::PathBuf;

fn main() {
    let c = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../runtime-c");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(c.join("src"))
        .expect("runtime-c/src")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    sources.sort();
    println!("cargo:rerun-if-changed={}", c.join("src").display());
    println!("cargo:rerun-if-changed={}", c.join("include").display());
    for s in &sources {
        println!("cargo:rerun-if-changed={}", s.display());
    }
    cc::Build::new()
        .files(&sources)
        .include(c.join("include"))
        .include(c.join("src"))
        .opt_level(2)
        .flag_if_supported("-fvisibility=default")
        .warnings(true)
        .extra_warnings(true)
        .compile("lucc_rt_c");
}
