//! In P3, after its transfer: P1's original state against the state that
//! came back, walked from the variables in parallel.
//!
//! - Globals and static locals by name (both processes run one binary,
//!   so one sidecar describes both; addresses differ by the load bias).
//! - Heap objects through pointers, typed or found in untyped words: a
//!   pointer into P1's object `a` must land at the same offset in some
//!   object `b` of P3, and `a -> b` must stay one-to-one over the whole
//!   walk (an object reached as two, or two merged into one, is a
//!   difference). Each pair is compared once, by the type of its
//!   allocation site, element by element for arrays of it.
//! - Scalars by value, bitfields by their bits; pointers into the
//!   program's data or code at the same place (modulo the load bias),
//!   string literals by content; pointers elsewhere (libc, stacks,
//!   mappings) are counted, not compared: they differ between processes.
//! - Objects no variable reaches are paired by type in address order and
//!   compared the same way; P1 objects left without a partner are lost.
//! - An integer word (`uintptr_t stash`) whose value points into one of
//!   P1's heap objects is compared through the object correspondence, as
//!   the transfer traced it; other integers by value.
//! - What the forward update drops by design (`dropped`) is counted, not
//!   compared: the round trip cannot bring it back.
//!
//! P1's state is read from its image (data segments, object list) and
//! from its heap memfd mapped read-only at an address of our choosing:
//! P3's own heap occupies P1's addresses.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

use lucc_abi::control::{ArenaHandover, TtstCounts};
use lucc_abi::sidecar::{BaseEncoding, Sidecar, TypeId, TypeKind};

use super::dropped::{self, Dropped, Drops};
use super::report::{self, Difference, MAX_DIFFERENCES};
use crate::update::image::{self, Segment};
use crate::update::state::{Blob, ObjectEntry, OldSegment, TAG_MEMORY, TAG_SIDECAR, TAG_TRANSFORM};

/// P1's heap memfd, mapped read-only.
struct HeapMap {
    base: u64,
    ptr: *const u8,
    len: usize,
}

impl HeapMap {
    fn map(a: ArenaHandover) -> Result<HeapMap, String> {
        // SAFETY: a read-only private mapping of an inherited memfd.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), a.len as usize, libc::PROT_READ, libc::MAP_PRIVATE, a.fd, 0) };
        if p == libc::MAP_FAILED {
            return Err(format!("mapping the old heap: {}", std::io::Error::last_os_error()));
        }
        Ok(HeapMap { base: a.base, ptr: p as *const u8, len: a.len as usize })
    }

    fn read(&self, addr: u64, len: u64) -> Option<&'_ [u8]> {
        let off = addr.checked_sub(self.base)? as usize;
        (off + len as usize <= self.len)
            // SAFETY: inside the mapping, which lives as long as self.
            .then(|| unsafe { std::slice::from_raw_parts(self.ptr.add(off), len as usize) })
    }
}

impl Drop for HeapMap {
    fn drop(&mut self) {
        // SAFETY: our own mapping.
        unsafe { libc::munmap(self.ptr as *mut _, self.len) };
    }
}

fn index_of(objects: &[ObjectEntry], addr: u64) -> Option<usize> {
    let i = objects.partition_point(|o| o.addr <= addr).checked_sub(1)?;
    let o = &objects[i];
    (addr < o.addr + o.size.max(1)).then_some(i)
}

fn typed(o: &ObjectEntry) -> (u64, u64) {
    (o.addr + u64::from(o.offset), o.size.saturating_sub(u64::from(o.offset)))
}

/// P1: its image and heap.
struct Old<'a> {
    bias: u64,
    segs: Vec<OldSegment<'a>>,
    objects: &'a [ObjectEntry],
    heap: &'a HeapMap,
}

impl<'a> Old<'a> {
    fn segment(&self, addr: u64) -> Option<&OldSegment<'a>> {
        self.segs.iter().find(|s| addr >= s.addr && addr < s.addr + s.bytes.len() as u64)
    }

    fn read(&self, addr: u64, len: u64) -> Option<&'a [u8]> {
        if let Some(b) = self.heap.read(addr, len) {
            return Some(b);
        }
        let bytes: &'a [u8] = self.segment(addr)?.bytes;
        let start = addr - self.segment(addr)?.addr;
        bytes.get(start as usize..(start + len) as usize)
    }

    fn cstr(&self, addr: u64) -> Option<&'a [u8]> {
        let s = self.segment(addr)?;
        let bytes: &'a [u8] = s.bytes;
        let rest = &bytes[(addr - s.addr) as usize..];
        Some(&rest[..rest.iter().position(|&b| b == 0)?])
    }
}

/// P3: this process.
struct New {
    bias: u64,
    segs: Vec<Segment>,
    objects: Vec<ObjectEntry>,
}

impl New {
    fn read(&self, addr: u64, len: u64) -> Option<&'static [u8]> {
        let inside = index_of(&self.objects, addr).map(|i| &self.objects[i]).is_some_and(|o| addr + len <= o.addr + o.size)
            || self.segs.iter().any(|s| addr >= s.addr && addr + len <= s.addr + s.len);
        // SAFETY: a live object or a loaded segment of this process.
        inside.then(|| unsafe { std::slice::from_raw_parts(addr as *const u8, len as usize) })
    }

    fn cstr(&self, addr: u64) -> Option<&'static [u8]> {
        let s = self.segs.iter().find(|s| !s.writable && addr >= s.addr && addr < s.addr + s.len)?;
        // SAFETY: a loaded read-only segment.
        let rest = unsafe { std::slice::from_raw_parts(addr as *const u8, (s.addr + s.len - addr) as usize) };
        Some(&rest[..rest.iter().position(|&b| b == 0)?])
    }
}

struct Walk<'a> {
    sc: &'a Sidecar,
    old: Old<'a>,
    new: New,
    /// Function (start, end, name), link addresses, sorted.
    functions: Vec<(u64, u64, &'a str)>,
    pointers_in: HashMap<TypeId, bool>,
    /// P1 object index -> P3 object index, and back.
    pairs: HashMap<usize, usize>,
    back: HashMap<usize, usize>,
    queue: VecDeque<(usize, usize, String)>,
    counts: TtstCounts,
    drops: Drops,
    /// Fields, variables and array elements left out by `drops`.
    dropped: u64,
    diffs: Vec<Difference>,
}

fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    w[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(w)
}

/// `path.field`, or `ptr->field` right after a dereference.
fn join(path: &str, field: &str) -> String {
    if path.ends_with("->") {
        format!("{path}{field}")
    } else {
        format!("{path}.{field}")
    }
}

fn shown(path: &str) -> String {
    match path.strip_suffix("->") {
        Some(p) => format!("*{p}"),
        None => path.to_string(),
    }
}

impl<'a> Walk<'a> {
    fn done(&self) -> bool {
        self.diffs.len() >= MAX_DIFFERENCES
    }

    fn differ(&mut self, path: &str, what: &str, before: String, after: String) {
        if !self.done() {
            self.diffs.push(Difference { path: shown(path), what: what.to_string(), before, after });
        }
    }

    fn size(&self, ty: TypeId) -> u64 {
        self.sc.resolve(ty).map(|t| t.size).unwrap_or(0)
    }

    fn type_name(&self, ty: Option<TypeId>) -> String {
        ty.and_then(|t| self.sc.ty(t)).map(|t| t.name.clone()).unwrap_or_else(|| "untyped memory".into())
    }

    fn has_pointers(&mut self, ty: TypeId) -> bool {
        if let Some(&p) = self.pointers_in.get(&ty) {
            return p;
        }
        // Cycles go through pointers, which answer before recursing.
        self.pointers_in.insert(ty, false);
        let p = match self.sc.resolve(ty).map(|t| t.kind.clone()) {
            Some(TypeKind::Pointer { .. }) => true,
            Some(TypeKind::Struct { fields, .. } | TypeKind::Union { fields, .. }) => fields.iter().any(|f| self.has_pointers(f.ty)),
            Some(TypeKind::Array { element, .. }) => self.has_pointers(element),
            _ => false,
        };
        self.pointers_in.insert(ty, p);
        p
    }

    fn function_at(&self, link: u64) -> Option<&'a str> {
        let i = self.functions.partition_point(|f| f.0 <= link).checked_sub(1)?;
        let f = self.functions[i];
        (link < f.1).then_some(f.2)
    }

    fn describe_new(&self, v: u64) -> String {
        if v == 0 {
            return "NULL".into();
        }
        match index_of(&self.new.objects, v) {
            Some(j) => {
                let o = &self.new.objects[j];
                let ty = self.sc.site(o.site).and_then(|s| s.ty);
                format!("{v:#x} (+{} in a {})", v - o.addr, self.type_name(ty))
            }
            None => format!("{v:#x}"),
        }
    }

    fn value(&mut self, ty: Option<TypeId>, o: &[u8], n: &[u8], path: &str, what: &str) {
        if self.done() {
            return;
        }
        let Some(t) = ty.and_then(|t| self.sc.resolve(t)) else { return self.untyped(o, n, path, what) };
        let size = t.size as usize;
        if size == 0 || size > o.len() || size > n.len() {
            return;
        }
        let (o, n) = (&o[..size], &n[..size]);
        match &t.kind {
            TypeKind::Base { encoding } => {
                let float = matches!(encoding, BaseEncoding::Float);
                if !float && size == 8 && index_of(self.old.objects, word(o)).is_some() {
                    // An address kept in an integer: the transfer traced it
                    // conservatively (rewritten if its object moved), so it
                    // is right if it leads to the corresponding object.
                    return self.pointer(word(o), word(n), path, what);
                }
                self.counts.values += 1;
                if o != n {
                    let signed = matches!(encoding, BaseEncoding::Signed | BaseEncoding::SignedChar);
                    self.differ(path, what, report::scalar(o, float, signed), report::scalar(n, float, signed));
                }
            }
            TypeKind::Enum { .. } => {
                self.counts.values += 1;
                if o != n {
                    self.differ(path, what, report::scalar(o, false, true), report::scalar(n, false, true));
                }
            }
            TypeKind::Pointer { .. } => self.pointer(word(o), word(n), path, what),
            TypeKind::Struct { fields, .. } => {
                let name = t.name.clone();
                for f in fields.clone() {
                    let fwhat = format!("{name}.{}", if f.name.is_empty() { "(anonymous)" } else { &f.name });
                    let fpath = if f.name.is_empty() { path.to_string() } else { join(path, &f.name) };
                    let cut = if f.name.is_empty() { None } else { self.drops.field(&name, &f.name) };
                    if cut == Some(Dropped::Whole) {
                        self.dropped += 1;
                        continue;
                    }
                    let off = f.offset as usize;
                    if let Some(bits) = f.bit_size {
                        let start = f.offset * 8 + f.bit_offset.unwrap_or(0);
                        let get = |b: &[u8]| -> u64 {
                            let mut v = 0u64;
                            for k in 0..bits.min(64) {
                                let bit = start + k;
                                if b.get((bit / 8) as usize).is_some_and(|byte| byte >> (bit % 8) & 1 == 1) {
                                    v |= 1 << k;
                                }
                            }
                            v
                        };
                        self.counts.values += 1;
                        let (a, b) = (get(o), get(n));
                        if a != b {
                            self.differ(&fpath, &fwhat, a.to_string(), b.to_string());
                        }
                        continue;
                    }
                    let fsize = self.size(f.ty) as usize;
                    if fsize == 0 || off + fsize > size {
                        continue;
                    }
                    self.value_cut(Some(f.ty), cut, &o[off..off + fsize], &n[off..off + fsize], &fpath, &fwhat);
                }
            }
            TypeKind::Union { fields, .. } => {
                let name = t.name.clone();
                if fields.clone().iter().any(|f| self.has_pointers(f.ty)) {
                    // Which member is live is not recorded: its words are
                    // compared as untyped memory.
                    self.untyped(o, n, path, &name);
                } else {
                    self.counts.values += 1;
                    if o != n {
                        self.differ(path, &name, format!("{o:02x?}"), format!("{n:02x?}"));
                    }
                }
            }
            TypeKind::Array { element, count } => {
                let (element, count) = (*element, count.unwrap_or(0));
                self.array(element, count, o, n, path, what);
            }
            _ => {}
        }
    }

    /// `value`, but for a field or variable of which the forward update
    /// keeps only the first elements (`cut`): those are compared, the rest
    /// counted as dropped.
    fn value_cut(&mut self, ty: Option<TypeId>, cut: Option<Dropped>, o: &[u8], n: &[u8], path: &str, what: &str) {
        let Some(Dropped::Tail(kept)) = cut else { return self.value(ty, o, n, path, what) };
        let t = ty.and_then(|t| self.sc.resolve(t));
        let Some(TypeKind::Array { element, count }) = t.map(|t| t.kind.clone()) else { return self.value(ty, o, n, path, what) };
        let count = count.unwrap_or(0);
        self.dropped += count.saturating_sub(kept);
        self.array(element, count.min(kept), o, n, path, what);
    }

    /// The first `count` elements of an array in `o` and `n`.
    fn array(&mut self, element: TypeId, count: u64, o: &[u8], n: &[u8], path: &str, what: &str) {
        let es = self.size(element) as usize;
        if es == 0 {
            return;
        }
        let cnt = (count as usize).min(o.len().min(n.len()) / es);
        if es == 1 && self.is_char(element) {
            return self.chars(element, &o[..cnt], &n[..cnt], path, what);
        }
        // Equal bytes are equal values unless some may be addresses, which
        // must lead to corresponding objects, not to the same numbers.
        if !self.has_pointers(element) && !self.has_integer_words(element) && o[..cnt * es] == n[..cnt * es] {
            self.counts.values += cnt as u64;
            return;
        }
        let base = shown(path);
        for k in 0..cnt {
            if self.done() {
                return;
            }
            self.value(Some(element), &o[k * es..(k + 1) * es], &n[k * es..(k + 1) * es], &format!("{base}[{k}]"), what);
        }
    }

    fn is_char(&self, ty: TypeId) -> bool {
        matches!(
            self.sc.resolve(ty).map(|t| (t.size, &t.kind)),
            Some((1, TypeKind::Base { encoding: BaseEncoding::SignedChar | BaseEncoding::UnsignedChar }))
        )
    }

    /// A char buffer: the transfer traces its aligned words (a pointer
    /// copied into it is rewritten if its object moved), so a word that
    /// points into one of P1's heap objects is compared as a pointer, the
    /// other bytes by value.
    fn chars(&mut self, element: TypeId, o: &[u8], n: &[u8], path: &str, what: &str) {
        let base = shown(path);
        let mut k = 0;
        while k < o.len() && !self.done() {
            let a = if k % 8 == 0 && k + 8 <= o.len() { word(&o[k..k + 8]) } else { 0 };
            if a != 0 && index_of(self.old.objects, a).is_some() {
                self.pointer(a, word(&n[k..k + 8]), &format!("{base}[{k}]"), what);
                k += 8;
                continue;
            }
            // Up to the next word, or the rest, compared as chars.
            let end = if k + 8 <= o.len() { (k + 8) & !7 } else { o.len() };
            if o[k..end] == n[k..end] {
                self.counts.values += (end - k) as u64;
            } else {
                for c in k..end {
                    self.value(Some(element), &o[c..c + 1], &n[c..c + 1], &format!("{base}[{c}]"), what);
                }
            }
            k = end;
        }
    }

    /// Whether `ty` holds a word-sized integer, which may keep an address
    /// (`value`'s Base case); unions are compared without looking inside.
    fn has_integer_words(&self, ty: TypeId) -> bool {
        match self.sc.resolve(ty).map(|t| (t.size, &t.kind)) {
            Some((8, TypeKind::Base { encoding })) => !matches!(encoding, BaseEncoding::Float),
            Some((_, TypeKind::Struct { fields, .. })) => fields.iter().any(|f| f.bit_size.is_none() && self.has_integer_words(f.ty)),
            Some((_, TypeKind::Array { element, .. })) => self.has_integer_words(*element),
            _ => false,
        }
    }

    /// Words that may or may not be pointers: those into P1's heap or
    /// image are followed like typed pointers, the rest compared as is.
    fn untyped(&mut self, o: &[u8], n: &[u8], path: &str, what: &str) {
        if o.len() != n.len() {
            self.differ(path, what, format!("{} bytes", o.len()), format!("{} bytes", n.len()));
            return;
        }
        let words = o.len() / 8;
        for k in 0..words {
            if self.done() {
                return;
            }
            let (a, b) = (word(&o[k * 8..]), word(&n[k * 8..]));
            let at = format!("{}+{}", shown(path), k * 8);
            if a != 0 && (index_of(self.old.objects, a).is_some() || self.old.segment(a).is_some()) {
                self.pointer(a, b, &at, what);
            } else {
                self.counts.values += 1;
                if a != b {
                    self.differ(&at, what, format!("{a:#x}"), format!("{b:#x}"));
                }
            }
        }
        let tail = words * 8;
        if o[tail..] != n[tail..] {
            self.differ(&format!("{}+{tail}", shown(path)), what, format!("{:02x?}", &o[tail..]), format!("{:02x?}", &n[tail..]));
        }
    }

    fn pointer(&mut self, o: u64, n: u64, path: &str, what: &str) {
        self.counts.values += 1;
        if o == 0 {
            if n != 0 {
                self.differ(path, what, "NULL".into(), self.describe_new(n));
            }
            return;
        }
        if let Some(i) = index_of(self.old.objects, o) {
            let from = self.old.objects[i];
            match index_of(&self.new.objects, n) {
                Some(j) if n - self.new.objects[j].addr == o - from.addr => self.pair(i, j, path),
                _ => {
                    let ty = self.sc.site(from.site).and_then(|s| s.ty);
                    let before = format!("{o:#x} (+{} in a {})", o - from.addr, self.type_name(ty));
                    self.differ(path, what, before, self.describe_new(n));
                }
            }
            return;
        }
        let link = o.wrapping_sub(self.old.bias);
        let same_place = link.wrapping_add(self.new.bias);
        if let Some(seg) = self.old.segment(o) {
            if n == same_place {
                return;
            }
            // A string literal may come back as another copy of the same
            // bytes: literals are matched by content in both directions.
            if !seg.writable && self.old.cstr(o).is_some_and(|a| self.new.cstr(n) == Some(a)) {
                return;
            }
            let name = self.variable_at(link).unwrap_or_else(|| "the program's data".into());
            self.differ(path, what, format!("{o:#x} ({name})"), self.describe_new(n));
            return;
        }
        if let Some(f) = self.function_at(link) {
            if n != same_place {
                let after = self.function_at(n.wrapping_sub(self.new.bias)).map(|g| format!("{n:#x} ({g})"));
                self.differ(path, what, format!("{o:#x} ({f})"), after.unwrap_or_else(|| self.describe_new(n)));
            }
            return;
        }
        self.counts.values -= 1;
        self.counts.foreign_pointers += 1;
    }

    fn variable_at(&self, link: u64) -> Option<String> {
        self.sc.globals.iter().chain(&self.sc.static_locals).find(|v| link >= v.address && link < v.address + v.size.max(1)).map(|v| {
            let off = link - v.address;
            let name = if v.function.is_empty() { v.name.clone() } else { format!("{}::{}", v.function, v.name) };
            if off == 0 { format!("&{name}") } else { format!("&{name}+{off}") }
        })
    }

    fn pair(&mut self, i: usize, j: usize, path: &str) {
        match (self.pairs.get(&i), self.back.get(&j)) {
            (Some(&k), _) if k == j => {}
            (Some(&k), _) => {
                let (a, b) = (self.new.objects[k].addr, self.new.objects[j].addr);
                self.differ(path, "an object's identity", format!("one object at {:#x}", self.old.objects[i].addr), format!("two objects, {a:#x} and {b:#x}"));
            }
            (None, Some(&k)) => {
                let (a, b) = (self.old.objects[k].addr, self.old.objects[i].addr);
                self.differ(path, "an object's identity", format!("two objects, {a:#x} and {b:#x}"), format!("one object at {:#x}", self.new.objects[j].addr));
            }
            (None, None) => {
                self.pairs.insert(i, j);
                self.back.insert(j, i);
                self.queue.push_back((i, j, path.to_string()));
            }
        }
    }

    fn object(&mut self, i: usize, j: usize, ptr_path: &str) {
        let (oo, nn) = (self.old.objects[i], self.new.objects[j]);
        self.counts.objects += 1;
        let ty = self.sc.site(oo.site).and_then(|s| s.ty);
        let new_ty = self.sc.site(nn.site).and_then(|s| s.ty);
        let name = self.type_name(ty);
        let path = format!("{ptr_path}->");
        if let (Some(_), Some(_)) = (ty, new_ty) {
            let new_name = self.type_name(new_ty);
            if new_name != name {
                return self.differ(&path, "the object's type", name, new_name);
            }
        }
        let ((ob, olen), (nb, nlen)) = (typed(&oo), typed(&nn));
        if olen != nlen {
            return self.differ(&path, &format!("the size of a {name}"), format!("{olen} bytes"), format!("{nlen} bytes"));
        }
        let (Some(o), Some(n)) = (self.old.read(ob, olen), self.new.read(nb, nlen)) else {
            return self.differ(&path, &name, format!("{olen} bytes at {ob:#x}"), "unreadable".into());
        };
        let es = ty.map(|t| self.size(t)).unwrap_or(0) as usize;
        if es == 0 {
            return self.untyped(o, n, &path, &name);
        }
        let cnt = (olen as usize / es).max(1);
        for k in 0..cnt {
            if self.done() {
                return;
            }
            let p = if cnt > 1 { format!("{ptr_path}[{k}]") } else { path.clone() };
            let (a, b) = (&o[(k * es).min(o.len())..], &n[(k * es).min(n.len())..]);
            self.value(ty, a, b, &p, &name);
        }
    }

    fn drain(&mut self) {
        while let Some((i, j, path)) = self.queue.pop_front() {
            if self.done() {
                return;
            }
            self.object(i, j, &path);
        }
    }

    fn object_type(&self, o: &ObjectEntry) -> String {
        self.type_name(self.sc.site(o.site).and_then(|s| s.ty))
    }

    /// Objects no variable reaches: by type, in address order.
    fn unreached(&mut self) {
        let mut old: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut new: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in (0..self.old.objects.len()).filter(|i| !self.pairs.contains_key(i)) {
            old.entry(self.object_type(&self.old.objects[i])).or_default().push(i);
        }
        for j in (0..self.new.objects.len()).filter(|j| !self.back.contains_key(j)) {
            new.entry(self.object_type(&self.new.objects[j])).or_default().push(j);
        }
        for (ty, olds) in old {
            let news = new.remove(&ty).unwrap_or_default();
            for (k, (&i, &j)) in olds.iter().zip(&news).enumerate() {
                if self.pairs.contains_key(&i) || self.back.contains_key(&j) {
                    continue;
                }
                self.counts.unreached += 1;
                self.pair(i, j, &format!("(unreached {ty} #{k})"));
                self.drain();
            }
            if olds.len() > news.len() {
                let missing = olds.len() - news.len();
                let at = self.old.objects[olds[news.len()]].addr;
                self.differ(
                    &format!("(unreached {ty} #{})", news.len()),
                    &format!("objects of {ty} reached from no variable"),
                    format!("{} (the first missing at {at:#x})", olds.len()),
                    format!("{} ({missing} lost)", news.len()),
                );
            }
            self.counts.extra_objects += news.len().saturating_sub(olds.len()) as u64;
        }
        self.counts.extra_objects += new.values().map(|v| v.len() as u64).sum::<u64>();
    }
}

/// Compares P1's state (descriptors inherited from P2) with this
/// process's, leaving out what the forward update dropped (`new_sidecar`:
/// the new version's type map). Err: the rollback message.
pub fn run(old_state_fd: RawFd, old_arena: ArenaHandover, new_sidecar: &[u8]) -> Result<TtstCounts, String> {
    let t0 = Instant::now();
    // SAFETY: inherited for this comparison alone; owned from here on.
    let blob = Blob::map(unsafe { OwnedFd::from_raw_fd(old_state_fd) })?;
    let heap = HeapMap::map(old_arena)?;
    // SAFETY: as above; the mapping keeps the memory.
    drop(unsafe { OwnedFd::from_raw_fd(old_arena.fd) });
    let sc = Sidecar::from_json("the old program's type map", blob.section(TAG_SIDECAR).unwrap_or_default()).map_err(|e| e.to_string())?;
    if sc.build_id != crate::update::build_id::get() {
        return Err(format!("the old process ran build {}, the round trip came back into build {}", sc.build_id, crate::update::build_id::get()));
    }
    let new_sc = Sidecar::from_json("the new version's type map", new_sidecar).map_err(|e| e.to_string())?;
    let forward = std::str::from_utf8(blob.section(TAG_TRANSFORM).unwrap_or_default()).map_err(|_| "ttst: the transform is not UTF-8")?;
    let forward = lucc_transfer::Transform::parse(forward).map_err(|e| format!("ttst: the transform: {e}"))?;
    let drops = dropped::decide(&sc, &new_sc, &forward);
    drop(new_sc);
    let (bias, segs) = blob.memory(TAG_MEMORY)?;
    let img = image::main_image();
    let mut objects = Vec::with_capacity(crate::registry::object_count());
    crate::registry::for_each_object(|o| {
        objects.push(ObjectEntry { addr: o.addr as u64, size: o.size as u64, site: o.site, offset: u32::from(o.offset) })
    });
    objects.sort_unstable_by_key(|o| o.addr);
    let mut functions: Vec<(u64, u64, &str)> = sc.functions.iter().map(|f| (f.address, f.address + f.size.max(1), f.name.as_str())).collect();
    functions.sort_unstable();
    let mut w = Walk {
        sc: &sc,
        old: Old { bias, segs, objects: blob.objects(), heap: &heap },
        new: New { bias: img.bias, segs: img.segments.clone(), objects },
        functions,
        pointers_in: HashMap::new(),
        pairs: HashMap::new(),
        back: HashMap::new(),
        queue: VecDeque::new(),
        counts: TtstCounts::default(),
        drops,
        dropped: 0,
        diffs: Vec::new(),
    };
    let vars: Vec<_> = sc.globals.iter().chain(&sc.static_locals).collect();
    for v in vars {
        if w.done() {
            break;
        }
        let name = if v.function.is_empty() { v.name.clone() } else { format!("{}::{}", v.function, v.name) };
        let cut = w.drops.variable(&name);
        if cut == Some(Dropped::Whole) {
            w.dropped += 1;
            continue;
        }
        let (Some(o), Some(n)) = (w.old.read(v.address + w.old.bias, v.size), w.new.read(v.address + w.new.bias, v.size)) else {
            continue;
        };
        w.counts.variables += 1;
        let what = match v.ty.and_then(|t| sc.ty(t)) {
            Some(t) => format!("{} ({})", name, t.name),
            None => name.clone(),
        };
        w.value_cut(v.ty, cut, o, n, &name, &what);
        w.drain();
    }
    if !w.done() {
        w.unreached();
    }
    if !w.diffs.is_empty() {
        return Err(report::message(&w.diffs, w.counts.values, w.dropped));
    }
    w.counts.dropped = w.dropped;
    w.counts.ms = t0.elapsed().as_millis() as u64;
    Ok(w.counts)
}
