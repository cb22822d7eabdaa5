//! The sidecar writer against real clang 14 binaries: layouts, addresses,
//! deduplication, site typing, wrapper chains, determinism and bad input.

#[path = "sidecar_inputs/support.rs"]
mod support;

use lucc::sidecar::{cspell, write_for_binary};
use lucc_abi::fragment::{encode, SiteType};
use lucc_abi::sidecar::{Field, Sidecar, TypeDef, TypeKind, SIDECAR_VERSION};
use support::*;

fn written(binary: &std::path::Path) -> Sidecar {
    let path = write_for_binary(binary).unwrap();
    assert_eq!(path, Sidecar::path_for(binary));
    Sidecar::read(&path).unwrap()
}

fn named<'a>(s: &'a Sidecar, name: &str) -> &'a TypeDef {
    let all: Vec<&TypeDef> = s.types.iter().filter(|t| t.name == name).collect();
    assert_eq!(all.len(), 1, "exactly one {name}: {all:?}");
    all[0]
}

fn fields<'a>(s: &'a Sidecar, name: &str) -> &'a [Field] {
    match &named(s, name).kind {
        TypeKind::Struct { fields, .. } | TypeKind::Union { fields, .. } => fields,
        other => panic!("{name} is {other:?}"),
    }
}

fn field<'a>(s: &'a Sidecar, record: &str, name: &str) -> &'a Field {
    fields(s, record)
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{record}.{name}"))
}

fn spell(s: &Sidecar, id: u32) -> String {
    cspell::spell(&s.types, Some(id))
}

/// (name, offset, bit offset, bit width) of each field.
fn shape(s: &Sidecar, record: &str) -> Vec<(String, u64, Option<u64>, Option<u64>)> {
    fields(s, record)
        .iter()
        .map(|f| (f.name.clone(), f.offset, f.bit_offset, f.bit_size))
        .collect()
}

#[test]
fn globals_and_static_locals_are_where_nm_says() {
    let dir = tempfile::tempdir().unwrap();
    let bin = standard(dir.path(), "prog", &["-O0"]);
    let s = written(&bin);
    let syms = nm(&bin);
    assert_eq!(s.format_version, SIDECAR_VERSION);
    assert_eq!(s.abi_version, lucc_abi::ABI_VERSION);
    assert_eq!(s.binary, "prog");
    assert_eq!(s.build_id.len(), 40, "sha1 build id in hex: {}", s.build_id);

    for g in &s.globals {
        assert!(
            syms[&g.name].contains(&g.address),
            "{} at {:#x}, nm: {:?}",
            g.name,
            g.address,
            syms[&g.name]
        );
    }
    let names: Vec<(&str, &str, bool)> = s
        .globals
        .iter()
        .map(|g| {
            (
                g.name.as_str(),
                g.unit.rsplit('/').next().unwrap(),
                g.local_linkage,
            )
        })
        .collect();
    for expected in [
        ("list_head", "a.c", false),
        ("global_flags", "a.c", false),
        ("num", "a.c", false),
        ("shapes", "a.c", true),
        ("items", "a.c", false),
        ("counter", "a.c", false),
        ("b_node", "b.c", false),
        ("shapes", "b.c", true),
        ("tab", "b.c", false),
    ] {
        assert!(names.contains(&expected), "{expected:?} in {names:?}");
    }
    // Nothing else: the `__lucc` variable in b.c is the runtime's.
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(syms.contains_key("__lucc_private_state"));
    let shapes: Vec<u64> = s
        .globals
        .iter()
        .filter(|g| g.name == "shapes")
        .map(|g| g.address)
        .collect();
    assert_ne!(shapes[0], shapes[1]);

    let sizes: Vec<(&str, u64)> = s
        .globals
        .iter()
        .map(|g| (g.name.as_str(), g.size))
        .collect();
    assert!(
        sizes.contains(&("items", 48)) && sizes.contains(&("counter", 4)),
        "{sizes:?}"
    );
    let shape_size = named(&s, "struct shape").size;
    assert!(sizes.contains(&("shapes", 3 * shape_size)), "{sizes:?}");

    let locals: Vec<(String, String)> = s
        .static_locals
        .iter()
        .map(|v| (v.function.clone(), v.name.clone()))
        .collect();
    assert_eq!(
        locals,
        [("use_a", "calls"), ("use_a", "cache"), ("use_b", "calls")]
            .map(|(f, n)| (f.to_string(), n.to_string()))
    );
    for v in &s.static_locals {
        let symbol = format!("{}.{}", v.function, v.name);
        assert_eq!(syms[&symbol], vec![v.address], "{symbol}");
    }
    let cache = &s.static_locals[1];
    assert_eq!(spell(&s, cache.ty.unwrap()), "struct node *");
    assert_eq!(s.static_locals[2].size, 8);

    let mut functions: Vec<(&str, bool)> = s
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.local_linkage))
        .collect();
    functions.sort();
    assert_eq!(
        functions,
        [
            ("area", true),
            ("main", false),
            ("use_a", false),
            ("use_b", false)
        ]
    );
    for f in &s.functions {
        assert_eq!(syms[&f.name], vec![f.address]);
        assert!(f.size > 0);
    }
}

#[test]
fn layouts_come_from_dwarf_once_per_type() {
    let dir = tempfile::tempdir().unwrap();
    let s = written(&standard(dir.path(), "prog", &["-O0"]));

    // Dedup: both units describe these; one entry each.
    for name in [
        "struct node",
        "struct shape",
        "union number",
        "enum color",
        "item_t",
        "struct flags",
        "int",
    ] {
        named(&s, name);
    }
    // The list node points to itself.
    let node = named(&s, "struct node");
    assert_eq!(node.size, 16);
    let next = field(&s, "struct node", "next");
    assert_eq!(next.offset, 8);
    assert_eq!(
        s.types[next.ty as usize].kind,
        TypeKind::Pointer {
            pointee: Some(node.id)
        }
    );
    assert_eq!(s.global("list_head").unwrap().ty, Some(next.ty));

    assert_eq!(
        shape(&s, "struct flags"),
        [
            ("a".into(), 0, Some(0), Some(3)),
            ("b".into(), 0, Some(3), Some(5)),
            ("c".into(), 1, Some(0), Some(7)),
            ("d".into(), 2, None, None),
            ("e".into(), 3, Some(0), Some(1)),
        ]
    );

    assert_eq!(named(&s, "union number").size, 8);
    assert!(fields(&s, "union number").iter().all(|f| f.offset == 0));
    assert_eq!(spell(&s, field(&s, "union number", "bytes").ty), "char [8]");

    match &named(&s, "enum color").kind {
        TypeKind::Enum {
            enumerators,
            underlying,
        } => {
            let e: Vec<(&str, i64)> = enumerators
                .iter()
                .map(|e| (e.name.as_str(), e.value))
                .collect();
            assert_eq!(e, [("RED", 0), ("GREEN", 5), ("BLUE", -1)]);
            assert!(underlying.is_some());
        }
        other => panic!("{other:?}"),
    }

    let shape_fields = shape(&s, "struct shape");
    let offsets: Vec<(&str, u64)> = shape_fields.iter().map(|f| (f.0.as_str(), f.1)).collect();
    assert_eq!(
        offsets,
        [
            ("color", 0),
            ("corners", 4),
            ("size", 36),
            ("", 44),
            ("name", 48),
            ("area", 56)
        ]
    );
    assert_eq!(
        spell(&s, field(&s, "struct shape", "corners").ty),
        "struct point [4]"
    );
    assert_eq!(
        spell(&s, field(&s, "struct shape", "name").ty),
        "char *",
        "const is transparent"
    );
    assert_eq!(
        spell(&s, field(&s, "struct shape", "area").ty),
        "int (*)(struct shape *)"
    );
    let anonymous = field(&s, "struct shape", "size").ty;
    assert_eq!(s.types[anonymous as usize].name, "struct {...}");
    let anon_union = fields(&s, "struct shape")[3].ty;
    assert!(matches!(
        s.types[anon_union as usize].kind,
        TypeKind::Union { .. }
    ));

    // typedef struct { .. } item_t
    let item = s.resolve(named(&s, "item_t").id).unwrap();
    assert_eq!(item.size, 24);
    match &item.kind {
        TypeKind::Struct { fields, .. } => {
            assert_eq!(fields[1].name, "tag");
            assert_eq!(fields[1].offset, 8);
            assert_eq!(spell(&s, fields[1].ty), "char [16]");
        }
        other => panic!("{other:?}"),
    }

    // Multi-dimensional and flexible arrays.
    let grid = field(&s, "struct table", "grid").ty;
    assert_eq!(spell(&s, grid), "int [2][3]");
    assert_eq!(s.types[grid as usize].size, 24);
    match s.types[grid as usize].kind {
        TypeKind::Array {
            element,
            count: Some(2),
        } => {
            assert!(matches!(
                s.types[element as usize].kind,
                TypeKind::Array { count: Some(3), .. }
            ))
        }
        ref other => panic!("{other:?}"),
    }
    let pts = field(&s, "struct table", "pts");
    assert_eq!(pts.offset, 32);
    assert!(matches!(
        s.types[pts.ty as usize].kind,
        TypeKind::Array { count: None, .. }
    ));
    assert_eq!(named(&s, "struct table").size, 32);
}

#[test]
fn dwarf_4_and_dwarf_5_bitfields_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    // Default (DWARF 5, gdb tuning: DW_AT_bit_offset), DWARF 4, and lldb
    // tuning (DW_AT_data_bit_offset).
    let default = written(&standard(dir.path(), "p5", &["-O0"]));
    let dwarf4 = written(&standard(dir.path(), "p4", &["-O0", "-gdwarf-4"]));
    let lldb = written(&standard(dir.path(), "pl", &["-O0", "-glldb"]));
    let expected = shape(&default, "struct flags");
    assert_eq!(shape(&dwarf4, "struct flags"), expected);
    assert_eq!(shape(&lldb, "struct flags"), expected);
    assert_eq!(default.types, dwarf4.types);
    // Compressed debug sections read the same.
    let compressed = written(&standard(dir.path(), "pz", &["-O0", "-gz"]));
    assert_eq!(compressed.types, default.types);
}

#[test]
fn sites_are_typed_and_wrapper_chains_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let s = written(&standard(dir.path(), "prog", &["-O0"]));
    let ids: Vec<u32> = s.sites.iter().map(|x| x.id).collect();
    assert_eq!(
        ids,
        [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110],
        "sorted by id"
    );
    assert_eq!(s.units, ["/src/a.c", "/src/b.c"]);
    let wrappers: Vec<(&str, &str, i64)> = s
        .wrappers
        .iter()
        .map(|w| (w.name.as_str(), w.inner.as_str(), w.offset))
        .collect();
    assert_eq!(
        wrappers,
        [("xmalloc", "zmalloc", 0), ("zmalloc", "malloc", 16)]
    );

    let ty = |id| {
        s.site(id)
            .unwrap()
            .ty
            .map(|t| s.types[t as usize].name.clone())
    };
    assert_eq!(ty(30).as_deref(), Some("struct node"), "by tag");
    assert_eq!(ty(10).as_deref(), Some("item_t"), "by typedef name");
    assert_eq!(ty(20).as_deref(), Some("char"));
    assert_eq!(ty(40), None, "untyped");
    assert_eq!(ty(50).as_deref(), Some("union number"));
    assert_eq!(ty(60).as_deref(), Some("double"));
    assert_eq!(ty(70).as_deref(), Some("void *"));
    assert_eq!(
        ty(80).as_deref(),
        Some("short"),
        "added when the DWARF lacks it"
    );
    assert_eq!(ty(90), None);
    assert_eq!(s.site(90).unwrap().ty_desc, "struct nosuch");
    assert_eq!(ty(100).as_deref(), Some("struct shape"), "LLVM's .N suffix");
    let fp = s.site(110).unwrap().ty.unwrap();
    assert!(
        matches!(s.types[fp as usize].kind, TypeKind::Pointer { pointee: Some(f) } if matches!(s.types[f as usize].kind, TypeKind::Function { .. }))
    );

    let x = s.site(10).unwrap();
    assert_eq!(x.via, ["xmalloc", "zmalloc", "malloc"]);
    assert_eq!(x.offset, 16);
    let direct = s.site(30).unwrap();
    assert!(direct.via.is_empty());
    assert_eq!(direct.offset, 0);
}

#[test]
fn the_same_binary_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bin = standard(dir.path(), "prog", &["-O0"]);
    let first = std::fs::read(write_for_binary(&bin).unwrap()).unwrap();
    let second = std::fs::read(write_for_binary(&bin).unwrap()).unwrap();
    assert_eq!(first, second);
}

#[test]
fn optimised_builds_keep_their_state() {
    let dir = tempfile::tempdir().unwrap();
    let bin = standard(dir.path(), "prog", &["-O2"]);
    let s = written(&bin);
    let syms = nm(&bin);
    assert!(!s.globals.is_empty());
    for g in s.globals.iter().chain(&s.static_locals) {
        let symbol = if g.function.is_empty() {
            g.name.clone()
        } else {
            format!("{}.{}", g.function, g.name)
        };
        assert!(
            syms.get(&symbol).is_some_and(|a| a.contains(&g.address)),
            "{symbol} at {:#x}",
            g.address
        );
    }
    // use_a is inlined into main at -O2; its statics still name it.
    let locals: Vec<(&str, &str)> = s
        .static_locals
        .iter()
        .map(|v| (v.function.as_str(), v.name.as_str()))
        .collect();
    assert_eq!(
        locals,
        [("use_a", "calls"), ("use_a", "cache"), ("use_b", "calls")]
    );
    assert!(s.global("list_head").is_some() && s.global("b_node").is_some());
    assert_eq!(shape(&s, "struct flags").len(), 5);
    assert_eq!(s.sites.len(), 11);
}

/// `tally` is static and only ever inlined, so no DIE with its name holds
/// its static locals; they still belong to it, each at its own symbol.
#[test]
fn static_locals_of_a_function_only_ever_inlined_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let frag = encode(&fragment("/src/c.c", vec![], vec![]));
    let bin = build(dir.path(), "inlined", &["c.c"], &["-O2"], &[frag]);
    let s = written(&bin);
    let syms = nm(&bin);
    assert!(
        !syms.contains_key("tally"),
        "tally must have no out-of-line copy for this test to mean anything"
    );
    let locals: Vec<(&str, &str, u64)> = s
        .static_locals
        .iter()
        .map(|v| (v.function.as_str(), v.name.as_str(), v.address))
        .collect();
    assert_eq!(
        locals,
        [
            ("tally", "hits", syms["tally.hits"][0]),
            ("tally", "hits", syms["tally.hits.1"][0]),
        ]
    );
}

fn error_of(binary: &std::path::Path) -> String {
    format!("{:#}", write_for_binary(binary).unwrap_err())
}

#[test]
fn a_binary_without_fragments_is_not_a_lucc_binary() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build(dir.path(), "plain", &["a.c", "b.c"], &[], &[]);
    let err = error_of(&bin);
    assert!(
        err.contains("not built by lucc") && err.contains("plain"),
        "{err}"
    );
    assert!(!Sidecar::path_for(&bin).exists());
}

#[test]
fn a_corrupt_fragment_section_names_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = encode(&standard_fragments()[0]);
    let len = bytes.len();
    bytes[len - 5] = b'#';
    let bin = build(dir.path(), "broken", &["a.c", "b.c"], &[], &[bytes]);
    let err = error_of(&bin);
    assert!(err.contains("broken") && err.contains("corrupt"), "{err}");
}

#[test]
fn colliding_site_ids_are_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let a = fragment(
        "/src/a.c",
        vec![site(7, "use_a", 3, "malloc", true, record("node"))],
        vec![],
    );
    let b = fragment(
        "/src/b.c",
        vec![site(7, "use_b", 9, "calloc", true, SiteType::Untyped)],
        vec![],
    );
    let bin = build(
        dir.path(),
        "clash",
        &["a.c", "b.c"],
        &[],
        &[encode(&a), encode(&b)],
    );
    let err = error_of(&bin);
    assert!(
        err.contains("collides") && err.contains("use_a") && err.contains("use_b"),
        "{err}"
    );
}

#[test]
fn a_binary_without_build_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sections: Vec<Vec<u8>> = standard_fragments().iter().map(encode).collect();
    let bin = build(
        dir.path(),
        "noid",
        &["a.c", "b.c"],
        &["-Wl,--build-id=none"],
        &sections,
    );
    let err = error_of(&bin);
    assert!(err.contains("build id"), "{err}");
}

#[test]
fn same_tag_different_layouts_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    // Sites are typed with their own unit's definition; the pass gives
    // absolute paths, matched however the compiler was given the file.
    let source = |name: &str, via_parent: bool| {
        let p = if via_parent {
            inputs().join("../sidecar_inputs").join(name)
        } else {
            inputs().join(name)
        };
        p.to_str().unwrap().to_string()
    };
    let priv_site = |id| site(id, "f", 1, "malloc", true, record("priv"));
    let frags = [
        fragment(&source("private1.c", false), vec![priv_site(1)], vec![]),
        fragment(&source("private2.c", true), vec![priv_site(2)], vec![]),
        fragment("/elsewhere/other.c", vec![priv_site(3)], vec![]),
    ];
    let sections: Vec<Vec<u8>> = frags.iter().map(encode).collect();
    let bin = build(
        dir.path(),
        "priv",
        &["private1.c", "private2.c", "private3.c"],
        &[],
        &sections,
    );
    let s = written(&bin);
    let records: Vec<&TypeDef> = s.types.iter().filter(|t| t.name == "struct priv").collect();
    assert_eq!(records.len(), 2, "{records:?}");
    let pointee_fields = |global: &str| {
        let ptr = s.global(global).unwrap().ty.unwrap();
        let TypeKind::Pointer { pointee: Some(p) } = s.types[ptr as usize].kind else {
            panic!()
        };
        let TypeKind::Struct { fields, .. } = &s.types[p as usize].kind else {
            panic!()
        };
        // Each definition's `next` leads back to itself, not to the other.
        let next = fields.iter().find(|f| f.name == "next").unwrap();
        assert_eq!(
            s.types[next.ty as usize].kind,
            TypeKind::Pointer { pointee: Some(p) }
        );
        fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(pointee_fields("p1"), ["a", "next"]);
    assert_eq!(pointee_fields("p2"), ["b", "c", "next"]);
    // A unit that only declares the tag uses the first definition.
    assert_eq!(pointee_fields("p3"), ["a", "next"]);
    assert_eq!(s.global("p3").unwrap().ty, s.global("p1").unwrap().ty);

    let first_field = |site| {
        let id = s.site(site).unwrap().ty.unwrap();
        let TypeKind::Struct { fields, .. } = &s.types[id as usize].kind else {
            panic!()
        };
        fields[0].name.clone()
    };
    assert_eq!(first_field(1), "a");
    assert_eq!(first_field(2), "b");
    assert_eq!(
        first_field(3),
        "a",
        "a unit without DWARF takes the first definition"
    );
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let bin = standard(dir.path(), "prog", &["-O0"]);
    std::fs::create_dir(Sidecar::path_for(&bin)).unwrap();
    let err = error_of(&bin);
    assert!(err.contains("cannot write"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
