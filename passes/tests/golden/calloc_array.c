// calloc of an array of structs is typed by the element struct.
// CHECK-SITE: main calloc Record(item)
// CHECK-IR: @__lucc_calloc(i64 10, i64 16, i32
// CHECK-NOT-IR: @calloc(
// CHECK-RUN: 0 45
#include <stdio.h>
#include <stdlib.h>
struct item { long key; long value; };
int main(void) {
    struct item *items = calloc(10, sizeof(struct item));
    long sum = 0;
    for (int i = 0; i < 10; i++) items[i].value = i;
    for (int i = 0; i < 10; i++) sum += items[i].value;
    printf("%ld %ld\n", items[3].key, sum);
    free(items);
    return 0;
}
