// A wrapper that returns its allocation itself (offset 0) types its inner
// site from its own use, like any other function; the caller's retag is
// recorded too.
// CHECK-WRAPPER: conn_new malloc 0
// CHECK-SITE: conn_new malloc Record(conn)
// CHECK-RETAG: main conn_new Record(conn)
// CHECK-RUN: 4
#include <stdio.h>
#include <stdlib.h>
struct conn { int fd; struct conn *next; };
struct conn *conn_new(int fd) {
    struct conn *c = malloc(sizeof *c);
    if (c == NULL) return NULL;
    c->fd = fd;
    c->next = NULL;
    return c;
}
int main(void) {
    struct conn *c = conn_new(4);
    printf("%d\n", c->fd);
    free(c);
    return 0;
}
