// A block of function pointers is FunctionPointer.
// CHECK-SITE: main malloc FunctionPointer
// CHECK-RUN: 5
#include <stdio.h>
#include <stdlib.h>
static int five(void) { return 5; }
int main(void) {
    int (**table)(void) = malloc(3 * sizeof *table);
    table[0] = five;
    printf("%d\n", table[0]());
    free(table);
    return 0;
}
