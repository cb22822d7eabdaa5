// A header allocator that reassigns its local (`p++` past an i64 header,
// only when the allocation succeeded) is a wrapper at offset 8: the store
// reaching the return is `p + 1`, and the null path returns null.
// CHECK-WRAPPER: mem_malloc malloc 8
// CHECK-SITE: mem_malloc malloc Untyped
// CHECK-RETAG: main mem_malloc Record(page)
// CHECK-RUN: 24 3
#include <stdio.h>
#include <stdlib.h>
struct page { int n; char bytes[20]; };
void *mem_malloc(int n) {
    long long *p;
    p = malloc(n + 8);
    if (p) {
        p[0] = n;
        p++;
    }
    return (void *)p;
}
int main(void) {
    struct page *pg = mem_malloc(sizeof *pg);
    pg->n = 3;
    printf("%lld %d\n", ((long long *)pg)[-1], pg->n);
    free((long long *)pg - 1);
    return 0;
}
