//! The transform file: parsing, renames, constants, drops.

mod common;

use common::*;
use lucc_transfer::{Transfer, TransferError, Transform, VarKind};

#[test]
fn unknown_key_is_an_error_naming_the_key() {
    let err = Transform::parse("[types.\"struct s\"]\nalow_truncate = true\n").unwrap_err();
    assert!(matches!(err, TransferError::Transform(_)));
    assert!(err.to_string().contains("alow_truncate"), "{err}");
    let err = Transform::parse("[globals.x]\nrenamed = \"y\"\n").unwrap_err();
    assert!(err.to_string().contains("renamed"), "{err}");
}

#[test]
fn active_map_keys_must_be_integers() {
    let err = Transform::parse(
        "[types.\"struct v\".fields.u]\nactive = { tag_field = \"t\", map = { x = \"i\" } }\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("`x`"), "{err}");
}

#[test]
fn renamed_field_keeps_its_value() {
    let mut o = B::new();
    let int = o.int();
    let ot = o.strukt("struct conn", &[("sock", int), ("port", int)]);
    let mut n = B::new();
    let int = n.int();
    let nt = n.strukt("struct conn", &[("fd", int), ("port", int)]);
    let (old, new) = (o.done(), n.done());
    let tf =
        Transform::parse("[types.\"struct conn\".fields.fd]\nrenamed_from = \"sock\"\n").unwrap();
    let value = Bytes::zero(8).i32(0, 9).i32(4, 80).0;
    let (out, rep) = convert(&old, &new, &tf, ot, nt, &value, &Space::default()).unwrap();
    assert_eq!((r32(&out, 0), r32(&out, 4)), (9, 80));
    assert!(
        rep.fields_added.is_empty() && rep.fields_dropped.is_empty(),
        "{rep:?}"
    );
}

#[test]
fn renamed_type_matches_its_old_name() {
    let mut o = B::new();
    let int = o.int();
    let inner = o.strukt("struct connection", &[("fd", int)]);
    let ot = o.strukt("struct server", &[("c", inner)]);
    let mut n = B::new();
    let (int, long) = (n.int(), n.long());
    let inner = n.strukt("struct conn", &[("fd", long)]);
    let nt = n.strukt("struct server", &[("c", inner), ("x", int)]);
    let (old, new) = (o.done(), n.done());
    let value = Bytes::zero(4).i32(0, -3).0;
    let err = convert(
        &old,
        &new,
        &Transform::default(),
        ot,
        nt,
        &value,
        &Space::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "struct server.c: struct connection -> struct conn: cannot convert"
    );
    let tf = Transform::parse("[types.\"struct conn\"]\nrenamed_from = \"struct connection\"\n")
        .unwrap();
    let (out, _) = convert(&old, &new, &tf, ot, nt, &value, &Space::default()).unwrap();
    assert_eq!(r64(&out, 0) as i64, -3);
}

#[test]
fn added_field_can_be_set_to_a_constant() {
    let mut o = B::new();
    let int = o.int();
    let ot = o.strukt("struct cfg", &[("a", int)]);
    let mut n = B::new();
    let (int, d) = (n.int(), n.double());
    let nt = n.strukt("struct cfg", &[("a", int), ("limit", int), ("ratio", d)]);
    let (old, new) = (o.done(), n.done());
    let tf = Transform::parse(
        "[types.\"struct cfg\".fields.limit]\nset = 100\n[types.\"struct cfg\".fields.ratio]\nset = 0.25\n",
    )
    .unwrap();
    let (out, _) = convert(
        &old,
        &new,
        &tf,
        ot,
        nt,
        &Bytes::zero(4).i32(0, 1).0,
        &Space::default(),
    )
    .unwrap();
    assert_eq!((r32(&out, 0), r32(&out, 4), rf64(&out, 8)), (1, 100, 0.25));
}

fn globals_pair() -> (lucc_abi::sidecar::Sidecar, lucc_abi::sidecar::Sidecar) {
    let mut o = B::new();
    let (int, short) = (o.int(), o.short());
    o.global("nconns", short, 0x4000);
    o.global("legacy", int, 0x4010);
    o.global("mode", int, 0x4020);
    o.static_local("serve", "hits", int, 0x4030);
    let mut n = B::new();
    let (int, long) = (n.int(), n.long());
    n.global("connections", long, 0x5000);
    n.global("mode", int, 0x5020);
    n.static_local("serve", "hits", long, 0x5030);
    (o.done(), n.done())
}

#[test]
fn renamed_global_is_converted_into_its_new_name() {
    let (old, new) = globals_pair();
    let tf = Transform::parse(
        "dropped_globals = [\"legacy\"]\n[globals.connections]\nrenamed_from = \"nconns\"\n[globals.mode]\nset = 2\n",
    )
    .unwrap();
    let mut t = Transfer::new(&old, &new, &tf, Default::default()).unwrap();
    let vars = t.variables().to_vec();
    let names: Vec<_> = vars.iter().map(|v| (v.name.as_str(), v.kind)).collect();
    assert_eq!(
        names,
        vec![
            ("connections", VarKind::Global),
            ("mode", VarKind::Global),
            ("serve::hits", VarKind::StaticLocal)
        ]
    );
    let c = &vars[0];
    assert_eq!(
        (c.old_address, c.new_address, c.old_size, c.new_size),
        (0x4000, 0x5000, 2, 8)
    );
    let mut out = vec![0; 8];
    t.convert_variable(0, &(-12i16).to_ne_bytes(), &mut out, &Space::default())
        .unwrap();
    assert_eq!(r64(&out, 0) as i64, -12);
    let mut out = vec![0; 4];
    t.convert_variable(1, &7i32.to_ne_bytes(), &mut out, &Space::default())
        .unwrap();
    assert_eq!(r32(&out, 0), 2, "set by the transform file");
    let mut out = vec![0; 8];
    t.convert_variable(2, &5i32.to_ne_bytes(), &mut out, &Space::default())
        .unwrap();
    assert_eq!(r64(&out, 0), 5);
    let r = t.report();
    assert_eq!((r.globals, r.static_locals, r.bytes), (2, 1, 20));
    assert!(
        r.variables_dropped.contains("legacy") && r.variables_dropped_undeclared.is_empty(),
        "{r:?}"
    );
}

#[test]
fn global_conversion_error_names_the_global() {
    let (old, mut new) = globals_pair();
    // v2 keeps the name but narrows it to char.
    new.globals[0].name = "nconns".into();
    let mut b = B::new();
    b.sc = new;
    let ch = b.char();
    b.sc.globals[0].ty = Some(ch);
    let new = b.done();
    let tf = Transform::default();
    let mut t = Transfer::new(&old, &new, &tf, Default::default()).unwrap();
    let mut out = vec![0; 1];
    let err = t
        .convert_variable(0, &300i16.to_ne_bytes(), &mut out, &Space::default())
        .unwrap_err();
    assert_eq!(err.to_string(), "nconns: value 300 does not fit in char");
    assert!(t.report().variables_dropped_undeclared.contains("legacy"));
}

#[test]
fn static_local_is_renamed_as_function_colon_colon_name() {
    let (old, mut new) = globals_pair();
    new.static_locals[0].name = "count".into();
    let tf = Transform::default();
    let t = Transfer::new(&old, &new, &tf, Default::default()).unwrap();
    assert!(
        t.variables().iter().all(|v| v.kind == VarKind::Global),
        "hits is gone without a rename"
    );
    assert!(t
        .report()
        .variables_dropped_undeclared
        .contains("serve::hits"));
    let tf =
        Transform::parse("[globals.\"serve::count\"]\nrenamed_from = \"serve::hits\"\n").unwrap();
    let t = Transfer::new(&old, &new, &tf, Default::default()).unwrap();
    let v = t
        .variables()
        .iter()
        .find(|v| v.kind == VarKind::StaticLocal)
        .unwrap();
    assert_eq!(
        (v.name.as_str(), v.old_address, v.new_address),
        ("serve::count", 0x4030, 0x5030)
    );
}
