// A union pointee is a Record marked as a union.
// CHECK-SITE: main malloc Union(value)
// CHECK-RUN: 9
#include <stdio.h>
#include <stdlib.h>
union value { long i; double d; void *p; };
int main(void) {
    union value *v = malloc(sizeof *v);
    v->i = 9;
    printf("%ld\n", v->i);
    free(v);
    return 0;
}
