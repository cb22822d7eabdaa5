//! What update points call: the wrapped blocking calls (through
//! `runtime-c/src/update_points.c`) and the program's explicit
//! `lucc_update_point()`.

use libc::c_int;

use super::{child, quiesce, role, Role};

/// Everything an update point does before the program may block: in a new
/// version, finish the update (first point); in a running one, park if an
/// update is pending.
fn at_point() {
    if role() != Role::Running {
        child::at_first_point();
    } else if crate::startup::lucc_rt_startup_mode.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        // The program's first update point: its startup is over.
        crate::startup::end_startup();
    }
    if quiesce::pending() {
        quiesce::park();
    }
}

#[no_mangle]
pub extern "C" fn lucc_rt_update_signal() -> c_int {
    quiesce::signal()
}

#[no_mangle]
pub extern "C" fn lucc_rt_point_enter() -> c_int {
    if quiesce::is_runtime_thread() || !quiesce::installed() {
        return 0;
    }
    at_point();
    quiesce::open();
    1
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
