// realloc is a site typed like malloc; the original malloc is one too.
// CHECK-SITE: main malloc Int(32)
// CHECK-SITE: main realloc Int(32)
// CHECK-SITES: 2
// CHECK-IR: @__lucc_realloc(i8*
// CHECK-NOT-IR: @realloc(
// CHECK-RUN: 190
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    int *a = malloc(10 * sizeof(int));
    for (int i = 0; i < 10; i++) a[i] = i;
    a = realloc(a, 20 * sizeof(int));
    for (int i = 10; i < 20; i++) a[i] = i;
    int s = 0;
    for (int i = 0; i < 20; i++) s += a[i];
    printf("%d\n", s);
    free(a);
    return 0;
}
