//! Object emission in this process: the instrumented module is optimised
//! and compiled as clang's backend would (`emit.cpp`), saving the second
//! clang run (its start-up and a bitcode round trip) per translation unit.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uint};
use std::path::Path;

use anyhow::{anyhow, Result};
use inkwell::module::Module;

/// The optimisation level and the code generation flags the module does not
/// carry itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmitOptions {
    /// 0 to 3; `-Os` and `-Oz` are 2, as in clang.
    pub opt_level: u8,
    /// 1 for `-Os`, 2 for `-Oz`, else 0.
    pub size_level: u8,
    /// `-ffunction-sections`
    pub function_sections: bool,
    /// `-fdata-sections`
    pub data_sections: bool,
    /// Whether the user asked for debug information beyond line tables
    /// (`-g`, `-g2`...): with optimisation, clang then describes call sites
    /// in DWARF. lucc's frontend step always asks for `-g`, so the module
    /// cannot tell.
    pub full_debug_info: bool,
}

#[repr(C)]
struct LuccEmitOptions {
    opt_level: c_uint,
    size_level: c_uint,
    function_sections: c_int,
    data_sections: c_int,
    call_site_info: c_int,
}

extern "C" {
    fn lucc_emit_object(
        module: llvm_sys::prelude::LLVMModuleRef,
        path: *const c_char,
        options: *const LuccEmitOptions,
        message: *mut *mut c_char,
    ) -> c_int;
}

/// Optimises `module` and writes its object to `path`. An error means no
/// usable object was written (the backend reported a diagnostic, or could
/// not write): clang should compile the unit instead.
pub fn emit_object(module: &Module<'_>, path: &Path, opts: &EmitOptions) -> Result<()> {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| anyhow!("NUL in {}", path.display()))?;
    let c_opts = LuccEmitOptions {
        opt_level: opts.opt_level.into(),
        size_level: opts.size_level.into(),
        function_sections: opts.function_sections.into(),
        data_sections: opts.data_sections.into(),
        call_site_info: (opts.opt_level > 0 && opts.full_debug_info).into(),
    };
    let mut message: *mut c_char = std::ptr::null_mut();
    // SAFETY: the module is alive for the call and not used elsewhere
    // meanwhile; the message, if any, was allocated with malloc.
    let failed = unsafe { lucc_emit_object(module.as_mut_ptr(), c_path.as_ptr(), &c_opts, &mut message) };
    if failed == 0 {
        return Ok(());
    }
    let why = if message.is_null() {
        "object emission failed".to_string()
    } else {
        // SAFETY: NUL-terminated, ours to free
        let s = unsafe { CStr::from_ptr(message) }.to_string_lossy().trim_end().to_string();
        unsafe { libc_free(message.cast()) };
        s
    };
    Err(anyhow!(why))
}

extern "C" {
    #[link_name = "free"]
    fn libc_free(p: *mut std::ffi::c_void);
}
