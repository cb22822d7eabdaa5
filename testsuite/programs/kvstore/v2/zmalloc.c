/* See zmalloc.h. Out-of-memory is fatal: a server cannot answer sensibly
 * once allocations fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zmalloc.h"

size_t used_memory = 0;

static void zmalloc_oom(size_t size) {
    fprintf(stderr, "zmalloc: out of memory allocating %zu bytes\n", size);
    abort();
}

void *zmalloc(size_t size) {
    void *ptr = malloc(size + PREFIX_SIZE);
    if (!ptr) zmalloc_oom(size);
    *((size_t *)ptr) = size;
    used_memory += size + PREFIX_SIZE;
    return (char *)ptr + PREFIX_SIZE;
}

void *zcalloc(size_t size) {
    void *ptr = calloc(1, size + PREFIX_SIZE);
    if (!ptr) zmalloc_oom(size);
    *((size_t *)ptr) = size;
    used_memory += size + PREFIX_SIZE;
    return (char *)ptr + PREFIX_SIZE;
}

void *zrealloc(void *ptr, size_t size) {
    if (ptr == NULL) return zmalloc(size);
    void *realptr = (char *)ptr - PREFIX_SIZE;
    size_t oldsize = *((size_t *)realptr);
    void *newptr = realloc(realptr, size + PREFIX_SIZE);
    if (!newptr) zmalloc_oom(size);
    *((size_t *)newptr) = size;
    used_memory -= oldsize;
    used_memory += size;
    return (char *)newptr + PREFIX_SIZE;
}

size_t zmalloc_size(void *ptr) {
    return *(size_t *)((char *)ptr - PREFIX_SIZE);
}

void zfree(void *ptr) {
    if (ptr == NULL) return;
    void *realptr = (char *)ptr - PREFIX_SIZE;
    used_memory -= *((size_t *)realptr) + PREFIX_SIZE;
    free(realptr);
}

char *zstrdup(const char *s) {
    size_t l = strlen(s) + 1;
    char *p = zmalloc(l);
    memcpy(p, s, l);
    return p;
}

size_t zmalloc_used_memory(void) {
    return used_memory;
}
