// An array of double is Float(64).
// CHECK-SITE: main calloc Float(64)
// CHECK-RUN: 2.0
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    double *d = calloc(4, sizeof(double));
    d[1] = 2.0;
    printf("%.1f\n", d[1] + d[0]);
    free(d);
    return 0;
}
