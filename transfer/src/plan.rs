//! Compiled conversion plans: the flat op lists that `convert` executes.
//!
//! A plan is compiled once per (old type, new type) pair and then run for
//! every object of that pair, so all decisions (field matching, renames,
//! enum tables, what is a pointer) are taken at compile time and the ops
//! only move bytes. Nested structs are inlined into their parent's op list;
//! arrays of non-trivial elements refer to the element's plan. A plan for a
//! type whose layout did not change is one `Copy` followed by the pointer
//! fixups (`fixups_start` marks where they begin, so an array of such
//! elements inside an already copied parent runs only the fixups).

use lucc_abi::sidecar::TypeId;

use crate::transform::Constant;

/// Index of a plan in its `TypeMap`.
pub type PlanId = u32;

/// Where a scalar lives and how it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    /// Byte offset of the first byte holding the value.
    pub off: u64,
    /// Size of the value (or the bitfield's declared type) in bytes.
    pub size: u8,
    pub signed: bool,
    /// `_Bool`: only 0 and 1 are representable.
    pub boolean: bool,
    /// Bitfield position within the bytes at `off`; `width == 0` for a plain
    /// scalar.
    pub bit: u8,
    pub width: u8,
}

impl Loc {
    pub fn plain(off: u64, size: u8, signed: bool, boolean: bool) -> Loc {
        Loc {
            off,
            size,
            signed,
            boolean,
            bit: 0,
            width: 0,
        }
    }

    pub fn bits(&self) -> u32 {
        if self.boolean {
            1
        } else if self.width > 0 {
            u32::from(self.width)
        } else {
            u32::from(self.size) * 8
        }
    }

    /// Inclusive range of representable values.
    pub fn range(&self) -> (i128, i128) {
        let bits = self.bits();
        if self.signed && !self.boolean {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        }
    }

    pub fn at(self, base_old: u64) -> Loc {
        Loc {
            off: self.off + base_old,
            ..self
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Bytes as is.
    Copy { old: u64, new: u64, len: u64 },
    /// Integer, bool, enum or bitfield: read, map, range-check, write.
    Scalar {
        src: Loc,
        dst: Loc,
        map: Option<u32>,
        ctx: u32,
    },
    /// float <-> double.
    Float {
        old: u64,
        new: u64,
        from: u8,
        to: u8,
    },
    /// A typed pointer: remapped precisely. `pointee` (old sidecar) tells
    /// a pointer to an object from one to its first field.
    Pointer { old: u64, new: u64, pointee: Option<TypeId> },
    /// Untyped words (pointer-sized integers, char buffers, unions with an
    /// unknown active member): the conservative policy applies. The bytes
    /// were copied by an earlier op.
    Trace { old: u64, new: u64, len: u64 },
    /// A constant from the transform file.
    Set {
        dst: Loc,
        float: bool,
        value: Constant,
        ctx: u32,
    },
    /// `count` elements converted by `plan`.
    Array {
        old: u64,
        new: u64,
        count: u64,
        old_stride: u64,
        new_stride: u64,
        plan: PlanId,
        fixups_only: bool,
    },
    /// Truncated array elements must be zero.
    CheckZero {
        old: u64,
        len: u64,
        elem: u64,
        old_count: u64,
        new_count: u64,
        ctx: u32,
    },
    /// A union whose active member is chosen by a tag read from the old value.
    Switch {
        tag: Loc,
        old: u64,
        new: u64,
        cases: Box<[(i64, PlanId)]>,
        fallback: Option<PlanId>,
        ctx: u32,
        union: u32,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub ops: Vec<Op>,
    pub old_size: u64,
    pub new_size: u64,
    /// Same layout on both sides: `ops[0]` copies everything.
    pub identical: bool,
    pub fixups_start: usize,
}

impl Plan {
    pub fn has_fixups(&self) -> bool {
        self.ops.len() > self.fixups_start
    }
}

/// Merges copies of adjacent byte ranges so an unchanged run of fields is
/// one memcpy.
pub(crate) fn coalesce(ops: Vec<Op>) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::with_capacity(ops.len());
    for op in ops {
        if let (
            Op::Copy { old, new, len },
            Some(Op::Copy {
                old: po,
                new: pn,
                len: pl,
            }),
        ) = (&op, out.last_mut())
        {
            if *po + *pl == *old && *pn + *pl == *new {
                *pl += *len;
                continue;
            }
        }
        out.push(op);
    }
    out
}
