// A unit that defines a function with an allocator's name (its own
// strndup) keeps calls to it: it is an ordinary function of the unit, here
// a wrapper, so its malloc is a site and its callers are retagged.
// CHECK-WRAPPER: strndup malloc 0
// CHECK-SITE: strndup malloc Int(8)
// CHECK-RETAG: main strndup Int(8)
// CHECK-SITES: 2
// CHECK-IR: call i8* @strndup(
// CHECK-RUN: ab
#include <stdio.h>
#include <stdlib.h>
char *strndup(const char *s, unsigned long n) {
    char *p = malloc(n + 1);
    for (unsigned long i = 0; i < n; i++) p[i] = s[i];
    p[n] = 0;
    return p;
}
int main(void) {
    char *t = strndup("abc", 2);
    if (t[0] == 'a') puts(t);
    free(t);
    return 0;
}
