//! Keys, recording and the matching rules of replay.
//!
//! A call's key is its kind, its descriptor arguments and its other
//! identifying bytes. A descriptor argument is keyed by its *origin*, not
//! its number: the entry of this process's record that produced it
//! ([`Token::Entry`]), or its bare number when no recorded call produced it
//! (stdin, a descriptor from before the runtime started). In the new
//! version a descriptor an answered call returned has the origin of the old
//! entry that answered it, and one a real call created is [`Token::Fresh`],
//! which no old key contains. So `bind(fd, addr)` is answered from the old
//! record only if `fd` is the old socket the record's bind was made on,
//! even when a new socket happens to get a number the old startup closed.
//!
//! Rules, in order (see `Replay::lookup`): a call claims the first
//! unclaimed old entry of the same key; no such entry: executed for real.
//! A claimed entry that failed is answered with its failure. One that
//! produced descriptors is answered only if every one is still open here
//! and refers to the same (device, inode): the old process may have closed
//! it (a configuration file) and the number may mean something else now.
//! A dead O_CREAT|O_EXCL open (a pidfile written and closed) is reopened
//! without O_EXCL, O_CREAT and O_TRUNC: the file is the old one's and must
//! neither be refused nor emptied. An unlink is skipped only for the path
//! of a Unix socket the old process bound and still holds. A fork is
//! answered only where the old process continued as the child (the
//! daemonising fork): the update child already is the service's process.

use std::collections::BTreeMap;

use super::record::{Entry, FdId, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Entry(u32),
    Raw(i32),
    Fresh,
}

/// What each descriptor number came from, as far as the record knows.
#[derive(Debug, Default)]
pub struct FdMap(BTreeMap<i32, Token>);

impl FdMap {
    pub const fn new() -> FdMap {
        FdMap(BTreeMap::new())
    }
    fn token(&self, fd: i32) -> Token {
        self.0.get(&fd).copied().unwrap_or(Token::Raw(fd))
    }
    fn set(&mut self, fd: i32, t: Token) {
        self.0.insert(fd, t);
    }
}

/// One intercepted call, as the C wrapper describes it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub kind: Kind,
    pub fds: &'a [i32],
    pub bytes: &'a [u8],
    pub payload: &'a [u8],
}

pub fn key(call: &Call, map: &FdMap) -> Vec<u8> {
    let mut k = vec![call.kind as u8];
    for &fd in call.fds {
        let (tag, v) = match map.token(fd) {
            Token::Entry(i) => (0u8, i as i64),
            Token::Raw(n) => (1, n as i64),
            Token::Fresh => (2, 0),
        };
        k.push(tag);
        k.extend(v.to_le_bytes());
    }
    k.extend(call.bytes);
    k
}

/// The record this process is writing (in both roles: a new version's
/// record is what its own next update replays).
#[derive(Debug, Default)]
pub struct Recorder {
    pub entries: Vec<Entry>,
    map: FdMap,
}

impl Recorder {
    pub const fn new() -> Recorder {
        Recorder { entries: Vec::new(), map: FdMap::new() }
    }

    pub fn note(&mut self, call: &Call, ret: i64, err: i32, fds: Vec<FdId>) {
        let key = key(call, &self.map);
        let idx = self.entries.len() as u32;
        for f in &fds {
            self.map.set(f.fd, Token::Entry(idx));
        }
        self.entries.push(Entry { kind: call.kind, key, ret, err, fds, payload: call.payload.to_vec() });
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Execute the call.
    Real,
    /// Execute it without O_EXCL|O_CREAT|O_TRUNC (entry `from` claimed).
    RealReopen { from: usize },
    /// Do not touch the kernel: return this.
    Answered { from: usize, ret: i64, err: i32, fds: Vec<i32> },
}

const O_CREAT_EXCL: i32 = libc::O_CREAT | libc::O_EXCL;
const AF_UNIX: u16 = libc::AF_UNIX as u16;

/// The old process's record, being claimed by the new version's startup.
#[derive(Debug)]
pub struct Replay {
    old: Vec<Entry>,
    claimed: Vec<bool>,
    map: FdMap,
}

impl Replay {
    pub fn new(old: Vec<Entry>) -> Replay {
        let claimed = vec![false; old.len()];
        Replay { old, claimed, map: FdMap::new() }
    }

    /// `alive(f)`: descriptor `f.fd` is open here and refers to `f.dev/ino`.
    pub fn lookup(&mut self, call: &Call, alive: &dyn Fn(&FdId) -> bool) -> Answer {
        let key = key(call, &self.map);
        let Some(i) = (0..self.old.len()).find(|&i| !self.claimed[i] && self.old[i].key == key) else {
            return Answer::Real;
        };
        // Whatever the old unlink got, the path is left alone only while
        // the old socket lives there.
        if call.kind == Kind::Unlink && !self.serves_unix_path(call.bytes, alive) {
            return Answer::Real;
        }
        let e = &self.old[i];
        let answer = if e.ret < 0 {
            Answer::Answered { from: i, ret: e.ret, err: e.err, fds: vec![] }
        } else {
            match call.kind {
                Kind::Fork if e.ret != 0 => Answer::Real,
                _ if e.fds.iter().all(alive) => {
                    Answer::Answered { from: i, ret: e.ret, err: e.err, fds: e.fds.iter().map(|f| f.fd).collect() }
                }
                Kind::Open | Kind::Openat if open_flags(call).is_some_and(|f| f & O_CREAT_EXCL == O_CREAT_EXCL) => {
                    Answer::RealReopen { from: i }
                }
                _ => Answer::Real,
            }
        };
        self.claimed[i] = true;
        answer
    }

    /// Files the descriptors a call produced: answered ones keep the old
    /// entry's origin, real ones are fresh.
    pub fn settle(&mut self, produced: &[i32], answered_from: Option<usize>) {
        let t = answered_from.map_or(Token::Fresh, |i| Token::Entry(i as u32));
        for &fd in produced {
            self.map.set(fd, t);
        }
    }

    /// Live descriptors of old entries the new startup never claimed.
    pub fn unclaimed(&self, alive: &dyn Fn(&FdId) -> bool) -> Vec<i32> {
        let mut v: Vec<i32> = (0..self.old.len())
            .filter(|&i| !self.claimed[i])
            .flat_map(|i| self.old[i].fds.iter())
            .filter(|f| alive(f))
            .map(|f| f.fd)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// An old Unix socket still open here is bound to `path`.
    fn serves_unix_path(&self, path: &[u8], alive: &dyn Fn(&FdId) -> bool) -> bool {
        self.old.iter().filter(|e| e.kind == Kind::Bind && e.ret == 0).any(|e| {
            let Some((sock, addr)) = bind_parts(&e.key) else { return false };
            let is_path = addr.len() > 2 && u16::from_le_bytes([addr[0], addr[1]]) == AF_UNIX && addr[2] != 0;
            let sun_path = addr.get(2..).unwrap_or(&[]);
            let sun_path = &sun_path[..sun_path.iter().position(|&b| b == 0).unwrap_or(sun_path.len())];
            is_path && sun_path == path && self.old.get(sock).is_some_and(|s| s.fds.iter().all(alive))
        })
    }
}

/// Open keys carry the flags first (after openat's directory).
fn open_flags(call: &Call) -> Option<i32> {
    Some(i32::from_le_bytes(call.bytes.get(..4)?.try_into().ok()?))
}

/// A bind key's socket entry and address bytes.
fn bind_parts(key: &[u8]) -> Option<(usize, &[u8])> {
    // kind, then one token (tag + 8 bytes), then the sockaddr
    if key.len() < 10 || key[1] != 0 {
        return None;
    }
    let idx = i64::from_le_bytes(key[2..10].try_into().ok()?);
    Some((idx as usize, &key[10..]))
}
