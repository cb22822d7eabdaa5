// A malloc whose result is used as a struct pointer is typed by that struct
// and rewritten to the runtime with its site id.
// CHECK-SITE: main malloc Record(node)
// CHECK-SITES: 1
// CHECK-IR: call i8* @__lucc_malloc(i64 16, i32
// CHECK-IR: declare noalias i8* @__lucc_malloc(i64, i32)
// CHECK-NOT-IR: @malloc(
// CHECK-RUN: 7
#include <stdio.h>
#include <stdlib.h>
struct node { int v; struct node *next; };
int main(void) {
    struct node *n = malloc(sizeof(struct node));
    n->v = 7;
    n->next = NULL;
    printf("%d\n", n->v);
    free(n);
    return 0;
}
