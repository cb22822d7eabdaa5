// A constructor returning the address of a field of its allocation (sds:
// a header struct whose last member is the string) returns part of the
// object the program declared, not an object of its own: it is not a
// wrapper, and its site keeps the record's type.
// CHECK-WRAPPERS: 0
// CHECK-SITE: newstr malloc Record(strhdr)
// CHECK-SITES: 1
// CHECK-RUN: hi 2
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct strhdr { size_t len; char buf[]; };
char *newstr(const char *s) {
    size_t n = strlen(s);
    struct strhdr *h = malloc(sizeof *h + n + 1);
    h->len = n;
    memcpy(h->buf, s, n + 1);
    return h->buf;
}
int main(void) {
    char *s = newstr("hi");
    printf("%s %zu\n", s, ((struct strhdr *)(s - sizeof(struct strhdr)))->len);
    free(s - sizeof(struct strhdr));
    return 0;
}
