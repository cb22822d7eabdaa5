//! Functions of other units (or libraries) that may allocate.
//!
//! A unit only sees a declaration of `zmalloc` or `xstrdup` when they live
//! in another file, so it cannot know whether they are wrappers; the link
//! step can, from every unit's wrapper records. Until then, an external
//! function returning a pointer is a *possible* wrapper, unless it is a
//! well-known library function that returns memory it does not allocate
//! for the caller. A retag after a call that did not allocate is harmless:
//! the runtime only retags a pointer into the thread's last block.

use lucc_abi::symbols;

use crate::ir::{self, Value};

/// Library functions that return pointers to memory they do not allocate
/// for the caller (or that lucc's runtime never sees): calls to them are
/// not possible wrappers.
const NOT_WRAPPERS: &[&str] = &[
    "strchr", "strrchr", "strstr", "strcasestr", "strpbrk", "memchr", "memrchr", "rawmemchr",
    "strtok", "strtok_r", "strsep", "strcpy", "strncpy", "strcat", "strncat", "stpcpy", "stpncpy",
    "memcpy", "memmove", "memset", "mempcpy", "strerror", "strerror_r", "strsignal", "getenv",
    "secure_getenv", "setlocale", "nl_langinfo", "fopen", "fdopen", "freopen", "popen", "tmpfile",
    "fmemopen", "open_memstream", "fgets", "gets", "opendir", "fdopendir", "readdir", "gmtime",
    "localtime", "gmtime_r", "localtime_r", "ctime", "ctime_r", "asctime", "asctime_r",
    "getpwnam", "getpwuid", "getgrnam", "getgrgid", "getlogin", "gethostbyname",
    "gethostbyaddr", "getservbyname", "getprotobyname", "inet_ntoa", "inet_ntop", "gai_strerror",
    "dlopen", "dlsym", "dlerror", "mmap", "mremap", "sbrk", "signal", "basename", "dirname",
    "realpath", "getcwd", "tmpnam", "ttyname", "ptsname", "pthread_getspecific", "shmat",
    "__errno_location", "__h_errno_location", "__ctype_b_loc", "__ctype_tolower_loc",
    "__ctype_toupper_loc", "__xpg_basename", "bsearch", "tsearch", "tfind", "lfind", "lsearch",
];

/// Whether `f` is only declared here, returns a pointer, and is neither a
/// libc allocator (those are sites of their own) nor known not to allocate.
pub fn may_be_wrapper_elsewhere(f: Value) -> bool {
    let name = ir::name(f);
    ir::is_declaration(f)
        && ir::is_pointer(ir::return_type(f))
        && !name.starts_with("llvm.")
        && symbols::allocator(&name).is_none()
        && !NOT_WRAPPERS.contains(&name.as_str())
}
