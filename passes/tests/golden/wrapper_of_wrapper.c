// Wrappers of wrappers are found by iterating to a fixpoint: the hash
// table's _alloc calls zmalloc, which calls malloc. Only the outermost call
// (in main) carries the type; the inner calls are retagged only if typed.
// CHECK-WRAPPER: zmalloc malloc 8
// CHECK-WRAPPER: ht_alloc zmalloc 0
// CHECK-WRAPPER: ht_create ht_alloc 0
// CHECK-WRAPPERS: 3
// CHECK-RETAG: main ht_create Record(dict)
// CHECK-NOT-IR: call i8* @malloc(
// CHECK-RUN: 4
#include <stdio.h>
#include <stdlib.h>
struct dict { void **table; unsigned long size; };
void *zmalloc(size_t size) {
    void *ptr = malloc(size + sizeof(size_t));
    if (ptr == NULL) return NULL;
    *((size_t *)ptr) = size;
    return (char *)ptr + sizeof(size_t);
}
static void *ht_alloc(size_t size) { return zmalloc(size); }
void *ht_create(unsigned long size) {
    void *d = ht_alloc(sizeof(struct dict));
    return d;
}
int main(void) {
    struct dict *d = ht_create(4);
    d->size = 4;
    printf("%lu\n", d->size);
    free((char *)d - sizeof(size_t));
    return 0;
}
