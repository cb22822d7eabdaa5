//! Matching old and new types and compiling conversion plans.
//!
//! Types are matched structurally from a known pair (a global's old and new
//! type, a site's old and new type) downwards: struct fields by name
//! (renames from the transform file), arrays by element, typedefs looked
//! through. Aggregates must keep their name (modulo a declared rename) —
//! a `struct a` field that became `struct b` is a different thing, not a
//! layout change. Everything that can be decided without the data is
//! decided here, once per pair; see `plan` for the op format.

use std::sync::Mutex;
use std::collections::{BTreeSet, HashMap};

use lucc_abi::sidecar::{BaseEncoding, Field, Sidecar, TypeDef, TypeId, TypeKind};

use crate::error::{Result, TransferError};
use crate::plan::{coalesce, Loc, Op, Plan, PlanId};
use crate::transform::{Constant, FieldRule, Transform};

/// Pointer size of the programs lucc supports (64-bit targets).
pub const WORD: u64 = 8;

/// How a scalar is represented.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar<'s> {
    Int {
        size: u8,
        signed: bool,
    },
    Bool {
        size: u8,
    },
    Enum {
        size: u8,
        signed: bool,
        def: &'s TypeDef,
    },
    Float {
        size: u8,
    },
}

pub struct TypeMap<'a> {
    pub(crate) old: &'a Sidecar,
    pub(crate) new: &'a Sidecar,
    pub(crate) tf: &'a Transform,
    pub(crate) plans: Vec<Plan>,
    cache: HashMap<(TypeId, TypeId), PlanId>,
    pub(crate) ctxs: Vec<String>,
    /// Sorted (old value, new value) tables for enum conversions.
    pub(crate) maps: Vec<Box<[(i64, i64)]>>,
    same_memo: Mutex<HashMap<(TypeId, TypeId), bool>>,
    pub(crate) fields_added: BTreeSet<String>,
    pub(crate) fields_dropped: BTreeSet<String>,
    pub(crate) fields_dropped_undeclared: BTreeSet<String>,
}

fn is_anonymous(name: &str) -> bool {
    name.is_empty() || name.contains('<') || name.contains("(anon") || name.ends_with(' ')
}

fn missing(side: &str, id: TypeId) -> TransferError {
    TransferError::Sidecar(format!("{side} sidecar has no type {id}"))
}

impl<'a> TypeMap<'a> {
    pub fn new(old: &'a Sidecar, new: &'a Sidecar, tf: &'a Transform) -> TypeMap<'a> {
        TypeMap {
            old,
            new,
            tf,
            plans: Vec::new(),
            cache: HashMap::new(),
            ctxs: Vec::new(),
            maps: Vec::new(),
            same_memo: Mutex::new(HashMap::new()),
            fields_added: BTreeSet::new(),
            fields_dropped: BTreeSet::new(),
            fields_dropped_undeclared: BTreeSet::new(),
        }
    }

    fn old_ty(&self, id: TypeId) -> Result<&'a TypeDef> {
        self.old.resolve(id).ok_or_else(|| missing("old", id))
    }

    fn new_ty(&self, id: TypeId) -> Result<&'a TypeDef> {
        self.new.resolve(id).ok_or_else(|| missing("new", id))
    }

    fn name_of(sc: &Sidecar, id: TypeId) -> String {
        sc.ty(id)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| format!("type #{id}"))
    }

    fn ctx(&mut self, s: String) -> u32 {
        self.ctxs.push(s);
        (self.ctxs.len() - 1) as u32
    }

    /// The names of an old and a new aggregate denote the same type.
    fn names_match(&self, old: &str, new: &str) -> bool {
        self.tf.new_type_name(old) == new || is_anonymous(old) || is_anonymous(new)
    }

    /// Whether old and new have the same layout and nothing in the
    /// transform file applies to them: then bytes are copied as is and only
    /// pointers need fixing.
    pub fn same_layout(&self, old_id: TypeId, new_id: TypeId) -> bool {
        if let Some(&v) = self.same_memo.lock().unwrap_or_else(|p| p.into_inner()).get(&(old_id, new_id)) {
            return v;
        }
        let v = self.same_uncached(old_id, new_id);
        self.same_memo.lock().unwrap_or_else(|p| p.into_inner()).insert((old_id, new_id), v);
        v
    }

    fn same_uncached(&self, old_id: TypeId, new_id: TypeId) -> bool {
        let (Ok(o), Ok(n)) = (self.old_ty(old_id), self.new_ty(new_id)) else {
            return false;
        };
        if o.size != n.size {
            return false;
        }
        match (&o.kind, &n.kind) {
            (TypeKind::Base { encoding: a }, TypeKind::Base { encoding: b }) => a == b,
            (TypeKind::Enum { enumerators: a, .. }, TypeKind::Enum { enumerators: b, .. }) => {
                let a: BTreeSet<_> = a.iter().map(|e| (&e.name, e.value)).collect();
                let b: BTreeSet<_> = b.iter().map(|e| (&e.name, e.value)).collect();
                a == b
            }
            (TypeKind::Pointer { .. }, TypeKind::Pointer { .. })
            | (TypeKind::Void, TypeKind::Void) => true,
            (
                TypeKind::Array {
                    element: a,
                    count: ca,
                },
                TypeKind::Array {
                    element: b,
                    count: cb,
                },
            ) => ca == cb && self.same_layout(*a, *b),
            (TypeKind::Struct { fields: a, .. }, TypeKind::Struct { fields: b, .. })
            | (TypeKind::Union { fields: a, .. }, TypeKind::Union { fields: b, .. }) => {
                // A constant or a union tag rule changes the value even
                // where the layout stays.
                let rules = self.tf.ty(&n.name);
                let overridden = rules.is_some_and(|r| {
                    r.fields
                        .values()
                        .any(|f| f.set.is_some() || f.active.is_some())
                });
                !overridden
                    && self.names_match(&o.name, &n.name)
                    && a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| {
                        x.name == self.tf.old_field_name(&n.name, &y.name)
                            && x.offset == y.offset
                            && x.bit_offset == y.bit_offset
                            && x.bit_size == y.bit_size
                            && self.same_layout(x.ty, y.ty)
                    })
            }
            _ => false,
        }
    }

    /// The new version's type of the same name as old type `old_id` (after a
    /// declared rename): a complete definition is preferred over a
    /// declaration, and typedef names match typedefs. `None` when the new
    /// version has no such type.
    pub fn new_type_for(&self, old_id: TypeId) -> Option<TypeId> {
        let old_name = &self.old.ty(old_id)?.name;
        let name = self.tf.new_type_name(old_name);
        if is_anonymous(name) {
            return None;
        }
        let complete = |t: &&TypeDef| {
            !matches!(
                t.kind,
                TypeKind::Struct {
                    declaration: true,
                    ..
                } | TypeKind::Union {
                    declaration: true,
                    ..
                }
            )
        };
        let mut named = self.new.types.iter().filter(|t| t.name == name);
        let first = named.clone().next()?;
        Some(named.find(complete).unwrap_or(first).id)
    }

    /// The cached plan converting a value of old type `old_id` into new type
    /// `new_id`.
    pub fn plan(&mut self, old_id: TypeId, new_id: TypeId) -> Result<PlanId> {
        if let Some(&id) = self.cache.get(&(old_id, new_id)) {
            return Ok(id);
        }
        let name = Self::name_of(self.new, new_id);
        let id = self.compile(old_id, new_id, &name, false)?;
        self.cache.insert((old_id, new_id), id);
        Ok(id)
    }

    /// An uncached plan whose errors name `ctx` (a variable's name).
    pub(crate) fn compile(
        &mut self,
        old_id: TypeId,
        new_id: TypeId,
        ctx: &str,
        truncate: bool,
    ) -> Result<PlanId> {
        let o = self.old_ty(old_id)?;
        let n = self.new_ty(new_id)?;
        let identical = self.same_layout(old_id, new_id);
        let mut ops = Vec::new();
        self.compile_into(&mut ops, old_id, new_id, 0, 0, ctx, truncate)?;
        let ops = coalesce(ops);
        self.plans.push(Plan {
            ops,
            old_size: o.size,
            new_size: n.size,
            identical,
            fixups_start: usize::from(identical),
        });
        Ok((self.plans.len() - 1) as PlanId)
    }

    /// A plan writing a constant into a scalar of new type `new_id`.
    pub(crate) fn compile_set(
        &mut self,
        new_id: TypeId,
        value: Constant,
        ctx: &str,
    ) -> Result<PlanId> {
        let n = self.new_ty(new_id)?;
        let ctx_id = self.ctx(ctx.to_string());
        let op = self.set_op(new_id, 0, None, value, ctx_id, ctx)?;
        self.plans.push(Plan {
            ops: vec![op],
            old_size: 0,
            new_size: n.size,
            identical: false,
            fixups_start: 0,
        });
        Ok((self.plans.len() - 1) as PlanId)
    }

    /// A plan for a variable the sidecars could not type: its bytes as is,
    /// traced conservatively. Only when the size did not change.
    pub(crate) fn compile_untyped(
        &mut self,
        old_size: u64,
        new_size: u64,
        ctx: &str,
    ) -> Result<PlanId> {
        if old_size != new_size {
            return Err(TransferError::Unconvertible {
                ctx: ctx.to_string(),
                from: format!("untyped {old_size} bytes"),
                to: format!("untyped {new_size} bytes"),
            });
        }
        let mut ops = vec![Op::Copy {
            old: 0,
            new: 0,
            len: old_size,
        }];
        ops.extend(Self::trace_op(0, 0, old_size));
        self.plans.push(Plan {
            ops,
            old_size,
            new_size,
            identical: true,
            fixups_start: 1,
        });
        Ok((self.plans.len() - 1) as PlanId)
    }

    fn set_op(
        &self,
        new_id: TypeId,
        off: u64,
        field: Option<&Field>,
        value: Constant,
        ctx_id: u32,
        ctx: &str,
    ) -> Result<Op> {
        let n = self.new_ty(new_id)?;
        let bad = || TransferError::Unconvertible {
            ctx: ctx.to_string(),
            from: format!("constant {value:?}"),
            to: n.name.clone(),
        };
        match (self.scalar(self.new, new_id)?, value) {
            (Some(Scalar::Float { size }), Constant::Float(_) | Constant::Int(_)) => Ok(Op::Set {
                dst: Loc::plain(off, size, true, false),
                float: true,
                value,
                ctx: ctx_id,
            }),
            (
                Some(s @ (Scalar::Int { .. } | Scalar::Bool { .. } | Scalar::Enum { .. })),
                Constant::Int(_) | Constant::Bool(_),
            ) => Ok(Op::Set {
                dst: Self::loc(s, off, field),
                float: false,
                value,
                ctx: ctx_id,
            }),
            // NULL (or a fixed address) for a pointer field.
            (None, Constant::Int(v)) if v >= 0 && matches!(n.kind, TypeKind::Pointer { .. }) => {
                Ok(Op::Set {
                    dst: Loc::plain(off, WORD as u8, false, false),
                    float: false,
                    value,
                    ctx: ctx_id,
                })
            }
            _ => Err(bad()),
        }
    }

    fn scalar(&self, sc: &'a Sidecar, id: TypeId) -> Result<Option<Scalar<'a>>> {
        let t = sc.resolve(id).ok_or_else(|| missing("a", id))?;
        let size = t.size as u8;
        Ok(match &t.kind {
            TypeKind::Base { encoding } => Some(match encoding {
                BaseEncoding::Signed | BaseEncoding::SignedChar => {
                    Scalar::Int { size, signed: true }
                }
                BaseEncoding::Unsigned | BaseEncoding::UnsignedChar => Scalar::Int {
                    size,
                    signed: false,
                },
                BaseEncoding::Bool => Scalar::Bool { size },
                BaseEncoding::Float => Scalar::Float { size },
            }),
            TypeKind::Enum {
                underlying,
                enumerators,
            } => {
                let signed = match underlying.and_then(|u| sc.resolve(u)) {
                    Some(TypeDef {
                        kind: TypeKind::Base { encoding },
                        ..
                    }) => {
                        matches!(encoding, BaseEncoding::Signed | BaseEncoding::SignedChar)
                    }
                    _ => enumerators.iter().any(|e| e.value < 0),
                };
                Some(Scalar::Enum {
                    size,
                    signed,
                    def: t,
                })
            }
            _ => None,
        })
    }

    fn loc(s: Scalar, off: u64, field: Option<&Field>) -> Loc {
        let mut loc = match s {
            Scalar::Int { size, signed } | Scalar::Enum { size, signed, .. } => {
                Loc::plain(off, size, signed, false)
            }
            Scalar::Bool { size } => Loc::plain(off, size, false, true),
            Scalar::Float { size } => Loc::plain(off, size, true, false),
        };
        if let Some(Field {
            bit_offset: Some(b),
            bit_size: Some(w),
            ..
        }) = field
        {
            loc.off += b / 8;
            loc.bit = (b % 8) as u8;
            loc.width = *w as u8;
            loc.boolean = false;
        }
        loc
    }

    /// Whether a pointer-sized integer of this type is traced
    /// conservatively: plain `long`/`unsigned long` and anything spelt
    /// through an `intptr_t`/`uintptr_t` typedef — the integer types C
    /// programs store addresses in. Other typedefs (`size_t`, `time_t`,
    /// `off_t`) name what they hold and are not traced.
    fn holds_addresses(&self, id: TypeId) -> bool {
        let Some(t) = self.old.ty(id) else {
            return false;
        };
        let resolved_word = self.old.resolve(id).is_some_and(|r| r.size == WORD);
        match t.kind {
            TypeKind::Typedef { .. } => t.name.contains("intptr_t") && resolved_word,
            TypeKind::Base {
                encoding: BaseEncoding::Signed | BaseEncoding::Unsigned,
            } => t.size == WORD && t.name.contains("long") && !t.name.contains("long long"),
            _ => false,
        }
    }

    fn is_char(&self, sc: &Sidecar, id: TypeId) -> bool {
        matches!(
            sc.resolve(id),
            Some(TypeDef {
                kind: TypeKind::Base {
                    encoding: BaseEncoding::SignedChar | BaseEncoding::UnsignedChar
                },
                size: 1,
                ..
            })
        )
    }

    /// Aligned words of `[off, off+len)` for tracing.
    fn trace_op(off_old: u64, off_new: u64, len: u64) -> Option<Op> {
        let skip = (WORD - off_old % WORD) % WORD;
        let words = len.saturating_sub(skip) / WORD;
        (words > 0).then(|| Op::Trace {
            old: off_old + skip,
            new: off_new + skip,
            len: words * WORD,
        })
    }

    /// Ops for the pointers and untyped words inside an unchanged type.
    fn fixups(
        &mut self,
        ops: &mut Vec<Op>,
        old_id: TypeId,
        new_id: TypeId,
        old_off: u64,
        new_off: u64,
    ) -> Result<()> {
        let o = self.old_ty(old_id)?;
        let n = self.new_ty(new_id)?;
        match (&o.kind, &n.kind) {
            (TypeKind::Pointer { pointee }, _) => ops.push(Op::Pointer {
                old: old_off,
                new: new_off,
                pointee: *pointee,
            }),
            (TypeKind::Base { .. }, _) if self.holds_addresses(old_id) => {
                ops.extend(Self::trace_op(old_off, new_off, o.size))
            }
            (TypeKind::Union { .. }, _) => ops.extend(Self::trace_op(old_off, new_off, o.size)),
            (TypeKind::Struct { fields: of, .. }, TypeKind::Struct { fields: nf, .. }) => {
                for (f, g) in of.iter().zip(nf) {
                    if f.bit_size.is_none() {
                        self.fixups(ops, f.ty, g.ty, old_off + f.offset, new_off + g.offset)?;
                    }
                }
            }
            (TypeKind::Array { element, count }, TypeKind::Array { element: ne, .. }) => {
                let count = count.unwrap_or(0);
                if self.is_char(self.old, *element) {
                    ops.extend(Self::trace_op(old_off, new_off, count));
                } else if count > 0 {
                    let plan = self.plan(*element, *ne)?;
                    if self.plans[plan as usize].has_fixups() {
                        let stride = self.old_ty(*element)?.size;
                        ops.push(Op::Array {
                            old: old_off,
                            new: new_off,
                            count,
                            old_stride: stride,
                            new_stride: stride,
                            plan,
                            fixups_only: true,
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn compile_into(
        &mut self,
        ops: &mut Vec<Op>,
        old_id: TypeId,
        new_id: TypeId,
        old_off: u64,
        new_off: u64,
        ctx: &str,
        truncate: bool,
    ) -> Result<()> {
        let o = self.old_ty(old_id)?;
        let n = self.new_ty(new_id)?;
        if self.same_layout(old_id, new_id) {
            ops.push(Op::Copy {
                old: old_off,
                new: new_off,
                len: o.size,
            });
            return self.fixups(ops, old_id, new_id, old_off, new_off);
        }
        let cannot = || TransferError::Unconvertible {
            ctx: ctx.to_string(),
            from: Self::name_of(self.old, old_id),
            to: Self::name_of(self.new, new_id),
        };
        match (&o.kind, &n.kind) {
            (TypeKind::Struct { fields: of, .. }, TypeKind::Struct { fields: nf, .. }) => {
                if !self.names_match(&o.name, &n.name) {
                    return Err(cannot());
                }
                self.compile_struct(ops, o, n, of, nf, old_off, new_off)
            }
            (TypeKind::Union { .. }, TypeKind::Union { .. }) => Err(TransferError::Union {
                ctx: ctx.to_string(),
                union: n.name.clone(),
            }),
            (
                TypeKind::Array {
                    element: oe,
                    count: oc,
                },
                TypeKind::Array {
                    element: ne,
                    count: nc,
                },
            ) => self.compile_array(
                ops,
                (*oe, oc.unwrap_or(0)),
                (*ne, nc.unwrap_or(0)),
                old_off,
                new_off,
                ctx,
                truncate,
            ),
            (TypeKind::Pointer { pointee }, TypeKind::Pointer { .. }) => {
                ops.push(Op::Pointer {
                    old: old_off,
                    new: new_off,
                    pointee: *pointee,
                });
                Ok(())
            }
            _ => self
                .compile_scalar(ops, old_id, new_id, old_off, new_off, None, ctx)
                .map_err(|e| match e {
                    TransferError::Unconvertible { .. } => cannot(),
                    e => e,
                }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn compile_scalar(
        &mut self,
        ops: &mut Vec<Op>,
        old_id: TypeId,
        new_id: TypeId,
        old_off: u64,
        new_off: u64,
        fields: Option<(&Field, &Field)>,
        ctx: &str,
    ) -> Result<()> {
        let cannot = || TransferError::Unconvertible {
            ctx: ctx.to_string(),
            from: Self::name_of(self.old, old_id),
            to: Self::name_of(self.new, new_id),
        };
        let (Some(os), Some(ns)) = (
            self.scalar(self.old, old_id)?,
            self.scalar(self.new, new_id)?,
        ) else {
            return Err(cannot());
        };
        if let (Scalar::Float { size: from }, Scalar::Float { size: to }) = (os, ns) {
            if from == to {
                ops.push(Op::Copy {
                    old: old_off,
                    new: new_off,
                    len: u64::from(from),
                });
            } else if matches!((from, to), (4, 8) | (8, 4)) {
                ops.push(Op::Float {
                    old: old_off,
                    new: new_off,
                    from,
                    to,
                });
            } else {
                return Err(cannot());
            }
            return Ok(());
        }
        if matches!(os, Scalar::Float { .. }) || matches!(ns, Scalar::Float { .. }) {
            return Err(cannot());
        }
        if fields.is_none() && self.is_char(self.old, old_id) && self.is_char(self.new, new_id) {
            // A character is a byte whatever the signedness of `char`.
            ops.push(Op::Copy {
                old: old_off,
                new: new_off,
                len: 1,
            });
            return Ok(());
        }
        let src = Self::loc(os, old_off, fields.map(|f| f.0));
        let dst = Self::loc(ns, new_off, fields.map(|f| f.1));
        let map = match (os, ns) {
            (Scalar::Enum { def: od, .. }, Scalar::Enum { def: nd, .. }) => {
                let (
                    TypeKind::Enum {
                        enumerators: oe, ..
                    },
                    TypeKind::Enum {
                        enumerators: ne, ..
                    },
                ) = (&od.kind, &nd.kind)
                else {
                    unreachable!("scalar() returns Enum only for enums")
                };
                let mut table: Vec<(i64, i64)> = oe
                    .iter()
                    .filter_map(|e| {
                        ne.iter()
                            .find(|x| x.name == e.name)
                            .map(|x| (e.value, x.value))
                    })
                    .collect();
                table.sort_unstable();
                table.dedup_by_key(|p| p.0);
                Some(table)
            }
            (_, Scalar::Enum { def: nd, .. }) => {
                let TypeKind::Enum {
                    enumerators: ne, ..
                } = &nd.kind
                else {
                    unreachable!("enum")
                };
                let mut table: Vec<(i64, i64)> = ne.iter().map(|x| (x.value, x.value)).collect();
                table.sort_unstable();
                table.dedup();
                Some(table)
            }
            _ => None,
        };
        // Same representation under a different encoding (a one-byte
        // signed integer that became `signed char`): bytes as is.
        if map.is_none()
            && src.width == 0
            && dst.width == 0
            && src
                == (Loc {
                    off: src.off,
                    ..dst
                })
        {
            ops.push(Op::Copy {
                old: old_off,
                new: new_off,
                len: u64::from(src.size),
            });
            return Ok(());
        }
        let map = map.map(|t| {
            self.maps.push(t.into_boxed_slice());
            (self.maps.len() - 1) as u32
        });
        let ctx = self.ctx(format!("{ctx}\u{0}{}", Self::name_of(self.new, new_id)));
        ops.push(Op::Scalar { src, dst, map, ctx });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn compile_array(
        &mut self,
        ops: &mut Vec<Op>,
        (oe, oc): (TypeId, u64),
        (ne, nc): (TypeId, u64),
        old_off: u64,
        new_off: u64,
        ctx: &str,
        truncate: bool,
    ) -> Result<()> {
        let os = self.old_ty(oe)?.size;
        let ns = self.new_ty(ne)?.size;
        let keep = oc.min(nc);
        // Text is bytes: `char` <-> `unsigned char` buffers copy as is.
        let text = self.is_char(self.old, oe) && self.is_char(self.new, ne);
        if text || self.same_layout(oe, ne) {
            ops.push(Op::Copy {
                old: old_off,
                new: new_off,
                len: keep * os,
            });
            if self.is_char(self.old, oe) {
                ops.extend(Self::trace_op(old_off, new_off, keep));
            } else if keep > 0 {
                let plan = self.plan(oe, ne)?;
                if self.plans[plan as usize].has_fixups() {
                    ops.push(Op::Array {
                        old: old_off,
                        new: new_off,
                        count: keep,
                        old_stride: os,
                        new_stride: ns,
                        plan,
                        fixups_only: true,
                    });
                }
            }
        } else if keep > 0 {
            // Element conversion errors name the array's context, not the
            // element type alone.
            let plan = self.compile(oe, ne, ctx, truncate)?;
            ops.push(Op::Array {
                old: old_off,
                new: new_off,
                count: keep,
                old_stride: os,
                new_stride: ns,
                plan,
                fixups_only: false,
            });
        }
        if oc > nc && !truncate {
            let ctx = self.ctx(ctx.to_string());
            ops.push(Op::CheckZero {
                old: old_off + nc * os,
                len: (oc - nc) * os,
                elem: os,
                old_count: oc,
                new_count: nc,
                ctx,
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn compile_struct(
        &mut self,
        ops: &mut Vec<Op>,
        o: &'a TypeDef,
        n: &'a TypeDef,
        of: &'a [Field],
        nf: &'a [Field],
        old_off: u64,
        new_off: u64,
    ) -> Result<()> {
        let tf = self.tf;
        let rule = tf.ty(&n.name);
        let mut used = vec![false; of.len()];
        let mut anon_old = of
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name.is_empty())
            .map(|(i, _)| i);
        for g in nf {
            let ctx = format!("{}.{}", n.name, g.name);
            let frule: Option<&FieldRule> = rule.and_then(|r| r.fields.get(&g.name));
            let old_name = frule
                .and_then(|r| r.renamed_from.as_deref())
                .unwrap_or(&g.name);
            let found = if g.name.is_empty() {
                anon_old.next()
            } else {
                of.iter().position(|f| f.name == old_name)
            };
            if let Some(i) = found {
                used[i] = true;
            }
            if let Some(value) = frule.and_then(|r| r.set) {
                let ctx_id = self.ctx(ctx.clone());
                ops.push(self.set_op(g.ty, new_off + g.offset, Some(g), value, ctx_id, &ctx)?);
                continue;
            }
            let Some(i) = found else {
                self.fields_added.insert(ctx);
                continue;
            };
            let f = &of[i];
            let truncate =
                rule.is_some_and(|r| r.allow_truncate) || frule.is_some_and(|r| r.allow_truncate);
            if let Some(active) = frule.and_then(|r| r.active.as_ref()) {
                let tag = of
                    .iter()
                    .find(|t| t.name == active.tag_field)
                    .ok_or_else(|| {
                        TransferError::Transform(format!(
                            "types.\"{}\".fields.{}.active: old {} has no field `{}`",
                            n.name, g.name, o.name, active.tag_field
                        ))
                    })?;
                let tag_scalar = self.scalar(self.old, tag.ty)?.ok_or_else(|| {
                    TransferError::Transform(format!(
                        "tag field {}.{} is not an integer or enum",
                        o.name, tag.name
                    ))
                })?;
                let tag_loc = Self::loc(tag_scalar, old_off + tag.offset, Some(tag));
                let mut cases = Vec::new();
                for (value, member) in active.cases() {
                    cases.push((value, self.member_plan(f.ty, g.ty, member, &ctx)?));
                }
                cases.sort_unstable_by_key(|c| c.0);
                let fallback = if self.same_layout(f.ty, g.ty) {
                    Some(self.plan(f.ty, g.ty)?)
                } else {
                    None
                };
                let ctx_id = self.ctx(ctx.clone());
                let union = self.ctx(Self::name_of(self.new, g.ty));
                ops.push(Op::Switch {
                    tag: tag_loc,
                    old: old_off + f.offset,
                    new: new_off + g.offset,
                    cases: cases.into_boxed_slice(),
                    fallback,
                    ctx: ctx_id,
                    union,
                });
            } else if f.bit_size.is_some() || g.bit_size.is_some() {
                self.compile_scalar(
                    ops,
                    f.ty,
                    g.ty,
                    old_off + f.offset,
                    new_off + g.offset,
                    Some((f, g)),
                    &ctx,
                )?;
            } else {
                self.compile_into(
                    ops,
                    f.ty,
                    g.ty,
                    old_off + f.offset,
                    new_off + g.offset,
                    &ctx,
                    truncate,
                )?;
            }
        }
        for (f, used) in of.iter().zip(used) {
            if !used {
                let name = format!("{}.{}", n.name, f.name);
                if !rule.is_some_and(|r| r.dropped.contains(&f.name)) {
                    self.fields_dropped_undeclared.insert(name.clone());
                }
                self.fields_dropped.insert(name);
            }
        }
        Ok(())
    }

    /// The plan converting a union's `member` (new name) from the old union
    /// to the new one, offsets relative to the union.
    fn member_plan(
        &mut self,
        old_union: TypeId,
        new_union: TypeId,
        member: &str,
        ctx: &str,
    ) -> Result<PlanId> {
        let o = self.old_ty(old_union)?;
        let n = self.new_ty(new_union)?;
        let (TypeKind::Union { fields: of, .. }, TypeKind::Union { fields: nf, .. }) =
            (&o.kind, &n.kind)
        else {
            return Err(TransferError::Transform(format!(
                "{ctx}: `active` given but {} is not a union",
                n.name
            )));
        };
        let old_name = self.tf.old_field_name(&n.name, member);
        let (Some(f), Some(g)) = (
            of.iter().find(|f| f.name == old_name),
            nf.iter().find(|f| f.name == member),
        ) else {
            return Err(TransferError::Transform(format!(
                "{ctx}: union {} has no member `{member}` in both versions",
                n.name
            )));
        };
        let mut ops = Vec::new();
        let mctx = format!("{}.{}", n.name, member);
        self.compile_into(&mut ops, f.ty, g.ty, f.offset, g.offset, &mctx, false)?;
        self.plans.push(Plan {
            ops: coalesce(ops),
            old_size: o.size,
            new_size: n.size,
            identical: false,
            fixups_start: 0,
        });
        Ok((self.plans.len() - 1) as PlanId)
    }

    /// Where byte `off` of an old value lives in the converted new value: an
    /// interior pointer to old field f points to new field f. `None` when
    /// that part no longer exists.
    /// One type of the old program, seen through two ids: the same
    /// definition, or a struct and its forward declaration (size 0).
    fn same_named(a: &TypeDef, b: &TypeDef) -> bool {
        std::ptr::eq(a, b) || (!a.name.is_empty() && a.name == b.name)
    }

    /// `map_offset` for a pointer whose type says what it points at: an
    /// `int *` to a struct's first field has the struct's own address, and
    /// must follow that field, not the struct, when the field moves. With
    /// no pointee, or one that is the object's own type or bytes, this is
    /// `map_offset`.
    pub fn map_offset_as(
        &self,
        old_id: TypeId,
        new_id: TypeId,
        off: u64,
        pointee: Option<TypeId>,
    ) -> Option<u64> {
        let Some(p) = pointee else {
            return self.map_offset(old_id, new_id, off);
        };
        let (Some(o), Some(n), Some(pt)) = (
            self.old.resolve(old_id),
            self.new.resolve(new_id),
            self.old.resolve(p),
        ) else {
            return self.map_offset(old_id, new_id, off);
        };
        let is_bytes = matches!(
            pt.kind,
            TypeKind::Void
                | TypeKind::Base {
                    encoding: BaseEncoding::SignedChar | BaseEncoding::UnsignedChar
                }
        );
        if is_bytes || Self::same_named(o, pt) {
            return self.map_offset(old_id, new_id, off);
        }
        match (&o.kind, &n.kind) {
            (TypeKind::Struct { fields: of, .. }, TypeKind::Struct { fields: nf, .. })
            | (TypeKind::Union { fields: of, .. }, TypeKind::Union { fields: nf, .. }) => {
                let covering = |f: &&Field| {
                    let size = self.old.resolve(f.ty).map_or(0, |t| t.size);
                    !f.name.is_empty() && f.offset <= off && off < f.offset + size.max(1)
                };
                // Union members all start at 0: prefer the one of the
                // pointer's type.
                let same_as_pointee = |f: &&Field| {
                    self.old
                        .resolve(f.ty)
                        .is_some_and(|t| Self::same_named(t, pt))
                };
                let f = of
                    .iter()
                    .filter(covering)
                    .find(same_as_pointee)
                    .or_else(|| of.iter().find(covering));
                let Some(f) = f else {
                    return self.map_offset(old_id, new_id, off);
                };
                let g = nf
                    .iter()
                    .find(|g| self.tf.old_field_name(&n.name, &g.name) == f.name)?;
                if f.bit_size.is_some() || g.bit_size.is_some() {
                    return (off == f.offset).then_some(g.offset);
                }
                Some(g.offset + self.map_offset_as(f.ty, g.ty, off - f.offset, pointee)?)
            }
            (TypeKind::Array { element: oe, .. }, TypeKind::Array { element: ne, count: nc }) => {
                let os = self.old.resolve(*oe)?.size.max(1);
                let ns = self.new.resolve(*ne)?.size;
                let (idx, rem) = (off / os, off % os);
                if nc.is_some_and(|c| idx >= c) {
                    return None;
                }
                Some(idx * ns + self.map_offset_as(*oe, *ne, rem, pointee)?)
            }
            _ => self.map_offset(old_id, new_id, off),
        }
    }

    pub fn map_offset(&self, old_id: TypeId, new_id: TypeId, off: u64) -> Option<u64> {
        let o = self.old.resolve(old_id)?;
        let n = self.new.resolve(new_id)?;
        if off == 0 {
            return Some(0);
        }
        if off == o.size {
            return Some(n.size);
        }
        if self.same_layout(old_id, new_id) {
            return Some(off);
        }
        match (&o.kind, &n.kind) {
            (TypeKind::Struct { fields: of, .. }, TypeKind::Struct { fields: nf, .. })
            | (TypeKind::Union { fields: of, .. }, TypeKind::Union { fields: nf, .. }) => {
                let f = of.iter().filter(|f| !f.name.is_empty()).find(|f| {
                    let size = self.old.resolve(f.ty).map_or(0, |t| t.size);
                    f.offset <= off && off < f.offset + size.max(1)
                })?;
                let g = nf
                    .iter()
                    .find(|g| self.tf.old_field_name(&n.name, &g.name) == f.name)?;
                if f.bit_size.is_some() || g.bit_size.is_some() {
                    return (off == f.offset).then_some(g.offset);
                }
                Some(g.offset + self.map_offset(f.ty, g.ty, off - f.offset)?)
            }
            (
                TypeKind::Array { element: oe, .. },
                TypeKind::Array {
                    element: ne,
                    count: nc,
                },
            ) => {
                let os = self.old.resolve(*oe)?.size.max(1);
                let ns = self.new.resolve(*ne)?.size;
                let (idx, rem) = (off / os, off % os);
                if nc.is_some_and(|c| idx >= c) {
                    return None;
                }
                Some(idx * ns + self.map_offset(*oe, *ne, rem)?)
            }
            _ => (off < n.size).then_some(off),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sidecar(fields: Vec<(&str, TypeId, u64)>, size: u64) -> Sidecar {
        let t = |id, name: &str, size, kind| TypeDef {
            id,
            name: name.into(),
            size,
            kind,
        };
        let fields = fields
            .into_iter()
            .map(|(name, ty, offset)| Field {
                name: name.into(),
                ty,
                offset,
                bit_offset: None,
                bit_size: None,
            })
            .collect();
        Sidecar {
            types: vec![
                t(
                    0,
                    "int",
                    4,
                    TypeKind::Base {
                        encoding: BaseEncoding::Signed,
                    },
                ),
                t(1, "char *", 8, TypeKind::Pointer { pointee: None }),
                t(
                    2,
                    "long",
                    8,
                    TypeKind::Base {
                        encoding: BaseEncoding::Signed,
                    },
                ),
                t(
                    3,
                    "struct s",
                    size,
                    TypeKind::Struct {
                        fields,
                        declaration: false,
                    },
                ),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn unchanged_type_is_one_copy_plus_pointer_fixups() {
        // `long` may hold an address: traced, not remapped.
        let s = sidecar(vec![("a", 0, 0), ("p", 1, 8), ("b", 2, 16)], 24);
        let tf = Transform::default();
        let mut m = TypeMap::new(&s, &s, &tf);
        let id = m.plan(3, 3).unwrap();
        let plan = &m.plans[id as usize];
        assert!(plan.identical);
        assert!(
            matches!(
                plan.ops[..],
                [
                    Op::Copy {
                        old: 0,
                        new: 0,
                        len: 24
                    },
                    Op::Pointer { old: 8, new: 8, pointee: None },
                    Op::Trace {
                        old: 16,
                        new: 16,
                        len: 8
                    }
                ]
            ),
            "{:?}",
            plan.ops
        );
    }

    #[test]
    fn adjacent_unchanged_fields_become_one_copy() {
        let old = sidecar(vec![("a", 0, 0), ("c", 0, 4), ("b", 2, 8)], 16);
        let new = sidecar(vec![("a", 0, 0), ("c", 0, 4), ("b", 0, 8)], 12);
        let tf = Transform::default();
        let mut m = TypeMap::new(&old, &new, &tf);
        let id = m.plan(3, 3).unwrap();
        let plan = &m.plans[id as usize];
        assert!(!plan.identical);
        assert!(
            matches!(
                plan.ops[..],
                [
                    Op::Copy {
                        old: 0,
                        new: 0,
                        len: 8
                    },
                    Op::Scalar { .. }
                ]
            ),
            "{:?}",
            plan.ops
        );
    }

    #[test]
    fn plans_are_compiled_once_per_pair() {
        let s = sidecar(vec![("a", 0, 0)], 4);
        let tf = Transform::default();
        let mut m = TypeMap::new(&s, &s, &tf);
        let first = m.plan(3, 3).unwrap();
        assert_eq!(m.plan(3, 3).unwrap(), first);
        assert_eq!(m.plans.len(), 1);
    }
}
