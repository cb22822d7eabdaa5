//! Transfer callbacks (lucc.h): what the automatic transfer cannot infer —
//! a changed meaning, a value to derive from others — the new version
//! supplies as C functions it registers during its startup. They run in
//! the new process after the automatic transfer (objects, variables, the
//! startup heap and epoll are settled, so they may allocate and call
//! anything) and before it reports ready; a nonzero return rolls the
//! update back, naming the callback.
//!
//! A type callback sees every object of that type (one call per element of
//! a block holding an array of them), a variable callback its variable:
//! the old bytes (a copy; pointers in them are the old process's values,
//! `lucc_transfer_pointer` translates them) and the new, already converted
//! object to adjust.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Mutex;

/// `int fn(const void *old, size_t old_size, void *new, size_t new_size, void *arg)`.
pub type ObjectFn = unsafe extern "C" fn(*const c_void, usize, *mut c_void, usize, *mut c_void) -> c_int;
/// `int fn(void *arg)`.
pub type DoneFn = unsafe extern "C" fn(*mut c_void) -> c_int;

#[derive(Clone)]
enum Target {
    /// A type by its C name: "struct conn", "conn" (any tag) or a typedef.
    Type(String),
    /// A global (`name`) or static local (`function::name`).
    Variable(String),
}

#[derive(Clone)]
struct ObjectCallback {
    target: Target,
    f: ObjectFn,
    arg: usize,
}

static OBJECT: Mutex<Vec<ObjectCallback>> = Mutex::new(Vec::new());
static DONE: Mutex<Vec<(DoneFn, usize)>> = Mutex::new(Vec::new());

/// Whether `wanted` (as the program wrote it) names the type `name` (as
/// the sidecar spells it): exactly, or without its struct/union/enum tag.
fn type_matches(wanted: &str, name: &str) -> bool {
    wanted == name
        || ["struct ", "union ", "enum "].iter().any(|tag| name.strip_prefix(tag) == Some(wanted))
}

/// The callback registered for objects of type `name`, if any.
pub fn for_type(name: &str) -> Option<(ObjectFn, usize)> {
    OBJECT.lock().unwrap().iter().find_map(|c| match &c.target {
        Target::Type(t) if !name.is_empty() && type_matches(t, name) => Some((c.f, c.arg)),
        _ => None,
    })
}

/// The callback registered for the variable `name` (`function::name` for
/// static locals).
pub fn for_variable(name: &str) -> Option<(ObjectFn, usize)> {
    OBJECT.lock().unwrap().iter().find_map(|c| match &c.target {
        Target::Variable(v) if v == name => Some((c.f, c.arg)),
        _ => None,
    })
}

pub fn any_registered() -> bool {
    !OBJECT.lock().unwrap().is_empty() || !DONE.lock().unwrap().is_empty()
}

/// One object or variable handed to its callback.
pub struct Call {
    pub what: String,
    pub f: ObjectFn,
    pub arg: usize,
    pub old: Vec<u8>,
    pub new_addr: u64,
    pub new_len: u64,
}

thread_local! {
    /// While callbacks run: translates an old pointer value.
    static TRANSLATE: Cell<Option<*mut (dyn FnMut(u64) -> Option<u64> + 'static)>> = const { Cell::new(None) };
}

/// Runs the object and variable callbacks, then the done callbacks, with
/// `translate` answering `lucc_transfer_pointer`. Err names the callback
/// that refused.
pub fn run(mut calls: Vec<Call>, translate: &mut dyn FnMut(u64) -> Option<u64>) -> Result<u64, String> {
    // `lucc update --inject-fault callbacks:KIND`: a callback that dies,
    // or one handed the wrong objects.
    if let Some(f) = super::faults::armed_at(lucc_abi::control::FaultPoint::Callbacks) {
        if super::faults::is_death(f.kind) && !calls.is_empty() {
            super::faults::log(&format!("{:?} in a transfer callback", f.kind).to_lowercase());
            if f.kind == lucc_abi::control::FaultKind::Error {
                return Err(format!("transfer callback for {}: injected fault", calls[0].what));
            }
            super::faults::die(f.kind, || {});
        }
        if f.kind == lucc_abi::control::FaultKind::WrongCallback {
            let n = super::faults::misdeliver(&mut calls, |a, b| a.f as usize == b.f as usize && a.old.len() == b.old.len(), |c| &mut c.old);
            super::faults::log(&format!("{n} transfer callbacks handed another object's old bytes"));
        }
    }
    // SAFETY (of the transmute): the pointer is only used while this frame
    // lives; it is cleared before returning, on every path.
    let t: *mut (dyn FnMut(u64) -> Option<u64> + '_) = translate;
    let t: *mut (dyn FnMut(u64) -> Option<u64> + 'static) = unsafe { std::mem::transmute(t) };
    TRANSLATE.with(|c| c.set(Some(t)));
    let result = (|| {
        let mut n = 0;
        for mut c in calls {
            // SAFETY: a function the program registered for this purpose,
            // given a private copy of the old bytes and its new object.
            let r = unsafe {
                (c.f)(c.old.as_ptr().cast(), c.old.len(), c.new_addr as *mut c_void, c.new_len as usize, c.arg as *mut c_void)
            };
            c.old.clear();
            if r != 0 {
                return Err(format!("transfer callback for {} returned {r}", c.what));
            }
            n += 1;
        }
        let done = DONE.lock().unwrap().clone();
        for (f, arg) in done {
            // SAFETY: as above.
            let r = unsafe { f(arg as *mut c_void) };
            if r != 0 {
                return Err(format!("transfer-done callback returned {r}"));
            }
            n += 1;
        }
        Ok(n)
    })();
    TRANSLATE.with(|c| c.set(None));
    result
}

fn register(target: Option<Target>, f: Option<ObjectFn>, arg: *mut c_void) -> c_int {
    match (target, f) {
        (Some(target), Some(f)) => {
            OBJECT.lock().unwrap().push(ObjectCallback { target, f, arg: arg as usize });
            0
        }
        _ => -1,
    }
}

fn name(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string from the program.
    let s = unsafe { CStr::from_ptr(p) }.to_str().ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

#[no_mangle]
pub extern "C" fn lucc_on_transfer_type(type_name: *const c_char, f: Option<ObjectFn>, arg: *mut c_void) -> c_int {
    register(name(type_name).map(Target::Type), f, arg)
}

#[no_mangle]
pub extern "C" fn lucc_on_transfer_variable(var: *const c_char, f: Option<ObjectFn>, arg: *mut c_void) -> c_int {
    register(name(var).map(Target::Variable), f, arg)
}

#[no_mangle]
pub extern "C" fn lucc_on_transfer_done(f: Option<DoneFn>, arg: *mut c_void) -> c_int {
    match f {
        Some(f) => {
            DONE.lock().unwrap().push((f, arg as usize));
            0
        }
        None => -1,
    }
}

/// The new address of what `old` pointed to in the old process: NULL for
/// NULL and for what has no counterpart (a variable the new version
/// dropped); an address that pointed at nothing known comes back as is.
/// Outside a transfer callback it returns `old` unchanged.
#[no_mangle]
pub extern "C" fn lucc_transfer_pointer(old: *const c_void) -> *mut c_void {
    let v = old as u64;
    TRANSLATE.with(|c| match c.get() {
        // SAFETY: set by `run` for the duration of the callbacks, which run
        // on this thread; callbacks do not re-enter `run`.
        Some(t) => unsafe { (*t)(v) }.unwrap_or(0) as *mut c_void,
        None => old as *mut c_void,
    })
}

#[cfg(test)]
mod tests {
    use super::type_matches;

    #[test]
    fn type_names_match_with_or_without_their_tag() {
        assert!(type_matches("struct conn", "struct conn"));
        assert!(type_matches("conn", "struct conn"));
        assert!(type_matches("kvobj", "kvobj"));
        assert!(!type_matches("conn", "struct connection"));
        assert!(!type_matches("struct conn", "conn"));
    }
}
