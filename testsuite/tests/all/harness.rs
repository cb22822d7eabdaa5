//! The harness's own checks can fail: a wrong expectation is reported.

use lucc_testsuite::sidecar_checks::{check, Expect};

use crate::common::{sidecar_of, SHAPES};

#[test]
fn sidecar_checks_report_wrong_expectations() {
    let sc = sidecar_of(SHAPES);
    let wrong = [
        Expect::Global { name: "scene", ty: "struct record *" },
        Expect::Global { name: "no_such_global", ty: "int" },
        Expect::Site { function: "newShape", callee: "malloc", ty: Some("struct record"), offset: 0, via: &[] },
        Expect::Field { ty: "struct style", field: "layer", field_ty: "int", bit_size: Some(5) },
        Expect::Enumerator { ty: "enum color", name: "BLACK", value: 3 },
    ];
    let failures = check(&sc, &wrong);
    assert_eq!(failures.len(), wrong.len(), "every wrong expectation must be reported: {failures:#?}");
    assert!(failures[0].contains("found struct shape *"), "{}", failures[0]);
}
