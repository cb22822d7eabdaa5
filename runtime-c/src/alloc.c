/* alloc.c: the allocation ABI instrumented programs call.
 *
 * Thin wrappers: argument checks that are libc's contract (overflow,
 * alignment rules, errno) live here; tracking lives in runtime-rs. The
 * runtime itself never calls these, so there is no re-entrancy to guard. */
#include <errno.h>
#include <string.h>

#include "lucc_rt_abi.h"
#include "rt_rs.h"

#define UNKNOWN_SITE 0u

void *__lucc_malloc(size_t n, uint32_t site) { return lucc_rt_malloc(n, site); }

void *__lucc_calloc(size_t n, size_t sz, uint32_t site) { return lucc_rt_calloc(n, sz, site); }

void *__lucc_realloc(void *p, size_t n, uint32_t site) { return lucc_rt_realloc(p, n, site); }

void *__lucc_reallocarray(void *p, size_t n, size_t sz, uint32_t site) {
    size_t total;
    if (__builtin_mul_overflow(n, sz, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return lucc_rt_realloc(p, total, site);
}

char *__lucc_strdup(const char *s, uint32_t site) {
    size_t len = strlen(s);
    char *d = lucc_rt_malloc(len + 1, site);
    if (d)
        memcpy(d, s, len + 1);
    return d;
}

char *__lucc_strndup(const char *s, size_t n, uint32_t site) {
    size_t len = strnlen(s, n);
    char *d = lucc_rt_malloc(len + 1, site);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* glibc's memalign rounds a non-power-of-two alignment up; aligned_alloc
 * and posix_memalign refuse it. */
static size_t round_up_pow2(size_t al) {
    size_t p = 1;
    while (p < al && p != 0)
        p <<= 1;
    return p;
}

void *__lucc_aligned_alloc(size_t al, size_t n, uint32_t site) { return lucc_rt_aligned(al, n, site); }

void *__lucc_memalign(size_t al, size_t n, uint32_t site) {
    size_t p = round_up_pow2(al);
    if (p == 0) {
        errno = EINVAL;
        return NULL;
    }
    return lucc_rt_aligned(p, n, site);
}

int __lucc_posix_memalign(void **out, size_t al, size_t n, uint32_t site) {
    if (al == 0 || (al & (al - 1)) != 0 || al % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno;
    void *p = lucc_rt_aligned(al, n, site);
    if (!p) {
        int e = errno;
        errno = saved;
        return e;
    }
    *out = p;
    return 0;
}

void __lucc_free(void *p) { lucc_rt_free(p); }

void __lucc_retag(void *p, uint32_t site) { lucc_rt_retag(p, site); }

void *__lucc_malloc_indirect(size_t n) { return lucc_rt_malloc(n, UNKNOWN_SITE); }
void *__lucc_calloc_indirect(size_t n, size_t sz) { return lucc_rt_calloc(n, sz, UNKNOWN_SITE); }
void *__lucc_realloc_indirect(void *p, size_t n) { return lucc_rt_realloc(p, n, UNKNOWN_SITE); }
void *__lucc_reallocarray_indirect(void *p, size_t n, size_t sz) {
    return __lucc_reallocarray(p, n, sz, UNKNOWN_SITE);
}
char *__lucc_strdup_indirect(const char *s) { return __lucc_strdup(s, UNKNOWN_SITE); }
char *__lucc_strndup_indirect(const char *s, size_t n) { return __lucc_strndup(s, n, UNKNOWN_SITE); }
void *__lucc_aligned_alloc_indirect(size_t al, size_t n) { return lucc_rt_aligned(al, n, UNKNOWN_SITE); }
void *__lucc_memalign_indirect(size_t al, size_t n) { return __lucc_memalign(al, n, UNKNOWN_SITE); }
int __lucc_posix_memalign_indirect(void **out, size_t al, size_t n) {
    return __lucc_posix_memalign(out, al, n, UNKNOWN_SITE);
}
