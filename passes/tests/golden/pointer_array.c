// An array of char* (argv-like) is a Pointer block; the strings are chars.
// CHECK-SITE: main malloc Pointer
// CHECK-SITE: main strdup Int(8)
// CHECK-RUN: a b
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    char **v = malloc(2 * sizeof(char *));
    v[0] = strdup("a");
    v[1] = "b";
    printf("%s %s\n", v[0], v[1]);
    free(v[0]);
    free(v);
    return 0;
}
