//! The static invariant model, shared by the invariant pass (which records
//! per-unit facts), the link step (which merges them into the sidecar's
//! invariants), the runtime (which checks a transferred state against
//! them) and the report.
//!
//! A *location* is a struct field (record name and byte offset: the pass
//! sees LLVM's names and offsets, the sidecar DWARF's; both agree on these
//! two) or a global / static local. For each location a unit records every
//! store it makes there ([`Store`]) and every way its address escapes
//! ([`Escape`]). The link step merges all units' facts: a location has an
//! invariant only if no unit lets its address escape and every value any
//! unit stores there is known ([`merge`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// More distinct constants than this and a set is no longer an invariant
/// a person would call one (a counter, an id): the location gets none.
pub const MAX_VALUES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// A field of every object of a struct type (`conn` for `struct conn`,
    /// the typedef name for an anonymous struct).
    Field { record: String, offset: u64 },
    /// A global or static local under its IR name (`counter`, or
    /// `next_id.counter` for a static local of `next_id`); `unit` is the
    /// defining source for internal-linkage ones, empty for external.
    Global { name: String, #[serde(default, skip_serializing_if = "String::is_empty")] unit: String },
}

impl Location {
    pub fn describe(&self) -> String {
        match self {
            Location::Field { record, offset } => format!("{record}+{offset}"),
            Location::Global { name, .. } => name.clone(),
        }
    }
}

/// What one store puts into a location.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// An integer constant (sign-extended from the stored width).
    Const(i64),
    /// `x = x | K`: sets flag bits.
    SetBits(u64),
    /// `x = x & K`: clears flag bits (never sets any).
    ClearBits(u64),
    /// `x = x + K` with K > 0: a counter that only grows (signed overflow
    /// is undefined in C, so it never wraps below its start).
    Increment(i64),
    /// The null pointer.
    Null,
    /// The address of a function.
    Function(String),
    /// The address of (or into) a global variable.
    Global(String),
    /// The address of a string literal (a private constant).
    StringLiteral,
    /// A fresh block from this allocation site.
    Site(u32),
    /// A value loaded from another location: whatever holds there holds
    /// here too.
    CopyOf(Location),
    /// Anything else, in words (`the result of lookupCommand`, `a parameter`).
    Unknown(String),
}

/// One store the program makes, and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Store {
    /// The function that stores, or `<initialiser of G>`, `<calloc>`.
    pub function: String,
    pub value: Value,
}

/// A way the program can write a location behind the analysis's back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Escape {
    pub function: String,
    /// In words: `address passed to read`, `address stored`, `ptrtoint`,
    /// `memcpy from an untyped source`.
    pub how: String,
}

/// The facts of one location in one unit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facts {
    pub stores: Vec<Store>,
    pub escapes: Vec<Escape>,
}

/// What the pass learned in one translation unit; carried in its fragment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UnitFacts {
    pub locations: Vec<(Location, Facts)>,
    /// Records whose objects this unit creates zero-filled (calloc,
    /// memset 0) or, whole, writes untyped (memcpy from bytes): every field
    /// of the record (and of records nested in it) gets the store.
    #[serde(default)]
    pub whole_records: Vec<(String, Store)>,
    #[serde(default)]
    pub record_escapes: Vec<(String, Escape)>,
}

impl UnitFacts {
    fn at(&mut self, loc: &Location) -> &mut Facts {
        match self.locations.iter().position(|(l, _)| l == loc) {
            Some(i) => &mut self.locations[i].1,
            None => {
                self.locations.push((loc.clone(), Facts::default()));
                &mut self.locations.last_mut().unwrap().1
            }
        }
    }
    pub fn store(&mut self, loc: &Location, function: &str, value: Value) {
        let s = Store { function: function.into(), value };
        let f = self.at(loc);
        if !f.stores.contains(&s) {
            f.stores.push(s);
        }
    }
    pub fn escape(&mut self, loc: &Location, function: &str, how: String) {
        let e = Escape { function: function.into(), how };
        let f = self.at(loc);
        if !f.escapes.contains(&e) {
            f.escapes.push(e);
        }
    }
    /// Sorted, so the fragment is the same for the same unit.
    pub fn normalise(&mut self) {
        self.locations.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, f) in &mut self.locations {
            f.stores.sort();
            f.escapes.sort();
        }
        self.whole_records.sort();
        self.whole_records.dedup();
        self.record_escapes.sort();
        self.record_escapes.dedup();
    }
}

/// Where a pointer may point.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Targets {
    #[serde(default)]
    pub null: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
    /// Globals by name; the pointer may point anywhere inside one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub globals: Vec<String>,
    #[serde(default)]
    pub string_literals: bool,
    /// Heap blocks of these allocation sites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<u32>,
}

/// What holds for a location in every state the program can reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Invariant {
    /// The value is one of these.
    OneOf { values: Vec<i64> },
    /// No bit outside `mask` is ever set.
    Flags { mask: u64 },
    /// A counter: never below `min`.
    AtLeast { min: i64 },
    /// A pointer into one of these.
    PointsTo(Targets),
}

impl Invariant {
    /// In words, for reports and violation messages (`one of {0, 1}`).
    pub fn describe(&self, site_name: &dyn Fn(u32) -> String) -> String {
        match self {
            Invariant::OneOf { values } => {
                format!("one of {{{}}}", values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))
            }
            Invariant::Flags { mask } => format!("flags within {mask:#x}"),
            Invariant::AtLeast { min } => format!(">= {min}"),
            Invariant::PointsTo(t) => {
                let mut parts = Vec::new();
                if t.null {
                    parts.push("NULL".to_string());
                }
                parts.extend(t.functions.iter().map(|f| format!("{f}()")));
                parts.extend(t.globals.iter().map(|g| format!("&{g}")));
                if t.string_literals {
                    parts.push("a string literal".into());
                }
                parts.extend(t.sites.iter().map(|s| site_name(*s)));
                format!("points to {}", parts.join(" | "))
            }
        }
    }

    /// Whether an integer value satisfies a scalar invariant.
    pub fn admits(&self, v: i64) -> bool {
        match self {
            Invariant::OneOf { values } => values.contains(&v),
            Invariant::Flags { mask } => (v as u64) & !mask == 0,
            Invariant::AtLeast { min } => v >= *min,
            Invariant::PointsTo(_) => true,
        }
    }
}

/// A location's merged result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Holds { invariant: Invariant },
    /// No invariant, and why (`address passed to read in load_config`).
    None { reason: String },
}

/// One location's merged result with the stores that established it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merged {
    pub verdict: Verdict,
    /// The functions whose stores establish it, sorted.
    pub established_by: Vec<String>,
}

/// Merges every unit's facts: `facts` holds all the stores and escapes of
/// each location, from all units. A location has an invariant only if it
/// never escapes and every store is understood, including the stores of
/// the locations it copies from (resolved to a fixpoint; a cycle of copies
/// adds nothing).
pub fn merge(facts: &BTreeMap<Location, Facts>) -> BTreeMap<Location, Merged> {
    let mut out = BTreeMap::new();
    for loc in facts.keys() {
        let mut stack = Vec::new();
        let m = merge_one(loc, facts, &mut stack);
        out.insert(loc.clone(), m);
    }
    out
}

#[derive(Default)]
struct Acc {
    consts: BTreeSet<i64>,
    set_bits: u64,
    clear: bool,
    increments: bool,
    targets: Targets,
    pointer: bool,
    by: BTreeSet<String>,
}

fn merge_one(loc: &Location, facts: &BTreeMap<Location, Facts>, stack: &mut Vec<Location>) -> Merged {
    let none = |reason: String, by: BTreeSet<String>| Merged { verdict: Verdict::None { reason }, established_by: by.into_iter().collect() };
    let Some(f) = facts.get(loc) else {
        return none("never stored by the program".into(), BTreeSet::new());
    };
    if let Some(e) = f.escapes.first() {
        let more = if f.escapes.len() > 1 { format!(" (and {} more)", f.escapes.len() - 1) } else { String::new() };
        return none(format!("its address escapes: {} in {}{more}", e.how, e.function), BTreeSet::new());
    }
    if f.stores.is_empty() {
        return none("never stored by the program".into(), BTreeSet::new());
    }
    stack.push(loc.clone());
    let mut acc = Acc::default();
    for s in &f.stores {
        acc.by.insert(s.function.clone());
        match &s.value {
            Value::Const(v) => {
                acc.consts.insert(*v);
            }
            Value::SetBits(m) => acc.set_bits |= m,
            Value::ClearBits(_) => acc.clear = true,
            Value::Increment(_) => acc.increments = true,
            Value::Null => {
                acc.pointer = true;
                acc.targets.null = true;
            }
            Value::Function(n) => {
                acc.pointer = true;
                acc.targets.functions.push(n.clone());
            }
            Value::Global(n) => {
                acc.pointer = true;
                acc.targets.globals.push(n.clone());
            }
            Value::StringLiteral => {
                acc.pointer = true;
                acc.targets.string_literals = true;
            }
            Value::Site(id) => {
                acc.pointer = true;
                acc.targets.sites.push(*id);
            }
            Value::CopyOf(other) => {
                // A copy of itself (or of a location being merged above
                // this one) adds no new value.
                if stack.contains(other) {
                    continue;
                }
                let m = merge_one(other, facts, stack);
                match m.verdict {
                    Verdict::None { reason } => {
                        stack.pop();
                        return none(
                            format!("{} copies {}, which has no invariant ({reason})", s.function, other.describe()),
                            acc.by,
                        );
                    }
                    Verdict::Holds { invariant } => {
                        acc.by.extend(m.established_by);
                        match invariant {
                            Invariant::OneOf { values } => acc.consts.extend(values),
                            Invariant::Flags { mask } => acc.set_bits |= mask,
                            Invariant::AtLeast { min } => {
                                acc.consts.insert(min);
                                acc.increments = true;
                            }
                            Invariant::PointsTo(t) => {
                                acc.pointer = true;
                                acc.targets.null |= t.null;
                                acc.targets.string_literals |= t.string_literals;
                                acc.targets.functions.extend(t.functions);
                                acc.targets.globals.extend(t.globals);
                                acc.targets.sites.extend(t.sites);
                            }
                        }
                    }
                }
            }
            Value::Unknown(what) => {
                stack.pop();
                return none(format!("{} stores {what}", s.function), acc.by);
            }
        }
    }
    stack.pop();
    let by = acc.by.clone();
    match finish(acc) {
        Ok(invariant) => Merged { verdict: Verdict::Holds { invariant }, established_by: by.into_iter().collect() },
        Err(reason) => none(reason, by),
    }
}

fn finish(mut acc: Acc) -> Result<Invariant, String> {
    let scalar = !acc.consts.is_empty() || acc.set_bits != 0 || acc.clear || acc.increments;
    if acc.pointer {
        // Zero is NULL when the location also holds pointers.
        if acc.consts.iter().any(|&c| c != 0) || acc.set_bits != 0 || acc.clear || acc.increments {
            return Err("holds both pointers and integers".into());
        }
        if acc.consts.contains(&0) {
            acc.targets.null = true;
        }
        let t = &mut acc.targets;
        t.functions.sort();
        t.functions.dedup();
        t.globals.sort();
        t.globals.dedup();
        t.sites.sort();
        t.sites.dedup();
        return Ok(Invariant::PointsTo(acc.targets));
    }
    if !scalar {
        return Err("never stored by the program".into());
    }
    if acc.increments {
        if acc.set_bits != 0 || acc.clear {
            return Err("both counted and used as flags".into());
        }
        let min = *acc.consts.iter().next().ok_or("incremented, never set to a known start")?;
        return Ok(Invariant::AtLeast { min });
    }
    if acc.set_bits != 0 || acc.clear {
        if acc.consts.iter().any(|&c| c < 0) {
            return Err("flags also set to a negative constant".into());
        }
        let mask = acc.consts.iter().fold(acc.set_bits, |m, &c| m | c as u64);
        return Ok(Invariant::Flags { mask });
    }
    if acc.consts.len() > MAX_VALUES {
        return Err(format!("more than {MAX_VALUES} distinct constants stored"));
    }
    Ok(Invariant::OneOf { values: acc.consts.into_iter().collect() })
}

/// A field as the sidecar names it, with its merged result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldInvariant {
    /// The C spelling of the record (`struct conn`).
    pub record: String,
    pub field: String,
    pub offset: u64,
    /// Bytes of the field.
    pub size: u64,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub established_by: Vec<String>,
}

/// A global or static local with its merged result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableInvariant {
    pub name: String,
    /// For static locals, the enclosing function.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub function: String,
    pub unit: String,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub established_by: Vec<String>,
}

/// How much of the state has an invariant: scalar and pointer fields of
/// the program's structs, and scalar and pointer globals and static locals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Coverage {
    pub fields: u64,
    pub fields_with_invariant: u64,
    pub variables: u64,
    pub variables_with_invariant: u64,
}

impl Coverage {
    pub fn percent(&self) -> f64 {
        let all = self.fields + self.variables;
        if all == 0 {
            return 0.0;
        }
        100.0 * (self.fields_with_invariant + self.variables_with_invariant) as f64 / all as f64
    }
}

/// The program's invariants, as the sidecar carries them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProgramInvariants {
    pub fields: Vec<FieldInvariant>,
    pub variables: Vec<VariableInvariant>,
    pub coverage: Coverage,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(o: u64) -> Location {
        Location::Field { record: "conn".into(), offset: o }
    }

    fn facts(stores: &[(&str, Value)], escapes: &[(&str, &str)]) -> Facts {
        Facts {
            stores: stores.iter().map(|(f, v)| Store { function: f.to_string(), value: v.clone() }).collect(),
            escapes: escapes.iter().map(|(f, h)| Escape { function: f.to_string(), how: h.to_string() }).collect(),
        }
    }

    #[test]
    fn constants_flags_counters_and_escapes() {
        let mut all = BTreeMap::new();
        all.insert(field(0), facts(&[("a", Value::Const(0)), ("b", Value::Const(1))], &[]));
        all.insert(field(4), facts(&[("a", Value::Const(0)), ("b", Value::SetBits(2)), ("c", Value::ClearBits(!2))], &[]));
        all.insert(field(8), facts(&[("a", Value::Const(0)), ("b", Value::Increment(1))], &[]));
        all.insert(field(12), facts(&[("a", Value::Const(0))], &[("reader", "address passed to read")]));
        all.insert(field(16), facts(&[("a", Value::Const(3)), ("b", Value::Unknown("a parameter".into()))], &[]));
        let m = merge(&all);
        assert_eq!(m[&field(0)].verdict, Verdict::Holds { invariant: Invariant::OneOf { values: vec![0, 1] } });
        assert_eq!(m[&field(0)].established_by, ["a", "b"]);
        assert_eq!(m[&field(4)].verdict, Verdict::Holds { invariant: Invariant::Flags { mask: 2 } });
        assert_eq!(m[&field(8)].verdict, Verdict::Holds { invariant: Invariant::AtLeast { min: 0 } });
        match &m[&field(12)].verdict {
            Verdict::None { reason } => assert!(reason.contains("address passed to read in reader"), "{reason}"),
            v => panic!("{v:?}"),
        }
        match &m[&field(16)].verdict {
            Verdict::None { reason } => assert_eq!(reason, "b stores a parameter"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn copies_take_the_source_invariant_and_cycles_add_nothing() {
        let mut all = BTreeMap::new();
        all.insert(field(0), facts(&[("init", Value::Null), ("push", Value::CopyOf(field(8)))], &[]));
        all.insert(field(8), facts(&[("mk", Value::Site(7)), ("pop", Value::CopyOf(field(0)))], &[]));
        let m = merge(&all);
        let want = Invariant::PointsTo(Targets { null: true, sites: vec![7], ..Default::default() });
        assert_eq!(m[&field(0)].verdict, Verdict::Holds { invariant: want.clone() });
        assert_eq!(m[&field(8)].verdict, Verdict::Holds { invariant: want });
        all.insert(field(16), facts(&[("x", Value::Unknown("a parameter".into()))], &[]));
        all.insert(field(24), facts(&[("y", Value::CopyOf(field(16)))], &[]));
        match &merge(&all)[&field(24)].verdict {
            Verdict::None { reason } => assert!(reason.starts_with("y copies conn+16"), "{reason}"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn admits() {
        assert!(Invariant::Flags { mask: 3 }.admits(2));
        assert!(!Invariant::Flags { mask: 3 }.admits(4));
        assert!(!Invariant::OneOf { values: vec![0, 1] }.admits(7));
        assert!(Invariant::AtLeast { min: 0 }.admits(5));
    }
}
