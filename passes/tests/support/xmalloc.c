/* An allocation wrapper in another (uninstrumented) unit. */
#include <stdlib.h>
void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) abort();
    return p;
}
