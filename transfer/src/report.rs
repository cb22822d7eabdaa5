//! What a transfer did, in counts, for the update log and for `lucc diff`'s
//! prediction. Counting is part of the contract: an update that silently
//! kept a dangling pointer or dropped a field must at least show it here.

use std::collections::BTreeSet;

/// Remapped pointers by what they pointed at in the old process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PointerCounts {
    pub null: u64,
    /// Heap object that stays where it is: value unchanged.
    pub heap_unchanged: u64,
    /// Heap object rebuilt elsewhere: forwarded (interior offsets mapped).
    pub heap_forwarded: u64,
    pub global: u64,
    pub static_local: u64,
    pub function: u64,
    /// String literal found again in the new binary.
    pub rodata: u64,
    /// String literal not found in the new binary: value kept.
    pub rodata_unresolved: u64,
    /// Dangling or foreign: value kept.
    pub unknown: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub globals: u64,
    pub static_locals: u64,
    /// Heap objects converted (each element of an array block counts).
    pub objects: u64,
    /// Bytes written into new values.
    pub bytes: u64,
    pub pointers: PointerCounts,
    /// Words of untyped memory examined under the conservative policy.
    pub conservative_words: u64,
    /// Of those, words rewritten (exact function starts, old globals).
    pub conservative_rewritten: u64,
    /// `type.field` names added in the new version (zeroed or set).
    pub fields_added: BTreeSet<String>,
    /// `type.field` names of the old version with no new counterpart.
    pub fields_dropped: BTreeSet<String>,
    /// Dropped fields the transform file did not declare as intentional.
    pub fields_dropped_undeclared: BTreeSet<String>,
    /// Old globals and static locals with no new counterpart.
    pub variables_dropped: BTreeSet<String>,
    /// Dropped variables the transform file did not declare.
    pub variables_dropped_undeclared: BTreeSet<String>,
}

impl PointerCounts {
    fn absorb(&mut self, o: &PointerCounts) {
        self.null += o.null;
        self.heap_unchanged += o.heap_unchanged;
        self.heap_forwarded += o.heap_forwarded;
        self.global += o.global;
        self.static_local += o.static_local;
        self.function += o.function;
        self.rodata += o.rodata;
        self.rodata_unresolved += o.rodata_unresolved;
        self.unknown += o.unknown;
    }
}

impl Report {
    /// Adds another thread's counts (a parallel conversion's worker).
    pub fn absorb(&mut self, o: &Report) {
        self.globals += o.globals;
        self.static_locals += o.static_locals;
        self.objects += o.objects;
        self.bytes += o.bytes;
        self.pointers.absorb(&o.pointers);
        self.conservative_words += o.conservative_words;
        self.conservative_rewritten += o.conservative_rewritten;
        self.fields_added.extend(o.fields_added.iter().cloned());
        self.fields_dropped.extend(o.fields_dropped.iter().cloned());
        self.fields_dropped_undeclared.extend(o.fields_dropped_undeclared.iter().cloned());
        self.variables_dropped.extend(o.variables_dropped.iter().cloned());
        self.variables_dropped_undeclared.extend(o.variables_dropped_undeclared.iter().cloned());
    }
}
