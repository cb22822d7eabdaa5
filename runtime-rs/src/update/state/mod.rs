//! The old process's state as it hands it to the new one: a binary image
//! in a memfd, written once after quiescence (`capture`), straight into
//! memory allocated before it, and mapped read-only by the new process
//! (`Blob`).
//!
//! Why a memfd and not the update channel: the heap object list of a large
//! program is tens of megabytes; a memfd is written once and mapped, never
//! parsed line by line, and works when the old process is not dumpable
//! (nobody reads its memory but itself).
//!
//! Layout: magic, then sections `tag u32 | 0 u32 | len u64 | bytes`, each
//! padded to 8 bytes, up to an end section. All integers little-endian
//! (both sides are the same machine). Unknown tags are skipped.

pub mod capture;

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use crate::epoll::Registration;

const MAGIC: &[u8; 8] = b"LUCCST03";
pub const TAG_RECORD: u32 = 1;
pub const TAG_SIDECAR: u32 = 2;
pub const TAG_MEMORY: u32 = 3;
pub const TAG_OBJECTS: u32 = 4;
pub const TAG_EPOLL: u32 = 5;
pub const TAG_TRANSFORM: u32 = 6;
/// The heap registry's shards (`registry::ShardImage`): the new process
/// adopts them without writing a header. Optional: without it the new
/// process files every object itself. (7 is `ttst::TAG_TTST`.)
pub const TAG_REGISTRY: u32 = 8;
/// The end of the image: the memfd may be longer (room prepared for a
/// larger state), its tail all zeros.
const TAG_END: u32 = u32::MAX;

/// One heap object of the old process (its registry entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct ObjectEntry {
    pub addr: u64,
    pub size: u64,
    pub site: u32,
    pub offset: u32,
}

/// A segment of the old executable's memory, with its bytes.
pub struct OldSegment<'a> {
    pub addr: u64,
    pub writable: bool,
    pub bytes: &'a [u8],
}

/// The image being written: straight into a shared mapping of its memfd,
/// so nothing is built in memory first and then copied (on a heap of
/// millions of objects every fresh page costs: the image is tens of
/// megabytes).
pub struct Writer {
    fd: OwnedFd,
    map: *mut u8,
    /// Bytes mapped (and the memfd's length until `finish`).
    cap: usize,
    /// Bytes written.
    len: usize,
}

// SAFETY: the mapping is the writer's alone.
unsafe impl Send for Writer {}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.cap != 0 {
            // SAFETY: our own mapping.
            unsafe { libc::munmap(self.map.cast(), self.cap) };
        }
    }
}

pub const PAGE: usize = 4096;

fn os_error<T>() -> std::io::Result<T> {
    Err(std::io::Error::last_os_error())
}

impl Writer {
    /// An empty image, with `room` bytes allocated and mapped now: called
    /// before the program is stopped, so that writing the image later
    /// costs no page allocation inside the pause. The memfd is
    /// close-on-exec: the spawner clears the flag in the child only.
    pub fn with_room(room: usize) -> std::io::Result<Writer> {
        // SAFETY: plain system calls on a descriptor we own.
        unsafe {
            let fd = libc::memfd_create(c"lucc-state".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return os_error();
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let cap = room.max(MAGIC.len()).next_multiple_of(PAGE);
            // fallocate allocates the pages in one call; without it (a
            // kernel that refuses) they are allocated as they are written.
            if libc::fallocate(fd.as_raw_fd(), 0, 0, cap as i64) != 0 && libc::ftruncate(fd.as_raw_fd(), cap as i64) != 0 {
                return os_error();
            }
            let p = libc::mmap(
                std::ptr::null_mut(),
                cap,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            );
            if p == libc::MAP_FAILED {
                return os_error();
            }
            let mut w = Writer { fd, map: p.cast(), cap, len: 0 };
            w.put(MAGIC)?;
            Ok(w)
        }
    }

    pub fn new() -> std::io::Result<Writer> {
        Writer::with_room(1 << 20)
    }

    /// Bytes written so far: the offset of what is written next.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Room for `more` bytes past the end: the memfd grows (its new pages
    /// are allocated as they are written) and the mapping may move.
    pub fn reserve(&mut self, more: usize) -> std::io::Result<()> {
        let need = self.len + more;
        if need <= self.cap {
            return Ok(());
        }
        let cap = need.max(self.cap + self.cap / 2).next_multiple_of(PAGE);
        // SAFETY: our own memfd and mapping.
        unsafe {
            if libc::ftruncate(self.fd.as_raw_fd(), cap as i64) != 0 {
                return os_error();
            }
            let p = libc::mremap(self.map.cast(), self.cap, cap, libc::MREMAP_MAYMOVE);
            if p == libc::MAP_FAILED {
                return os_error();
            }
            self.map = p.cast();
        }
        self.cap = cap;
        Ok(())
    }

    /// `n` more bytes to fill in place (they read as zero until then).
    fn extend(&mut self, n: usize) -> std::io::Result<&mut [u8]> {
        self.reserve(n)?;
        let at = self.len;
        self.len += n;
        // SAFETY: inside our mapping; the memfd's pages are zero until
        // written, and the prepared room was never written before.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.map.add(at), n) })
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.extend(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    fn header(&mut self, tag: u32, len: usize) -> std::io::Result<()> {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&tag.to_le_bytes());
        h[8..16].copy_from_slice(&(len as u64).to_le_bytes());
        self.put(&h)
    }

    /// Zeroes up to the next multiple of `align` (the room may hold
    /// nothing but zeros, but a grown image's tail need not be written:
    /// writing is what allocates its pages, so padding is written too).
    fn pad_to(&mut self, align: usize) -> std::io::Result<()> {
        let n = self.len.next_multiple_of(align) - self.len;
        self.extend(n)?.fill(0);
        Ok(())
    }

    fn pad(&mut self) -> std::io::Result<()> {
        self.pad_to(8)
    }

    pub fn section(&mut self, tag: u32, bytes: &[u8]) -> std::io::Result<()> {
        self.header(tag, bytes.len())?;
        self.put(bytes)?;
        self.pad()
    }

    /// `bias`, then each segment as `addr u64 | len u64 | writable u64 | bytes`.
    pub fn memory(&mut self, tag: u32, bias: u64, segments: &[(u64, bool, &[u8])]) -> std::io::Result<()> {
        let len = 16 + segments.iter().map(|s| 24 + s.2.len().next_multiple_of(8)).sum::<usize>();
        self.header(tag, len)?;
        self.put(&bias.to_le_bytes())?;
        self.put(&(segments.len() as u64).to_le_bytes())?;
        for (addr, w, bytes) in segments {
            for v in [*addr, bytes.len() as u64, *w as u64] {
                self.put(&v.to_le_bytes())?;
            }
            self.put(bytes)?;
            self.pad()?;
        }
        Ok(())
    }

    /// The object section, `n` entries written in place by `fill`, which
    /// also sees the image written so far (the registry's slots, say).
    pub fn objects_with(&mut self, n: usize, fill: impl FnOnce(&[u8], &mut [ObjectEntry])) -> std::io::Result<()> {
        let len = n * std::mem::size_of::<ObjectEntry>();
        self.header(TAG_OBJECTS, len)?;
        let before = self.len;
        self.extend(len)?;
        // SAFETY: two disjoint parts of our mapping (`extend` may have
        // moved it, so both are taken after). The mapping is page-aligned,
        // sections start 8-aligned, and ObjectEntry (8-aligned, no
        // padding) accepts any bytes.
        let (image, out) = unsafe {
            (
                std::slice::from_raw_parts(self.map, before),
                std::slice::from_raw_parts_mut(self.map.add(before).cast::<ObjectEntry>(), n),
            )
        };
        fill(image, out);
        self.pad()
    }

    /// Starts the registry section: `nshards u64`, then per shard `free
    /// u64 | live u64 | bytes u64 | nslots u64 | offset u64`, then each
    /// shard's slots at `offset` (from the start of the image),
    /// page-aligned and padded to a page, so that the new process can map
    /// them rather than copy them. Each shard follows with
    /// [`Writer::registry_shard`], in order, then [`Writer::registry_end`].
    pub fn registry_start(&mut self, nshards: usize) -> std::io::Result<RegistrySection> {
        let head = self.len;
        self.header(TAG_REGISTRY, 0)?;
        let table = self.len;
        self.put(&(nshards as u64).to_le_bytes())?;
        self.extend(40 * nshards)?.fill(0);
        Ok(RegistrySection { head, table, nshards, shards: Vec::with_capacity(nshards) })
    }

    pub fn registry_shard(&mut self, sec: &mut RegistrySection, free: u64, live: u64, bytes: u64, slots: &[u64]) -> std::io::Result<()> {
        if sec.shards.len() == sec.nshards {
            return Err(std::io::Error::other("more registry shards than announced"));
        }
        self.pad_to(PAGE)?;
        let off = self.len;
        // SAFETY: u64s as their bytes (little-endian machine, as every
        // integer of the image).
        self.put(unsafe { std::slice::from_raw_parts(slots.as_ptr().cast::<u8>(), 8 * slots.len()) })?;
        self.pad_to(PAGE)?;
        let row = sec.table + 8 + 40 * sec.shards.len();
        let fields = [free, live, bytes, slots.len() as u64, off as u64];
        // SAFETY: the row was written by `registry_start`, inside the mapping.
        let dst = unsafe { std::slice::from_raw_parts_mut(self.map.add(row), 40) };
        for (d, v) in dst.chunks_exact_mut(8).zip(fields) {
            d.copy_from_slice(&v.to_le_bytes());
        }
        sec.shards.push((off, slots.len()));
        Ok(())
    }

    /// Ends the registry section; returns each shard's slots as (offset in
    /// the image, count).
    pub fn registry_end(&mut self, sec: RegistrySection) -> std::io::Result<Vec<(usize, usize)>> {
        if sec.shards.len() != sec.nshards {
            return Err(std::io::Error::other("fewer registry shards than announced"));
        }
        let len = (self.len - sec.table) as u64;
        // SAFETY: the section header written by `registry_start`.
        unsafe { std::slice::from_raw_parts_mut(self.map.add(sec.head + 8), 8) }.copy_from_slice(&len.to_le_bytes());
        Ok(sec.shards)
    }

    pub fn epoll(&mut self, regs: &[Registration]) -> std::io::Result<()> {
        self.header(TAG_EPOLL, regs.len() * 24)?;
        for r in regs {
            self.put(&r.epfd.to_le_bytes())?;
            self.put(&r.fd.to_le_bytes())?;
            self.put(&r.events.to_le_bytes())?;
            self.put(&0u32.to_le_bytes())?;
            self.put(&r.data.to_le_bytes())?;
        }
        Ok(())
    }

    /// The finished image's memfd, and the writer's mapping of it. The
    /// memfd keeps the room it was given: cutting it would free pages
    /// inside the pause, and the end section says where the image ends.
    pub fn finish(mut self) -> std::io::Result<(OwnedFd, Written)> {
        self.header(TAG_END, 0)?;
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: moved out of a value that is never used or dropped again.
        let fd = unsafe { std::ptr::read(&this.fd) };
        Ok((fd, Written { map: this.map, len: this.cap }))
    }
}

/// A finished image's mapping in the process that wrote it, unmapped when
/// dropped: tearing down the mapping of tens of megabytes takes
/// milliseconds, which the old process spends after the update rather
/// than inside it.
pub struct Written {
    map: *mut u8,
    len: usize,
}

// SAFETY: an inert mapping, only unmapped.
unsafe impl Send for Written {}

impl Drop for Written {
    fn drop(&mut self) {
        // SAFETY: the writer's mapping, which nothing uses any more.
        unsafe { libc::munmap(self.map.cast(), self.len) };
    }
}

/// Frees the pages of the image in `fd` but for the `keep` ranges
/// (offset, length), in order and page-aligned. The length stays: a
/// mapping of a kept range is unaffected; the rest reads as zeros.
pub fn punch_all_but(fd: &OwnedFd, keep: &[(usize, usize)]) {
    // SAFETY: fstat into a local, then hole punching in our own memfd.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut st) != 0 {
            return;
        }
        let mut from = 0;
        for &(off, len) in keep.iter().chain([&(st.st_size as usize, 0)]) {
            if off > from {
                // Failure only means the pages stay allocated.
                libc::fallocate(
                    fd.as_raw_fd(),
                    libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    from as i64,
                    (off - from) as i64,
                );
            }
            from = from.max(off + len);
        }
    }
}

/// A registry section being written (see [`Writer::registry_start`]).
pub struct RegistrySection {
    head: usize,
    table: usize,
    nshards: usize,
    shards: Vec<(usize, usize)>,
}

/// The state as the new process reads it: a read-only mapping, and the
/// memfd, kept open for the registry's slots (mapped on their own, see
/// [`Blob::registry`]).
pub struct Blob {
    ptr: *const u8,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: an immutable mapping.
unsafe impl Send for Blob {}
unsafe impl Sync for Blob {}

impl Drop for Blob {
    fn drop(&mut self) {
        // SAFETY: our own mapping.
        unsafe { libc::munmap(self.ptr as *mut _, self.len) };
    }
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

impl Blob {
    /// Maps the memfd `fd`, which the blob owns from now on.
    pub fn map(fd: OwnedFd) -> Result<Blob, String> {
        // SAFETY: fstat into a local, then a read-only private mapping.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd.as_raw_fd(), &mut st) != 0 {
                return Err(format!("state: {}", std::io::Error::last_os_error()));
            }
            let len = st.st_size as usize;
            if len < MAGIC.len() {
                return Err("state: truncated".into());
            }
            let p = libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, fd.as_raw_fd(), 0);
            if p == libc::MAP_FAILED {
                return Err(format!("state: mmap: {}", std::io::Error::last_os_error()));
            }
            let b = Blob { ptr: p as *const u8, len, fd };
            if &b.bytes()[..8] != MAGIC {
                return Err("state: not a lucc state image of this version".into());
            }
            Ok(b)
        }
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping lives as long as self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The first section with `tag`.
    pub fn section(&self, tag: u32) -> Option<&[u8]> {
        let b = self.bytes();
        let mut off = 8;
        while off + 16 <= b.len() {
            let t = u32_at(b, off)?;
            if t == TAG_END {
                return None;
            }
            let len = u64_at(b, off + 8)? as usize;
            let body = b.get(off + 16..off + 16 + len)?;
            if t == tag {
                return Some(body);
            }
            off += 16 + len.next_multiple_of(8);
        }
        None
    }

    /// (bias, segments) of a memory section.
    pub fn memory(&self, tag: u32) -> Result<(u64, Vec<OldSegment<'_>>), String> {
        let b = self.section(tag).ok_or("state: no memory image")?;
        let bad = || "state: corrupt memory image".to_string();
        let bias = u64_at(b, 0).ok_or_else(bad)?;
        let n = u64_at(b, 8).ok_or_else(bad)? as usize;
        let mut off = 16;
        let mut segs = Vec::with_capacity(n);
        for _ in 0..n {
            let addr = u64_at(b, off).ok_or_else(bad)?;
            let len = u64_at(b, off + 8).ok_or_else(bad)? as usize;
            let writable = u64_at(b, off + 16).ok_or_else(bad)? != 0;
            let bytes = b.get(off + 24..off + 24 + len).ok_or_else(bad)?;
            segs.push(OldSegment { addr, writable, bytes });
            off += 24 + len.next_multiple_of(8);
        }
        Ok((bias, segs))
    }

    pub fn objects(&self) -> &[ObjectEntry] {
        let Some(b) = self.section(TAG_OBJECTS) else { return &[] };
        let n = b.len() / std::mem::size_of::<ObjectEntry>();
        // SAFETY: sections are 8-aligned in a page-aligned mapping, and
        // ObjectEntry is plain old data.
        unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<ObjectEntry>(), n) }
    }

    /// The registry's shard images, if the old process sent them; each
    /// shard's slots are page-aligned in the memfd, which the images name
    /// so that the registry can map them instead of copying them.
    pub fn registry(&self) -> Result<Option<Vec<crate::registry::ShardImage<'_>>>, String> {
        let Some(b) = self.section(TAG_REGISTRY) else { return Ok(None) };
        let bad = || "state: corrupt registry image".to_string();
        let all = self.bytes();
        let n = u64_at(b, 0).ok_or_else(bad)? as usize;
        let mut out = Vec::with_capacity(n.min(1024));
        for i in 0..n {
            let row = 8 + 40 * i;
            let field = |k: usize| u64_at(b, row + 8 * k).ok_or_else(bad);
            let (free, live, bytes, k, off) = (field(0)?, field(1)?, field(2)?, field(3)? as usize, field(4)? as usize);
            let padded = k.checked_mul(8).ok_or_else(bad)?.next_multiple_of(PAGE);
            if !off.is_multiple_of(PAGE) || off.checked_add(padded).is_none_or(|end| end > all.len()) {
                return Err(bad());
            }
            // SAFETY: page-aligned u64s inside the mapping.
            let slots = unsafe { std::slice::from_raw_parts(all.as_ptr().add(off).cast::<u64>(), k) };
            out.push(crate::registry::ShardImage { slots, free, live, bytes, file: Some((self.fd.as_fd(), off as u64)) });
        }
        Ok(Some(out))
    }

    pub fn epoll(&self) -> Vec<Registration> {
        let Some(b) = self.section(TAG_EPOLL) else { return Vec::new() };
        b.chunks_exact(24)
            .map(|c| Registration {
                epfd: i32::from_le_bytes(c[0..4].try_into().unwrap()),
                fd: i32::from_le_bytes(c[4..8].try_into().unwrap()),
                events: u32::from_le_bytes(c[8..12].try_into().unwrap()),
                data: u64::from_le_bytes(c[16..24].try_into().unwrap()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image written into too little room (so it grows while written)
    /// reads back section by section, and a shard's slots come back
    /// page-aligned, with the memfd that holds them.
    #[test]
    fn image_grows_while_written_and_reads_back() {
        let slots: Vec<u64> = (0..3000u64).map(|i| if i % 3 == 0 { (i << 1) | 1 } else { 0x1000 * (i + 1) }).collect();
        let objs: Vec<ObjectEntry> = (0..1000u64).map(|i| ObjectEntry { addr: 16 * i, size: i, site: i as u32, offset: 0 }).collect();
        let mut w = Writer::with_room(100).unwrap();
        w.section(TAG_RECORD, b"record").unwrap();
        let mut sec = w.registry_start(2).unwrap();
        w.registry_shard(&mut sec, 7, 2000, 12345, &slots).unwrap();
        w.registry_shard(&mut sec, 1, 0, 0, &[]).unwrap();
        let at = w.registry_end(sec).unwrap();
        w.objects_with(objs.len(), |image, out| {
            // The fill sees the slots where the registry section put them.
            assert_eq!(&image[at[0].0..at[0].0 + 8], &slots[0].to_le_bytes());
            out.copy_from_slice(&objs);
        })
        .unwrap();
        w.section(TAG_TRANSFORM, b"").unwrap();
        let (fd, _written) = w.finish().unwrap();

        let blob = Blob::map(fd).unwrap();
        assert_eq!(blob.section(TAG_RECORD), Some(&b"record"[..]));
        assert_eq!(blob.section(TAG_TRANSFORM), Some(&b""[..]));
        assert_eq!(blob.section(TAG_EPOLL), None, "the end section ends the search");
        assert_eq!(blob.objects(), &objs[..]);
        let images = blob.registry().unwrap().unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!((images[0].free, images[0].live, images[0].bytes), (7, 2000, 12345));
        assert_eq!(images[0].slots, &slots[..]);
        assert!(images[1].slots.is_empty());
        let (_, offset) = images[0].file.unwrap();
        assert_eq!((offset as usize % PAGE, offset as usize), (0, at[0].0));
    }

    /// The kept ranges survive hole punching; the rest reads as zeros.
    #[test]
    fn punching_keeps_only_the_given_ranges() {
        let mut w = Writer::with_room(4 * PAGE).unwrap();
        let mut sec = w.registry_start(1).unwrap();
        w.registry_shard(&mut sec, 0, 600, 0, &[2u64; 600]).unwrap();
        let at = w.registry_end(sec).unwrap();
        w.section(TAG_RECORD, &[9u8; 3 * PAGE]).unwrap();
        let (fd, _written) = w.finish().unwrap();
        punch_all_but(&fd, &[(at[0].0, (8 * at[0].1).next_multiple_of(PAGE))]);
        let read = |off: usize, len: usize| {
            let mut b = vec![0xAAu8; len];
            // SAFETY: reads into a buffer of `len` bytes.
            assert_eq!(unsafe { libc::pread(fd.as_raw_fd(), b.as_mut_ptr().cast(), len, off as i64) }, len as isize);
            b
        };
        assert_eq!(read(0, 8), [0; 8], "the magic is punched");
        assert!(read(at[0].0 + PAGE * 2, PAGE).iter().all(|&x| x == 0), "the record is punched");
        assert!(read(at[0].0, 8 * 600).chunks_exact(8).all(|c| c == 2u64.to_le_bytes()), "the slots are kept");
    }
}
