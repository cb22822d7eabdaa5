// malloc as a value (also in a global initializer) is replaced by the
// runtime's indirect malloc, which has libc's signature and no site.
// CHECK-IR: @__lucc_malloc_indirect
// CHECK-IR: declare noalias i8* @__lucc_malloc_indirect(i64)
// CHECK-IR: @allocator = dso_local global i8* (i64)* @__lucc_malloc_indirect
// CHECK-NOT-IR: @malloc
// CHECK-SITES: 0
// CHECK-RUN: 6
#include <stdio.h>
#include <stdlib.h>
void *(*allocator)(size_t) = malloc;
static void *call(void *(*f)(size_t), size_t n) { return f(n); }
int main(void) {
    int *a = call(malloc, sizeof(int));
    int *b = allocator(sizeof(int));
    *a = 2; *b = 4;
    printf("%d\n", *a + *b);
    free(a);
    free(b);
    return 0;
}
