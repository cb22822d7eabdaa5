//! What update points call: the wrapped blocking calls (through
//! `runtime-c/src/update_points.c`) and the program's explicit
//! `lucc_update_point()`.

use libc::c_int;

use super::{child, quiesce, role, Role};

/// Everything an update point does before the program may block: in a new
/// version, finish the update (first point); in a running one, park if an
/// update is pending. True if this point finished an update: the new
/// version resumes here with state it did not have when it made the call.
fn at_point() -> bool {
    let resumed = role() != Role::Running;
    if resumed {
        child::at_first_point();
    } else if crate::startup::lucc_rt_startup_mode.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        // The program's first update point: its startup is over.
        crate::startup::end_startup();
    }
    if quiesce::pending() {
        quiesce::park();
    }
    resumed
}

/// `lucc_rt_point_enter`'s answers (runtime-c/src/update_points.c).
const CALL_STRAIGHT: c_int = 0;
const CALL_AS_POINT: c_int = 1;
/// The update committed at this call: its arguments (a poll set, select's
/// fd sets) were built from the new version's state before the transfer
/// replaced that state; the C wrapper decides per call what to answer.
const RESUMED_AFTER_UPDATE: c_int = 2;

#[no_mangle]
pub extern "C" fn lucc_rt_update_signal() -> c_int {
    quiesce::signal()
}

#[no_mangle]
pub extern "C" fn lucc_rt_point_enter() -> c_int {
    if quiesce::is_runtime_thread() || !quiesce::installed() {
        return CALL_STRAIGHT;
    }
    let resumed = at_point();
    quiesce::open();
    if resumed {
        RESUMED_AFTER_UPDATE
    } else {
        CALL_AS_POINT
    }
}

#[no_mangle]
pub extern "C" fn lucc_rt_point_interrupted() -> c_int {
    quiesce::close() as c_int
}

#[no_mangle]
pub extern "C" fn lucc_rt_point_leave() {
    quiesce::close();
}

/// The public explicit update point (lucc.h).
#[no_mangle]
pub extern "C" fn lucc_update_point() {
    if !quiesce::is_runtime_thread() && quiesce::installed() {
        at_point();
    }
}
