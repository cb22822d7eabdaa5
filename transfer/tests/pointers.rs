//! Pointer remapping and the conservative policy for untyped words.

mod common;

use common::*;
use lucc_abi::sidecar::{Sidecar, TypeKind};
use lucc_transfer::{Biases, Class, Transfer, TransferError, Transform};

const OLD_BIAS: u64 = 0x5555_0000_0000;
const NEW_BIAS: u64 = 0x5600_0000_0000;
const BIASES: Biases = Biases {
    old: OLD_BIAS,
    new: NEW_BIAS,
};
const HEAP: u64 = 0x7f00_0000_1000;
const NODE_SITE: u32 = 77;

/// A program in two versions:
/// * `struct node { int key; struct node *next; }` gains a leading
///   `long extra` in v2 (so nodes move and `next` is at 16, not 8);
/// * `struct cfg { int a; int b; }` global `config` becomes `{ int b; int a; }`
///   and moves from 0x4000 to 0x6000;
/// * function `handler` moves from 0x1000 to 0x1100, `old_fn` is gone;
/// * `struct holder` (unchanged) holds one pointer of each kind plus a
///   `uintptr_t cookie` and a `void *opaque`.
struct Fixture {
    old: Sidecar,
    new: Sidecar,
    holder_old: u32,
    holder_new: u32,
}

fn version(v2: bool) -> (Sidecar, u32) {
    let mut b = B::new();
    let (int, long, ulong, ch) = (b.int(), b.long(), b.ulong(), b.char());
    let node_fwd = b.add(
        "struct node",
        0,
        TypeKind::Struct {
            fields: vec![],
            declaration: true,
        },
    );
    let node_ptr = b.ptr(Some(node_fwd));
    let node = if v2 {
        b.strukt(
            "struct node",
            &[("extra", long), ("key", int), ("next", node_ptr)],
        )
    } else {
        b.strukt("struct node", &[("key", int), ("next", node_ptr)])
    };
    let cfg = if v2 {
        b.strukt("struct cfg", &[("b", int), ("a", int)])
    } else {
        b.strukt("struct cfg", &[("a", int), ("b", int)])
    };
    let int_ptr = b.ptr(Some(int));
    let fn_ty = b.add(
        "void (void)",
        0,
        TypeKind::Function {
            ret: None,
            params: vec![],
            variadic: false,
        },
    );
    let fn_ptr = b.ptr(Some(fn_ty));
    let str_ptr = b.ptr(Some(ch));
    let uintptr = b.typedef("uintptr_t", ulong);
    let void_ptr = b.ptr(None);
    let holder = b.strukt(
        "struct holder",
        &[
            ("heap", node_ptr),
            ("gp", int_ptr),
            ("fn", fn_ptr),
            ("msg", str_ptr),
            ("cookie", uintptr),
            ("opaque", void_ptr),
        ],
    );
    b.global("config", cfg, if v2 { 0x6000 } else { 0x4000 });
    b.global("counter", int, if v2 { 0x6100 } else { 0x4100 });
    b.static_local("serve", "hits", long, if v2 { 0x6200 } else { 0x4200 });
    b.function("handler", if v2 { 0x1100 } else { 0x1000 });
    if !v2 {
        b.function("old_fn", 0x1200);
    }
    b.site(NODE_SITE, node);
    (b.done(), holder)
}

fn fixture() -> Fixture {
    let (old, holder_old) = version(false);
    let (new, holder_new) = version(true);
    Fixture {
        old,
        new,
        holder_old,
        holder_new,
    }
}

const HEAP_OFF: u64 = 0;
const GP_OFF: u64 = 8;
const FN_OFF: u64 = 16;
const MSG_OFF: u64 = 24;
const COOKIE_OFF: u64 = 32;
const OPAQUE_OFF: u64 = 40;

/// Converts one `struct holder` whose words are given.
fn holder(
    f: &Fixture,
    tf: &Transform,
    space: &Space,
    words: &[(u64, u64)],
) -> Result<(Vec<u8>, Transfer<'static>), TransferError> {
    let (old, new) = (
        Box::leak(Box::new(f.old.clone())),
        Box::leak(Box::new(f.new.clone())),
    );
    let tf = Box::leak(Box::new(tf.clone()));
    let mut t = Transfer::new(old, new, tf, BIASES)?;
    let plan = t.plan(f.holder_old, f.holder_new)?;
    assert!(t.plan_info(plan).identical, "struct holder did not change");
    let mut value = Bytes::zero(48);
    for (off, w) in words {
        value = value.u64(*off, *w);
    }
    let mut out = vec![0; 48];
    t.convert_objects(plan, &value.0, &mut out, space)?;
    Ok((out, t))
}

fn nodes(moved: bool) -> Space {
    Space::default().object(HEAP, 16, NODE_SITE, moved.then_some(HEAP + 0x1000))
}

#[test]
fn pointer_to_an_unchanged_heap_object_keeps_its_value() {
    let f = fixture();
    let (out, t) = holder(
        &f,
        &Transform::default(),
        &nodes(false),
        &[(HEAP_OFF, HEAP)],
    )
    .unwrap();
    assert_eq!(r64(&out, HEAP_OFF), HEAP);
    assert_eq!(t.report().pointers.heap_unchanged, 1);
}

#[test]
fn interior_pointer_into_a_moved_object_follows_its_field() {
    let f = fixture();
    // Points at old node.next (offset 8), which is at offset 16 in v2.
    let (out, t) = holder(
        &f,
        &Transform::default(),
        &nodes(true),
        &[(OPAQUE_OFF, HEAP + 8), (HEAP_OFF, HEAP)],
    )
    .unwrap();
    assert_eq!(r64(&out, OPAQUE_OFF), HEAP + 0x1000 + 16);
    assert_eq!(r64(&out, HEAP_OFF), HEAP + 0x1000);
    assert_eq!(t.report().pointers.heap_forwarded, 2);
}

#[test]
fn pointer_to_a_global_field_moves_with_the_global_and_its_layout() {
    let f = fixture();
    // &config.b: old 0x4000 + 4, new 0x6000 + 0.
    let (out, t) = holder(
        &f,
        &Transform::default(),
        &Space::default(),
        &[(GP_OFF, OLD_BIAS + 0x4004)],
    )
    .unwrap();
    assert_eq!(r64(&out, GP_OFF), NEW_BIAS + 0x6000);
    assert_eq!(t.report().pointers.global, 1);
    // &config.a: old offset 0, new offset 4. The address is also the
    // struct's, but the pointer is an `int *`: it follows the field.
    let (out, _) = holder(
        &f,
        &Transform::default(),
        &Space::default(),
        &[(GP_OFF, OLD_BIAS + 0x4000)],
    )
    .unwrap();
    assert_eq!(r64(&out, GP_OFF), NEW_BIAS + 0x6004);
}

#[test]
fn pointer_to_a_static_local_follows_function_and_name() {
    let f = fixture();
    let (out, t) = holder(
        &f,
        &Transform::default(),
        &Space::default(),
        &[(GP_OFF, OLD_BIAS + 0x4200)],
    )
    .unwrap();
    assert_eq!(r64(&out, GP_OFF), NEW_BIAS + 0x6200);
    assert_eq!(t.report().pointers.static_local, 1);
}

#[test]
fn function_pointer_follows_the_function_name() {
    let f = fixture();
    let (out, t) = holder(
        &f,
        &Transform::default(),
        &Space::default(),
        &[(FN_OFF, OLD_BIAS + 0x1000)],
    )
    .unwrap();
    assert_eq!(r64(&out, FN_OFF), NEW_BIAS + 0x1100);
    assert_eq!(t.report().pointers.function, 1);
}

#[test]
fn pointer_to_a_removed_function_is_an_error() {
    let f = fixture();
    let err = holder(
        &f,
        &Transform::default(),
        &Space::default(),
        &[(FN_OFF, OLD_BIAS + 0x1200)],
    )
    .err()
    .unwrap();
    assert!(
        matches!(&err, TransferError::FunctionGone { name, .. } if name == "old_fn"),
        "{err}"
    );
}

#[test]
fn string_literal_is_found_again_by_the_caller_or_kept_and_counted() {
    let f = fixture();
    let lit = OLD_BIAS + 0x9000;
    let mut space = Space {
        rodata: Some(OLD_BIAS + 0x8000..OLD_BIAS + 0xa000),
        ..Default::default()
    };
    space.rodata_moves.insert(lit, NEW_BIAS + 0x9100);
    let (out, t) = holder(&f, &Transform::default(), &space, &[(MSG_OFF, lit)]).unwrap();
    assert_eq!(r64(&out, MSG_OFF), NEW_BIAS + 0x9100);
    assert_eq!(t.report().pointers.rodata, 1);
    let (out, t) = holder(&f, &Transform::default(), &space, &[(MSG_OFF, lit + 8)]).unwrap();
    assert_eq!(r64(&out, MSG_OFF), lit + 8);
    assert_eq!(t.report().pointers.rodata_unresolved, 1);
}

#[test]
fn null_and_dangling_pointers_are_kept() {
    let f = fixture();
    let dangling = 0x7f00_dead_0000;
    let (out, t) = holder(
        &f,
        &Transform::default(),
        &nodes(true),
        &[(HEAP_OFF, 0), (GP_OFF, dangling)],
    )
    .unwrap();
    assert_eq!((r64(&out, HEAP_OFF), r64(&out, GP_OFF)), (0, dangling));
    let p = t.report().pointers;
    assert_eq!(
        (p.null, p.unknown),
        (4, 1),
        "null: heap, fn, msg, opaque (cookie is no pointer); {p:?}"
    );
}

#[test]
fn integer_in_uintptr_field_that_looks_like_a_heap_address_is_unchanged_but_pins() {
    let f = fixture();
    let (out, t) = holder(
        &f,
        &Transform::default(),
        &nodes(false),
        &[(COOKIE_OFF, HEAP + 4)],
    )
    .unwrap();
    assert_eq!(r64(&out, COOKIE_OFF), HEAP + 4);
    assert!(t.pinned().contains(&HEAP));
    let r = t.report();
    assert_eq!((r.conservative_words, r.conservative_rewritten), (1, 0));
}

#[test]
fn untyped_reference_to_an_object_that_moved_follows_it_unless_forbidden() {
    let f = fixture();
    let (out, t) = holder(
        &f,
        &Transform::default(),
        &nodes(true),
        &[(COOKIE_OFF, HEAP + 4)],
    )
    .unwrap();
    assert_eq!(r64(&out, COOKIE_OFF), HEAP + 0x1000 + 4);
    assert_eq!(t.report().conservative_rewritten, 1);
    let strict = Transform::parse("trace_untyped = false").unwrap();
    let err = holder(&f, &strict, &nodes(true), &[(COOKIE_OFF, HEAP)])
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            TransferError::PinnedMoved {
                base: HEAP,
                site: NODE_SITE,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn uintptr_holding_exactly_a_function_address_moves_with_it_unless_forbidden() {
    let f = fixture();
    let (out, t) = holder(
        &f,
        &Transform::default(),
        &Space::default(),
        &[(COOKIE_OFF, OLD_BIAS + 0x1000)],
    )
    .unwrap();
    assert_eq!(r64(&out, COOKIE_OFF), NEW_BIAS + 0x1100);
    assert_eq!(t.report().conservative_rewritten, 1);
    // Inside a function, not at its start: left alone.
    let (out, _) = holder(
        &f,
        &Transform::default(),
        &Space::default(),
        &[(COOKIE_OFF, OLD_BIAS + 0x1008)],
    )
    .unwrap();
    assert_eq!(r64(&out, COOKIE_OFF), OLD_BIAS + 0x1008);
    let forbid = Transform::parse("trace_untyped = false\n").unwrap();
    let (out, _) = holder(
        &f,
        &forbid,
        &Space::default(),
        &[(COOKIE_OFF, OLD_BIAS + 0x1000)],
    )
    .unwrap();
    assert_eq!(r64(&out, COOKIE_OFF), OLD_BIAS + 0x1000);
}

#[test]
fn untyped_block_is_traced_word_by_word() {
    let f = fixture();
    let tf = Transform::default();
    let mut t = Transfer::new(&f.old, &f.new, &tf, BIASES).unwrap();
    let block = Bytes::zero(32)
        .u64(0, 12345)
        .u64(8, OLD_BIAS + 0x4100)
        .u64(16, HEAP + 8)
        .u64(24, OLD_BIAS + 0x1000)
        .0;
    let mut out = block.clone();
    t.trace_untyped(&block, &mut out, &nodes(false)).unwrap();
    assert_eq!(r64(&out, 0), 12345);
    assert_eq!(r64(&out, 8), NEW_BIAS + 0x6100, "&counter");
    assert_eq!(r64(&out, 16), HEAP + 8, "heap words never change");
    assert_eq!(r64(&out, 24), NEW_BIAS + 0x1100, "handler");
    assert!(t.pinned().contains(&HEAP));
    let r = t.report();
    assert_eq!((r.conservative_words, r.conservative_rewritten), (4, 2));
}

#[test]
fn pin_scan_finds_untyped_references_without_converting() {
    let f = fixture();
    let tf = Transform::default();
    let mut t = Transfer::new(&f.old, &f.new, &tf, BIASES).unwrap();
    let plan = t.plan(f.holder_old, f.holder_new).unwrap();
    let two = Bytes::zero(96)
        .u64(COOKIE_OFF, 42)
        .u64(48 + COOKIE_OFF, HEAP + 12)
        .0;
    t.pin_scan(plan, &two, &nodes(true)).unwrap();
    assert_eq!(t.pinned().iter().copied().collect::<Vec<_>>(), vec![HEAP]);
}

#[test]
fn classify_names_what_a_value_points_at() {
    let f = fixture();
    let tf = Transform::default();
    let t = Transfer::new(&f.old, &f.new, &tf, BIASES).unwrap();
    let s = nodes(false);
    assert_eq!(t.classify(0, &s), Class::Null);
    assert!(matches!(
        t.classify(HEAP + 3, &s),
        Class::Heap { offset: 3, .. }
    ));
    assert_eq!(
        t.classify(OLD_BIAS + 0x1000, &s),
        Class::OldFunction {
            name: "handler".into()
        }
    );
    assert!(matches!(
        t.classify(OLD_BIAS + 0x4004, &s),
        Class::OldVariable { offset: 4, .. }
    ));
    assert_eq!(t.classify(1234, &s), Class::Unknown);
}

#[test]
fn moved_heap_block_is_rebuilt_with_its_pointers_forwarded() {
    let f = fixture();
    let tf = Transform::default();
    let mut t = Transfer::new(&f.old, &f.new, &tf, BIASES).unwrap();
    let plan = t.site_plan(NODE_SITE).unwrap().unwrap();
    let info = t.plan_info(plan);
    assert!(!info.identical);
    assert_eq!((info.old_size, info.new_size), (16, 24));
    // Two nodes in one block, the first pointing at the second.
    let space = Space::default().object(HEAP, 32, NODE_SITE, Some(HEAP + 0x1000));
    let old = Bytes::zero(32)
        .i32(0, 1)
        .u64(8, HEAP + 16)
        .i32(16, 2)
        .u64(24, 0)
        .0;
    let mut new = vec![0xff; 48];
    t.convert_objects(plan, &old, &mut new, &space).unwrap();
    assert_eq!(
        (r64(&new, 0), r32(&new, 8), r64(&new, 16)),
        (0, 1, HEAP + 0x1000 + 24)
    );
    assert_eq!((r64(&new, 24), r32(&new, 32), r64(&new, 40)), (0, 2, 0));
    assert_eq!(t.report().objects, 2);
}

#[test]
fn interior_pointer_into_a_dropped_field_is_an_error() {
    // v2 of struct node without `key`: a pointer to old node.key has no target.
    let f = fixture();
    let mut new = f.new.clone();
    let node = new.sites[0].ty.unwrap() as usize;
    if let TypeKind::Struct { fields, .. } = &mut new.types[node].kind {
        fields.retain(|x| x.name != "key");
    }
    let tf = Transform::default();
    let mut t = Transfer::new(&f.old, &new, &tf, BIASES).unwrap();
    let err = t.remap_pointer(HEAP, &nodes(true)).unwrap();
    assert_eq!(
        err,
        HEAP + 0x1000,
        "the object's start still maps to the new object's start"
    );
    let err = t.remap_pointer(HEAP + 2, &nodes(true)).unwrap_err();
    assert!(
        matches!(err, TransferError::InteriorGone { offset: 2, .. }),
        "{err}"
    );
}

#[test]
fn pointer_to_a_dropped_global_is_an_error_and_one_past_the_end_is_kept_in_bounds() {
    let f = fixture();
    let mut new = f.new.clone();
    new.globals.retain(|g| g.name != "counter");
    let tf = Transform::default();
    let mut t = Transfer::new(&f.old, &new, &tf, BIASES).unwrap();
    let err = t
        .remap_pointer(OLD_BIAS + 0x4100, &Space::default())
        .unwrap_err();
    assert!(
        matches!(&err, TransferError::VariableGone { name, .. } if name == "counter"),
        "{err}"
    );
    // &config + 1 (one past its 8 bytes) follows config, not the next variable.
    assert_eq!(
        t.remap_pointer(OLD_BIAS + 0x4008, &Space::default())
            .unwrap(),
        NEW_BIAS + 0x6008
    );
    assert!(t.report().variables_dropped_undeclared.contains("counter"));
}

#[test]
fn objects_of_a_site_the_new_version_lost_match_their_type_by_name() {
    let f = fixture();
    let mut new = f.new.clone();
    new.sites.clear();
    let tf = Transform::default();
    let mut t = Transfer::new(&f.old, &new, &tf, BIASES).unwrap();
    let plan = t
        .site_plan(NODE_SITE)
        .unwrap()
        .expect("struct node still exists");
    assert_eq!(t.plan_info(plan).new_size, 24);
    // Forwarding an interior pointer uses the same pairing: &node.next.
    assert_eq!(
        t.remap_pointer(HEAP + 8, &nodes(true)).unwrap(),
        HEAP + 0x1000 + 16
    );
    new.types
        .iter_mut()
        .filter(|t| t.name == "struct node")
        .for_each(|t| t.name = "struct elem".into());
    let mut t = Transfer::new(&f.old, &new, &tf, BIASES).unwrap();
    let err = t.site_plan(NODE_SITE).unwrap_err();
    assert!(err.to_string().contains("struct node"), "{err}");
}

/// `Space` with a heap range that answers the settled questions the way
/// the runtime's does: inside the range, settled unless in a moved object.
struct RangedSpace {
    inner: Space,
    heap: std::ops::Range<u64>,
}

impl lucc_transfer::PointerSpace for RangedSpace {
    fn heap_object(&self, addr: u64) -> Option<lucc_transfer::HeapObject> {
        self.inner.heap_object(addr)
    }
    fn heap_new_base(&self, obj: &lucc_transfer::HeapObject) -> Option<u64> {
        self.inner.heap_new_base(obj)
    }
    fn in_old_rodata(&self, addr: u64) -> bool {
        self.inner.in_old_rodata(addr)
    }
    fn rodata_in_new(&self, addr: u64) -> Option<u64> {
        self.inner.rodata_in_new(addr)
    }
    fn heap_settled(&self, addr: u64) -> bool {
        self.heap.contains(&addr)
            && !self.inner.objects.iter().any(|(o, to)| to.is_some() && addr >= o.base && addr <= o.base + o.size)
    }
    fn outside_heap(&self, addr: u64) -> bool {
        !self.heap.contains(&addr)
    }
}

/// The shortcut that skips an unchanged object (`fixup_words` +
/// `fixups_settled`) says "settled" exactly when converting it would
/// write back the same bytes, for every kind of value a field can hold.
#[test]
fn settled_objects_are_exactly_those_conversion_leaves_as_they_are() {
    let f = fixture();
    let tf = Transform::default();
    let values = [
        0,
        HEAP,                 // a node
        HEAP + 8,             // inside a node
        HEAP + 0x800,         // heap, in no object
        OLD_BIAS + 0x4004,    // a global's field
        OLD_BIAS + 0x1000,    // a function
        OLD_BIAS + 0x4200,    // a static local
        0x1234_5678,          // a foreign address
        0x6f6c_6c65_68,       // text in a word
    ];
    let mut decided = 0;
    for moved in [false, true] {
        let space = RangedSpace { inner: nodes(moved), heap: HEAP..HEAP + 0x10000 };
        for (i, &a) in values.iter().enumerate() {
            for &b in &values[i..] {
                let words = [(HEAP_OFF, a), (GP_OFF, b), (FN_OFF, a), (MSG_OFF, b), (COOKIE_OFF, a), (OPAQUE_OFF, b)];
                let mut value = Bytes::zero(48);
                for (off, w) in words {
                    value = value.u64(off, w);
                }
                let (old, new) = (Box::leak(Box::new(f.old.clone())), Box::leak(Box::new(f.new.clone())));
                let mut t = Transfer::new(old, new, Box::leak(Box::new(tf.clone())), BIASES).unwrap();
                let plan = t.plan(f.holder_old, f.holder_new).unwrap();
                let list = t.fixup_words(plan).expect("a struct of pointers and words lists them");
                let mut sorted = list.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, vec![0, 8, 16, 24, 32, 40], "every word of struct holder is a fixup");
                let settled = t.fixups_settled(&value.0, 48, &list, &space);
                let mut out = vec![0; 48];
                let converted = t.convert_objects(plan, &value.0, &mut out, &space);
                if settled {
                    assert_eq!(converted.map(|_| out).ok(), Some(value.0.clone()), "settled but changed: {words:x?} (moved {moved})");
                    decided += 1;
                } else {
                    // Not settled: some word leads into what changes (a
                    // moved node, the old binary); a value outside both
                    // heap and binary must never be the reason.
                    assert!(
                        words.iter().any(|&(_, w)| w != 0
                            && ((HEAP..HEAP + 0x10000).contains(&w) && moved && w <= HEAP + 16
                                || (OLD_BIAS..OLD_BIAS + 0x5000).contains(&w))),
                        "not settled without a reason: {words:x?} (moved {moved})"
                    );
                }
            }
        }
    }
    assert!(decided > 10, "the shortcut must apply to the plain cases ({decided})");
}
