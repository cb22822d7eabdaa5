// Every unit carries its fragment in the fragment section and references
// the runtime's versioned ABI symbol, both kept by @llvm.used.
// CHECK-IR: @__lucc_fragment = private constant [
// CHECK-IR: section ".lucc.fragment", align 1
// CHECK-IR: @__lucc_abi_version_1 = external global i8
// CHECK-IR: @__lucc_abi_check = private constant i8* @__lucc_abi_version_1
// CHECK-IR: @llvm.used = appending global [2 x i8*]
// CHECK-SITE: main malloc Int(32)
// CHECK-RUN: 1
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    int *x = malloc(sizeof *x);
    *x = 1;
    printf("%d\n", *x);
    free(x);
    return 0;
}
