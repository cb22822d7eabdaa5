//! The check of a transferred state against the new version's static
//! invariants (docs/invariants.md), in the new process after the transfer
//! and before it reports ready: a violation fails the update, so the old
//! process resumes.
//!
//! It runs inside the update pause, so the sidecar's invariants are
//! compiled once into per-type plans (the checked leaves of a type, nested
//! structs inlined, arrays kept as loops over their element's plan) and an
//! object whose type has no invariant anywhere inside it is skipped without
//! being walked.

use std::collections::{HashMap, HashSet};

use lucc_abi::sidecar::{BaseEncoding, Sidecar, TypeId, TypeKind};
use lucc_invariants::{Invariant, Targets, Verdict};

/// Violations named in the failure message; the rest are counted.
const SHOWN: usize = 5;

/// A heap object as the check sees it: its block and allocation site.
#[derive(Debug, Clone, Copy)]
pub struct Object {
    pub addr: u64,
    pub size: u64,
    pub site: u32,
    /// Where the typed object starts inside the block (a wrapper's header).
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `global server`, `struct conn at 0x...`.
    pub object: String,
    /// `.flags`, `.db[2].encoding`; empty for a scalar variable itself.
    pub path: String,
    pub value: String,
    pub invariant: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{} = {}, but the invariant is: {}", self.object, self.path, self.value, self.invariant)
    }
}

#[derive(Debug, Default)]
pub struct Outcome {
    /// Scalars and pointers compared with an invariant.
    pub checked: u64,
    /// The first [`SHOWN`] violations.
    pub violations: Vec<Violation>,
    pub violation_count: u64,
}

impl Outcome {
    /// The failure message: the first few violations and how many in all.
    pub fn message(&self) -> Option<String> {
        if self.violation_count == 0 {
            return None;
        }
        let shown: Vec<String> = self.violations.iter().map(|v| v.to_string()).collect();
        let more = self.violation_count - self.violations.len() as u64;
        let tail = if more > 0 { format!("; and {more} more") } else { String::new() };
        Some(format!(
            "{} invariant violation{} in the transferred state ({} values checked): {}{tail}",
            self.violation_count,
            if self.violation_count == 1 { "" } else { "s" },
            self.checked,
            shown.join("; ")
        ))
    }
}

/// A pointer invariant's targets as addresses of this process.
struct Allowed {
    invariant: String,
    /// Sorted.
    functions: Vec<u64>,
    /// `[start, end]`: one past the end is a valid C pointer too.
    globals: Vec<(u64, u64)>,
    string_literals: bool,
    sites: HashSet<u32>,
    /// The types of the listed sites' objects.
    site_types: HashSet<TypeId>,
}

enum Leaf {
    Value { width: u64, signed: bool, invariant: usize },
    Pointer { allowed: usize },
}

enum Item {
    Leaf { offset: u64, path: String, leaf: Leaf },
    Array { offset: u64, path: String, element: TypeId, stride: u64, count: u64 },
}

pub struct Checker<'s> {
    sc: &'s Sidecar,
    bias: u64,
    /// Read-only data of this process (string literals).
    rodata: Vec<(u64, u64)>,
    /// Sorted by address.
    objects: Vec<Object>,
    /// Struct type -> its fields' invariants (offset -> invariant).
    fields: HashMap<TypeId, Vec<(u64, &'s Invariant)>>,
    scalars: Vec<&'s Invariant>,
    allowed: Vec<Allowed>,
    /// Per type: its items; empty: nothing to check inside it.
    plans: HashMap<TypeId, Vec<Item>>,
    out: Outcome,
}

fn site_name(sc: &Sidecar) -> impl Fn(u32) -> String + '_ {
    move |id| match sc.site(id) {
        Some(s) => format!("heap blocks of {} in {} ({}:{})", s.callee, s.function, s.file, s.line),
        None => format!("heap blocks of site {id:#x}"),
    }
}

/// The sites whose blocks a pointer stored from `sites` may hold. A site
/// that calls a wrapper (`dictCreate()` in main) hands out a block that the
/// runtime attributes to the wrapper's own allocation (`_dictAlloc` in
/// dictCreate) when the wrapper allocated more after it and the retag
/// could not tell; so every site inside the wrapper chain counts, to the
/// allocator.
fn wrapped_sites(sc: &Sidecar, sites: &[u32]) -> HashSet<u32> {
    let mut out: HashSet<u32> = sites.iter().copied().collect();
    let mut functions: HashSet<&str> = HashSet::new();
    let mut todo: Vec<&str> = Vec::new();
    for s in sites.iter().filter_map(|&id| sc.site(id)) {
        todo.push(&s.callee);
        todo.extend(s.via.iter().map(String::as_str));
    }
    while let Some(f) = todo.pop() {
        if !functions.insert(f) {
            continue;
        }
        for s in sc.sites.iter().filter(|s| s.function == f) {
            out.insert(s.id);
            todo.push(&s.callee);
        }
    }
    out
}

impl<'s> Checker<'s> {
    /// `bias`: this process's load bias; `rodata`: its read-only data
    /// segments (start, length); `objects`: its live heap objects.
    pub fn new(sc: &'s Sidecar, bias: u64, rodata: Vec<(u64, u64)>, mut objects: Vec<Object>) -> Checker<'s> {
        objects.sort_by_key(|o| o.addr);
        let mut by_record: HashMap<&str, Vec<(u64, &Invariant)>> = HashMap::new();
        if let Some(inv) = &sc.invariants {
            for f in &inv.fields {
                if let Verdict::Holds { invariant } = &f.verdict {
                    by_record.entry(f.record.as_str()).or_default().push((f.offset, invariant));
                }
            }
        }
        // The report names a record `struct T`, or by a typedef when the
        // struct has no tag: every struct type answers to both.
        let mut fields: HashMap<TypeId, Vec<(u64, &Invariant)>> = HashMap::new();
        if !by_record.is_empty() {
            for t in &sc.types {
                let (id, name) = match &t.kind {
                    TypeKind::Struct { declaration: false, .. } => (t.id, t.name.as_str()),
                    TypeKind::Typedef { target: Some(target) } => (*target, t.name.as_str()),
                    _ => continue,
                };
                if !matches!(sc.ty(id).map(|t| &t.kind), Some(TypeKind::Struct { declaration: false, .. })) {
                    continue;
                }
                if let Some(list) = by_record.get(name) {
                    let e = fields.entry(id).or_default();
                    for x in list {
                        if !e.iter().any(|(o, _)| *o == x.0) {
                            e.push(*x);
                        }
                    }
                }
            }
        }
        Checker { sc, bias, rodata, objects, fields, scalars: Vec::new(), allowed: Vec::new(), plans: HashMap::new(), out: Outcome::default() }
    }

    fn compile_allowed(&mut self, t: &Targets, inv: &Invariant) -> usize {
        let sc = self.sc;
        let var_range = |v: &lucc_abi::sidecar::Variable| (v.address + self.bias, v.address + self.bias + v.size);
        let mut functions: Vec<u64> =
            sc.functions.iter().filter(|f| t.functions.contains(&f.name)).map(|f| f.address + self.bias).collect();
        functions.sort_unstable();
        // The pass names a static local `function.name`.
        let globals = sc
            .globals
            .iter()
            .filter(|g| t.globals.contains(&g.name))
            .chain(sc.static_locals.iter().filter(|v| t.globals.iter().any(|n| *n == format!("{}.{}", v.function, v.name))))
            .map(var_range)
            .collect();
        self.allowed.push(Allowed {
            invariant: inv.describe(&site_name(sc)),
            functions,
            globals,
            string_literals: t.string_literals,
            sites: wrapped_sites(sc, &t.sites),
            site_types: t.sites.iter().filter_map(|&id| sc.site(id)?.ty).collect(),
        });
        self.allowed.len() - 1
    }

    /// The leaf for a scalar or pointer of type `ty` under `inv`.
    fn leaf(&mut self, ty: TypeId, inv: &'s Invariant) -> Option<Leaf> {
        let t = self.sc.resolve(ty)?;
        let signed = match &t.kind {
            TypeKind::Base { encoding } => matches!(encoding, BaseEncoding::Signed | BaseEncoding::SignedChar),
            TypeKind::Enum { underlying, enumerators } => match underlying.and_then(|u| self.sc.resolve(u)) {
                Some(u) => matches!(u.kind, TypeKind::Base { encoding: BaseEncoding::Signed | BaseEncoding::SignedChar }),
                None => enumerators.iter().any(|e| e.value < 0),
            },
            TypeKind::Pointer { .. } => {
                let Invariant::PointsTo(targets) = inv else { return None };
                if t.size != 8 {
                    return None;
                }
                return Some(Leaf::Pointer { allowed: self.compile_allowed(targets, inv) });
            }
            _ => return None,
        };
        if !matches!(t.size, 1 | 2 | 4 | 8) || matches!(inv, Invariant::PointsTo(_)) {
            return None;
        }
        self.scalars.push(inv);
        Some(Leaf::Value { width: t.size, signed, invariant: self.scalars.len() - 1 })
    }

    /// Compiles (once) what to check inside a value of type `ty`.
    fn plan(&mut self, ty: TypeId) -> bool {
        if let Some(p) = self.plans.get(&ty) {
            return !p.is_empty();
        }
        // A struct containing itself by value cannot exist; this guards
        // against a malformed sidecar.
        self.plans.insert(ty, Vec::new());
        let mut items = Vec::new();
        self.items(ty, 0, String::new(), &mut items, 0);
        let any = !items.is_empty();
        self.plans.insert(ty, items);
        any
    }

    fn items(&mut self, ty: TypeId, base: u64, path: String, out: &mut Vec<Item>, depth: u32) {
        if depth > 32 {
            return;
        }
        let sc = self.sc;
        let Some(t) = sc.resolve(ty) else { return };
        match &t.kind {
            TypeKind::Struct { fields, declaration: false } => {
                let invs = self.fields.get(&t.id).cloned().unwrap_or_default();
                for f in fields {
                    let fpath = format!("{path}.{}", if f.name.is_empty() { "<anonymous>" } else { &f.name });
                    if f.bit_size.is_some() {
                        continue;
                    }
                    if let Some((_, inv)) = invs.iter().find(|(o, _)| *o == f.offset) {
                        if let Some(leaf) = self.leaf(f.ty, inv) {
                            out.push(Item::Leaf { offset: base + f.offset, path: fpath, leaf });
                        }
                        continue;
                    }
                    self.items(f.ty, base + f.offset, fpath, out, depth + 1);
                }
            }
            TypeKind::Array { element, count: Some(count) } => {
                let Some(stride) = sc.resolve(*element).map(|e| e.size).filter(|&s| s > 0) else { return };
                if *count > 0 && self.plan(*element) {
                    out.push(Item::Array { offset: base, path, element: *element, stride, count: *count });
                }
            }
            _ => {}
        }
    }

    fn read(addr: u64, width: u64) -> u64 {
        let mut b = [0u8; 8];
        // SAFETY: callers pass addresses inside live variables and heap
        // objects of this process, bounds checked against their extent.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, b.as_mut_ptr(), width as usize) };
        u64::from_le_bytes(b)
    }

    /// The value, shown, if it breaks the invariant.
    fn check_value(&mut self, addr: u64, width: u64, signed: bool, inv: usize) -> Option<String> {
        self.out.checked += 1;
        let raw = Self::read(addr, width);
        let shift = 64 - 8 * width;
        let sext = ((raw << shift) as i64) >> shift;
        let inv = self.scalars[inv];
        // The pass records constants sign-extended from the stored width
        // whatever the C type (200 stored in an unsigned char is -56), so
        // an unsigned location also passes under that reading.
        // Zero is what the transfer gives a field the old version lacked
        // (and what a new object holds before the program sets it): the
        // state is the old version's, not one the new version's stores made.
        let ok = raw == 0 || if signed { inv.admits(sext) } else { inv.admits(raw as i64) || inv.admits(sext) };
        (!ok).then(|| if signed { sext.to_string() } else { raw.to_string() })
    }

    /// The live heap object whose block holds `p` (one past its end too).
    fn object_at(&self, p: u64) -> Option<&Object> {
        let i = self.objects.partition_point(|o| o.addr <= p).checked_sub(1)?;
        let o = &self.objects[i];
        (p <= o.addr + o.size).then_some(o)
    }

    fn pointer_ok(&self, a: &Allowed, p: u64) -> bool {
        if p == 0 {
            // As for scalars: an added field is NULL after the transfer.
            return true;
        }
        if a.functions.binary_search(&p).is_ok() || a.globals.iter().any(|&(s, e)| p >= s && p <= e) {
            return true;
        }
        if a.string_literals && self.rodata.iter().any(|&(s, l)| p >= s && p < s + l) {
            return true;
        }
        if let Some(o) = self.object_at(p) {
            // A block of a site this version does not know (not re-attributed
            // by the transfer) cannot be judged by its invariants.
            // The transfer attributes an object whose site the new version
            // lacks to one of its sites of the same type: the type decides.
            return match self.sc.site(o.site) {
                None => true,
                Some(s) => a.sites.contains(&o.site) || s.ty.is_some_and(|t| a.site_types.contains(&t)),
            };
        }
        false
    }

    /// The pointer, shown with what it points into, if it breaks the invariant.
    fn check_pointer(&mut self, addr: u64, allowed: usize) -> Option<String> {
        self.out.checked += 1;
        let p = Self::read(addr, 8);
        if self.pointer_ok(&self.allowed[allowed], p) {
            return None;
        }
        Some(if p == 0 {
            "NULL".to_string()
        } else if let Some(o) = self.object_at(p) {
            format!("{p:#x} (into a heap block of {})", site_name(self.sc)(o.site).trim_start_matches("heap blocks of "))
        } else if self.rodata.iter().any(|&(s, l)| p >= s && p < s + l) {
            format!("{p:#x} (read-only data)")
        } else {
            format!("{p:#x} (no live object, variable or function there)")
        })
    }

    fn describe_leaf(&self, leaf: &Leaf) -> String {
        match *leaf {
            Leaf::Value { invariant, .. } => self.scalars[invariant].describe(&site_name(self.sc)),
            Leaf::Pointer { allowed } => self.allowed[allowed].invariant.clone(),
        }
    }

    /// Checks one leaf at `addr`; names are built only for a violation.
    fn check_leaf(&mut self, leaf: &Leaf, addr: u64, object: &dyn Fn() -> String, path: &dyn Fn() -> String) {
        let bad = match *leaf {
            Leaf::Value { width, signed, invariant } => self.check_value(addr, width, signed, invariant),
            Leaf::Pointer { allowed } => self.check_pointer(addr, allowed),
        };
        if let Some(value) = bad {
            self.out.violation_count += 1;
            if self.out.violations.len() < SHOWN {
                let invariant = self.describe_leaf(leaf);
                self.out.violations.push(Violation { object: object(), path: path(), value, invariant });
            }
        }
    }

    /// Checks a value of type `ty` at `addr`, `extent` bytes of it readable.
    fn walk(&mut self, ty: TypeId, addr: u64, extent: u64, prefix: &dyn Fn() -> String, object: &dyn Fn() -> String) {
        if !self.plan(ty) {
            return;
        }
        let items = self.plans.remove(&ty).expect("planned");
        for item in &items {
            match item {
                Item::Leaf { offset, path, leaf } => {
                    let width = match leaf {
                        Leaf::Value { width, .. } => *width,
                        Leaf::Pointer { .. } => 8,
                    };
                    if offset + width <= extent {
                        self.check_leaf(leaf, addr + offset, object, &|| format!("{}{path}", prefix()));
                    }
                }
                Item::Array { offset, path, element, stride, count } => {
                    for i in 0..*count {
                        let at = offset + i * stride;
                        if at >= extent {
                            break;
                        }
                        self.walk(*element, addr + at, extent - at, &|| format!("{}{path}[{i}]", prefix()), object);
                    }
                }
            }
        }
        self.plans.insert(ty, items);
    }

    /// Globals and static locals: a scalar one against its own invariant,
    /// a struct or array one walked.
    pub fn check_variables(&mut self) {
        let sc = self.sc;
        let mut own: HashMap<(&str, &str, &str), &Invariant> = HashMap::new();
        if let Some(inv) = &sc.invariants {
            for v in &inv.variables {
                if let Verdict::Holds { invariant } = &v.verdict {
                    own.insert((v.name.as_str(), v.function.as_str(), v.unit.as_str()), invariant);
                }
            }
        }
        for v in sc.globals.iter().chain(&sc.static_locals) {
            let Some(ty) = v.ty else { continue };
            let addr = v.address + self.bias;
            let name = if v.function.is_empty() { v.name.clone() } else { format!("{}.{}", v.function, v.name) };
            let object = move || format!("variable {name}");
            if let Some(inv) = own.get(&(v.name.as_str(), v.function.as_str(), v.unit.as_str())) {
                let leaf = self.leaf(ty, inv);
                let width = match &leaf {
                    Some(Leaf::Value { width, .. }) => *width,
                    _ => 8,
                };
                if let Some(leaf) = leaf.filter(|_| width <= v.size) {
                    self.check_leaf(&leaf, addr, &object, &String::new);
                }
                continue;
            }
            self.walk(ty, addr, v.size, &String::new, &object);
        }
    }

    /// Every live heap object of a typed site whose type has invariants;
    /// a block larger than its type is an array of it.
    pub fn check_objects(&mut self) {
        let sc = self.sc;
        let mut site_types: HashMap<u32, Option<(TypeId, u64)>> = HashMap::new();
        for i in 0..self.objects.len() {
            let o = self.objects[i];
            let typed = *site_types.entry(o.site).or_insert_with(|| {
                let ty = sc.site(o.site)?.ty?;
                let size = sc.resolve(ty)?.size;
                (size > 0).then_some((ty, size))
            });
            let Some((ty, tsize)) = typed else { continue };
            if !self.plan(ty) {
                continue;
            }
            let start = o.addr + o.offset;
            let extent = o.size.saturating_sub(o.offset);
            let n = (extent / tsize).max(1);
            let tname = sc.ty(ty).map(|t| t.name.as_str()).unwrap_or_default();
            for k in 0..n {
                let at = start + k * tsize;
                let object = || {
                    if n > 1 {
                        format!("({tname})[{k}] at {at:#x}")
                    } else {
                        format!("{tname} at {at:#x}")
                    }
                };
                self.walk(ty, at, extent - k * tsize, &String::new, &object);
            }
        }
    }

    pub fn finish(self) -> Outcome {
        self.out
    }
}

/// The check of this process's state, as the update runs it after the
/// transfer: this binary's sidecar, its image, its live heap objects.
pub fn run(sc: &Sidecar) -> Result<Outcome, String> {
    if sc.invariants.is_none() {
        return Ok(Outcome::default());
    }
    let img = super::image::main_image();
    let rodata = img.segments.iter().filter(|s| !s.writable).map(|s| (s.addr, s.len)).collect();
    let objects = crate::registry::snapshot()
        .into_iter()
        .map(|o| Object { addr: o.addr as u64, size: o.size as u64, site: o.site, offset: u64::from(o.offset) })
        .collect();
    let mut c = Checker::new(sc, img.bias, rodata, objects);
    c.check_variables();
    c.check_objects();
    Ok(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lucc_abi::sidecar::{Field, Function, Site, TypeDef, Variable};
    use lucc_invariants::{Coverage, FieldInvariant, ProgramInvariants, VariableInvariant};

    fn ty(id: TypeId, name: &str, size: u64, kind: TypeKind) -> TypeDef {
        TypeDef { id, name: name.into(), size, kind }
    }

    fn field(name: &str, t: TypeId, offset: u64) -> Field {
        Field { name: name.into(), ty: t, offset, bit_offset: None, bit_size: None }
    }

    fn holds(record: &str, field: &str, offset: u64, invariant: Invariant) -> FieldInvariant {
        FieldInvariant { record: record.into(), field: field.into(), offset, size: 0, verdict: Verdict::Holds { invariant }, established_by: vec![] }
    }

    /// struct conn { int flags; unsigned char kind; struct conn *next; void (*cb)(void); }
    /// typedef struct { struct conn c[2]; } pool;  global `pool g`, global `int mode`.
    fn sidecar(vars_at: u64, mode_at: u64, cb: u64) -> Sidecar {
        let types = vec![
            ty(0, "int", 4, TypeKind::Base { encoding: BaseEncoding::Signed }),
            ty(1, "unsigned char", 1, TypeKind::Base { encoding: BaseEncoding::UnsignedChar }),
            ty(2, "struct conn", 24, TypeKind::Struct {
                fields: vec![field("flags", 0, 0), field("kind", 1, 4), field("next", 3, 8), field("cb", 5, 16)],
                declaration: false,
            }),
            ty(3, "struct conn *", 8, TypeKind::Pointer { pointee: Some(2) }),
            ty(4, "void (void)", 0, TypeKind::Function { ret: None, params: vec![], variadic: false }),
            ty(5, "void (*)(void)", 8, TypeKind::Pointer { pointee: Some(4) }),
            ty(6, "struct conn[2]", 48, TypeKind::Array { element: 2, count: Some(2) }),
            ty(7, "", 48, TypeKind::Struct { fields: vec![field("c", 6, 0)], declaration: false }),
            ty(8, "pool", 48, TypeKind::Typedef { target: Some(7) }),
        ];
        let inv = ProgramInvariants {
            fields: vec![
                holds("struct conn", "flags", 0, Invariant::Flags { mask: 3 }),
                holds("struct conn", "kind", 4, Invariant::OneOf { values: vec![0, 1, -56] }),
                holds("struct conn", "next", 8, Invariant::PointsTo(Targets { null: true, sites: vec![9], ..Default::default() })),
                holds("struct conn", "cb", 16, Invariant::PointsTo(Targets { functions: vec!["on_read".into()], ..Default::default() })),
            ],
            variables: vec![VariableInvariant {
                name: "mode".into(),
                function: String::new(),
                unit: "a.c".into(),
                verdict: Verdict::Holds { invariant: Invariant::AtLeast { min: 0 } },
                established_by: vec![],
            }],
            coverage: Coverage::default(),
        };
        let var = |name: &str, address: u64, size: u64, t: TypeId| Variable {
            name: name.into(),
            function: String::new(),
            unit: "a.c".into(),
            address,
            size,
            ty: Some(t),
            local_linkage: false,
        };
        Sidecar {
            types,
            globals: vec![var("g", vars_at, 48, 8), var("mode", mode_at, 4, 0)],
            functions: vec![Function { name: "on_read".into(), unit: "a.c".into(), address: cb, size: 16, local_linkage: false }],
            sites: vec![Site {
                id: 9,
                function: "mk".into(),
                file: "a.c".into(),
                line: 3,
                callee: "malloc".into(),
                via: vec![],
                offset: 0,
                ty: Some(2),
                ty_desc: String::new(),
            }],
            invariants: Some(inv),
            ..Default::default()
        }
    }

    fn conn(buf: &mut [u8], at: usize, flags: i32, kind: u8, next: u64, cb: u64) {
        buf[at..at + 4].copy_from_slice(&flags.to_le_bytes());
        buf[at + 4] = kind;
        buf[at + 8..at + 16].copy_from_slice(&next.to_le_bytes());
        buf[at + 16..at + 24].copy_from_slice(&cb.to_le_bytes());
    }

    struct State {
        pool: Vec<u8>,
        mode: Vec<u8>,
        heap: Vec<u8>,
    }

    impl State {
        fn new() -> State {
            State { pool: vec![0; 48], mode: vec![0; 4], heap: vec![0; 48] }
        }
        fn check(&self) -> Outcome {
            let cb = 0x1000;
            let (p, m, h) = (self.pool.as_ptr() as u64, self.mode.as_ptr() as u64, self.heap.as_ptr() as u64);
            let sc = sidecar(p, m, cb);
            // One block of site 9 holding two conns: an array.
            let objects = vec![Object { addr: h, size: 48, site: 9, offset: 0 }];
            let mut c = Checker::new(&sc, 0, vec![], objects);
            c.check_variables();
            c.check_objects();
            c.finish()
        }
    }

    #[test]
    fn a_state_within_the_invariants_passes_and_every_value_counts() {
        let mut s = State::new();
        let h = s.heap.as_ptr() as u64;
        conn(&mut s.pool, 0, 3, 1, h + 24, 0x1000);
        conn(&mut s.pool, 24, 0, 200, 0, 0x1000);
        conn(&mut s.heap, 0, 1, 0, 0, 0x1000);
        conn(&mut s.heap, 24, 2, 1, h, 0x1000);
        s.mode.copy_from_slice(&5i32.to_le_bytes());
        let out = s.check();
        assert_eq!(out.violation_count, 0, "{:?}", out.message());
        // 4 fields x 2 conns in the global, 2 in the heap block, and `mode`.
        assert_eq!(out.checked, 4 * 4 + 1);
    }

    #[test]
    fn violations_name_object_field_value_and_invariant() {
        let mut s = State::new();
        let h = s.heap.as_ptr() as u64;
        conn(&mut s.pool, 0, 3, 1, 0, 0x1000);
        conn(&mut s.pool, 24, 4, 1, 0, 0x1000); // a flag outside the mask
        conn(&mut s.heap, 0, 0, 7, 0, 0x1000); // kind outside its set
        conn(&mut s.heap, 24, 0, 1, h + 4096, 0x1008); // dangling; not a function's address
        s.mode.copy_from_slice(&(-1i32).to_le_bytes());
        let out = s.check();
        assert_eq!(out.violation_count, 5);
        let msg = out.message().unwrap();
        assert!(msg.contains("variable g.c[1].flags = 4, but the invariant is: flags within 0x3"), "{msg}");
        assert!(msg.contains("variable mode = -1, but the invariant is: >= 0"), "{msg}");
        assert!(msg.contains(&format!("(struct conn)[0] at {h:#x}.kind = 7, but the invariant is: one of {{0, 1, -56}}")), "{msg}");
        assert!(msg.contains("no live object, variable or function there"), "{msg}");
        assert!(msg.contains("points to NULL | heap blocks of malloc in mk (a.c:3)"), "{msg}");
        assert!(msg.contains(".cb = 0x1008"), "{msg}");
        assert!(msg.contains("points to on_read()"), "{msg}");
    }

    #[test]
    fn types_without_invariants_are_not_walked() {
        let mut sc = sidecar(0, 0, 0);
        sc.invariants.as_mut().unwrap().fields.clear();
        sc.invariants.as_mut().unwrap().variables.clear();
        // Addresses that would fault if read: nothing is.
        let mut c = Checker::new(&sc, 0, vec![], vec![Object { addr: 8, size: 48, site: 9, offset: 0 }]);
        c.check_variables();
        c.check_objects();
        let out = c.finish();
        assert_eq!((out.checked, out.violation_count), (0, 0));
    }
}
