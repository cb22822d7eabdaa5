//! The startup record: what a process's startup asked of the kernel, in
//! order, and what it got.
//!
//! An entry keeps only what identifies a call (its key, see `matching`) and
//! its outcome: the return value, errno, and for every descriptor the call
//! produced the (device, inode) the descriptor referred to right after the
//! call. The identity is what lets the new version tell an inherited
//! descriptor that is still the old one's resource from a number the old
//! process closed and reused during its startup.
//!
//! The serialised form is the runtime's own (little-endian, length-prefixed)
//! and travels only between two builds of the same runtime: a magic with a
//! version number rejects anything else.

use std::fmt;

const MAGIC: &[u8; 8] = b"LUCCSTR1";

/// The calls the runtime records; the numbers are shared with
/// `runtime-c/src/startup_calls.c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Socket = 1,
    Bind = 2,
    Listen = 3,
    Setsockopt = 4,
    EpollCreate = 5,
    EpollCreate1 = 6,
    EpollCtl = 7,
    Eventfd = 8,
    TimerfdCreate = 9,
    Signalfd = 10,
    Pipe = 11,
    Pipe2 = 12,
    Open = 13,
    Openat = 14,
    Unlink = 15,
    Fork = 16,
    Setsid = 17,
    Chdir = 18,
    Flock = 19,
    FcntlLock = 20,
    Dup2 = 21,
}

impl Kind {
    pub fn from_u8(v: u8) -> Option<Kind> {
        use Kind::*;
        const ALL: [Kind; 21] = [
            Socket,
            Bind,
            Listen,
            Setsockopt,
            EpollCreate,
            EpollCreate1,
            EpollCtl,
            Eventfd,
            TimerfdCreate,
            Signalfd,
            Pipe,
            Pipe2,
            Open,
            Openat,
            Unlink,
            Fork,
            Setsid,
            Chdir,
            Flock,
            FcntlLock,
            Dup2,
        ];
        ALL.iter().copied().find(|k| *k as u8 == v)
    }
}

/// A descriptor a call produced, and what it referred to then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdId {
    pub fd: i32,
    pub dev: u64,
    pub ino: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Identifying arguments, descriptors replaced by their origin.
    pub key: Vec<u8>,
    pub ret: i64,
    pub err: i32,
    pub fds: Vec<FdId>,
    /// Arguments that do not identify the call but tell what it did
    /// (epoll events and data, listen backlog, open mode).
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError(pub String);

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "startup record: {}", self.0)
    }
}

impl std::error::Error for RecordError {}

pub fn serialise(entries: &[Entry]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend((entries.len() as u32).to_le_bytes());
    for e in entries {
        out.push(e.kind as u8);
        out.extend((e.key.len() as u32).to_le_bytes());
        out.extend(&e.key);
        out.extend(e.ret.to_le_bytes());
        out.extend(e.err.to_le_bytes());
        out.push(e.fds.len() as u8);
        for f in &e.fds {
            out.extend(f.fd.to_le_bytes());
            out.extend(f.dev.to_le_bytes());
            out.extend(f.ino.to_le_bytes());
        }
        out.extend((e.payload.len() as u32).to_le_bytes());
        out.extend(&e.payload);
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.0.len() < n {
            return Err(RecordError("truncated".into()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        Ok(self.take(N)?.try_into().unwrap())
    }
    fn u32(&mut self) -> Result<u32, RecordError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
}

pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, RecordError> {
    let mut r = Reader(bytes);
    if r.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
        return Err(RecordError("not a lucc startup record (bad magic)".into()));
    }
    let n = r.u32()?;
    let mut entries = Vec::new();
    for i in 0..n {
        let k = r.arr::<1>()?[0];
        let kind = Kind::from_u8(k).ok_or_else(|| RecordError(format!("entry {i}: unknown kind {k}")))?;
        let klen = r.u32()? as usize;
        let key = r.take(klen)?.to_vec();
        let ret = i64::from_le_bytes(r.arr()?);
        let err = i32::from_le_bytes(r.arr()?);
        let nfds = r.arr::<1>()?[0];
        let mut fds = Vec::new();
        for _ in 0..nfds {
            let fd = i32::from_le_bytes(r.arr()?);
            let dev = u64::from_le_bytes(r.arr()?);
            let ino = u64::from_le_bytes(r.arr()?);
            fds.push(FdId { fd, dev, ino });
        }
        let plen = r.u32()? as usize;
        let payload = r.take(plen)?.to_vec();
        entries.push(Entry { kind, key, ret, err, fds, payload });
    }
    if !r.0.is_empty() {
        return Err(RecordError(format!("{} bytes after the last entry", r.0.len())));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let e = vec![
            Entry { kind: Kind::Socket, key: vec![1, 2, 3], ret: 3, err: 0, fds: vec![FdId { fd: 3, dev: 9, ino: 77 }], payload: vec![] },
            Entry { kind: Kind::Bind, key: vec![4], ret: -1, err: 98, fds: vec![], payload: vec![5, 6] },
        ];
        let bytes = serialise(&e);
        assert_eq!(parse(&bytes).unwrap(), e);
        assert!(parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(parse(b"LUCCSTR2\0\0\0\0").is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(parse(&extra).is_err());
    }
}
