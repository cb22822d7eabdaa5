//! The sidecar's type table: DWARF types of all C units, deduplicated.
//!
//! Every unit repeats the types of the headers it includes, so `struct node`
//! appears once per unit that uses it; the sidecar must hold it once, and a
//! pointer to it in any unit must name that one entry. Types form a graph
//! with cycles (a list node points to itself), so structural keys computed
//! by plain recursion do not terminate. Instead the types are partitioned
//! the way a DFA is minimised: start from classes of equal local shape
//! (kind, name, size, field names and offsets, enumerators, array length),
//! and split classes whose members refer to different classes, until
//! nothing splits. Two types end in the same class exactly when no finite
//! walk through fields, pointees and elements tells them apart. Two units
//! with different `struct node`s (legal for types private to a file) keep
//! both, each unit's pointers going to its own.
//!
//! const, volatile, restrict and _Atomic are transparent: a transfer copies
//! bytes, and qualifiers do not change layout. A declaration-only record
//! (`struct node;`) stands for the definition of that tag in the same unit,
//! else in the first unit that defines it.
//!
//! Type ids follow the order in which each class first appears in the DIEs,
//! unit by unit, so the same binary always yields the same table.

use std::collections::HashMap;

use gimli::DwTag;
use lucc_abi::sidecar::{BaseEncoding, Enumerator, Field, TypeDef, TypeId, TypeKind};

use super::cspell;
use super::dwarf::{Die, DieRef, Program};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Label {
    Base {
        name: String,
        size: u64,
        ate: Option<u8>,
    },
    Record {
        union: bool,
        name: Option<String>,
        size: u64,
        declaration: bool,
        fields: Vec<FieldShape>,
    },
    Enum {
        name: Option<String>,
        size: u64,
        enumerators: Vec<(String, i64)>,
    },
    Pointer {
        size: u64,
    },
    Array {
        count: Option<u64>,
    },
    Typedef {
        name: String,
    },
    Function {
        variadic: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FieldShape {
    name: String,
    offset: u64,
    bit_offset: Option<u64>,
    bit_size: Option<u64>,
}

struct Node {
    label: Label,
    /// Referenced types in a fixed order (field types, pointee, element,
    /// typedef target, return then parameters); `None` is `void`.
    succ: Vec<Option<usize>>,
}

/// The deduplicated types and how to find the entry of any DWARF type.
pub struct TypeTable {
    pub types: Vec<TypeDef>,
    /// Node of every type DIE (qualifiers and declarations not included).
    die_node: HashMap<DieRef, usize>,
    node_type: Vec<TypeId>,
    /// Definitions of tagged records by (unit, tag, name), and by (tag, name)
    /// for the first unit that defines them.
    defs_in_unit: HashMap<(usize, DwTag, String), DieRef>,
    defs: HashMap<(DwTag, String), DieRef>,
    /// Named records and typedefs by (unit, C name), for typing a site with
    /// its own unit's `struct entry` when several units define one.
    unit_named: HashMap<(usize, String), TypeId>,
}

fn is_node_tag(tag: DwTag) -> bool {
    matches!(
        tag,
        gimli::DW_TAG_base_type
            | gimli::DW_TAG_structure_type
            | gimli::DW_TAG_union_type
            | gimli::DW_TAG_enumeration_type
            | gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_array_type
            | gimli::DW_TAG_typedef
            | gimli::DW_TAG_subroutine_type
    )
}

fn is_qualifier(tag: DwTag) -> bool {
    matches!(
        tag,
        gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type
            | gimli::DW_TAG_atomic_type
    )
}

fn is_tagged(tag: DwTag) -> bool {
    matches!(
        tag,
        gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type | gimli::DW_TAG_enumeration_type
    )
}

fn encoding(ate: Option<u8>) -> BaseEncoding {
    match ate.map(gimli::DwAte) {
        Some(gimli::DW_ATE_signed) => BaseEncoding::Signed,
        Some(gimli::DW_ATE_signed_char) => BaseEncoding::SignedChar,
        Some(gimli::DW_ATE_unsigned_char) => BaseEncoding::UnsignedChar,
        Some(gimli::DW_ATE_boolean) => BaseEncoding::Bool,
        Some(gimli::DW_ATE_float | gimli::DW_ATE_complex_float) => BaseEncoding::Float,
        _ => BaseEncoding::Unsigned,
    }
}

impl TypeTable {
    pub fn build(program: &Program) -> TypeTable {
        let mut table = TypeTable {
            types: Vec::new(),
            die_node: HashMap::new(),
            node_type: Vec::new(),
            defs_in_unit: HashMap::new(),
            defs: HashMap::new(),
            unit_named: HashMap::new(),
        };
        for die in &program.dies {
            if is_tagged(die.tag) && !die.declaration {
                if let Some(name) = &die.name {
                    table
                        .defs_in_unit
                        .entry((die.unit, die.tag, name.clone()))
                        .or_insert(die.at);
                    table.defs.entry((die.tag, name.clone())).or_insert(die.at);
                }
            }
        }
        // Nodes for every type DIE that is its own type, in DIE order.
        let mut node_die: Vec<usize> = Vec::new();
        for (i, die) in program.dies.iter().enumerate() {
            if is_node_tag(die.tag) && table.definition(program, die).at == die.at {
                table.die_node.insert(die.at, node_die.len());
                node_die.push(i);
            }
        }
        let mut nodes: Vec<Node> = Vec::with_capacity(node_die.len());
        let mut extra: Vec<Node> = Vec::new();
        for &i in &node_die {
            let node = table.node_of(program, &program.dies[i], node_die.len(), &mut extra);
            nodes.push(node);
        }
        nodes.append(&mut extra);
        let class = partition(&nodes);
        table.emit(&nodes, &class);
        for die in &program.dies {
            if !(is_tagged(die.tag) || die.tag == gimli::DW_TAG_typedef) || die.name.is_none() {
                continue;
            }
            if let Some(&node) = table.die_node.get(&die.at) {
                let id = table.node_type[node];
                let name = table.types[id as usize].name.clone();
                table.unit_named.entry((die.unit, name)).or_insert(id);
            }
        }
        table
    }

    /// The record or typedef spelled `name` that `unit` defines.
    pub fn in_unit(&self, unit: usize, name: &str) -> Option<TypeId> {
        self.unit_named.get(&(unit, name.to_string())).copied()
    }

    /// The definition a declaration-only record stands for (or the DIE
    /// itself).
    fn definition<'p>(&self, program: &'p Program, die: &'p Die) -> &'p Die {
        if !(die.declaration && is_tagged(die.tag)) {
            return die;
        }
        let Some(name) = &die.name else { return die };
        self.defs_in_unit
            .get(&(die.unit, die.tag, name.clone()))
            .or_else(|| self.defs.get(&(die.tag, name.clone())))
            .and_then(|&at| program.die(at))
            .unwrap_or(die)
    }

    /// The node a type reference leads to, through qualifiers and
    /// declarations; `None` for `void` (or a type lucc does not model).
    fn target(&self, program: &Program, mut at: Option<DieRef>) -> Option<usize> {
        for _ in 0..16 {
            let die = program.die(at?)?;
            if is_qualifier(die.tag) {
                at = die.ty;
                continue;
            }
            return self
                .die_node
                .get(&self.definition(program, die).at)
                .copied();
        }
        None
    }

    fn node_of(&self, program: &Program, die: &Die, base: usize, extra: &mut Vec<Node>) -> Node {
        let t = |at: Option<DieRef>| self.target(program, at);
        let children = || die.children.iter().map(|&c| &program.dies[c]);
        match die.tag {
            gimli::DW_TAG_base_type => Node {
                label: Label::Base {
                    name: die.name.clone().unwrap_or_default(),
                    size: die.byte_size.unwrap_or(0),
                    ate: die.encoding,
                },
                succ: vec![],
            },
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type => {
                let mut fields = Vec::new();
                let mut succ = Vec::new();
                for m in children().filter(|c| c.tag == gimli::DW_TAG_member) {
                    fields.push(field_shape(program, m));
                    succ.push(t(m.ty));
                }
                Node {
                    label: Label::Record {
                        union: die.tag == gimli::DW_TAG_union_type,
                        name: die.name.clone(),
                        size: die.byte_size.unwrap_or(0),
                        declaration: die.declaration,
                        fields,
                    },
                    succ,
                }
            }
            gimli::DW_TAG_enumeration_type => Node {
                label: Label::Enum {
                    name: die.name.clone(),
                    size: die.byte_size.unwrap_or(0),
                    enumerators: children()
                        .filter(|c| c.tag == gimli::DW_TAG_enumerator)
                        .map(|c| {
                            (
                                c.name.clone().unwrap_or_default(),
                                c.const_value.unwrap_or(0),
                            )
                        })
                        .collect(),
                },
                succ: vec![t(die.ty)],
            },
            gimli::DW_TAG_pointer_type => Node {
                label: Label::Pointer {
                    size: die.byte_size.unwrap_or(8),
                },
                succ: vec![t(die.ty)],
            },
            gimli::DW_TAG_array_type => {
                // `int a[2][3]` is one DIE with two subranges: an array of 2
                // arrays of 3, the inner ones as extra nodes.
                let counts: Vec<Option<u64>> = children()
                    .filter(|c| c.tag == gimli::DW_TAG_subrange_type)
                    .map(|c| c.count)
                    .collect();
                let mut element = t(die.ty);
                for &count in counts.iter().skip(1).rev() {
                    extra.push(Node {
                        label: Label::Array { count },
                        succ: vec![element],
                    });
                    element = Some(base + extra.len() - 1);
                }
                Node {
                    label: Label::Array {
                        count: counts.first().copied().flatten(),
                    },
                    succ: vec![element],
                }
            }
            gimli::DW_TAG_typedef => Node {
                label: Label::Typedef {
                    name: die.name.clone().unwrap_or_default(),
                },
                succ: vec![t(die.ty)],
            },
            _ => {
                // DW_TAG_subroutine_type
                let mut succ = vec![t(die.ty)];
                let mut variadic = false;
                for c in children() {
                    match c.tag {
                        gimli::DW_TAG_formal_parameter => succ.push(t(c.ty)),
                        gimli::DW_TAG_unspecified_parameters => variadic = true,
                        _ => {}
                    }
                }
                Node {
                    label: Label::Function { variadic },
                    succ,
                }
            }
        }
    }

    fn emit(&mut self, nodes: &[Node], class: &[usize]) {
        let mut class_type: HashMap<usize, TypeId> = HashMap::new();
        let mut reps = Vec::new();
        for (n, &c) in class.iter().enumerate() {
            let next = class_type.len() as TypeId;
            let id = *class_type.entry(c).or_insert_with(|| {
                reps.push(n);
                next
            });
            self.node_type.push(id);
        }
        let node_type = self.node_type.clone();
        let mut void: Option<TypeId> = None;
        let count = reps.len() as TypeId;
        let id_of = |s: Option<usize>| s.map(|n| node_type[n]);
        let void_id = |void: &mut Option<TypeId>| *void.get_or_insert(count);
        for &n in &reps {
            let node = &nodes[n];
            let (name, size, kind) = match &node.label {
                Label::Base { name, size, ate } => (
                    name.clone(),
                    *size,
                    TypeKind::Base {
                        encoding: encoding(*ate),
                    },
                ),
                Label::Record {
                    union,
                    name,
                    size,
                    declaration,
                    fields,
                } => {
                    let fields = fields
                        .iter()
                        .zip(&node.succ)
                        .map(|(f, &s)| Field {
                            name: f.name.clone(),
                            ty: id_of(s).unwrap_or_else(|| void_id(&mut void)),
                            offset: f.offset,
                            bit_offset: f.bit_offset,
                            bit_size: f.bit_size,
                        })
                        .collect();
                    let declaration = *declaration;
                    let word = if *union { "union" } else { "struct" };
                    let name = format!("{word} {}", name.as_deref().unwrap_or("{...}"));
                    let kind = if *union {
                        TypeKind::Union {
                            fields,
                            declaration,
                        }
                    } else {
                        TypeKind::Struct {
                            fields,
                            declaration,
                        }
                    };
                    (name, *size, kind)
                }
                Label::Enum {
                    name,
                    size,
                    enumerators,
                } => (
                    format!("enum {}", name.as_deref().unwrap_or("{...}")),
                    *size,
                    TypeKind::Enum {
                        underlying: id_of(node.succ[0]),
                        enumerators: enumerators
                            .iter()
                            .map(|(name, value)| Enumerator {
                                name: name.clone(),
                                value: *value,
                            })
                            .collect(),
                    },
                ),
                Label::Pointer { size } => (
                    String::new(),
                    *size,
                    TypeKind::Pointer {
                        pointee: id_of(node.succ[0]),
                    },
                ),
                Label::Array { count } => (
                    String::new(),
                    0,
                    TypeKind::Array {
                        element: id_of(node.succ[0]).unwrap_or_else(|| void_id(&mut void)),
                        count: *count,
                    },
                ),
                Label::Typedef { name } => (
                    name.clone(),
                    0,
                    TypeKind::Typedef {
                        target: id_of(node.succ[0]),
                    },
                ),
                Label::Function { variadic } => (
                    String::new(),
                    0,
                    TypeKind::Function {
                        ret: id_of(node.succ[0]),
                        params: node.succ[1..]
                            .iter()
                            .map(|&s| id_of(s).unwrap_or_else(|| void_id(&mut void)))
                            .collect(),
                        variadic: *variadic,
                    },
                ),
            };
            let id = self.types.len() as TypeId;
            self.types.push(TypeDef {
                id,
                name,
                size,
                kind,
            });
        }
        if void.is_some() {
            self.types.push(TypeDef {
                id: count,
                name: "void".into(),
                size: 0,
                kind: TypeKind::Void,
            });
        }
        self.finish();
    }

    /// Fills in the sizes of arrays and typedefs and the C spelling of
    /// unnamed types, once every entry exists.
    fn finish(&mut self) {
        for i in 0..self.types.len() {
            if matches!(
                self.types[i].kind,
                TypeKind::Array { .. } | TypeKind::Typedef { .. }
            ) {
                self.types[i].size = size_of(&self.types, i as TypeId, 0);
            }
            if self.types[i].name.is_empty() {
                self.types[i].name = cspell::spell(&self.types, Some(i as TypeId));
            }
        }
    }

    /// The entry of the type a DWARF reference names (`None` for void).
    pub fn type_of(&self, program: &Program, at: Option<DieRef>) -> Option<TypeId> {
        self.target(program, at).map(|n| self.node_type[n])
    }

    pub fn size(&self, id: Option<TypeId>) -> u64 {
        id.map_or(0, |id| size_of(&self.types, id, 0))
    }

    /// Adds a type the DWARF lacks (or finds an equal one).
    pub fn intern(&mut self, name: &str, size: u64, kind: TypeKind) -> TypeId {
        if let Some(t) = self
            .types
            .iter()
            .find(|t| t.name == name && t.size == size && t.kind == kind)
        {
            return t.id;
        }
        let id = self.types.len() as TypeId;
        self.types.push(TypeDef {
            id,
            name: name.into(),
            size,
            kind,
        });
        id
    }
}

fn size_of(types: &[TypeDef], id: TypeId, depth: u32) -> u64 {
    let Some(t) = types.get(id as usize) else {
        return 0;
    };
    if depth > 64 {
        return 0;
    }
    match t.kind {
        TypeKind::Array { element, count } => {
            count.unwrap_or(0) * size_of(types, element, depth + 1)
        }
        TypeKind::Typedef { target } => target.map_or(0, |t| size_of(types, t, depth + 1)),
        _ => t.size,
    }
}

/// Where a member lies, normalised so that DWARF 4 (`DW_AT_bit_offset`
/// from the storage unit's most significant bit, what clang emits when
/// tuning for gdb) and DWARF 5 (`DW_AT_data_bit_offset` from the start of
/// the record) give the same answer: `offset` is the byte holding the
/// first bit and `bit_offset` the bit within it, counted from the least
/// significant (x86-64 is little-endian).
fn field_shape(program: &Program, m: &Die) -> FieldShape {
    let name = m.name.clone().unwrap_or_default();
    let location = m.member_location.unwrap_or(0);
    let absolute_bit = match (m.bit_size, m.data_bit_offset, m.bit_offset) {
        (Some(_), Some(d), _) => Some(d),
        (Some(width), None, Some(from_msb)) => {
            let storage = m.byte_size.unwrap_or_else(|| storage_size(program, m.ty));
            Some((location * 8 + storage * 8).saturating_sub(from_msb + width))
        }
        (Some(_), None, None) => Some(location * 8),
        _ => None,
    };
    match absolute_bit {
        Some(bit) => FieldShape {
            name,
            offset: bit / 8,
            bit_offset: Some(bit % 8),
            bit_size: m.bit_size,
        },
        None => FieldShape {
            name,
            offset: location,
            bit_offset: None,
            bit_size: None,
        },
    }
}

fn storage_size(program: &Program, mut at: Option<DieRef>) -> u64 {
    for _ in 0..16 {
        let Some(die) = at.and_then(|a| program.die(a)) else {
            break;
        };
        if let Some(size) = die.byte_size {
            return size;
        }
        at = die.ty;
    }
    4
}

/// Coarsest partition of `nodes` into classes of equal label whose members
/// refer, position by position, to the same classes.
fn partition(nodes: &[Node]) -> Vec<usize> {
    let mut ids: HashMap<&Label, usize> = HashMap::new();
    let mut class: Vec<usize> = nodes
        .iter()
        .map(|n| {
            let next = ids.len();
            *ids.entry(&n.label).or_insert(next)
        })
        .collect();
    let mut classes = ids.len();
    loop {
        let mut sigs: HashMap<(usize, Vec<Option<usize>>), usize> = HashMap::new();
        let next: Vec<usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let sig = (
                    class[i],
                    n.succ.iter().map(|s| s.map(|s| class[s])).collect(),
                );
                let fresh = sigs.len();
                *sigs.entry(sig).or_insert(fresh)
            })
            .collect();
        // Refinement only ever splits, so an unchanged count is a fixpoint.
        if sigs.len() == classes {
            return next;
        }
        classes = sigs.len();
        class = next;
    }
}
