// An array of long is Int(64).
// CHECK-SITE: main malloc Int(64)
// CHECK-RUN: 4950
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    long *a = malloc(100 * sizeof(long));
    long s = 0;
    for (int i = 0; i < 100; i++) a[i] = i;
    for (int i = 0; i < 100; i++) s += a[i];
    printf("%ld\n", s);
    free(a);
    return 0;
}
