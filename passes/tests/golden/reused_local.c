// A void* local reused for another object later is typed by the uses that
// read the allocation, not by what the local holds afterwards.
// CHECK-SITE: main malloc Record(first)
// CHECK-SITES: 1
// CHECK-RUN: 1 2
#include <stdio.h>
#include <stdlib.h>
struct first { int a; };
struct second { long b; };
static struct second other = { 2 };
int main(void) {
    void *p = malloc(sizeof(struct first));
    void *keep = p;
    p = &other;
    ((struct second *)p)->b = 2;
    ((struct first *)keep)->a = 1;
    printf("%d %ld\n", ((struct first *)keep)->a, ((struct second *)p)->b);
    free(keep);
    return 0;
}
