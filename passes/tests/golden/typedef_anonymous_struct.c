// clang names the IR type of `typedef struct { ... } point;` after the
// typedef (%struct.point), so the site records `point`; DWARF has an
// anonymous struct behind the typedef `point`.
// CHECK-SITE: main malloc Record(point)
// CHECK-RUN: 1 2.5
#include <stdio.h>
#include <stdlib.h>
typedef struct { int a; double b; } point;
int main(void) {
    point *p = malloc(sizeof *p);
    p->a = 1; p->b = 2.5;
    printf("%d %.1f\n", p->a, p->b);
    free(p);
    return 0;
}
