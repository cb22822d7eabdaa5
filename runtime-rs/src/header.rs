//! The 16-byte header the runtime puts in front of every pointer it hands
//! to the program.
//!
//! Why a header: it makes `free` O(1) (the registry slot is found from the
//! pointer without a lookup structure) and costs nothing in alignment, since
//! 16 bytes keep malloc's 16-byte alignment of the user pointer. Layout:
//!
//! ```text
//! user - 16: u32 site | u32 registry index
//! user -  8: u64 = size (40 bits) | shard (6) | ALIGNED (1) | LAST (1) | retag offset (16)
//! ```
//!
//! The shard is the registry shard holding the block (see `registry`); it
//! never changes while the block is live, so `free` may read it before
//! taking that shard's lock. The word is an atomic (relaxed, free on x86)
//! because of that unlocked read.
//!
//! ALIGNED means the block was over-aligned: the real block start is the
//! word just below the header (`user - 24`), inside the block's padding.
//! LAST means the block is (or was, until another allocation of the same
//! thread) some thread's most recent allocation; see `registry` for why.
//! Everything else is read and written under the shard's lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes in front of every user pointer.
pub const HEADER_SIZE: usize = 16;

const SIZE_BITS: u32 = 40;
/// Largest object size the header can record (1 TiB - 1).
pub const MAX_SIZE: usize = (1usize << SIZE_BITS) - 1;
const SHARD_SHIFT: u32 = 40;
/// Number of registry shards the header can name.
pub const SHARDS: usize = 64;
const ALIGNED_BIT: u64 = 1 << 46;
const LAST_BIT: u64 = 1 << 47;
const OFFSET_SHIFT: u32 = 48;
/// Largest retag offset the header can record.
pub const MAX_OFFSET: usize = u16::MAX as usize;

#[repr(C, align(16))]
pub struct Header {
    pub site: u32,
    pub index: u32,
    word: AtomicU64,
}

impl Header {
    pub fn new(site: u32, size: usize, aligned: bool) -> Header {
        debug_assert!(size <= MAX_SIZE);
        let mut word = size as u64;
        if aligned {
            word |= ALIGNED_BIT;
        }
        Header { site, index: u32::MAX, word: AtomicU64::new(word) }
    }

    fn word(&self) -> u64 {
        self.word.load(Relaxed)
    }

    // Only one thread changes the word at a time (the shard's lock holder
    // or the creator), so load-modify-store needs no atomic RMW.
    fn update(&self, f: impl FnOnce(u64) -> u64) {
        self.word.store(f(self.word()), Relaxed)
    }

    pub fn size(&self) -> usize {
        (self.word() & MAX_SIZE as u64) as usize
    }

    pub fn shard(&self) -> usize {
        (self.word() >> SHARD_SHIFT) as usize % SHARDS
    }

    pub fn set_shard(&self, shard: usize) {
        debug_assert!(shard < SHARDS);
        self.update(|w| (w & !((SHARDS as u64 - 1) << SHARD_SHIFT)) | ((shard as u64) << SHARD_SHIFT))
    }

    pub fn is_aligned(&self) -> bool {
        self.word() & ALIGNED_BIT != 0
    }

    pub fn is_last(&self) -> bool {
        self.word() & LAST_BIT != 0
    }

    pub fn set_last(&self, last: bool) {
        self.update(|w| if last { w | LAST_BIT } else { w & !LAST_BIT })
    }

    pub fn offset(&self) -> u16 {
        (self.word() >> OFFSET_SHIFT) as u16
    }

    pub fn set_offset(&self, offset: u16) {
        self.update(|w| (w & !(0xFFFF << OFFSET_SHIFT)) | (u64::from(offset) << OFFSET_SHIFT))
    }

    /// The header in front of a user pointer (no memory is read).
    pub fn of_user(user: *mut u8) -> *mut Header {
        user.wrapping_sub(HEADER_SIZE) as *mut Header
    }

    /// The user pointer behind a header.
    pub fn user(hdr: *mut Header) -> *mut u8 {
        (hdr as *mut u8).wrapping_add(HEADER_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap() {
        assert_eq!(std::mem::size_of::<Header>(), HEADER_SIZE);
        let h = Header::new(7, MAX_SIZE, true);
        h.set_offset(0xFFFF);
        h.set_last(true);
        h.set_shard(SHARDS - 1);
        let all = |h: &Header| (h.size(), h.shard(), h.is_aligned(), h.is_last(), h.offset());
        assert_eq!(all(&h), (MAX_SIZE, SHARDS - 1, true, true, 0xFFFF));
        h.set_offset(8);
        h.set_last(false);
        h.set_shard(5);
        assert_eq!(all(&h), (MAX_SIZE, 5, true, false, 8));
        let h = Header::new(1, 40, false);
        assert_eq!(all(&h), (40, 0, false, false, 0));
    }
}
