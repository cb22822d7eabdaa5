/* Allocation wrappers that abort instead of returning NULL: the shape
 * most C servers have, and a wrapper lucc must attribute to its callers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pair.h"

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu x %zu bytes)\n", n, size);
        abort();
    }
    return p;
}

char *xstrdup(const char *s) {
    char *p = strdup(s);
    if (!p) {
        fprintf(stderr, "out of memory (strdup)\n");
        abort();
    }
    return p;
}
