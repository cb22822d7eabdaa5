//! Shared by the sidecar tests: builds test programs with clang 14 whose
//! `.lucc.fragment` section comes straight from C (an array placed in the
//! section), standing in for what lucc's pass would emit.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lucc_abi::fragment::{encode, Fragment, SiteRecord, SiteType, WrapperRecord, FRAGMENT_VERSION};

pub fn inputs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sidecar_inputs")
}

/// A C file whose only content is `bytes` in the fragment section.
pub fn section_c(bytes: &[u8]) -> String {
    let list: Vec<String> = bytes.iter().map(|b| b.to_string()).collect();
    format!(
        "__attribute__((section(\"{}\"), used)) static const unsigned char lucc_frag[] = {{{}}};\n",
        lucc_abi::symbols::FRAGMENT_SECTION,
        list.join(",")
    )
}

pub fn site(
    id: u32,
    function: &str,
    line: u32,
    callee: &str,
    direct: bool,
    ty: SiteType,
) -> SiteRecord {
    SiteRecord {
        id,
        function: function.into(),
        file: "a.c".into(),
        line,
        callee: callee.into(),
        direct,
        ty,
    }
}

pub fn record(name: &str) -> SiteType {
    SiteType::Record {
        name: name.into(),
        union: false,
    }
}

pub fn fragment(source: &str, sites: Vec<SiteRecord>, wrappers: Vec<WrapperRecord>) -> Fragment {
    Fragment {
        version: FRAGMENT_VERSION,
        source: source.into(),
        sites,
        wrappers,
        skipped: vec![],
        invariants: Default::default(),
    }
}

pub fn wrapper(name: &str, inner: &str, offset: i64) -> WrapperRecord {
    WrapperRecord {
        name: name.into(),
        inner: inner.into(),
        offset,
    }
}

/// The fragments the test programs carry: a.c allocates through a wrapper
/// chain defined in b.c.
pub fn standard_fragments() -> Vec<Fragment> {
    vec![
        fragment(
            "/src/a.c",
            vec![
                site(30, "use_a", 10, "malloc", true, record("node")),
                site(10, "use_a", 11, "xmalloc", false, record("item_t")),
                site(20, "use_a", 12, "malloc", true, SiteType::Int { bits: 8 }),
                site(40, "use_a", 13, "calloc", true, SiteType::Untyped),
                site(
                    50,
                    "use_a",
                    14,
                    "malloc",
                    true,
                    SiteType::Record {
                        name: "number".into(),
                        union: true,
                    },
                ),
            ],
            vec![],
        ),
        fragment(
            "/src/b.c",
            vec![
                site(
                    60,
                    "use_b",
                    20,
                    "malloc",
                    true,
                    SiteType::Float { bits: 64 },
                ),
                site(70, "use_b", 21, "malloc", true, SiteType::Pointer),
                site(80, "use_b", 22, "malloc", true, SiteType::Int { bits: 16 }),
                site(90, "use_b", 23, "malloc", true, record("nosuch")),
                site(100, "use_b", 24, "malloc", true, record("shape.3")),
                site(110, "use_b", 25, "malloc", true, SiteType::FunctionPointer),
            ],
            vec![
                wrapper("zmalloc", "malloc", 16),
                wrapper("xmalloc", "zmalloc", 0),
            ],
        ),
    ]
}

/// Compiles `sources` (names in `inputs()` or absolute paths) with debug
/// info and `flags`, plus one extra translation unit per entry of
/// `sections` carrying those bytes in the fragment section, into
/// `dir/name` with a GNU build id.
pub fn build(
    dir: &Path,
    name: &str,
    sources: &[&str],
    flags: &[&str],
    sections: &[Vec<u8>],
) -> PathBuf {
    let mut objects = Vec::new();
    for (i, bytes) in sections.iter().enumerate() {
        let c = dir.join(format!("{name}_frag{i}.c"));
        let o = dir.join(format!("{name}_frag{i}.o"));
        std::fs::write(&c, section_c(bytes)).unwrap();
        run(Command::new("clang-14").arg("-c").arg(&c).arg("-o").arg(&o));
        objects.push(o);
    }
    let out = dir.join(name);
    let mut cmd = Command::new("clang-14");
    cmd.arg("-g").args(flags).arg("-I").arg(inputs());
    for s in sources {
        cmd.arg(inputs().join(s));
    }
    cmd.args(&objects).arg("-o").arg(&out);
    if !flags.iter().any(|f| f.starts_with("-Wl,--build-id")) {
        cmd.arg("-Wl,--build-id=sha1");
    }
    run(&mut cmd);
    out
}

/// The standard two-unit program with its standard fragments.
pub fn standard(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let sections: Vec<Vec<u8>> = standard_fragments().iter().map(encode).collect();
    build(dir, name, &["a.c", "b.c"], flags, &sections)
}

pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Data symbols of `binary` by name (several for file-scope statics).
pub fn nm(binary: &Path) -> HashMap<String, Vec<u64>> {
    let out = Command::new("nm").arg(binary).output().unwrap();
    let mut map: HashMap<String, Vec<u64>> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [addr, _kind, name] = parts[..] {
            map.entry(name.to_string())
                .or_default()
                .push(u64::from_str_radix(addr, 16).unwrap());
        }
    }
    map
}
