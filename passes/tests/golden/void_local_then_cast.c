// The -O0 pattern `void *p = malloc(..); struct node *n = p;` is typed
// through the void* local's loads.
// CHECK-SITE: main malloc Record(node)
// CHECK-RUN: 3
#include <stdio.h>
#include <stdlib.h>
struct node { int v; struct node *next; };
int main(void) {
    void *p = malloc(sizeof(struct node));
    struct node *n = p;
    n->v = 3;
    printf("%d\n", n->v);
    free(p);
    return 0;
}
