// Functions returning pointers that do not come from one allocation at a
// constant offset are not wrappers: a lookup into an existing table, a
// choice between two allocators, a pointer that escapes through its
// address, and a variable offset.
// CHECK-WRAPPERS: 0
// CHECK-RUN: 1 2
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int table[4];
int *lookup(int i) { return &table[i]; }
void *either(int c, size_t n) { return c ? malloc(n) : calloc(1, n); }
void *through_address(size_t n) {
    void *p = malloc(n);
    void **pp = &p;
    *pp = NULL;
    return p;
}
char *variable_offset(size_t hdr) {
    char *p = malloc(hdr + 16);
    return p + hdr;
}
int main(void) {
    table[1] = 1;
    void *a = either(1, 4), *b = through_address(4);
    char *c = variable_offset(8);
    printf("%d %d\n", *lookup(1), b == NULL ? 2 : 0);
    free(a);
    free(c - 8);
    return 0;
}
