// strdup results are char buffers even when only used as void*.
// CHECK-SITE: main strdup Int(8)
// CHECK-IR: @__lucc_strdup(i8* getelementptr
// CHECK-NOT-IR: @strdup(
// CHECK-RUN: hello
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    void *s = strdup("hello");
    puts(s);
    free(s);
    return 0;
}
