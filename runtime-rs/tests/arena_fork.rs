//! fork must give the child its own heap: the arena's memory is a shared
//! memfd mapping, which fork alone would leave shared between the two.
//! (Programs get the prepare/done steps from the runtime's pthread_atfork
//! handlers; this test calls them around fork itself.)

use lucc_rt::arena;

#[test]
fn parent_and_child_do_not_share_heap_memory() {
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
