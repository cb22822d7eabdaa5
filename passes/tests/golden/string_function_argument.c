// A block from a possible wrapper that the caller only hands to string
// functions (`snprintf`, `strcat`) as their char* buffer holds characters:
// its retag is typed char. A block only used as void* (memcpy) gets none.
// CHECK-RETAG: main xmalloc Int(8)
// CHECK-SITES: 1
// CHECK-RUN: id=42!
// LINK-WITH: support/xmalloc.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
void *xmalloc(size_t n);
int main(void) {
    char *msg = xmalloc(16);
    snprintf(msg, 16, "id=%d", 42);
    strcat(msg, "!");
    void *raw = xmalloc(sizeof msg);
    memcpy(raw, &msg, sizeof msg);
    puts(msg);
    free(raw);
    free(msg);
    return 0;
}
