/* Values. A string value that looks like a small integer is stored in the
 * object's pointer field itself (encoding INT): the word is a number, not
 * an address, whatever it looks like. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include "server.h"
#include "zmalloc.h"

struct kvobj *createObject(int type, void *ptr) {
    struct kvobj *o = zmalloc(sizeof(*o));
    o->type = type;
    o->encoding = OBJ_ENCODING_RAW;
    o->refcount = 1;
    o->ptr = ptr;
    o->accesses = 0;
    return o;
}

struct kvobj *createStringObject(const char *s, size_t len) {
    return createObject(OBJ_STRING, sdsnewlen(s, len));
}

static int parseLongLong(const char *s, size_t len, long long *out) {
    if (len == 0 || len > 20) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end != s + len) return 0;
    /* Only canonical spellings, so the reply repeats what was stored. */
    if (s[0] == '+' || (s[0] == '0' && len > 1) || (s[0] == '-' && (len == 1 || s[1] == '0'))) return 0;
    *out = v;
    return 1;
}

struct kvobj *tryObjectEncoding(struct kvobj *o) {
    long long v;
    if (o->encoding != OBJ_ENCODING_RAW) return o;
    if (!parseLongLong(o->ptr, sdslen(o->ptr), &v)) return o;
    if (v < (long long)INTPTR_MIN || v > (long long)INTPTR_MAX) return o;
    sdsfree(o->ptr);
    o->encoding = OBJ_ENCODING_INT;
    o->ptr = (void *)(intptr_t)v;
    return o;
}

void decrRefCount(struct kvobj *o) {
    if (--o->refcount > 0) return;
    if (o->encoding == OBJ_ENCODING_RAW) sdsfree(o->ptr);
    zfree(o);
}

int getLongLongFromObject(struct kvobj *o, long long *out) {
    if (o->encoding == OBJ_ENCODING_INT) {
        *out = (long long)(intptr_t)o->ptr;
        return 1;
    }
    return parseLongLong(o->ptr, sdslen(o->ptr), out);
}

/* A fresh sds with the value's bytes, whatever its encoding. */
sds objectToSds(struct kvobj *o) {
    if (o->encoding == OBJ_ENCODING_INT) return sdscatprintf(sdsempty(), "%lld", (long long)(intptr_t)o->ptr);
    return sdsdup(o->ptr);
}
