//! The update's handover, end to end between two processes: this test
//! process builds a linked list in its arena and sends the region's memfd
//! over a socketpair (SCM_RIGHTS) to a fresh process (this test binary run
//! again, as an update's new process), which adopts it at the same address
//! and must find the list intact, while the sender's memory stays as it
//! was whatever the receiver writes.

use std::io;
use std::os::fd::RawFd;
use std::process::Command;

use lucc_rt::arena;

#[repr(C)]
struct Node {
    next: *mut Node,
    value: u64,
    /// The node's own address when it was made: the receiver checks the
    /// node is still there.
    at: usize,
}

const NODES: u64 = 5000;
const CHILD_ENV: &str = "LUCC_ARENA_TEST_CHILD";

fn build_list() -> *mut Node {
    let mut head: *mut Node = std::ptr::null_mut();
    for i in 0..NODES {
        // Mixed sizes, so the list spans several classes and slabs.
        let n = arena::alloc(std::mem::size_of::<Node>() + (i as usize % 7) * 40) as *mut Node;
        assert!(!n.is_null());
        unsafe { n.write(Node { next: head, value: i * 3, at: n as usize }) };
        head = n;
    }
    head
}

/// (count, sum of values), checking every node sits where it was made.
fn walk(mut n: *mut Node) -> (u64, u64) {
    let (mut count, mut sum) = (0, 0);
    while !n.is_null() {
        let node = unsafe { &*n };
        assert_eq!(node.at, n as usize, "node moved");
        count += 1;
        sum += node.value;
        n = node.next;
    }
    (count, sum)
}

fn send(sock: RawFd, words: &[usize; 3], fd: RawFd) -> io::Result<()> {
    unsafe {
        let mut iov = libc::iovec { iov_base: words.as_ptr() as *mut _, iov_len: std::mem::size_of_val(words) };
        let mut cbuf = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut _;
        msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
        (libc::CMSG_DATA(c) as *mut i32).write_unaligned(fd);
        if libc::sendmsg(sock, &msg, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn recv(sock: RawFd) -> io::Result<([usize; 3], RawFd)> {
    let mut words = [0usize; 3];
    unsafe {
        let mut iov = libc::iovec { iov_base: words.as_mut_ptr() as *mut _, iov_len: std::mem::size_of_val(&words) };
        let mut cbuf = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut _;
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        if libc::recvmsg(sock, &mut msg, 0) != std::mem::size_of_val(&words) as isize {
            return Err(io::Error::last_os_error());
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return Err(io::Error::other("no fd in the message"));
        }
        Ok((words, (libc::CMSG_DATA(c) as *const i32).read_unaligned()))
    }
}

#[test]
fn the_new_process_adopts_the_region_at_the_same_addresses() {
    let head = build_list();
    let before = walk(head);
    assert_eq!(before.0, NODES);
    let (base, len, memfd) = arena::region_for_handover().unwrap();
    assert!(arena::owns(head as usize) && arena::A_BASES.contains(&base));

    let mut socks = [0; 2];
    assert_eq!(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, socks.as_mut_ptr()) }, 0);
    // Only the child's end crosses exec.
    unsafe { libc::fcntl(socks[0], libc::F_SETFD, libc::FD_CLOEXEC) };
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "adopt_as_the_new_process", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, socks[1].to_string())
        .env(arena::UPDATE_CHANNEL_ENV, socks[1].to_string())
        .spawn()
        .unwrap();
    unsafe { libc::close(socks[1]) };
    send(socks[0], &[base, len, head as usize], memfd).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the new process failed: {:?}", out.status);
    // The receiver doubled every value in its copy; ours are untouched.
    assert_eq!(walk(head), before);
}

/// The new process's side, run only by the test above.
#[test]
#[ignore = "run by the_new_process_adopts_the_region_at_the_same_addresses"]
fn adopt_as_the_new_process() {
    let sock: RawFd = std::env::var(CHILD_ENV).expect("started by the handover test").parse().unwrap();
    // Startup allocations go to range B, leaving A free.
    let startup = arena::alloc(100);
    let (b_base, _) = arena::startup_range().expect("started as an update's new process");
    assert!(arena::B_BASES.contains(&b_base));
    assert!((startup as usize).wrapping_sub(b_base) < arena::SPAN);

    let ([base, len, head], memfd) = recv(sock).unwrap();
    // Refusals leave everything as it was.
    let err = arena::adopt_region(b_base, len, memfd).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "range B is occupied: {err}");
    let err = arena::adopt_region(base, len + arena::UNIT, memfd).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "longer than the memfd: {err}");
    arena::adopt_region(base, len, memfd).unwrap();
    let err = arena::adopt_region(base, len, memfd).unwrap_err();
    assert!(err.to_string().contains("already adopted"), "{err}");

    let head = head as *mut Node;
    let (count, sum) = walk(head);
    assert_eq!((count, sum), (NODES, 3 * NODES * (NODES - 1) / 2));
    // Write the copy: the sender must not see it.
    let mut n = head;
    while !n.is_null() {
        unsafe { (*n).value *= 2 };
        n = unsafe { (*n).next };
    }
    // The adopted allocator resumes: new blocks land in A, in free space.
    let live: std::collections::HashSet<usize> = {
        let mut s = std::collections::HashSet::new();
        let mut n = head;
        while !n.is_null() {
            s.insert(n as usize);
            n = unsafe { (*n).next };
        }
        s
    };
    for _ in 0..2000 {
        let p = arena::alloc(std::mem::size_of::<Node>()) as usize;
        assert!(p.wrapping_sub(base) < arena::SPAN, "new block outside the adopted range");
        assert!(!live.contains(&p), "new block on a live node");
    }
    let (_, new_sum) = walk(head);
    assert_eq!(new_sum, 2 * sum, "new blocks overwrote nodes");
    // B still holds the startup block: releasing it is refused until freed.
    assert!(arena::release_startup_range().is_err());
    unsafe { arena::free(startup) };
    arena::release_startup_range().unwrap();
    assert!(!arena::owns(startup as usize));
}

#[test]
fn adopting_over_the_running_arena_fails_cleanly() {
    let p = arena::alloc(64);
    unsafe { p.write_bytes(0xAB, 64) };
    let (base, len, memfd) = arena::region_for_handover().unwrap();
    let err = arena::adopt_region(base, len, memfd).unwrap_err();
    assert!(err.to_string().contains("range A is in use"), "{err}");
    assert!(unsafe { std::slice::from_raw_parts(p, 64) }.iter().all(|&b| b == 0xAB));
    unsafe { arena::free(p) };
}
