/* Dynamic strings: a header struct sits in front of the bytes and the
 * program holds a pointer to the bytes (an interior pointer into the
 * block), so sds values can be passed to printf and strcmp directly. */
#ifndef SDS_H
#define SDS_H
#include <stddef.h>

typedef char *sds;

struct sdshdr {
    size_t len;   /* bytes in use, not counting the terminating NUL */
    size_t alloc; /* bytes available for content, excluding header and NUL */
    char buf[];
};

#define SDS_HDR(s) ((struct sdshdr *)((s) - sizeof(struct sdshdr)))

static inline size_t sdslen(const sds s) { return SDS_HDR(s)->len; }
static inline size_t sdsavail(const sds s) { return SDS_HDR(s)->alloc - SDS_HDR(s)->len; }

sds sdsnewlen(const void *init, size_t initlen);
sds sdsnew(const char *init);
sds sdsempty(void);
sds sdsdup(const sds s);
void sdsfree(sds s);
sds sdsMakeRoomFor(sds s, size_t addlen);
void sdsIncrLen(sds s, size_t incr);
sds sdscatlen(sds s, const void *t, size_t len);
sds sdscat(sds s, const char *t);
sds sdscatprintf(sds s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sdsrange(sds s, size_t start);
void sdsclear(sds s);
int sdscmp(const sds a, const sds b);

#endif
