/* lucc_rt_abi.h: the entry points instrumented code calls.
 *
 * The compiler pass rewrites every call to a libc allocation function into
 * the __lucc_* function with the same arguments plus a trailing site id,
 * and every other use of an allocator (dict->free = free) into the
 * *_indirect variant, which has exactly libc's signature and records
 * site 0 (unknown). The names must match lucc_abi::symbols; a test in
 * runtime-rs checks they do. Not for programs to include: see lucc.h. */
#ifndef LUCC_RT_ABI_H
#define LUCC_RT_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Referenced by every instrumented object: a runtime of another ABI
 * version fails the link instead of misbehaving. */
extern char __lucc_abi_version_1;

void *__lucc_malloc(size_t n, uint32_t site);
void *__lucc_calloc(size_t n, size_t sz, uint32_t site);
void *__lucc_realloc(void *p, size_t n, uint32_t site);
void *__lucc_reallocarray(void *p, size_t n, size_t sz, uint32_t site);
char *__lucc_strdup(const char *s, uint32_t site);
char *__lucc_strndup(const char *s, size_t n, uint32_t site);
void *__lucc_aligned_alloc(size_t al, size_t n, uint32_t site);
void *__lucc_memalign(size_t al, size_t n, uint32_t site);
int __lucc_posix_memalign(void **out, size_t al, size_t n, uint32_t site);
/* Frees runtime blocks; anything else goes to libc's free. */
void __lucc_free(void *p);
/* If p lies in the block this thread allocated last, attribute that block
 * to site and remember p's offset in it. Never dereferences p. */
void __lucc_retag(void *p, uint32_t site);

void *__lucc_malloc_indirect(size_t n);
void *__lucc_calloc_indirect(size_t n, size_t sz);
void *__lucc_realloc_indirect(void *p, size_t n);
void *__lucc_reallocarray_indirect(void *p, size_t n, size_t sz);
char *__lucc_strdup_indirect(const char *s);
char *__lucc_strndup_indirect(const char *s, size_t n);
void *__lucc_aligned_alloc_indirect(size_t al, size_t n);
void *__lucc_memalign_indirect(size_t al, size_t n);
int __lucc_posix_memalign_indirect(void **out, size_t al, size_t n);

#ifdef __cplusplus
}
#endif

#endif
