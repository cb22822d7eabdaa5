//! The old process's side: its state, written after quiescence.
//!
//! Everything here only reads the program's memory; the one thing created
//! is the memfd, which the old process closes once the new one has it.

use std::os::fd::OwnedFd;

use lucc_abi::control::ArenaHandover;
use lucc_abi::sidecar::Sidecar;

use super::{ObjectEntry, Writer, TAG_MEMORY, TAG_RECORD, TAG_SIDECAR, TAG_TRANSFORM};
use crate::update::image;

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
        let mut objs = Vec::with_capacity(crate::registry::object_count());
        let mut foreign = 0u64;
        let mut bytes = 0u64;
        crate::registry::for_each_object(|o| {
            if o.addr < base || o.addr >= base + len {
                foreign += 1;
            }
            bytes += o.size as u64;
            objs.push(ObjectEntry { addr: o.addr as u64, size: o.size as u64, site: o.site, offset: u32::from(o.offset) });
        });
        if foreign != 0 {
            return Err(format!("{foreign} heap objects lie outside the runtime's heap range"));
        }
        objs.sort_unstable_by_key(|o| o.addr);

        let img = image::main_image();
        let segs: Vec<(u64, bool, &[u8])> = img
            .data_segments()
            // SAFETY: the loader mapped these segments, readable, for the
            // whole life of the process.
            .map(|s| (s.addr, s.writable, unsafe { std::slice::from_raw_parts(s.addr as *const u8, s.len as usize) }))
            .collect();

        let mut w = Writer::new();
        match record {
            Some(r) => w.section(TAG_RECORD, r),
            None => w.section(TAG_RECORD, &crate::startup::record_bytes()),
        }
        w.section(TAG_SIDECAR, &own_sidecar()?);
        w.memory(TAG_MEMORY, img.bias, &segs);
        w.objects(&objs);
        w.epoll(&crate::epoll::registrations());
        w.section(TAG_TRANSFORM, transform.unwrap_or_default().as_bytes());
        for (tag, bytes) in extra {
            w.section(*tag, bytes);
        }
        let state = w.into_memfd().map_err(|e| format!("state image: {e}"))?;
        Ok(Captured {
            state,
            arena: ArenaHandover { base: base as u64, len: len as u64, fd },
            objects: objs.len() as u64,
            bytes,
        })
    })
}
