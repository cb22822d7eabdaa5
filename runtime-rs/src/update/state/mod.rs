//! The old process's state as it hands it to the new one: a binary image
//! in a memfd, written once after quiescence (`capture`) and mapped
//! read-only by the new process (`Blob`).
//!
//! Why a memfd and not the update channel: the heap object list of a large
//! program is tens of megabytes; a memfd is written once and mapped, never
//! parsed line by line, and works when the old process is not dumpable
//! (nobody reads its memory but itself).
//!
//! Layout: magic, then sections `tag u32 | 0 u32 | len u64 | bytes`, each
//! padded to 8 bytes. All integers little-endian (both sides are the same
//! machine). Unknown tags are skipped.

pub mod capture;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::epoll::Registration;

const MAGIC: &[u8; 8] = b"LUCCST02";
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

pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { buf: MAGIC.to_vec() }
    }

    /// Room for `bytes` more without reallocating (a heap's object list is
    /// tens of megabytes: growing by doubling would copy it again and again).
    pub fn reserve(&mut self, bytes: usize) {
        self.buf.reserve(bytes);
    }

    fn header(&mut self, tag: u32, len: usize) {
        self.buf.extend_from_slice(&tag.to_le_bytes());
        self.buf.extend_from_slice(&0u32.to_le_bytes());
        self.buf.extend_from_slice(&(len as u64).to_le_bytes());
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(8) {
            self.buf.push(0);
        }
    }

    pub fn section(&mut self, tag: u32, bytes: &[u8]) {
        self.header(tag, bytes.len());
        self.buf.extend_from_slice(bytes);
        self.pad();
    }

    /// `bias`, then each segment as `addr u64 | len u64 | writable u64 | bytes`.
    pub fn memory(&mut self, tag: u32, bias: u64, segments: &[(u64, bool, &[u8])]) {
        let mut body = Vec::new();
        body.extend_from_slice(&bias.to_le_bytes());
        body.extend_from_slice(&(segments.len() as u64).to_le_bytes());
        for (addr, w, bytes) in segments {
            body.extend_from_slice(&addr.to_le_bytes());
            body.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            body.extend_from_slice(&(*w as u64).to_le_bytes());
            body.extend_from_slice(bytes);
            while !body.len().is_multiple_of(8) {
                body.push(0);
            }
        }
        self.section(tag, &body);
    }

    pub fn objects(&mut self, objs: &[ObjectEntry]) {
        self.objects_with(objs.len(), |out| out.copy_from_slice(objs));
    }

    /// The object section, `n` entries written by `fill` in place.
    pub fn objects_with(&mut self, n: usize, fill: impl FnOnce(&mut [ObjectEntry])) {
        let len = n * std::mem::size_of::<ObjectEntry>();
        self.header(TAG_OBJECTS, len);
        let at = self.buf.len();
        self.buf.resize(at + len, 0);
        assert_eq!(self.buf.as_ptr() as usize % 8, 0, "malloc's blocks are at least 8-aligned");
        // SAFETY: the buffer's heap block is 8-aligned past the 8-byte
        // magic and 16-byte section headers of 8-padded sections, and
        // ObjectEntry (8-aligned, no padding) accepts any bytes.
        let out = unsafe { std::slice::from_raw_parts_mut(self.buf.as_mut_ptr().add(at).cast::<ObjectEntry>(), n) };
        fill(out);
        self.pad();
    }

    /// The registry's shards: `nshards u64`, then per shard `free u64 |
    /// live u64 | bytes u64 | nslots u64 | slots`.
    pub fn registry(&mut self, shards: &[(u64, u64, u64, &[u64])]) {
        let len = 8 + shards.iter().map(|s| 32 + 8 * s.3.len()).sum::<usize>();
        self.header(TAG_REGISTRY, len);
        self.buf.extend_from_slice(&(shards.len() as u64).to_le_bytes());
        for (free, live, bytes, slots) in shards {
            for v in [*free, *live, *bytes, slots.len() as u64] {
                self.buf.extend_from_slice(&v.to_le_bytes());
            }
            // SAFETY: u64s as their bytes (little-endian machine, as
            // every integer of the image).
            self.buf.extend_from_slice(unsafe { std::slice::from_raw_parts(slots.as_ptr().cast::<u8>(), 8 * slots.len()) });
        }
        self.pad();
    }

    pub fn epoll(&mut self, regs: &[Registration]) {
        let mut body = Vec::with_capacity(regs.len() * 24);
        for r in regs {
            body.extend_from_slice(&r.epfd.to_le_bytes());
            body.extend_from_slice(&r.fd.to_le_bytes());
            body.extend_from_slice(&r.events.to_le_bytes());
            body.extend_from_slice(&0u32.to_le_bytes());
            body.extend_from_slice(&r.data.to_le_bytes());
        }
        self.section(TAG_EPOLL, &body);
    }

    /// Writes everything into a new memfd (close-on-exec: the spawner
    /// clears the flag in the child only).
    pub fn into_memfd(self) -> std::io::Result<OwnedFd> {
        // SAFETY: plain system calls on a descriptor we own.
        unsafe {
            let fd = libc::memfd_create(c"lucc-state".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut off = 0;
            while off < self.buf.len() {
                let n = libc::write(fd.as_raw_fd(), self.buf[off..].as_ptr().cast(), self.buf.len() - off);
                if n <= 0 {
                    return Err(std::io::Error::last_os_error());
                }
                off += n as usize;
            }
            Ok(fd)
        }
    }
}

/// The state as the new process reads it: a read-only mapping.
pub struct Blob {
    ptr: *const u8,
    len: usize,
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
    /// Maps the memfd `fd` (which is then closed).
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
            let b = Blob { ptr: p as *const u8, len };
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

    /// The registry's shard images, if the old process sent them.
    pub fn registry(&self) -> Result<Option<Vec<crate::registry::ShardImage<'_>>>, String> {
        let Some(b) = self.section(TAG_REGISTRY) else { return Ok(None) };
        let bad = || "state: corrupt registry image".to_string();
        let n = u64_at(b, 0).ok_or_else(bad)? as usize;
        let mut off = 8;
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let (free, live, bytes) = (u64_at(b, off).ok_or_else(bad)?, u64_at(b, off + 8).ok_or_else(bad)?, u64_at(b, off + 16).ok_or_else(bad)?);
            let k = u64_at(b, off + 24).ok_or_else(bad)? as usize;
            let body = b.get(off + 32..off + 32 + 8 * k).ok_or_else(bad)?;
            // SAFETY: 8-aligned (sections and fields are) u64s in the mapping.
            let slots = unsafe { std::slice::from_raw_parts(body.as_ptr().cast::<u64>(), k) };
            out.push(crate::registry::ShardImage { slots, free, live, bytes });
            off += 32 + 8 * k;
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
