//! The matching rules of startup replay, on records built by the same
//! recorder the wrappers use, with descriptor liveness given by the test.

use lucc_rt::startup::matching::{Answer, Call, Recorder, Replay};
use lucc_rt::startup::record::{self, Entry, FdId, Kind};

const AF_INET_ANY: &[u8] = &[2, 0, 0x1f, 0x90, 127, 0, 0, 1];

fn call<'a>(kind: Kind, fds: &'a [i32], bytes: &'a [u8]) -> Call<'a> {
    Call { kind, fds, bytes, payload: &[] }
}

fn id(fd: i32, ino: u64) -> FdId {
    FdId { fd, dev: 1, ino }
}

/// Builds an old record the way a running program's startup does.
struct Old(Recorder);

impl Old {
    fn new() -> Old {
        Old(Recorder::new())
    }
    fn call(&mut self, kind: Kind, fds: &[i32], bytes: &[u8], ret: i64, produced: &[FdId]) -> &mut Old {
        self.0.note(&call(kind, fds, bytes), ret, if ret < 0 { libc::EEXIST } else { 0 }, produced.to_vec());
        self
    }
    fn replay(&self) -> Replay {
        // through the serialised form, as the new process gets it
        let entries: Vec<Entry> = record::parse(&record::serialise(&self.0.entries)).unwrap();
        Replay::new(entries)
    }
}

fn sock_args() -> Vec<u8> {
    [2i32, 1, 0].iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn open_args(flags: i32, path: &str) -> Vec<u8> {
    let mut v = flags.to_le_bytes().to_vec();
    v.extend(path.as_bytes());
    v
}

fn unix_addr(path: &str) -> Vec<u8> {
    let mut v = (libc::AF_UNIX as u16).to_le_bytes().to_vec();
    v.extend(path.as_bytes());
    v.resize(110, 0);
    v
}

/// Replays `c`, filing what it produced as the wrappers do.
fn run(r: &mut Replay, c: &Call, alive: &dyn Fn(&FdId) -> bool, real_fd: i32) -> Answer {
    let a = r.lookup(c, alive);
    match &a {
        Answer::Answered { from, fds, .. } => r.settle(fds, Some(*from)),
        _ if real_fd >= 0 => r.settle(&[real_fd], None),
        _ => {}
    }
    a
}

#[test]
fn a_socket_and_its_configuration_are_answered_when_the_descriptor_is_inherited() {
    let mut old = Old::new();
    old.call(Kind::Socket, &[], &sock_args(), 3, &[id(3, 100)])
        .call(Kind::Setsockopt, &[3], &[1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0], 0, &[])
        .call(Kind::Bind, &[3], AF_INET_ANY, 0, &[])
        .call(Kind::Listen, &[3], &[], 0, &[]);
    let mut r = old.replay();
    let alive = |f: &FdId| f.fd == 3 && f.ino == 100;
    assert_eq!(run(&mut r, &call(Kind::Socket, &[], &sock_args()), &alive, -1), Answer::Answered { from: 0, ret: 3, err: 0, fds: vec![3] });
    assert!(matches!(run(&mut r, &call(Kind::Setsockopt, &[3], &[1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0]), &alive, -1), Answer::Answered { ret: 0, .. }));
    // a different option value is new in this version: executed
    assert_eq!(run(&mut r, &call(Kind::Setsockopt, &[3], &[1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]), &alive, -1), Answer::Real);
    assert!(matches!(run(&mut r, &call(Kind::Bind, &[3], AF_INET_ANY), &alive, -1), Answer::Answered { ret: 0, .. }));
    assert!(matches!(run(&mut r, &call(Kind::Listen, &[3], &[]), &alive, -1), Answer::Answered { ret: 0, .. }));
    // each entry answers once
    assert_eq!(run(&mut r, &call(Kind::Listen, &[3], &[]), &alive, -1), Answer::Real);
    assert!(r.unclaimed(&alive).is_empty());
}

#[test]
fn a_bind_on_a_fresh_socket_is_real_even_when_it_got_the_old_number() {
    // The old startup closed its socket 3 (it is dead here), so this
    // version's socket is created for real and may get number 3 again.
    let mut old = Old::new();
    old.call(Kind::Socket, &[], &sock_args(), 3, &[id(3, 100)]).call(Kind::Bind, &[3], AF_INET_ANY, 0, &[]);
    let mut r = old.replay();
    let dead = |_: &FdId| false;
    assert_eq!(run(&mut r, &call(Kind::Socket, &[], &sock_args()), &dead, 3), Answer::Real);
    assert_eq!(run(&mut r, &call(Kind::Bind, &[3], AF_INET_ANY), &dead, -1), Answer::Real);
}

#[test]
fn equal_calls_are_matched_in_order() {
    // Two sockets with the same arguments; the first was closed by the old
    // startup and its number reused: the first call must not take the
    // second entry, or the second call would create a duplicate listener.
    let mut old = Old::new();
    old.call(Kind::Socket, &[], &sock_args(), 3, &[id(3, 100)]).call(Kind::Socket, &[], &sock_args(), 3, &[id(3, 200)]);
    let mut r = old.replay();
    let alive = |f: &FdId| f.fd == 3 && f.ino == 200;
    assert_eq!(run(&mut r, &call(Kind::Socket, &[], &sock_args()), &alive, 4), Answer::Real);
    assert_eq!(run(&mut r, &call(Kind::Socket, &[], &sock_args()), &alive, -1), Answer::Answered { from: 1, ret: 3, err: 0, fds: vec![3] });
}

#[test]
fn epoll_registration_is_answered_whatever_its_data() {
    let mut old = Old::new();
    old.call(Kind::EpollCreate1, &[], &[0, 0, 8, 0], 4, &[id(4, 7)])
        .call(Kind::Socket, &[], &sock_args(), 5, &[id(5, 8)]);
    old.0.note(&Call { kind: Kind::EpollCtl, fds: &[4, 5], bytes: &[1, 0, 0, 0], payload: &[1, 0, 0, 0, 0xaa, 0, 0, 0, 0, 0, 0, 0] }, 0, 0, vec![]);
    let mut r = old.replay();
    let alive = |_: &FdId| true;
    run(&mut r, &call(Kind::EpollCreate1, &[], &[0, 0, 8, 0]), &alive, -1);
    run(&mut r, &call(Kind::Socket, &[], &sock_args()), &alive, -1);
    let add = Call { kind: Kind::EpollCtl, fds: &[4, 5], bytes: &[1, 0, 0, 0], payload: &[1, 0, 0, 0, 0xbb, 0, 0, 0, 0, 0, 0, 0] };
    assert!(matches!(run(&mut r, &add, &alive, -1), Answer::Answered { ret: 0, .. }));
}

#[test]
fn unlink_is_skipped_only_for_the_path_of_a_unix_socket_the_old_one_holds() {
    let mut old = Old::new();
    old.call(Kind::Unlink, &[], b"/run/s.sock", -1, &[])
        .call(Kind::Unlink, &[], b"/tmp/scratch", 0, &[])
        .call(Kind::Socket, &[], &[1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], 6, &[id(6, 300)])
        .call(Kind::Bind, &[6], &unix_addr("/run/s.sock"), 0, &[]);
    let alive = |f: &FdId| f.ino == 300;
    let mut r = old.replay();
    assert!(matches!(r.lookup(&call(Kind::Unlink, &[], b"/run/s.sock"), &alive), Answer::Answered { .. }));
    assert_eq!(r.lookup(&call(Kind::Unlink, &[], b"/tmp/scratch"), &alive), Answer::Real);
    // the old socket is gone: its path is free to clean up
    let mut r = old.replay();
    assert_eq!(r.lookup(&call(Kind::Unlink, &[], b"/run/s.sock"), &|_| false), Answer::Real);
}

#[test]
fn the_daemonising_fork_is_answered_as_the_child_other_forks_run() {
    let mut old = Old::new();
    old.call(Kind::Fork, &[], &[], 0, &[]).call(Kind::Setsid, &[], &[], 1234, &[]).call(Kind::Fork, &[], &[], 4321, &[]);
    let mut r = old.replay();
    let alive = |_: &FdId| true;
    assert_eq!(r.lookup(&call(Kind::Fork, &[], &[]), &alive), Answer::Answered { from: 0, ret: 0, err: 0, fds: vec![] });
    assert_eq!(r.lookup(&call(Kind::Setsid, &[], &[]), &alive), Answer::Answered { from: 1, ret: 1234, err: 0, fds: vec![] });
    assert_eq!(r.lookup(&call(Kind::Fork, &[], &[]), &alive), Answer::Real);
}

#[test]
fn an_exclusive_pidfile_is_answered_while_held_and_reopened_once_closed() {
    let excl = open_args(libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, "/run/p.pid");
    let mut old = Old::new();
    old.call(Kind::Open, &[], &excl, 7, &[id(7, 900)]);
    let mut r = old.replay();
    assert_eq!(r.lookup(&call(Kind::Open, &[], &excl), &|f| f.ino == 900), Answer::Answered { from: 0, ret: 7, err: 0, fds: vec![7] });
    let mut r = old.replay();
    assert_eq!(r.lookup(&call(Kind::Open, &[], &excl), &|_| false), Answer::RealReopen { from: 0 });
    // a plain file the old one closed is simply opened again
    let plain = open_args(libc::O_RDONLY, "/etc/app.conf");
    let mut old = Old::new();
    old.call(Kind::Open, &[], &plain, 7, &[id(7, 901)]);
    assert_eq!(old.replay().lookup(&call(Kind::Open, &[], &plain), &|_| false), Answer::Real);
}

#[test]
fn a_failure_is_answered_with_its_errno() {
    let excl = open_args(libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, "/run/p.pid");
    let mut old = Old::new();
    old.call(Kind::Open, &[], &excl, -1, &[]);
    assert_eq!(old.replay().lookup(&call(Kind::Open, &[], &excl), &|_| true), Answer::Answered { from: 0, ret: -1, err: libc::EEXIST, fds: vec![] });
}

#[test]
fn unclaimed_descriptors_are_the_live_ones_of_entries_never_matched() {
    let mut old = Old::new();
    old.call(Kind::Socket, &[], &sock_args(), 3, &[id(3, 1)])
        .call(Kind::Pipe2, &[], &[0, 0, 8, 0], 0, &[id(4, 2), id(5, 3)])
        .call(Kind::Open, &[], &open_args(0, "/x"), 6, &[id(6, 4)]);
    let mut r = old.replay();
    let alive = |f: &FdId| f.ino != 4;
    run(&mut r, &call(Kind::Socket, &[], &sock_args()), &alive, -1);
    assert_eq!(r.unclaimed(&alive), vec![4, 5]);
}
