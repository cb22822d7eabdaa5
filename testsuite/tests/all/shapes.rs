//! shapes: a batch program; same output from both builds, and a sidecar
//! that describes its unusual types.

use lucc_testsuite::sidecar_checks::Expect::{self, *};

use crate::common::*;

#[test]
fn shapes_same_output() {
    batch_same_output(SHAPES, &["3"], "shapes/scripts/three.expected");
}

/// The sidecar has no const qualifier (it does not matter for state), so
/// `const char *banner` reads as `char *` (and so do parameters).
const SHAPES_STATE: &[Expect] = &[
    Global { name: "banner", ty: "char *" },
    Global { name: "scene", ty: "struct shape *" },
    Global { name: "records", ty: "struct record [32]" },
    Global { name: "snapshot", ty: "char [772]" },
    Global { name: "circle_ops", ty: "struct shape_ops" },
    StaticLocal { function: "registryNextSerial", name: "serial", ty: "unsigned long" },
    Field { ty: "struct style", field: "color", field_ty: "unsigned int", bit_size: Some(3) },
    Field { ty: "struct style", field: "layer", field_ty: "int", bit_size: Some(6) },
    Field { ty: "struct record", field: "shape_addr", field_ty: "unsigned long", bit_size: None },
    Field { ty: "struct shape", field: "next", field_ty: "struct shape *", bit_size: None },
    Field { ty: "struct shape_ops", field: "area", field_ty: "double (*)(struct shape *)", bit_size: None },
    Enumerator { ty: "enum color", name: "BLACK", value: 7 },
    Enumerator { ty: "enum shape_kind", name: "SHAPE_POLY", value: 3 },
    Site { function: "newShape", callee: "malloc", ty: Some("struct shape"), offset: 0, via: &[] },
    Wrapper { name: "newShape", inner: "malloc", offset: 0 },
];

#[test]
fn shapes_sidecar_names_what_the_source_says() {
    assert_expectations(SHAPES, SHAPES_STATE);
}

/// `describe` is a static function called once, so -O2 inlines it; its
/// static local still belongs to it.
#[test]
fn shapes_static_local_of_an_inlined_function() {
    assert_expectations(SHAPES, &[StaticLocal { function: "describe", name: "calls", ty: "int" }]);
}

/// The union inside `struct shape` and the anonymous struct behind
/// `bbox_t` are described field by field.
#[test]
fn shapes_sidecar_describes_union_and_anonymous_struct() {
    use lucc_abi::sidecar::TypeKind;
    let sc = sidecar_of(SHAPES);
    let shape = sc.types.iter().find(|t| t.name == "struct shape" && t.size > 0).expect("struct shape");
    let TypeKind::Struct { fields, .. } = &shape.kind else { panic!("struct shape is {:?}", shape.kind) };
    let u = fields.iter().find(|f| f.name == "u").expect("field u");
    let union = sc.resolve(u.ty).expect("type of u");
    let TypeKind::Union { fields: arms, .. } = &union.kind else { panic!("u is {:?}", union.kind) };
    let names: Vec<&str> = arms.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["circle", "rect", "poly"]);
    assert!(arms.iter().all(|f| f.offset == 0), "union arms share offset 0: {arms:?}");

    let bbox = sc.types.iter().find(|t| t.name == "bbox_t").expect("bbox_t");
    let anon = sc.resolve(bbox.id).expect("bbox_t's target");
    let TypeKind::Struct { fields, .. } = &anon.kind else { panic!("bbox_t is {:?}", anon.kind) };
    assert_eq!(anon.size, 32);
    assert_eq!(fields.iter().map(|f| (f.name.as_str(), f.offset)).collect::<Vec<_>>(), [("min", 0), ("max", 16)]);
}
