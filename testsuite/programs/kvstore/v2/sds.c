/* See sds.h. Growth doubles below 1 MB so appends are amortised O(1). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "sds.h"
#include "zmalloc.h"

#define SDS_MAX_PREALLOC (1024 * 1024)

sds sdsnewlen(const void *init, size_t initlen) {
    struct sdshdr *sh = zmalloc(sizeof(struct sdshdr) + initlen + 1);
    sh->len = initlen;
    sh->alloc = initlen;
    if (initlen && init)
        memcpy(sh->buf, init, initlen);
    else if (initlen)
        memset(sh->buf, 0, initlen);
    sh->buf[initlen] = '\0';
    return sh->buf;
}

sds sdsnew(const char *init) {
    return sdsnewlen(init, init ? strlen(init) : 0);
}

sds sdsempty(void) {
    return sdsnewlen("", 0);
}

sds sdsdup(const sds s) {
    return sdsnewlen(s, sdslen(s));
}

void sdsfree(sds s) {
    if (s == NULL) return;
    zfree(SDS_HDR(s));
}

sds sdsMakeRoomFor(sds s, size_t addlen) {
    if (sdsavail(s) >= addlen) return s;
    struct sdshdr *sh = SDS_HDR(s);
    size_t newlen = sh->len + addlen;
    if (newlen < SDS_MAX_PREALLOC)
        newlen *= 2;
    else
        newlen += SDS_MAX_PREALLOC;
    struct sdshdr *newsh = zrealloc(sh, sizeof(struct sdshdr) + newlen + 1);
    newsh->alloc = newlen;
    return newsh->buf;
}

void sdsIncrLen(sds s, size_t incr) {
    struct sdshdr *sh = SDS_HDR(s);
    sh->len += incr;
    s[sh->len] = '\0';
}

sds sdscatlen(sds s, const void *t, size_t len) {
    s = sdsMakeRoomFor(s, len);
    memcpy(s + sdslen(s), t, len);
    sdsIncrLen(s, len);
    return s;
}

sds sdscat(sds s, const char *t) {
    return sdscatlen(s, t, strlen(t));
}

sds sdscatprintf(sds s, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return s;
    if ((size_t)n < sizeof small) return sdscatlen(s, small, (size_t)n);
    s = sdsMakeRoomFor(s, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s + sdslen(s), (size_t)n + 1, fmt, ap);
    va_end(ap);
    sdsIncrLen(s, (size_t)n);
    return s;
}

/* Drops the first `start` bytes (consumed input) in place. */
void sdsrange(sds s, size_t start) {
    size_t len = sdslen(s);
    if (start > len) start = len;
    memmove(s, s + start, len - start);
    SDS_HDR(s)->len = len - start;
    s[len - start] = '\0';
}

void sdsclear(sds s) {
    SDS_HDR(s)->len = 0;
    s[0] = '\0';
}

int sdscmp(const sds a, const sds b) {
    size_t l1 = sdslen(a), l2 = sdslen(b);
    size_t minlen = l1 < l2 ? l1 : l2;
    int cmp = memcmp(a, b, minlen);
    if (cmp == 0) return l1 > l2 ? 1 : (l1 < l2 ? -1 : 0);
    return cmp;
}
