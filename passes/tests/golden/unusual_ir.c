// Varargs, indirect calls, inline asm and K&R-style declarations pass
// through; the module still verifies and runs.
// CHECK-SITE: sum_all malloc Int(32)
// CHECK-RUN: 10 3
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
static int sum_all(int n, ...) {
    va_list ap;
    int *vals = malloc(n * sizeof(int));
    int s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) vals[i] = va_arg(ap, int);
    va_end(ap);
    for (int i = 0; i < n; i++) s += vals[i];
    free(vals);
    return s;
}
static int three(void) { int r; __asm__("movl $3, %0" : "=r"(r)); return r; }
int main(void) {
    int (*f)(void) = three;
    printf("%d %d\n", sum_all(4, 1, 2, 3, 4), f());
    return 0;
}
