/* See xmalloc.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xmalloc.h"

static void oom(size_t n) {
    fprintf(stderr, "chat: out of memory (%zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t nmemb, size_t size) {
    void *p = calloc(nmemb, size);
    if (!p) oom(nmemb * size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    p = realloc(p, n);
    if (!p) oom(n);
    return p;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}
