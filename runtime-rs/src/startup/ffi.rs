//! The entry points `runtime-c/src/startup_calls.c` calls.
//!
//! A wrapper describes its call ([`ScCall`]) and asks [`lucc_rt_startup_begin`]
//! what to do: pass straight through (not the program's startup), execute
//! and record, or take the answer from the old record. After a real call it
//! reports the outcome to [`lucc_rt_startup_end`]. The call's
//! state lives in the wrapper's [`ScOut`], so the two halves keep nothing
//! between them.
#![allow(clippy::missing_safety_doc)]

use std::slice;

use libc::{c_int, c_long};

use super::matching::{Answer, Call};
use super::record::Kind;

#[repr(C)]
pub struct ScCall {
    pub kind: c_int,
    pub nfds: c_int,
    pub fds: [c_int; 3],
    pub key: *const u8,
    pub key_len: usize,
    pub payload: *const u8,
    pub payload_len: usize,
}

#[repr(C)]
pub struct ScOut {
    pub ret: c_long,
    pub err: c_int,
    /// Descriptors the call produced.
    pub nres: c_int,
    pub res: [c_int; 2],
    /// Old entry that answered (or was reopened), or -1.
    pub from: c_int,
}

const PASS: c_int = 0;
const REAL: c_int = 1;
const ANSWERED: c_int = 2;
const REAL_REOPEN: c_int = 3;

unsafe fn bytes<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if n == 0 {
        &[]
    } else {
        slice::from_raw_parts(p, n)
    }
}

unsafe fn call(c: &ScCall) -> Option<Call<'_>> {
    Some(Call {
        kind: Kind::from_u8(u8::try_from(c.kind).ok()?)?,
        fds: &c.fds[..c.nfds.clamp(0, 3) as usize],
        bytes: bytes(c.key, c.key_len),
        payload: bytes(c.payload, c.payload_len),
    })
}

#[no_mangle]
pub unsafe extern "C" fn lucc_rt_startup_begin(c: *const ScCall, o: *mut ScOut) -> c_int {
    let (c, o) = (&*c, &mut *o);
    o.from = -1;
    let Some(call) = call(c).filter(|_| super::observed()) else {
        return PASS;
    };
    match super::lookup(&call) {
        Answer::Real => REAL,
        Answer::RealReopen { from } => {
            o.from = from as c_int;
            REAL_REOPEN
        }
        Answer::Answered { from, ret, err, fds } => {
            o.ret = ret as c_long;
            o.err = err;
            o.nres = fds.len().min(2) as c_int;
            for (slot, fd) in o.res.iter_mut().zip(&fds) {
                *slot = *fd;
            }
            o.from = from as c_int;
            let produced = &fds[..o.nres as usize];
            super::note(&call, ret, err, produced, Some(from));
            ANSWERED
        }
    }
}

/// After a real call (REAL or REAL_REOPEN).
#[no_mangle]
pub unsafe extern "C" fn lucc_rt_startup_end(c: *const ScCall, o: *const ScOut) {
    let (c, o) = (&*c, &*o);
    let Some(call) = call(c) else { return };
    let produced = &o.res[..o.nres.clamp(0, 2) as usize];
    // A reopened pidfile is the old one's file: its origin stays the old entry.
    let from = (o.from >= 0).then_some(o.from as usize);
    super::note(&call, o.ret, o.err, produced, from);
}

#[no_mangle]
pub extern "C" fn lucc_rt_startup_init() {
    let Some(path) = std::env::var_os("LUCC_STARTUP_REPLAY_IN") else { return };
    super::as_runtime(|| match std::fs::read(&path) {
        Ok(bytes) => {
            if let Err(e) = super::begin_replay(&bytes) {
                eprintln!("lucc: startup: LUCC_STARTUP_REPLAY_IN={}: {e}", path.to_string_lossy());
            }
        }
        Err(e) => eprintln!("lucc: startup: reading LUCC_STARTUP_REPLAY_IN={}: {e}", path.to_string_lossy()),
    });
}

#[no_mangle]
pub extern "C" fn lucc_rt_startup_done() {
    super::end_startup();
}

#[no_mangle]
pub extern "C" fn lucc_rt_is_update_startup() -> c_int {
    super::is_update_startup() as c_int
}
