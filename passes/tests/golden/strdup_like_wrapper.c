// A strdup-like wrapper (`xstrdup`, defined in another unit) makes a char
// copy even when the caller only stores the result into a field: the call
// is retagged char, as a libc strdup site would be typed.
// CHECK-RETAG: main xstrdup Int(8)
// CHECK-SITES: 1
// CHECK-RUN: lobby
// LINK-WITH: support/xstrdup.c
#include <stdio.h>
#include <stdlib.h>
struct room { char *name; };
char *xstrdup(const char *s);
int main(void) {
    struct room r;
    r.name = xstrdup("lobby");
    puts(r.name);
    free(r.name);
    return 0;
}
