// Without debug information sites have no position but are still found,
// typed and rewritten, and the program still runs.
// FLAGS: -g0
// CHECK-SITE: main malloc Record(pair)
// CHECK-NOT-IR: !dbg
// CHECK-RUN: 3
#include <stdio.h>
#include <stdlib.h>
struct pair { int a, b; };
int main(void) {
    struct pair *p = malloc(sizeof *p);
    p->a = 1; p->b = 2;
    printf("%d\n", p->a + p->b);
    free(p);
    return 0;
}
