// A buffer written byte by byte through char* is a char buffer.
// CHECK-SITE: main malloc Int(8)
// CHECK-RUN: abc
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    char *buf = malloc(4);
    buf[0] = 'a'; buf[1] = 'b'; buf[2] = 'c'; buf[3] = 0;
    puts(buf);
    free(buf);
    return 0;
}
