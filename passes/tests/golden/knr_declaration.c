// A K&R-style declaration of malloc makes clang call a bitcast of it with
// an int argument; that is still a direct call, converted to the runtime's
// signature.
// CHECK-SITE: main malloc Record(cell)
// CHECK-IR: @__lucc_malloc(i64 %
// CHECK-NOT-IR: @malloc
// CHECK-RUN: 12
#include <stdio.h>
void *malloc();
void free();
struct cell { int v; };
int main(void) {
    int n = sizeof(struct cell);
    struct cell *c = malloc(n);
    c->v = 12;
    printf("%d\n", c->v);
    free(c);
    return 0;
}
