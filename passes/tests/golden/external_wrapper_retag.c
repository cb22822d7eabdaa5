// A call to a function only declared here (a wrapper, maybe, in another
// unit) whose result is used as a typed pointer is retagged; calls to
// well-known libc functions and untyped uses are not.
// CHECK-RETAG: main xmalloc Record(session)
// CHECK-SITES: 1
// CHECK-IR: call void @__lucc_retag(i8* %
// CHECK-RUN: 5 c
// LINK-WITH: support/xmalloc.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct session { int id; };
void *xmalloc(size_t n);
int main(void) {
    struct session *s = xmalloc(sizeof *s);
    s->id = 5;
    const char *c = strchr("abc", 'c');
    printf("%d %s\n", s->id, c);
    void *raw = xmalloc(8);
    free(raw);
    free(s);
    return 0;
}
