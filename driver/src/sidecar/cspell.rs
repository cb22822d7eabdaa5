//! Spelling sidecar types the way C writes them: `struct node *`,
//! `char [16]`, `int (*)(int)`.
//!
//! C declarators read inside out, so the spelling is built from the outside
//! in: each pointer, array or function wraps the declarator built so far,
//! with parentheses where a pointer would otherwise bind to an array or a
//! function. Named types (base types, tagged records, typedefs) end the walk
//! with their own name, which also keeps self-referential types finite.

use lucc_abi::sidecar::{TypeDef, TypeId, TypeKind};

/// The C spelling of a type; `None` is `void`.
pub fn spell(types: &[TypeDef], id: Option<TypeId>) -> String {
    declare(types, id, String::new(), 0)
}

fn declare(types: &[TypeDef], id: Option<TypeId>, inner: String, depth: u32) -> String {
    let named = |name: &str| {
        if inner.is_empty() {
            name.to_string()
        } else {
            format!("{name} {inner}")
        }
    };
    let Some(t) = id.and_then(|id| types.get(id as usize)) else {
        return named("void");
    };
    if depth > 32 {
        return named("...");
    }
    let grouped = |inner: &str| {
        if inner.starts_with('*') {
            format!("({inner})")
        } else {
            inner.to_string()
        }
    };
    match &t.kind {
        TypeKind::Pointer { pointee } => declare(types, *pointee, format!("*{inner}"), depth + 1),
        TypeKind::Array { element, count } => {
            let dim = count.map_or(String::new(), |c| c.to_string());
            declare(
                types,
                Some(*element),
                format!("{}[{dim}]", grouped(&inner)),
                depth + 1,
            )
        }
        TypeKind::Function {
            ret,
            params,
            variadic,
        } => {
            let mut list: Vec<String> = params.iter().map(|&p| spell(types, Some(p))).collect();
            if *variadic {
                list.push("...".into());
            } else if list.is_empty() {
                list.push("void".into());
            }
            declare(
                types,
                *ret,
                format!("{}({})", grouped(&inner), list.join(", ")),
                depth + 1,
            )
        }
        TypeKind::Void => named("void"),
        _ => named(&t.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lucc_abi::sidecar::BaseEncoding;

    fn def(id: TypeId, name: &str, kind: TypeKind) -> TypeDef {
        TypeDef {
            id,
            name: name.into(),
            size: 0,
            kind,
        }
    }

    #[test]
    fn declarators_nest_like_c() {
        let types = vec![
            def(
                0,
                "int",
                TypeKind::Base {
                    encoding: BaseEncoding::Signed,
                },
            ),
            def(
                1,
                "char",
                TypeKind::Base {
                    encoding: BaseEncoding::SignedChar,
                },
            ),
            def(
                2,
                "struct node",
                TypeKind::Struct {
                    fields: vec![],
                    declaration: false,
                },
            ),
            def(3, "", TypeKind::Pointer { pointee: Some(2) }),
            def(
                4,
                "",
                TypeKind::Array {
                    element: 1,
                    count: Some(16),
                },
            ),
            def(
                5,
                "",
                TypeKind::Function {
                    ret: Some(0),
                    params: vec![0],
                    variadic: false,
                },
            ),
            def(6, "", TypeKind::Pointer { pointee: Some(5) }),
            def(
                7,
                "",
                TypeKind::Array {
                    element: 3,
                    count: Some(4),
                },
            ),
            def(8, "", TypeKind::Pointer { pointee: Some(4) }),
            def(9, "", TypeKind::Pointer { pointee: None }),
            def(
                10,
                "",
                TypeKind::Array {
                    element: 4,
                    count: None,
                },
            ),
        ];
        let s = |id| spell(&types, Some(id));
        assert_eq!(s(3), "struct node *");
        assert_eq!(s(4), "char [16]");
        assert_eq!(s(6), "int (*)(int)");
        assert_eq!(s(7), "struct node *[4]");
        assert_eq!(s(8), "char (*)[16]");
        assert_eq!(s(9), "void *");
        assert_eq!(s(10), "char [][16]");
        assert_eq!(spell(&types, None), "void");
    }
}
