// Every libc allocator is rewritten with its own signature plus the site.
// CHECK-IR: @__lucc_malloc(i64 8, i32
// CHECK-IR: @__lucc_calloc(i64 2, i64 4, i32
// CHECK-IR: @__lucc_realloc(i8*
// CHECK-IR: @__lucc_reallocarray(i8*
// CHECK-IR: @__lucc_strdup(i8*
// CHECK-IR: @__lucc_strndup(i8*
// CHECK-IR: @__lucc_aligned_alloc(i64 64, i64 64, i32
// CHECK-IR: @__lucc_memalign(i64 32, i64 32, i32
// CHECK-IR: @__lucc_posix_memalign(i8**
// CHECK-SITES: 9
// CHECK-NOT-IR: @malloc(
// CHECK-NOT-IR: @reallocarray(
// CHECK-NOT-IR: @memalign(
// CHECK-RUN: ab 7 ok
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    int *a = malloc(8);
    int *b = calloc(2, 4);
    a = realloc(a, 16);
    b = reallocarray(b, 4, 4);
    char *s = strdup("abc");
    char *t = strndup(s, 2);
    long *al = aligned_alloc(64, 64);
    short *m = memalign(32, 32);
    void *pm;
    int rc = posix_memalign(&pm, 16, 16);
    a[3] = 7;
    printf("%s %d %s\n", t, a[3], rc == 0 && al && m ? "ok" : "bad");
    free(a); free(b); free(s); free(t); free(al); free(m); free(pm);
    return 0;
}
