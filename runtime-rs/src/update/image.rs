//! The running executable's memory image: its load bias and segments, as
//! the dynamic loader mapped them.
//!
//! Sidecar addresses are link addresses; runtime address = link address +
//! bias (zero for a fixed-address executable). The writable segments hold
//! every global and static local; the read-only, non-executable ones the
//! string literals.

use std::ffi::c_void;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Runtime address and length in memory.
    pub addr: u64,
    pub len: u64,
    pub writable: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Image {
    pub bias: u64,
    pub segments: Vec<Segment>,
}

impl Image {
    /// The writable segments (globals) and the read-only data ones (string
    /// literals); code is not part of the state.
    pub fn data_segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter()
    }

    pub fn segment_of(&self, addr: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| addr >= s.addr && addr < s.addr + s.len)
    }
}

unsafe extern "C" fn first_object(info: *mut libc::dl_phdr_info, _size: usize, data: *mut c_void) -> i32 {
    let out = &mut *(data as *mut Image);
    let info = &*info;
    out.bias = info.dlpi_addr;
    for i in 0..info.dlpi_phnum as usize {
        let ph = &*info.dlpi_phdr.add(i);
        if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_X != 0 || ph.p_memsz == 0 {
            continue;
        }
        out.segments.push(Segment {
            addr: info.dlpi_addr + ph.p_vaddr,
            len: ph.p_memsz,
            writable: ph.p_flags & libc::PF_W != 0,
        });
    }
    1 // the executable comes first; stop there
}

/// The main executable's image.
pub fn main_image() -> Image {
    let mut img = Image::default();
    // SAFETY: the callback only reads the loader's program headers.
    unsafe { libc::dl_iterate_phdr(Some(first_object), (&mut img as *mut Image).cast()) };
    img
}

/// Address ranges of this process that are writable now (after RELRO made
/// some of the writable segment read-only): `(start, end)`, sorted, with
/// adjacent mappings merged: a large `.bss` variable starts in the page
/// backed by the file and goes on in the anonymous mapping after it.
pub fn writable_ranges() -> Vec<(u64, u64)> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return Vec::new() };
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in maps
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (range, perms) = (f.next()?, f.next()?);
            if !perms.starts_with("rw") {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?))
        })
    {
        match merged.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => merged.push((a, b)),
        }
    }
    merged
}
