// free used as a value (a callback, a struct field) becomes the runtime's
// free, which has libc's signature.
// CHECK-IR: store void (i8*)* @__lucc_free
// CHECK-IR: call void @__lucc_free(i8*
// CHECK-IR: call void @apply(void (i8*)* noundef @__lucc_free,
// CHECK-NOT-IR: @free
// CHECK-RUN: freed
#include <stdio.h>
#include <stdlib.h>
struct dict_type { void (*val_destructor)(void *); };
static void destroy(struct dict_type *t, void *v) { t->val_destructor(v); }
static void apply(void (*fn)(void *), void *p) { fn(p); }
int main(void) {
    struct dict_type t;
    t.val_destructor = free;
    destroy(&t, malloc(16));
    free(malloc(8));
    apply(free, malloc(4));
    puts("freed");
    return 0;
}
