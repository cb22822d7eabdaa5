//! Struct, scalar, enum, array, bitfield and union conversions.

mod common;

use common::*;
use lucc_transfer::{Transfer, TransferError, Transform};

fn no_tf() -> Transform {
    Transform::default()
}

#[test]
fn added_field_is_zeroed_and_reported() {
    let mut o = B::new();
    let int = o.int();
    let ot = o.strukt("struct conn", &[("fd", int)]);
    let mut n = B::new();
    let int = n.int();
    let nt = n.strukt("struct conn", &[("fd", int), ("retries", int)]);
    let (old, new) = (o.done(), n.done());
    let (out, rep) = convert(
        &old,
        &new,
        &no_tf(),
        ot,
        nt,
        &Bytes::zero(4).i32(0, 7).0,
        &Space::default(),
    )
    .unwrap();
    assert_eq!((r32(&out, 0), r32(&out, 4)), (7, 0));
    assert!(rep.fields_added.contains("struct conn.retries"), "{rep:?}");
}

#[test]
fn removed_field_is_dropped_and_reported_as_undeclared_unless_declared() {
    let build = |with: bool| {
        let mut b = B::new();
        let int = b.int();
        let f: Vec<(&str, u32)> = if with {
            vec![("a", int), ("legacy", int), ("b", int)]
        } else {
            vec![("a", int), ("b", int)]
        };
        let t = b.strukt("struct s", &f);
        (b.done(), t)
    };
    let ((old, ot), (new, nt)) = (build(true), build(false));
    let value = Bytes::zero(12).i32(0, 1).i32(4, 99).i32(8, 2).0;
    let (out, rep) = convert(&old, &new, &no_tf(), ot, nt, &value, &Space::default()).unwrap();
    assert_eq!((r32(&out, 0), r32(&out, 4)), (1, 2));
    assert!(rep.fields_dropped.contains("struct s.legacy"));
    assert!(rep.fields_dropped_undeclared.contains("struct s.legacy"));

    let tf = Transform::parse("[types.\"struct s\"]\ndropped = [\"legacy\"]\n").unwrap();
    let (_, rep) = convert(&old, &new, &tf, ot, nt, &value, &Space::default()).unwrap();
    assert!(rep.fields_dropped.contains("struct s.legacy"));
    assert!(rep.fields_dropped_undeclared.is_empty());
}

#[test]
fn reordered_fields_move_to_their_new_offsets() {
    let mut o = B::new();
    let (int, long) = (o.int(), o.long());
    let ot = o.strukt("struct s", &[("a", int), ("b", long), ("c", int)]);
    let mut n = B::new();
    let (int, long) = (n.int(), n.long());
    let nt = n.strukt("struct s", &[("c", int), ("a", int), ("b", long)]);
    let (old, new) = (o.done(), n.done());
    let value = Bytes::zero(24).i32(0, 1).u64(8, 2).i32(16, 3).0;
    let (out, _) = convert(&old, &new, &no_tf(), ot, nt, &value, &Space::default()).unwrap();
    assert_eq!((r32(&out, 0), r32(&out, 4), r64(&out, 8)), (3, 1, 2));
}

/// `struct s { OLD x; }` -> `struct s { NEW x; }` with the old value stored.
fn scalar_change(
    old_ty: impl Fn(&mut B) -> u32,
    new_ty: impl Fn(&mut B) -> u32,
    old_value: &[u8],
) -> Result<Vec<u8>, TransferError> {
    let mut o = B::new();
    let f = old_ty(&mut o);
    let ot = o.strukt("struct s", &[("x", f)]);
    let mut n = B::new();
    let f = new_ty(&mut n);
    let nt = n.strukt("struct s", &[("x", f)]);
    let (old, new) = (o.done(), n.done());
    let mut value = old_value.to_vec();
    value.resize(old.types[ot as usize].size as usize, 0);
    convert(&old, &new, &no_tf(), ot, nt, &value, &Space::default()).map(|r| r.0)
}

#[test]
fn int_widens_to_long_keeping_sign() {
    let out = scalar_change(B::int, B::long, &(-5i32).to_ne_bytes()).unwrap();
    assert_eq!(r64(&out, 0) as i64, -5);
}

#[test]
fn long_narrows_to_short_when_the_value_fits() {
    let out = scalar_change(B::long, B::short, &(-300i64).to_ne_bytes()).unwrap();
    assert_eq!(r16(&out, 0), -300);
}

#[test]
fn narrowing_out_of_range_names_type_field_and_value() {
    let err = scalar_change(B::long, B::short, &70000i64.to_ne_bytes()).unwrap_err();
    assert!(
        matches!(err, TransferError::OutOfRange { value: 70000, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("struct s.x") && msg.contains("70000") && msg.contains("short"),
        "{msg}"
    );
}

#[test]
fn signed_to_unsigned_rejects_negatives_and_keeps_positives() {
    let err = scalar_change(B::int, B::uint, &(-1i32).to_ne_bytes()).unwrap_err();
    assert!(
        matches!(err, TransferError::OutOfRange { value: -1, .. }),
        "{err}"
    );
    let out = scalar_change(B::int, B::uint, &41i32.to_ne_bytes()).unwrap();
    assert_eq!(r32(&out, 0), 41);
    let err = scalar_change(B::uint, B::int, &u32::MAX.to_ne_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            TransferError::OutOfRange {
                value: 4294967295,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn float_becomes_double() {
    let out = scalar_change(B::float, B::double, &1.5f32.to_ne_bytes()).unwrap();
    assert_eq!(rf64(&out, 0), 1.5);
}

#[test]
fn bool_to_int_and_int_to_bool() {
    assert_eq!(r32(&scalar_change(B::bool, B::int, &[1]).unwrap(), 0), 1);
    assert_eq!(
        scalar_change(B::int, B::bool, &1i32.to_ne_bytes()).unwrap()[0],
        1
    );
    assert!(matches!(
        scalar_change(B::int, B::bool, &2i32.to_ne_bytes()),
        Err(TransferError::OutOfRange { value: 2, .. })
    ));
}

#[test]
fn enum_maps_by_enumerator_name_when_values_are_renumbered() {
    let old_enum = |b: &mut B| b.enm("enum state", &[("IDLE", 0), ("BUSY", 1), ("DONE", 2)]);
    let new_enum = |b: &mut B| {
        b.enm(
            "enum state",
            &[("NEW", 0), ("IDLE", 1), ("BUSY", 2), ("DONE", 3)],
        )
    };
    let out = scalar_change(old_enum, new_enum, &1i32.to_ne_bytes()).unwrap();
    assert_eq!(r32(&out, 0), 2, "BUSY was 1, is 2");
}

#[test]
fn enum_value_without_counterpart_is_an_error() {
    let old_enum = |b: &mut B| b.enm("enum state", &[("IDLE", 0), ("GONE", 1)]);
    let new_enum = |b: &mut B| b.enm("enum state", &[("IDLE", 0), ("BUSY", 5)]);
    let err = scalar_change(old_enum, new_enum, &1i32.to_ne_bytes()).unwrap_err();
    assert!(
        matches!(err, TransferError::NoEnumerator { value: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("struct s.x") && err.to_string().contains("enum state"),
        "{err}"
    );
}

#[test]
fn int_becomes_enum_by_value_and_enum_becomes_int() {
    let new_enum = |b: &mut B| b.enm("enum mode", &[("A", 3), ("B", 7)]);
    assert_eq!(
        r32(
            &scalar_change(B::int, new_enum, &7i32.to_ne_bytes()).unwrap(),
            0
        ),
        7
    );
    assert!(matches!(
        scalar_change(B::int, new_enum, &4i32.to_ne_bytes()),
        Err(TransferError::NoEnumerator { value: 4, .. })
    ));
    let old_enum = |b: &mut B| b.enm("enum mode", &[("A", 3), ("B", 7)]);
    assert_eq!(
        r64(
            &scalar_change(old_enum, B::long, &3i32.to_ne_bytes()).unwrap(),
            0
        ),
        3
    );
}

#[test]
fn pointer_field_that_became_an_integer_cannot_be_converted() {
    let mut o = B::new();
    let int = o.int();
    let ot = o.strukt("struct conn", &[("fd", int)]);
    let mut n = B::new();
    let sock = n.strukt("struct sock", &[]);
    let p = n.ptr(Some(sock));
    let nt = n.strukt("struct conn", &[("fd", p)]);
    let (old, new) = (o.done(), n.done());
    let err = convert(&old, &new, &no_tf(), ot, nt, &[0; 4], &Space::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "struct conn.fd: int -> struct sock *: cannot convert"
    );
    let tf = Transform::parse("[types.\"struct conn\".fields.fd]\nset = 0\n").unwrap();
    let (out, _) = convert(&old, &new, &tf, ot, nt, &[3, 0, 0, 0], &Space::default()).unwrap();
    assert_eq!(r64(&out, 0), 0, "the transform file says: start with NULL");
}

#[test]
fn struct_that_became_a_scalar_cannot_be_converted_unless_set() {
    let mut o = B::new();
    let int = o.int();
    let inner = o.strukt("struct inner", &[("v", int)]);
    let ot = o.strukt("struct s", &[("x", inner)]);
    let mut n = B::new();
    let long = n.long();
    let nt = n.strukt("struct s", &[("x", long)]);
    let (old, new) = (o.done(), n.done());
    let err = convert(&old, &new, &no_tf(), ot, nt, &[0; 4], &Space::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "struct s.x: struct inner -> long: cannot convert"
    );
    let tf = Transform::parse("[types.\"struct s\".fields.x]\nset = 12\n").unwrap();
    let (out, _) = convert(&old, &new, &tf, ot, nt, &[0; 4], &Space::default()).unwrap();
    assert_eq!(r64(&out, 0), 12);
}

fn array_change(
    old_count: u64,
    new_count: u64,
    values: &[i32],
    tf: &Transform,
) -> Result<Vec<u8>, TransferError> {
    let mut o = B::new();
    let int = o.int();
    let a = o.array(int, old_count);
    let ot = o.strukt("struct s", &[("a", a)]);
    let mut n = B::new();
    let int = n.int();
    let a = n.array(int, new_count);
    let nt = n.strukt("struct s", &[("a", a)]);
    let (old, new) = (o.done(), n.done());
    let mut value = Bytes::zero(old_count * 4);
    for (i, v) in values.iter().enumerate() {
        value = value.i32(i as u64 * 4, *v);
    }
    convert(&old, &new, tf, ot, nt, &value.0, &Space::default()).map(|r| r.0)
}

#[test]
fn grown_array_keeps_elements_and_zero_fills() {
    let out = array_change(2, 4, &[5, 6], &no_tf()).unwrap();
    assert_eq!(
        (0..4).map(|i| r32(&out, i * 4)).collect::<Vec<_>>(),
        vec![5, 6, 0, 0]
    );
}

#[test]
fn shrunk_array_truncates_zero_tail_but_refuses_data_loss() {
    let out = array_change(4, 2, &[5, 6, 0, 0], &no_tf()).unwrap();
    assert_eq!((r32(&out, 0), r32(&out, 4), out.len()), (5, 6, 8));
    let err = array_change(4, 2, &[5, 6, 0, 9], &no_tf()).unwrap_err();
    assert!(
        matches!(
            err,
            TransferError::Truncation {
                old: 4,
                new: 2,
                index: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("struct s.a"), "{err}");
    let tf = Transform::parse("[types.\"struct s\"]\nallow_truncate = true\n").unwrap();
    let out = array_change(4, 2, &[5, 6, 0, 9], &tf).unwrap();
    assert_eq!((r32(&out, 0), r32(&out, 4)), (5, 6));
}

#[test]
fn array_of_changed_structs_converts_each_element() {
    let mut o = B::new();
    let short = o.short();
    let e = o.strukt("struct e", &[("v", short)]);
    let a = o.array(e, 3);
    let ot = o.strukt("struct s", &[("a", a)]);
    let mut n = B::new();
    let long = n.long();
    let e = n.strukt("struct e", &[("v", long)]);
    let a = n.array(e, 3);
    let nt = n.strukt("struct s", &[("a", a)]);
    let (old, new) = (o.done(), n.done());
    let value = Bytes::zero(6).i16(0, 1).i16(2, -2).i16(4, 3).0;
    let (out, _) = convert(&old, &new, &no_tf(), ot, nt, &value, &Space::default()).unwrap();
    assert_eq!(
        (r64(&out, 0), r64(&out, 8) as i64, r64(&out, 16)),
        (1, -2, 3)
    );
}

#[test]
fn nested_struct_is_converted_recursively_through_typedefs() {
    let mut o = B::new();
    let (int, short) = (o.int(), o.short());
    let inner = o.strukt("struct point", &[("x", short), ("y", short)]);
    let td = o.typedef("point_t", inner);
    let ot = o.strukt("struct shape", &[("id", int), ("origin", td)]);
    let mut n = B::new();
    let int = n.int();
    let inner = n.strukt("struct point", &[("y", int), ("x", int), ("z", int)]);
    let nt = n.strukt("struct shape", &[("origin", inner), ("id", int)]);
    let (old, new) = (o.done(), n.done());
    let value = Bytes::zero(8).i32(0, 42).i16(4, -1).i16(6, 2).0;
    let (out, rep) = convert(&old, &new, &no_tf(), ot, nt, &value, &Space::default()).unwrap();
    assert_eq!(
        (r32(&out, 0), r32(&out, 4), r32(&out, 8), r32(&out, 12)),
        (2, -1, 0, 42)
    );
    assert!(rep.fields_added.contains("struct point.z"));
}

#[test]
fn bitfields_are_extracted_and_inserted_with_range_checks() {
    // old: struct flags { unsigned a:3; int b:5; unsigned c:4; }
    let mut o = B::new();
    let (u, i) = (o.uint(), o.int());
    let ot = o.strukt_raw(
        "struct flags",
        4,
        vec![
            bitfield("a", u, 0, 0, 3),
            bitfield("b", i, 0, 3, 5),
            bitfield("c", u, 0, 8, 4),
        ],
    );
    // new: struct flags { int b:7; unsigned a:2; int wide; unsigned c:4 at bit 40 }
    let mut n = B::new();
    let (u, i) = (n.uint(), n.int());
    let nt = n.strukt_raw(
        "struct flags",
        8,
        vec![
            bitfield("b", i, 0, 0, 7),
            bitfield("a", u, 0, 7, 2),
            bitfield("c", u, 4, 4, 4),
        ],
    );
    let (old, new) = (o.done(), n.done());
    let word = |a: u32, b: i32, c: u32| (a | (((b as u32) & 0x1f) << 3) | (c << 8)).to_ne_bytes();
    let (out, _) = convert(
        &old,
        &new,
        &no_tf(),
        ot,
        nt,
        &word(3, -9, 11),
        &Space::default(),
    )
    .unwrap();
    let lo = u32::from_ne_bytes(out[0..4].try_into().unwrap());
    let b = ((lo & 0x7f) as i32) << 25 >> 25;
    assert_eq!((b, (lo >> 7) & 3, (out[4] >> 4) & 0xf), (-9, 3, 11));
    let err = convert(
        &old,
        &new,
        &no_tf(),
        ot,
        nt,
        &word(5, 0, 0),
        &Space::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, TransferError::OutOfRange { value: 5, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("struct flags.a") && err.to_string().contains(": 2"),
        "{err}"
    );
}

#[test]
fn union_with_identical_layout_is_copied_as_is() {
    let build = || {
        let mut b = B::new();
        let (int, f) = (b.int(), b.float());
        let u = b.union("union num", &[("i", int), ("f", f)]);
        let int = b.int();
        let s = b.strukt("struct v", &[("u", u), ("n", int)]);
        let long = b.long();
        let s2 = b.strukt("struct holder", &[("v", s), ("extra", long)]);
        (b.done(), s, s2)
    };
    let (old, ot, _) = build();
    let (mut new, nt, _) = build();
    // Force a change around the union: the struct gains a field.
    if let lucc_abi::sidecar::TypeKind::Struct { fields, .. } = &mut new.types[nt as usize].kind {
        fields.push(lucc_abi::sidecar::Field {
            name: "more".into(),
            ty: 0,
            offset: 8,
            bit_offset: None,
            bit_size: None,
        });
    }
    new.types[nt as usize].size = 12;
    let value = Bytes::zero(8).f32(0, 2.5).i32(4, 1).0;
    let (out, _) = convert(&old, &new, &no_tf(), ot, nt, &value, &Space::default()).unwrap();
    assert_eq!(&out[0..8], &value[..]);
}

fn tagged_union_pair() -> (
    lucc_abi::sidecar::Sidecar,
    u32,
    lucc_abi::sidecar::Sidecar,
    u32,
) {
    // old: struct val { int type; union { int i; char s[8]; } u; }
    let mut o = B::new();
    let (int, ch) = (o.int(), o.char());
    let s8 = o.array(ch, 8);
    let u = o.union("union payload", &[("i", int), ("s", s8)]);
    let ot = o.strukt("struct val", &[("type", int), ("u", u)]);
    // new: struct val { int type; union { long i; char s[16]; } u; }
    let mut n = B::new();
    let (int, long, ch) = (n.int(), n.long(), n.char());
    let s16 = n.array(ch, 16);
    let u = n.union("union payload", &[("i", long), ("s", s16)]);
    let nt = n.strukt("struct val", &[("type", int), ("u", u)]);
    (o.done(), ot, n.done(), nt)
}

#[test]
fn union_whose_layout_changed_needs_an_active_member() {
    let (old, ot, new, nt) = tagged_union_pair();
    let err = convert(&old, &new, &no_tf(), ot, nt, &[0; 12], &Space::default()).unwrap_err();
    assert!(matches!(err, TransferError::Union { .. }), "{err}");
    assert!(
        err.to_string().contains("union payload") && err.to_string().contains("struct val.u"),
        "{err}"
    );
}

#[test]
fn tagged_union_converts_the_member_the_tag_selects() {
    let (old, ot, new, nt) = tagged_union_pair();
    let tf = Transform::parse(
        "[types.\"struct val\".fields.u]\nactive = { tag_field = \"type\", map = { 0 = \"i\", 1 = \"s\" } }\n",
    )
    .unwrap();
    let as_int = Bytes::zero(12).i32(0, 0).i32(4, -77).0;
    let (out, _) = convert(&old, &new, &tf, ot, nt, &as_int, &Space::default()).unwrap();
    assert_eq!((r32(&out, 0), r64(&out, 8) as i64), (0, -77));
    let as_str = Bytes::zero(12).i32(0, 1).bytes(4, b"hello\0\0\0").0;
    let (out, _) = convert(&old, &new, &tf, ot, nt, &as_str, &Space::default()).unwrap();
    assert_eq!(&out[8..24], b"hello\0\0\0\0\0\0\0\0\0\0\0");
    let unknown_tag = Bytes::zero(12).i32(0, 2).0;
    let err = convert(&old, &new, &tf, ot, nt, &unknown_tag, &Space::default()).unwrap_err();
    assert!(err.to_string().contains("tag value 2"), "{err}");
}

#[test]
fn unchanged_type_is_one_copy_and_needs_no_move() {
    let build = || {
        let mut b = B::new();
        let (int, ch) = (b.int(), b.char());
        let name = b.array(ch, 5);
        let t = b.strukt("struct s", &[("a", int), ("name", name), ("b", int)]);
        (b.done(), t)
    };
    let ((old, ot), (new, nt)) = (build(), build());
    let tf = no_tf();
    let mut t = Transfer::new(&old, &new, &tf, Default::default()).unwrap();
    let plan = t.plan(ot, nt).unwrap();
    assert!(t.plan_info(plan).identical);
    let value: Vec<u8> = (0..16).collect();
    let mut out = vec![0; 16];
    t.convert_objects(plan, &value, &mut out, &Space::default())
        .unwrap();
    assert_eq!(out, value, "padding included: bytes as is");
}

#[test]
fn char_buffer_that_became_unsigned_is_copied_as_bytes() {
    let mut o = B::new();
    let ch = o.char();
    let a = o.array(ch, 6);
    let ot = o.strukt("struct s", &[("name", a)]);
    let mut n = B::new();
    let uch = n.uchar();
    let a = n.array(uch, 8);
    let nt = n.strukt("struct s", &[("name", a)]);
    let (old, new) = (o.done(), n.done());
    let value = "héllo".as_bytes().to_vec();
    let (out, _) = convert(&old, &new, &no_tf(), ot, nt, &value, &Space::default()).unwrap();
    assert_eq!(&out[..], "héllo\0\0".as_bytes());
}
