/* Pointers from libc's own malloc reach the runtime's free and realloc. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lucc.h"
#include "lucc_rt_abi.h"

int main(void) {
    FILE *f = fmemopen("first line\nsecond\n", 18, "r");
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) != 11) return 1;
    fclose(f);
    __lucc_free(line);

    __lucc_free(strdup("from libc")); /* the real strdup */
    char *s = NULL;
    if (asprintf(&s, "%d-%s", 42, "x") < 0) return 2;
    __lucc_free(s);
    __lucc_free(realpath(".", NULL));
    __lucc_free(malloc(1 << 20)); /* mmapped by glibc */
    __lucc_free(NULL);

    /* Adoption: a foreign block grows into a tracked one, contents kept. */
    char *g = strdup("adopt me");
    char *t = __lucc_realloc(g, 4096, 5);
    if (strcmp(t, "adopt me") != 0) return 3;
    if (lucc_heap_object_count() != 1) return 4;
    __lucc_free(t);

    /* glibc's edge cases. */
    char *r = __lucc_realloc(NULL, 10, 6);
    if (!r || lucc_heap_object_count() != 1) return 5;
    memcpy(r, "123456789", 10);
    r = __lucc_realloc(r, 100000, 7);
    if (strcmp(r, "123456789") != 0) return 6;
    if (__lucc_realloc(r, 0, 8) != NULL) return 7;
    if (lucc_heap_object_count() != 0 || lucc_heap_bytes() != 0) return 8;
    if (__lucc_realloc(malloc(8), 0, 9) != NULL) return 9; /* foreign, to size 0 */
    puts("ok");
    return 0;
}
