//! The arena allocator on its own: each test makes a private arena at a
//! base of its own (well away from the process arenas' ranges).

use std::collections::HashSet;

use lucc_rt::arena::{Arena, MAX_SMALL, UNIT};

const SPAN: usize = 1 << 30;
const CHUNK: usize = 1 << 20;

fn arena(slot: usize) -> &'static Arena {
    let a: &'static Arena = Box::leak(Box::new(Arena::new()));
    a.create(&[0x4000_0000_0000 + slot * 0x10_0000_0000], SPAN, CHUNK).expect("reserve a test arena");
    a
}

fn fill(p: *mut u8, n: usize, byte: u8) {
    unsafe { std::ptr::write_bytes(p, byte, n) };
}

fn holds(p: *mut u8, n: usize, byte: u8) -> bool {
    unsafe { std::slice::from_raw_parts(p, n) }.iter().all(|&b| b == byte)
}

#[test]
fn blocks_of_many_sizes_are_aligned_disjoint_and_keep_their_contents() {
    let a = arena(0);
    let sizes: Vec<usize> = (0..=1100).chain((1100..=MAX_SMALL + 5000).step_by(97)).chain([200_000, 1 << 20]).collect();
    let blocks: Vec<(*mut u8, usize)> = sizes.iter().map(|&n| (a.alloc(n), n)).collect();
    let mut ranges = Vec::new();
    for (i, &(p, n)) in blocks.iter().enumerate() {
        assert!(!p.is_null(), "size {n}");
        assert_eq!(p as usize % 16, 0, "size {n}");
        assert!(a.contains(p as usize) && a.contains(p as usize + n.max(1) - 1));
        let usable = unsafe { a.usable_size(p) };
        assert!(usable >= n, "size {n}: usable {usable}");
        if n > MAX_SMALL {
            assert_eq!(p as usize % UNIT, 0, "large blocks are unit aligned");
        }
        fill(p, n, i as u8);
        ranges.push((p as usize, p as usize + n));
    }
    ranges.sort();
    assert!(ranges.windows(2).all(|w| w[0].1 <= w[1].0), "blocks overlap");
    for (i, &(p, n)) in blocks.iter().enumerate() {
        assert!(holds(p, n, i as u8), "block {i} of size {n} was overwritten");
    }
    assert_eq!(a.live_blocks(), blocks.len());
    for &(p, _) in &blocks {
        unsafe { a.free(p) };
    }
    assert_eq!(a.live_blocks(), 0);
}

#[test]
fn freed_blocks_are_reused() {
    let a = arena(1);
    let first: Vec<_> = (0..1000).map(|_| a.alloc(48)).collect();
    let committed = a.committed();
    for &p in &first {
        unsafe { a.free(p) };
    }
    let again: HashSet<_> = (0..1000).map(|_| a.alloc(40) as usize).collect();
    assert_eq!(again, first.iter().map(|&p| p as usize).collect(), "same class: the same blocks come back");
    // Large blocks: freeing and reallocating the same size reuses the
    // extent, and freed neighbours coalesce into one bigger extent.
    let big: Vec<_> = (0..4).map(|_| a.alloc(3 * UNIT)).collect();
    let after = a.alloc(UNIT); // keeps the extents off the bump end
    for &p in &big {
        unsafe { a.free(p) };
    }
    let merged = a.alloc(12 * UNIT);
    assert_eq!(merged, big[0], "four adjacent free extents serve one request of their total size");
    assert_eq!(a.committed(), committed, "nothing needed new memory");
    unsafe {
        a.free(merged);
        a.free(after);
    }
}

#[test]
fn grows_past_the_first_chunk_and_stops_at_the_span() {
    let a = arena(2);
    let first = a.committed();
    let mut blocks = Vec::new();
    for i in 0..4000 {
        let p = a.alloc(1000);
        assert!(!p.is_null());
        fill(p, 1000, i as u8);
        blocks.push(p);
    }
    assert!(a.committed() > first, "4 MB of blocks needed more than the first chunk");
    for (i, &p) in blocks.iter().enumerate() {
        assert!(holds(p, 1000, i as u8));
    }
    let huge = a.alloc(SPAN / 2);
    assert!(!huge.is_null());
    fill(huge, 4096, 7);
    assert!(a.alloc(SPAN / 2).is_null(), "beyond the span: null, not a crash");
    unsafe { a.free(huge) };
    assert!(!a.alloc(SPAN / 2).is_null(), "the freed extent is available again");
}

#[test]
fn four_threads_keep_exact_counts() {
    let a = arena(3);
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut x = 0x9E37_79B9u32.wrapping_mul(t as u32 + 1);
                for i in 0..50_000 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let n = if i % 500 == 0 { 70_000 } else { 1 + x as usize % 2000 };
                    let p = a.alloc(n);
                    assert!(!p.is_null());
                    fill(p, n.min(64), t);
                    if i % 10 == 0 {
                        kept.push((p as usize, n));
                    } else {
                        assert!(holds(p, n.min(64), t), "another thread wrote into this block");
                        unsafe { a.free(p) };
                    }
                }
                kept
            })
        })
        .collect();
    let kept: Vec<Vec<(usize, usize)>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(a.live_blocks(), 4 * 5_000);
    let mut all: Vec<(usize, usize)> = kept.iter().flatten().copied().collect();
    all.sort();
    assert!(all.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "live blocks overlap");
    for (t, blocks) in kept.iter().enumerate() {
        for &(p, n) in blocks {
            assert!(holds(p as *mut u8, n.min(64), t as u8));
            unsafe { a.free(p as *mut u8) };
        }
    }
    assert_eq!(a.live_blocks(), 0);
}

#[test]
fn a_second_arena_cannot_take_an_occupied_base() {
    let a = arena(4);
    let b = Arena::new();
    let err = b.create(&[a.base()], SPAN, CHUNK).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    // The next candidate is used instead.
    b.create(&[a.base(), a.base() + 0x10_0000_0000 * 8], SPAN, CHUNK).unwrap();
    assert_eq!(b.base(), a.base() + 0x10_0000_0000 * 8);
}

#[test]
fn zeroed_blocks_are_zero_even_where_old_blocks_were() {
    let a = arena(5);
    for n in [40, 5000, 3 << 20] {
        let p = a.alloc(n);
        fill(p, n, 0xFF);
        unsafe { a.free(p) };
        let q = a.alloc_zeroed(n);
        assert_eq!(q, p, "size {n}: the freed block is reused");
        assert!(holds(q, n, 0), "size {n}: old contents left");
        unsafe { a.free(q) };
    }
}

/// A run of blocks (an update's moved objects, taken at once) is the same
/// as that many allocations of the class: disjoint blocks of the class's
/// size, counted live, freed one by one into the class, and the slab tail
/// past the run serves the next allocations of the class.
#[test]
fn a_run_of_blocks_behaves_as_single_allocations() {
    let a = arena(13);
    // Another class's block first: the run must not overlap it.
    let before = a.alloc(200);
    let count = 3000;
    let run = a.alloc_run(lucc_rt::arena::size_class(56).expect("a small class"), count).expect("a run");
    let blocks: Vec<*mut u8> = (0..count).map(|k| run.block(k)).collect();
    let mut ranges: Vec<(usize, usize)> = blocks.iter().map(|&p| (p as usize, p as usize + 64)).collect();
    ranges.push((before as usize, before as usize + 208));
    ranges.sort();
    assert!(ranges.windows(2).all(|w| w[0].1 <= w[1].0), "blocks overlap");
    for (i, &p) in blocks.iter().enumerate() {
        assert_eq!(p as usize % 16, 0);
        assert!(a.contains(p as usize));
        assert_eq!(unsafe { a.usable_size(p) }, 64, "block {i} is of the class of 56 bytes");
        fill(p, 64, i as u8);
    }
    assert_eq!(a.live_blocks(), count + 1);
    // The class had no slab of its own: the next allocation comes from
    // the run's last slab, right after the run.
    let next = a.alloc(56);
    let last = blocks[count - 1] as usize;
    assert_eq!(next as usize, last + 64, "the tail of the run's last slab is used next");
    for (i, &p) in blocks.iter().enumerate() {
        assert!(holds(p, 64, i as u8), "block {i} was overwritten");
        unsafe { a.free(p) };
    }
    assert_eq!(a.live_blocks(), 2);
    unsafe {
        a.free(next);
        a.free(before);
    }
    assert_eq!(a.live_blocks(), 0);
}
