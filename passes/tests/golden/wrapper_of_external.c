// A function returning the result of a function only declared here (a
// wrapper, maybe, in another unit) is a possible wrapper of it: its record
// names the external inner, for the link step to chain, and calls to it
// are retagged with the caller's type. Its own call is not a site: it
// only returns the memory.
// CHECK-WRAPPER: pool_alloc xmalloc 0
// CHECK-WRAPPERS: 1
// CHECK-RETAG: main pool_alloc Record(entry)
// CHECK-SITES: 1
// CHECK-RUN: 7
// LINK-WITH: support/xmalloc.c
#include <stdio.h>
#include <stdlib.h>
struct entry { int key; struct entry *next; };
void *xmalloc(size_t n);
static void *pool_alloc(size_t n) { return xmalloc(n); }
int main(void) {
    struct entry *e = pool_alloc(sizeof *e);
    e->key = 7;
    e->next = NULL;
    printf("%d\n", e->key);
    free(e);
    return 0;
}
