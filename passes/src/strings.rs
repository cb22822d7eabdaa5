//! What marks memory as a C string.
//!
//! A block handed to `strcpy` or `snprintf`, or made by a `strdup`-like
//! function, holds characters even when the program never indexes it
//! itself: `char *msg = xmalloc(n); snprintf(msg, n, ...)` only ever passes
//! `msg` on. These tables let the forward trace count such uses as byte
//! uses, which types the site `char` (never `void *`-only uses: those stay
//! Untyped).

use lucc_abi::symbols::{self, AllocKind};

/// libc functions whose fixed `char *` parameters are C strings (or string
/// buffers). `memcpy`-like functions are not here: they copy any object.
const STRING_FUNCTIONS: &[&str] = &[
    "strcpy", "strncpy", "strcat", "strncat", "stpcpy", "stpncpy", "strlen", "strnlen", "strcmp",
    "strncmp", "strcasecmp", "strncasecmp", "strcoll", "strxfrm", "strchr", "strrchr", "strstr",
    "strcasestr", "strpbrk", "strspn", "strcspn", "strtok", "strtok_r", "strdup", "strndup",
    "sprintf", "snprintf", "vsprintf", "vsnprintf", "sscanf", "vsscanf", "fgets", "fputs", "puts",
    "atoi", "atol", "atoll", "atof", "strtol", "strtoll", "strtoul", "strtoull", "strtod",
    "strtof",
];

/// Whether `callee`'s fixed `char *` parameters are strings.
pub fn takes_strings(callee: &str) -> bool {
    STRING_FUNCTIONS.contains(&callee)
}

/// Whether a function makes a copy of a string, by libc's name for it or
/// the usual naming of its wrappers (`xstrdup`, `zstrdup`, `g_strndup`;
/// not `g_strdupv`, which makes an array of strings).
pub fn is_strdup_like(name: &str) -> bool {
    symbols::allocator(name).is_some_and(|a| a.kind == AllocKind::StrDup)
        || name.ends_with("strdup")
        || name.ends_with("strndup")
}
