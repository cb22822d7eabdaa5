// posix_memalign's result comes through its first argument's slot.
// CHECK-SITE: main posix_memalign Record(vec)
// CHECK-IR: call i32 @__lucc_posix_memalign(i8**
// CHECK-NOT-IR: @posix_memalign(
// CHECK-RUN: 0 1.5 0
#include <stdio.h>
#include <stdlib.h>
struct vec { double x, y; };
int main(void) {
    struct vec *v;
    int rc = posix_memalign((void **)&v, 64, sizeof *v);
    v->x = 1.5;
    printf("%d %.1f %d\n", rc, v->x, (int)((unsigned long)v % 64));
    free(v);
    return 0;
}
