//! The runtime's entry points on top of the arena: tracked blocks come
//! from the arena's range (unless `LUCC_HEAP=libc`), over-aligned ones
//! too, and blocks that are not the runtime's still go to libc.

use lucc_rt::alloc::{lucc_rt_aligned, lucc_rt_calloc, lucc_rt_free, lucc_rt_malloc, lucc_rt_realloc};
use lucc_rt::arena;

fn arena_backed() -> bool {
    std::env::var("LUCC_HEAP").map_or(true, |v| v != "libc")
}

#[test]
fn tracked_blocks_of_every_kind_live_in_the_arena() {
    unsafe {
        let small = lucc_rt_malloc(100, 1) as *mut u8;
        let big = lucc_rt_calloc(1, 300_000, 1) as *mut u8;
        assert!(std::slice::from_raw_parts(big, 300_000).iter().all(|&b| b == 0), "calloc zeroes");
        small.write_bytes(5, 100);
        let grown = lucc_rt_realloc(small as *mut _, 5000, 1) as *mut u8;
        assert!(std::slice::from_raw_parts(grown, 100).iter().all(|&b| b == 5), "realloc keeps contents");
        let mut aligned = Vec::new();
        for shift in 5..=20 {
            let al = 1usize << shift;
            let p = lucc_rt_aligned(al, 48, 1) as *mut u8;
            assert_eq!(p as usize % al, 0, "alignment {al}");
            p.write_bytes(1, 48);
            aligned.push(p);
        }
        for &p in [grown, big].iter().chain(&aligned) {
            assert_eq!(arena::owns(p as usize), arena_backed(), "{p:?}");
        }
        for p in [grown, big].into_iter().chain(aligned) {
            lucc_rt_free(p as *mut _);
        }
    }
}

#[test]
fn foreign_blocks_still_go_to_libc() {
    unsafe {
        let f = libc::malloc(64) as *mut u8;
        assert!(!arena::owns(f as usize));
        f.write_bytes(9, 64);
        // realloc adopts a foreign block into a tracked one, then frees it.
        let t = lucc_rt_realloc(f as *mut _, 128, 2) as *mut u8;
        assert!(std::slice::from_raw_parts(t, 64).iter().all(|&b| b == 9));
        assert_eq!(arena::owns(t as usize), arena_backed());
        lucc_rt_free(t as *mut _);
        let g = libc::malloc(32);
        lucc_rt_free(g);
    }
}
