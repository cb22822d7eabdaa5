//! The old process's side: its state, written after quiescence.
//!
//! Everything here only reads the program's memory; the one thing created
//! is the memfd, which the old process closes once the new one has it.

use std::os::fd::OwnedFd;

use lucc_abi::control::ArenaHandover;
use lucc_abi::sidecar::Sidecar;

use lucc_abi::control::Phase;

use super::{ObjectEntry, Writer, Written, TAG_MEMORY, TAG_RECORD, TAG_SIDECAR, TAG_TRANSFORM};
use crate::header::{Header, HEADER_SIZE};
use crate::update::image;
use crate::update::phases::Phases;

/// Fills `out` with the objects whose headers `slots` (registry slots:
/// even words are live headers) name, in address order, in time linear in
/// the objects and the heap's length (a comparison sort of millions of
/// objects was a good part of the update's pause): a bitmap marks each
/// object's start (they are 16-byte aligned, distinct, inside
/// `[base, base + len)`); the headers are then read in address order, so
/// reads and writes both stream, and an object's place is the number of
/// starts below its own, which lets two threads fill the two halves.
/// Returns the objects' bytes.
fn objects_by_address(slots: &[&[u64]], base: u64, len: u64, out: &mut [ObjectEntry]) -> Result<u64, String> {
    let start = |v: u64| v + HEADER_SIZE as u64;
    let mut bits = vec![0u64; (len >> 4).div_ceil(64) as usize];
    let (mut foreign, mut unaligned, mut n) = (0u64, false, 0usize);
    for &v in slots.iter().flat_map(|s| s.iter()).filter(|&&v| v & 1 == 0) {
        n += 1;
        let addr = start(v);
        if addr < base || addr - base >= len {
            foreign += 1;
        } else if addr % 16 != 0 {
            unaligned = true;
        } else {
            let g = (addr - base) >> 4;
            bits[(g >> 6) as usize] |= 1 << (g & 63);
        }
    }
    if foreign != 0 {
        return Err(format!("{foreign} heap objects lie outside the runtime's heap range"));
    }
    if n != out.len() {
        return Err(format!("the registry counts {} live objects but holds {n}", out.len()));
    }
    if unaligned {
        let mut all: Vec<ObjectEntry> =
            slots.iter().flat_map(|s| s.iter()).filter(|&&v| v & 1 == 0).map(|&v| entry(v as *mut Header)).collect();
        all.sort_unstable_by_key(|o| o.addr);
        out.copy_from_slice(&all);
        return Ok(all.iter().map(|o| o.size).sum());
    }
    let marked: usize = bits.iter().map(|w| w.count_ones() as usize).sum();
    if marked != n {
        return Err(format!("{} registry slots name an object another slot names too", n - marked));
    }
    // Two halves of the bitmap holding about as many objects each.
    let mut split = (bits.len(), n);
    let mut seen = 0;
    for (i, w) in bits.iter().enumerate() {
        if seen >= n / 2 {
            split = (i, seen);
            break;
        }
        seen += w.count_ones() as usize;
    }
    let fill = |words: &[u64], first: usize, out: &mut [ObjectEntry]| -> u64 {
        let mut k = 0;
        let mut bytes = 0;
        for (i, &w) in words.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let g = ((first + i) as u64) << 6 | u64::from(w.trailing_zeros());
                w &= w - 1;
                let o = entry(Header::of_user((base + (g << 4)) as *mut u8));
                bytes += o.size;
                out[k] = o;
                k += 1;
            }
        }
        bytes
    };
    let (lo, hi) = bits.split_at(split.0);
    let (out_lo, out_hi) = out.split_at_mut(split.1);
    // A second thread pays off only on a large heap (the old process is
    // quiesced: its program threads are parked, the cores are free).
    if n < 1 << 16 {
        return Ok(fill(lo, 0, out_lo) + fill(hi, split.0, out_hi));
    }
    Ok(std::thread::scope(|sc| {
        let other = sc.spawn(|| fill(hi, split.0, out_hi));
        let mine = fill(lo, 0, out_lo);
        mine + other.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    }))
}

/// The object list's entry of a live block.
fn entry(hdr: *mut Header) -> ObjectEntry {
    // SAFETY: the caller's registry names `hdr` as a live block's header.
    let h = unsafe { &*hdr };
    ObjectEntry { addr: Header::user(hdr) as u64, size: h.size() as u64, site: h.site, offset: u32::from(h.offset()) }
}

pub struct Captured {
    pub state: OwnedFd,
    pub arena: ArenaHandover,
    /// Objects and bytes in the heap, for the report.
    pub objects: u64,
    pub bytes: u64,
    /// Where the registry's slots lie in the image: (offset, bytes), each
    /// page-aligned. The new process maps them for good; the rest of the
    /// image is of no use once its transfer is done (see
    /// [`Captured::release_all_but_registry`]).
    registry: Vec<(usize, usize)>,
    /// How long each part of the capture took.
    pub phases: Vec<Phase>,
    _written: Written,
}

impl Captured {
    /// Frees the image's memory but for the registry's slots, which the
    /// new process keeps mapped (and with them the whole memfd): once the
    /// update committed, nobody reads the rest.
    pub fn release_all_but_registry(&self) {
        super::punch_all_but(&self.state, &self.registry);
    }
}

/// The running binary's sidecar, as bytes (the new process parses it and
/// checks its build id against ours).
fn own_sidecar() -> Result<Vec<u8>, String> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| format!("/proc/self/exe: {e}"))?;
    // A binary replaced on disk since it started reads as "PATH (deleted)";
    // its sidecar may still be the right one (the build id decides).
    let exe = exe.to_string_lossy().trim_end_matches(" (deleted)").to_string();
    let path = Sidecar::path_for(std::path::Path::new(&exe));
    std::fs::read(&path).map_err(|e| format!("the running program's type map {}: {e}", path.display()))
}

/// An empty image with room for the state as it is now and some growth:
/// made before the program is stopped, so that the capture inside the
/// pause allocates no memory for the image (on a heap of millions of
/// objects that is tens of megabytes of pages).
pub fn prepare() -> Result<Writer, String> {
    let mut slots = 0;
    crate::registry::GLOBAL.for_each_shard(|_, img| slots += (8 * img.slots.len()).next_multiple_of(super::PAGE));
    let objects = crate::registry::object_count() * std::mem::size_of::<ObjectEntry>();
    let segments: u64 = image::main_image().data_segments().map(|s| s.len + 24).sum();
    let known = slots + objects + segments as usize;
    // A growing program may add objects before it is stopped: an eighth
    // more, and a megabyte for the record, the sidecar and the rest.
    Writer::with_room(known + known / 8 + (1 << 20)).map_err(|e| format!("state image: {e}"))
}

/// Must run with the program quiesced. `transform`: the text of the
/// operator's transform file, if any (the new process parses it).
pub fn capture(transform: Option<&str>) -> Result<Captured, String> {
    capture_with(transform, None, &[])
}

/// [`capture`], with another process's startup record instead of this
/// one's (`lucc update --ttst`: the new version images its state for the
/// old binary, whose startup replays the old process's record) and extra
/// sections appended.
pub fn capture_with(transform: Option<&str>, record: Option<&[u8]>, extra: &[(u32, &[u8])]) -> Result<Captured, String> {
    capture_into(prepare()?, transform, record, extra)
}

/// [`capture_with`] into an image made by [`prepare`].
pub fn capture_into(mut w: Writer, transform: Option<&str>, record: Option<&[u8]>, extra: &[(u32, &[u8])]) -> Result<Captured, String> {
    crate::startup::as_runtime(|| {
        let mut clock = Phases::start();
        let err = |e: std::io::Error| format!("state image: {e}");
        // A program that never allocated has not started its arena yet.
        crate::arena::ready();
        let (base, len, fd) = crate::arena::region_for_handover()
            .map_err(|e| format!("the heap cannot be handed over: {e} (is LUCC_HEAP=libc set?)"))?;
        clock.lap("heap memfd");

        match record {
            Some(r) => w.section(TAG_RECORD, r),
            None => w.section(TAG_RECORD, &crate::startup::record_bytes()),
        }
        .map_err(err)?;
        w.section(TAG_SIDECAR, &own_sidecar()?).map_err(err)?;
        let img = image::main_image();
        let segs: Vec<(u64, bool, &[u8])> = img
            .data_segments()
            // SAFETY: the loader mapped these segments, readable, for the
            // whole life of the process.
            .map(|s| (s.addr, s.writable, unsafe { std::slice::from_raw_parts(s.addr as *const u8, s.len as usize) }))
            .collect();
        w.memory(TAG_MEMORY, img.bias, &segs).map_err(err)?;
        clock.lap("record, sidecar, data segments");

        // The registry as it is, shard by shard, copied into the image:
        // the new process adopts these slots, and the object list is read
        // from the same copies, so the two agree.
        let mut sec = w.registry_start(crate::registry::SHARDS).map_err(err)?;
        let mut copied = Ok(());
        let mut live = 0;
        crate::registry::GLOBAL.for_each_shard(|_, img| {
            live += img.live as usize;
            if copied.is_ok() {
                copied = w.registry_shard(&mut sec, img.free, img.live, img.bytes, img.slots);
            }
        });
        copied.map_err(err)?;
        let registry = w.registry_end(sec).map_err(err)?;
        clock.lap("registry slots");

        let mut bytes = Ok(0);
        w.objects_with(live, |image, out| {
            let slots: Vec<&[u64]> = registry
                .iter()
                // SAFETY: the image holds each shard's slots, u64s at a
                // page-aligned offset, as `registry_shard` wrote them.
                .map(|&(off, n)| unsafe { std::slice::from_raw_parts(image[off..off + 8 * n].as_ptr().cast::<u64>(), n) })
                .collect();
            bytes = objects_by_address(&slots, base as u64, len as u64, out);
        })
        .map_err(err)?;
        let bytes = bytes?;
        clock.lap("object list");

        w.epoll(&crate::epoll::registrations()).map_err(err)?;
        w.section(TAG_TRANSFORM, transform.unwrap_or_default().as_bytes()).map_err(err)?;
        for (tag, bytes) in extra {
            w.section(*tag, bytes).map_err(err)?;
        }
        let (state, written) = w.finish().map_err(err)?;
        clock.lap("finish image");
        Ok(Captured {
            state,
            arena: ArenaHandover { base: base as u64, len: len as u64, fd },
            objects: live as u64,
            bytes,
            registry: registry.iter().map(|&(off, n)| (off, (8 * n).next_multiple_of(super::PAGE))).collect(),
            phases: clock.into_vec(),
            _written: written,
        })
    })
}
