//! fork must give the child its own heap: the arena's memory is a shared
//! memfd mapping, which fork alone would leave shared between the two.
//! (Programs get the prepare/done steps from the runtime's pthread_atfork
//! handlers; this test calls them around fork itself.)

use std::sync::Mutex;

use lucc_rt::arena;

/// The tests fork and count the process's live blocks: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn parent_and_child_do_not_share_heap_memory() {
    let _one = SERIAL.lock().unwrap();
    let p = arena::alloc(256);
    unsafe { p.write_bytes(1, 256) };
    let live = arena::live_blocks();
    arena::fork_prepare();
    let pid = unsafe { libc::fork() };
    arena::fork_done();
    if pid == 0 {
        // The child: writes the inherited block and allocates and frees a
        // lot, none of which may reach the parent.
        let ok = unsafe { std::slice::from_raw_parts(p, 256) }.iter().all(|&b| b == 1);
        unsafe { p.write_bytes(2, 256) };
        for _ in 0..10_000 {
            let q = arena::alloc(256);
            unsafe { q.write_bytes(3, 256) };
        }
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut st = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
    assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "child saw other contents: {st}");
    assert!(unsafe { std::slice::from_raw_parts(p, 256) }.iter().all(|&b| b == 1), "the child's writes reached the parent");
    assert_eq!(arena::live_blocks(), live, "the child's allocations reached the parent's allocator");
    // The parent's allocator goes on working, and reuses its own free block.
    unsafe { arena::free(p) };
    assert_eq!(arena::alloc(256), p);
}

/// After a fork the heap is private: a handover must first copy it into a
/// fresh memfd, which then backs the heap again.
#[test]
fn a_handover_after_fork_carries_the_current_contents() {
    let _one = SERIAL.lock().unwrap();
    let p = arena::alloc(4096);
    unsafe { p.write_bytes(7, 4096) };
    arena::fork_prepare();
    let pid = unsafe { libc::fork() };
    arena::fork_done();
    if pid == 0 {
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    unsafe { p.write_bytes(8, 4096) }; // private now: not in the old memfd
    let (base, len, fd) = arena::region_for_handover().unwrap();
    let view = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, fd, 0) } as *const u8;
    assert_ne!(view as *mut libc::c_void, libc::MAP_FAILED);
    let at = |q: *mut u8| unsafe { std::slice::from_raw_parts(view.add(q as usize - base), 4096) };
    assert!(at(p).iter().all(|&b| b == 8), "the memfd holds the heap as it is");
    unsafe { p.write_bytes(9, 4096) };
    assert!(at(p).iter().all(|&b| b == 9), "the heap is backed by the new memfd again");
    unsafe { libc::munmap(view as *mut _, len) };
    unsafe { arena::free(p) };
}
