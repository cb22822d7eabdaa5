// The classic size-header allocator is a wrapper at offset 8; its own
// malloc is an Untyped site (its header write is not the object's type),
// and a call to it is retagged with the caller's type.
// CHECK-WRAPPER: zmalloc malloc 8
// CHECK-WRAPPERS: 1
// CHECK-SITE: zmalloc malloc Untyped
// CHECK-RETAG: main zmalloc Record(conn)
// CHECK-IR: call void @__lucc_retag(i8*
// CHECK-RUN: 8 11
#include <stdio.h>
#include <stdlib.h>
struct conn { int fd; int flags; };
void *zmalloc(size_t size) {
    void *ptr = malloc(size + sizeof(size_t));
    if (!ptr) abort();
    *((size_t *)ptr) = size;
    return (char *)ptr + sizeof(size_t);
}
void zfree(void *ptr) {
    if (ptr == NULL) return;
    free((char *)ptr - sizeof(size_t));
}
size_t zmalloc_size(void *ptr) { return *(size_t *)((char *)ptr - sizeof(size_t)); }
int main(void) {
    struct conn *c = zmalloc(sizeof *c);
    c->fd = 11;
    printf("%zu %d\n", zmalloc_size(c), c->fd);
    zfree(c);
    return 0;
}
