//! The old process's side: its state, written after quiescence.
//!
//! Everything here only reads the program's memory; the one thing created
//! is the memfd, which the old process closes once the new one has it.

use std::os::fd::OwnedFd;

use lucc_abi::control::ArenaHandover;
use lucc_abi::sidecar::Sidecar;

use super::{ObjectEntry, Writer, TAG_MEMORY, TAG_RECORD, TAG_SIDECAR, TAG_TRANSFORM};
use crate::header::Header;
use crate::update::image;

/// Writes `objs` into `out` in address order, in time linear in the
/// objects and the heap's length (a comparison sort of millions of
/// objects was a good part of the update's pause): a bitmap marks each
/// object's start (they are 16-byte aligned, distinct, inside
/// `[base, base + len)`), and an object's place is the number of starts
/// below its own.
fn sort_by_address(objs: &[ObjectEntry], base: u64, len: u64, out: &mut [ObjectEntry]) {
    let aligned = objs.iter().all(|o| o.addr >= base && o.addr - base < len && o.addr % 16 == 0);
    if !aligned {
        out.copy_from_slice(objs);
        out.sort_unstable_by_key(|o| o.addr);
        return;
    }
    let granule = |o: &ObjectEntry| (o.addr - base) >> 4;
    let mut bits = vec![0u64; (len >> 4).div_ceil(64) as usize];
    for o in objs {
        let g = granule(o);
        bits[(g >> 6) as usize] |= 1 << (g & 63);
    }
    let mut before = Vec::with_capacity(bits.len());
    let mut n = 0u64;
    for w in &bits {
        before.push(n);
        n += u64::from(w.count_ones());
    }
    for o in objs {
        let g = granule(o);
        let w = (g >> 6) as usize;
        let below = bits[w] & ((1u64 << (g & 63)) - 1);
        out[(before[w] + u64::from(below.count_ones())) as usize] = *o;
    }
}

pub struct Captured {
    pub state: OwnedFd,
    pub arena: ArenaHandover,
    /// Objects and bytes in the heap, for the report.
    pub objects: u64,
    pub bytes: u64,
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
    crate::startup::as_runtime(|| {
        // A program that never allocated has not started its arena yet.
        crate::arena::ready();
        let (base, len, fd) = crate::arena::region_for_handover()
            .map_err(|e| format!("the heap cannot be handed over: {e} (is LUCC_HEAP=libc set?)"))?;
        // The registry as it is, shard by shard: the new process adopts
        // these slots, and the object list is read from the same ones.
        let mut shards: Vec<(u64, u64, u64, Vec<u64>)> = Vec::new();
        crate::registry::GLOBAL.for_each_shard(|_, img| shards.push((img.free, img.live, img.bytes, img.slots.to_vec())));
        let live: usize = shards.iter().map(|s| s.1 as usize).sum();
        let mut foreign = 0u64;
        let mut bytes = 0u64;
        let mut objs = Vec::with_capacity(live);
        for (_, _, _, slots) in &shards {
            for &v in slots.iter().filter(|&&v| v & 1 == 0) {
                let hdr = v as *mut Header;
                // SAFETY: a registry slot holding a header: a live block.
                let h = unsafe { &*hdr };
                let addr = Header::user(hdr) as usize;
                if addr < base || addr >= base + len {
                    foreign += 1;
                }
                bytes += h.size() as u64;
                objs.push(ObjectEntry { addr: addr as u64, size: h.size() as u64, site: h.site, offset: u32::from(h.offset()) });
            }
        }
        if foreign != 0 {
            return Err(format!("{foreign} heap objects lie outside the runtime's heap range"));
        }
        let n = objs.len();

        let img = image::main_image();
        let segs: Vec<(u64, bool, &[u8])> = img
            .data_segments()
            // SAFETY: the loader mapped these segments, readable, for the
            // whole life of the process.
            .map(|s| (s.addr, s.writable, unsafe { std::slice::from_raw_parts(s.addr as *const u8, s.len as usize) }))
            .collect();

        let mut w = Writer::new();
        w.reserve(n * std::mem::size_of::<ObjectEntry>() + shards.iter().map(|s| 32 + 8 * s.3.len()).sum::<usize>() + (1 << 20));
        match record {
            Some(r) => w.section(TAG_RECORD, r),
            None => w.section(TAG_RECORD, &crate::startup::record_bytes()),
        }
        w.section(TAG_SIDECAR, &own_sidecar()?);
        w.memory(TAG_MEMORY, img.bias, &segs);
        w.objects_with(n, |out| sort_by_address(&objs, base as u64, len as u64, out));
        let images: Vec<(u64, u64, u64, &[u64])> = shards.iter().map(|s| (s.0, s.1, s.2, s.3.as_slice())).collect();
        w.registry(&images);
        w.epoll(&crate::epoll::registrations());
        w.section(TAG_TRANSFORM, transform.unwrap_or_default().as_bytes());
        for (tag, bytes) in extra {
            w.section(*tag, bytes);
        }
        let state = w.into_memfd().map_err(|e| format!("state image: {e}"))?;
        Ok(Captured {
            state,
            arena: ArenaHandover { base: base as u64, len: len as u64, fd },
            objects: n as u64,
            bytes,
        })
    })
}
