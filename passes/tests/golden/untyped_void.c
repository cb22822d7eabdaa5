// A block only ever used as void* (memcpy, a void* field, returned) is not
// guessed: it is Untyped.
// CHECK-SITE: copy malloc Untyped
// CHECK-SITES: 1
// CHECK-RUN: 42
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct box { void *data; };
void copy(struct box *b, const void *src, size_t n) {
    void *p = malloc(n);
    memcpy(p, src, n);
    b->data = p;
}
int main(void) {
    int x = 42;
    struct box b;
    copy(&b, &x, sizeof x);
    printf("%d\n", *(int *)b.data);
    free(b.data);
    return 0;
}
