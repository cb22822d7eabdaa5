//! Builders for test sidecars and old/new byte images.
//!
//! Sidecars are built the way the driver would write them from DWARF: type
//! table with C spellings, struct offsets laid out with natural alignment
//! (or given explicitly), variables and functions at link addresses.
#![allow(dead_code)]

use std::collections::HashMap;

use lucc_abi::sidecar::{
    BaseEncoding, Enumerator, Field, Function, Sidecar, Site, TypeDef, TypeId, TypeKind, Variable,
};
use lucc_transfer::{HeapObject, PointerSpace};

#[derive(Default)]
pub struct B {
    pub sc: Sidecar,
    named: HashMap<String, TypeId>,
}

impl B {
    pub fn new() -> B {
        B::default()
    }

    pub fn add(&mut self, name: &str, size: u64, kind: TypeKind) -> TypeId {
        let id = self.sc.types.len() as TypeId;
        self.sc.types.push(TypeDef {
            id,
            name: name.into(),
            size,
            kind,
        });
        id
    }

    pub fn base(&mut self, name: &str, size: u64, encoding: BaseEncoding) -> TypeId {
        if let Some(id) = self.named.get(name) {
            return *id;
        }
        let id = self.add(name, size, TypeKind::Base { encoding });
        self.named.insert(name.into(), id);
        id
    }

    pub fn int(&mut self) -> TypeId {
        self.base("int", 4, BaseEncoding::Signed)
    }
    pub fn uint(&mut self) -> TypeId {
        self.base("unsigned int", 4, BaseEncoding::Unsigned)
    }
    pub fn short(&mut self) -> TypeId {
        self.base("short", 2, BaseEncoding::Signed)
    }
    pub fn long(&mut self) -> TypeId {
        self.base("long", 8, BaseEncoding::Signed)
    }
    pub fn ulong(&mut self) -> TypeId {
        self.base("unsigned long", 8, BaseEncoding::Unsigned)
    }
    pub fn char(&mut self) -> TypeId {
        self.base("char", 1, BaseEncoding::SignedChar)
    }
    pub fn uchar(&mut self) -> TypeId {
        self.base("unsigned char", 1, BaseEncoding::UnsignedChar)
    }
    pub fn float(&mut self) -> TypeId {
        self.base("float", 4, BaseEncoding::Float)
    }
    pub fn double(&mut self) -> TypeId {
        self.base("double", 8, BaseEncoding::Float)
    }
    pub fn bool(&mut self) -> TypeId {
        self.base("_Bool", 1, BaseEncoding::Bool)
    }

    pub fn ptr(&mut self, pointee: Option<TypeId>) -> TypeId {
        let name = match pointee {
            Some(p) => format!("{} *", self.sc.types[p as usize].name),
            None => "void *".into(),
        };
        self.add(&name, 8, TypeKind::Pointer { pointee })
    }

    pub fn array(&mut self, element: TypeId, count: u64) -> TypeId {
        let e = &self.sc.types[element as usize];
        let name = format!("{}[{count}]", e.name);
        let size = e.size * count;
        self.add(
            &name,
            size,
            TypeKind::Array {
                element,
                count: Some(count),
            },
        )
    }

    pub fn typedef(&mut self, name: &str, target: TypeId) -> TypeId {
        let size = self.sc.types[target as usize].size;
        self.add(
            name,
            size,
            TypeKind::Typedef {
                target: Some(target),
            },
        )
    }

    pub fn enm(&mut self, name: &str, values: &[(&str, i64)]) -> TypeId {
        let enumerators = values
            .iter()
            .map(|(n, v)| Enumerator {
                name: (*n).into(),
                value: *v,
            })
            .collect();
        self.add(
            name,
            4,
            TypeKind::Enum {
                underlying: None,
                enumerators,
            },
        )
    }

    fn align(&self, id: TypeId) -> u64 {
        let t = self.sc.resolve(id).unwrap();
        match &t.kind {
            TypeKind::Array { element, .. } => self.align(*element),
            TypeKind::Struct { fields, .. } | TypeKind::Union { fields, .. } => {
                fields.iter().map(|f| self.align(f.ty)).max().unwrap_or(1)
            }
            _ => t.size.max(1),
        }
    }

    /// A struct laid out with natural alignment.
    pub fn strukt(&mut self, name: &str, fields: &[(&str, TypeId)]) -> TypeId {
        let mut off = 0u64;
        let mut align = 1;
        let mut out = Vec::new();
        for (n, ty) in fields {
            let a = self.align(*ty);
            align = align.max(a);
            off = off.div_ceil(a) * a;
            out.push(Field {
                name: (*n).into(),
                ty: *ty,
                offset: off,
                bit_offset: None,
                bit_size: None,
            });
            off += self.sc.types[*ty as usize].size;
        }
        let size = off.div_ceil(align) * align;
        self.add(
            name,
            size,
            TypeKind::Struct {
                fields: out,
                declaration: false,
            },
        )
    }

    /// A struct with explicit fields (bitfields included) and size.
    pub fn strukt_raw(&mut self, name: &str, size: u64, fields: Vec<Field>) -> TypeId {
        self.add(
            name,
            size,
            TypeKind::Struct {
                fields,
                declaration: false,
            },
        )
    }

    pub fn union(&mut self, name: &str, members: &[(&str, TypeId)]) -> TypeId {
        let size = members
            .iter()
            .map(|(_, t)| self.sc.types[*t as usize].size)
            .max()
            .unwrap_or(0);
        let align = members
            .iter()
            .map(|(_, t)| self.align(*t))
            .max()
            .unwrap_or(1);
        let fields = members
            .iter()
            .map(|(n, ty)| Field {
                name: (*n).into(),
                ty: *ty,
                offset: 0,
                bit_offset: None,
                bit_size: None,
            })
            .collect();
        self.add(
            name,
            size.div_ceil(align) * align,
            TypeKind::Union {
                fields,
                declaration: false,
            },
        )
    }

    pub fn field_offset(&self, ty: TypeId, name: &str) -> u64 {
        match &self.sc.types[ty as usize].kind {
            TypeKind::Struct { fields, .. } | TypeKind::Union { fields, .. } => {
                fields.iter().find(|f| f.name == name).unwrap().offset
            }
            _ => panic!("not an aggregate"),
        }
    }

    pub fn size(&self, ty: TypeId) -> u64 {
        self.sc.types[ty as usize].size
    }

    pub fn global(&mut self, name: &str, ty: TypeId, address: u64) {
        let size = self.size(ty);
        self.sc.globals.push(Variable {
            name: name.into(),
            function: String::new(),
            unit: "a.c".into(),
            address,
            size,
            ty: Some(ty),
            local_linkage: false,
        });
    }

    pub fn static_local(&mut self, function: &str, name: &str, ty: TypeId, address: u64) {
        let size = self.size(ty);
        self.sc.static_locals.push(Variable {
            name: name.into(),
            function: function.into(),
            unit: "a.c".into(),
            address,
            size,
            ty: Some(ty),
            local_linkage: true,
        });
    }

    pub fn function(&mut self, name: &str, address: u64) {
        self.sc.functions.push(Function {
            name: name.into(),
            unit: "a.c".into(),
            address,
            size: 64,
            local_linkage: false,
        });
    }

    pub fn site(&mut self, id: u32, ty: TypeId) {
        self.sc.sites.push(Site {
            id,
            function: "main".into(),
            file: "a.c".into(),
            line: 1,
            callee: "malloc".into(),
            via: vec![],
            offset: 0,
            ty: Some(ty),
            ty_desc: String::new(),
        });
        self.sc.sites.sort_by_key(|s| s.id);
    }

    pub fn done(self) -> Sidecar {
        self.sc
    }
}

pub fn bitfield(name: &str, ty: TypeId, offset: u64, bit_offset: u64, bit_size: u64) -> Field {
    Field {
        name: name.into(),
        ty,
        offset,
        bit_offset: Some(bit_offset),
        bit_size: Some(bit_size),
    }
}

/// A byte image of a value under construction.
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    pub fn zero(n: u64) -> Bytes {
        Bytes(vec![0; n as usize])
    }
    pub fn i8(mut self, off: u64, v: i8) -> Bytes {
        self.0[off as usize] = v as u8;
        self
    }
    pub fn i16(mut self, off: u64, v: i16) -> Bytes {
        self.0[off as usize..off as usize + 2].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn i32(mut self, off: u64, v: i32) -> Bytes {
        self.0[off as usize..off as usize + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn u64(mut self, off: u64, v: u64) -> Bytes {
        self.0[off as usize..off as usize + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn f32(mut self, off: u64, v: f32) -> Bytes {
        self.0[off as usize..off as usize + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn bytes(mut self, off: u64, b: &[u8]) -> Bytes {
        self.0[off as usize..off as usize + b.len()].copy_from_slice(b);
        self
    }
}

pub fn r8(b: &[u8], off: u64) -> i8 {
    b[off as usize] as i8
}
pub fn r16(b: &[u8], off: u64) -> i16 {
    i16::from_ne_bytes(b[off as usize..off as usize + 2].try_into().unwrap())
}
pub fn r32(b: &[u8], off: u64) -> i32 {
    i32::from_ne_bytes(b[off as usize..off as usize + 4].try_into().unwrap())
}
pub fn r64(b: &[u8], off: u64) -> u64 {
    u64::from_ne_bytes(b[off as usize..off as usize + 8].try_into().unwrap())
}
pub fn rf64(b: &[u8], off: u64) -> f64 {
    f64::from_ne_bytes(b[off as usize..off as usize + 8].try_into().unwrap())
}

/// A test heap: objects with optional new locations, plus a rodata range
/// whose strings the "new binary" has at known addresses.
#[derive(Default)]
pub struct Space {
    pub objects: Vec<(HeapObject, Option<u64>)>,
    pub rodata: Option<std::ops::Range<u64>>,
    pub rodata_moves: HashMap<u64, u64>,
}

impl Space {
    pub fn object(mut self, base: u64, size: u64, site: u32, moved_to: Option<u64>) -> Space {
        self.objects
            .push((HeapObject { base, size, site }, moved_to));
        self
    }
}

impl PointerSpace for Space {
    fn heap_object(&self, addr: u64) -> Option<HeapObject> {
        self.objects
            .iter()
            .map(|o| o.0)
            .find(|o| o.base <= addr && addr < o.base + o.size)
    }
    fn heap_new_base(&self, obj: &HeapObject) -> Option<u64> {
        self.objects.iter().find(|o| o.0 == *obj).and_then(|o| o.1)
    }
    fn in_old_rodata(&self, addr: u64) -> bool {
        self.rodata.as_ref().is_some_and(|r| r.contains(&addr))
    }
    fn rodata_in_new(&self, addr: u64) -> Option<u64> {
        self.rodata_moves.get(&addr).copied()
    }
}

/// Converts one value of `old_ty` (old sidecar) into `new_ty` (new sidecar)
/// with no pointers involved beyond what `space` knows.
pub fn convert(
    old: &Sidecar,
    new: &Sidecar,
    tf: &lucc_transfer::Transform,
    old_ty: TypeId,
    new_ty: TypeId,
    value: &[u8],
    space: &Space,
) -> Result<(Vec<u8>, lucc_transfer::Report), lucc_transfer::TransferError> {
    let mut t = lucc_transfer::Transfer::new(old, new, tf, Default::default())?;
    let plan = t.plan(old_ty, new_ty)?;
    let mut out = vec![0xAAu8; t.plan_info(plan).new_size as usize];
    t.convert_objects(plan, value, &mut out, space)?;
    Ok((out, t.report()))
}
