//! Names of the runtime's entry points that instrumented code calls.
//!
//! Every allocation call the pass rewrites keeps its C arguments and gains
//! one trailing `uint32_t site` argument. The C declarations live in
//! `runtime-c/include/lucc_rt_abi.h`; a test in the runtime checks both lists
//! agree.

/// One libc allocation function and the runtime function that replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocator {
    /// The libc name the program calls.
    pub libc: &'static str,
    /// The runtime's replacement (same arguments, plus a trailing site id).
    pub runtime: &'static str,
    /// What the call does to the heap.
    pub kind: AllocKind,
    /// Replacement with exactly the libc signature (no site argument), for
    /// uses of the function as a value (`dict->free = free`,
    /// `pthread_key_create(&k, free)`): memory from the runtime must never
    /// reach libc's `free`, and memory from libc is told apart and passed
    /// back to it. Blocks allocated this way have [`crate::UNKNOWN_SITE`].
    pub indirect: &'static str,
}

/// How an allocation function's arguments and result are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocKind {
    /// `malloc(size)`: returns a new block of `size` bytes.
    Malloc,
    /// `calloc(n, size)`: returns a zeroed block of `n * size` bytes.
    Calloc,
    /// `realloc(p, size)`: resizes `p` (may move it).
    Realloc,
    /// `reallocarray(p, n, size)`.
    ReallocArray,
    /// `strdup(s)` / `strndup(s, n)`: a new `char` block.
    StrDup,
    /// `aligned_alloc(align, size)` / `memalign(align, size)`.
    Aligned,
    /// `posix_memalign(&p, align, size)`: result through the first argument.
    PosixMemalign,
    /// `free(p)`.
    Free,
}

macro_rules! allocators {
    ($($libc:literal => $rt:literal, $ind:literal, $kind:ident;)*) => {
        /// Every libc allocation function the pass rewrites.
        pub const ALLOCATORS: &[Allocator] = &[
            $(Allocator { libc: $libc, runtime: $rt, kind: AllocKind::$kind, indirect: $ind },)*
        ];
    };
}

// `free` keeps its signature (it has no site), so it is its own indirect
// replacement. `__strdup`/`__strndup` are glibc's internal names that older
// <string.h> macros expand to.
allocators! {
    "malloc" => "__lucc_malloc", "__lucc_malloc_indirect", Malloc;
    "calloc" => "__lucc_calloc", "__lucc_calloc_indirect", Calloc;
    "realloc" => "__lucc_realloc", "__lucc_realloc_indirect", Realloc;
    "reallocarray" => "__lucc_reallocarray", "__lucc_reallocarray_indirect", ReallocArray;
    "strdup" => "__lucc_strdup", "__lucc_strdup_indirect", StrDup;
    "__strdup" => "__lucc_strdup", "__lucc_strdup_indirect", StrDup;
    "strndup" => "__lucc_strndup", "__lucc_strndup_indirect", StrDup;
    "__strndup" => "__lucc_strndup", "__lucc_strndup_indirect", StrDup;
    "aligned_alloc" => "__lucc_aligned_alloc", "__lucc_aligned_alloc_indirect", Aligned;
    "memalign" => "__lucc_memalign", "__lucc_memalign_indirect", Aligned;
    "posix_memalign" => "__lucc_posix_memalign", "__lucc_posix_memalign_indirect", PosixMemalign;
    "free" => "__lucc_free", "__lucc_free", Free;
}

/// `void __lucc_retag(void *p, uint32_t site)`: called after a call to a
/// function that may be an allocation wrapper; if `p` points into the block
/// most recently allocated by this thread, that block's site becomes `site`
/// and `p`'s offset into it is remembered. The outermost wrapper's call,
/// which runs last, wins.
pub const RETAG: &str = "__lucc_retag";

/// Looks an allocation function up by its libc name.
pub fn allocator(libc_name: &str) -> Option<&'static Allocator> {
    ALLOCATORS.iter().find(|a| a.libc == libc_name)
}

/// ELF section in which each instrumented object carries its fragment.
pub const FRAGMENT_SECTION: &str = ".lucc.fragment";

/// Name of the global holding a translation unit's fragment.
pub const FRAGMENT_GLOBAL: &str = "__lucc_fragment";

/// Name of the global that references [`crate::ABI_CHECK_SYMBOL`].
pub const ABI_CHECK_REF_GLOBAL: &str = "__lucc_abi_check";

/// File name of the runtime archive the driver links into every program.
pub const RUNTIME_ARCHIVE: &str = "liblucc_rt.a";

/// Extension of the sidecar written beside every linked program.
pub const SIDECAR_EXTENSION: &str = "lumap";
