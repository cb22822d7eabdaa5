//! Compiles the C++ half of in-process object emission (`src/emit.cpp`)
//! against the LLVM 14 that llvm-sys links.

use std::path::PathBuf;
use std::process::Command;

fn llvm_config() -> PathBuf {
    let prefix = std::env::var("LLVM_SYS_140_PREFIX").unwrap_or_else(|_| "/usr/lib/llvm-14".into());
    PathBuf::from(prefix).join("bin/llvm-config")
}

fn main() {
    println!("cargo:rerun-if-changed=src/emit.cpp");
    println!("cargo:rerun-if-env-changed=LLVM_SYS_140_PREFIX");
    let out = Command::new(llvm_config()).arg("--includedir").output().expect("running llvm-config --includedir");
    assert!(out.status.success(), "llvm-config --includedir failed");
    let include = String::from_utf8(out.stdout).expect("llvm-config output").trim().to_string();
    cc::Build::new()
        .cpp(true)
        .file("src/emit.cpp")
        .include(include)
        .flag("-std=c++14")
        // as LLVM itself is built
        .flag("-fno-exceptions")
        .flag("-fno-rtti")
        .define("__STDC_CONSTANT_MACROS", None)
        .define("__STDC_FORMAT_MACROS", None)
        .define("__STDC_LIMIT_MACROS", None)
        .warnings(false)
        .compile("lucc_emit");
}
