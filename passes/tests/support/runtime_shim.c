/* The runtime's allocation entry points as plain libc wrappers: enough to
 * link and run an instrumented program without the real runtime. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

char __lucc_abi_version_1;

void *__lucc_malloc(size_t n, uint32_t site) { (void)site; return malloc(n); }
void *__lucc_calloc(size_t n, size_t m, uint32_t site) { (void)site; return calloc(n, m); }
void *__lucc_realloc(void *p, size_t n, uint32_t site) { (void)site; return realloc(p, n); }
void *__lucc_strdup(const char *s, uint32_t site) { (void)site; return strdup(s); }
void *__lucc_strndup(const char *s, size_t n, uint32_t site) { (void)site; return strndup(s, n); }
void *__lucc_aligned_alloc(size_t a, size_t n, uint32_t site) { (void)site; return aligned_alloc(a, n); }
int __lucc_posix_memalign(void **p, size_t a, size_t n, uint32_t site) { (void)site; return posix_memalign(p, a, n); }
void __lucc_free(void *p) { free(p); }
void *__lucc_malloc_indirect(size_t n) { return malloc(n); }
void __lucc_retag(void *p, uint32_t site) { (void)p; (void)site; }
void *__lucc_reallocarray(void *p, size_t n, size_t m, uint32_t site) { (void)site; return reallocarray(p, n, m); }
void *__lucc_memalign(size_t a, size_t n, uint32_t site) { (void)site; return memalign(a, n); }
