// A size-header realloc wrapper hands a null pointer to its malloc wrapper
// (realloc(NULL, n) is malloc(n)) and otherwise returns realloc's result
// past the header: both paths give a block at offset 8, so it is a wrapper
// of realloc at offset 8, its realloc an Untyped site (the header write is
// not the object), and calls to it are retagged with the caller's type.
// CHECK-WRAPPER: zmalloc malloc 8
// CHECK-WRAPPER: zrealloc realloc 8
// CHECK-WRAPPERS: 2
// CHECK-SITE: zrealloc realloc Untyped
// CHECK-RETAG: main zrealloc Record(vec)
// CHECK-RUN: 3 30
#include <stdio.h>
#include <stdlib.h>
struct vec { long n; long items[]; };
void *zmalloc(size_t size) {
    void *p = malloc(size + sizeof(size_t));
    if (!p) abort();
    *(size_t *)p = size;
    return (char *)p + sizeof(size_t);
}
void *zrealloc(void *ptr, size_t size) {
    if (ptr == NULL) return zmalloc(size);
    void *real = (char *)ptr - sizeof(size_t);
    void *np = realloc(real, size + sizeof(size_t));
    if (!np) abort();
    *(size_t *)np = size;
    return (char *)np + sizeof(size_t);
}
int main(void) {
    struct vec *v = zrealloc(NULL, sizeof *v);
    v->n = 0;
    for (long i = 1; i <= 3; i++) {
        v = zrealloc(v, sizeof *v + (size_t)i * sizeof(long));
        v->items[v->n++] = i * 10;
    }
    printf("%ld %ld\n", v->n, v->items[2]);
    free((char *)v - sizeof(size_t));
    return 0;
}
