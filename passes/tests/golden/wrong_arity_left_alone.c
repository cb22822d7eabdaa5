// A call to an allocator that does not match its C signature (through a
// cast of the function) is left as it is, is no site, and is noted in
// `skipped`; the other calls are still rewritten.
// CHECK-SKIPPED: main: call to malloc with 2 arguments
// CHECK-IR: @malloc to i8* (i32, i32)*)(i32 noundef 8, i32 noundef 1)
// CHECK-IR: @__lucc_malloc(i64 4
// CHECK-SITES: 1
#include <stdlib.h>
int main(void) {
    char *a = ((void *(*)(int, int))malloc)(8, 1);
    char *b = malloc(4);
    a[0] = b[0] = 0;
    return 0;
}
