/* A size-header wrapper two levels deep, as instrumented code calls it:
 * the inner malloc has site 111, each caller retags with its own site. */
#include <stdio.h>
#include "lucc.h"
#include "lucc_rt_abi.h"

static void *xmalloc(size_t n) {
    size_t *h = __lucc_malloc(n + sizeof(size_t), 111);
    h[0] = n;
    return h + 1;
}

static void *outer(size_t n) {
    void *p = xmalloc(n);
    __lucc_retag(p, 222);
    return p;
}

int main(void) {
    void *kept[10];
    for (int i = 0; i < 10; i++) {
        kept[i] = outer(32);
        __lucc_retag(kept[i], 333); /* outermost wins */
    }
    void *a = __lucc_malloc(16, 444);
    void *b = __lucc_malloc(16, 444);
    int local;
    __lucc_retag(&local, 555); /* not in the last block: no-op */
    __lucc_retag(a, 666);      /* a is no longer this thread's last block */
    __lucc_retag((char *)b + 16, 777); /* one past the end */
    void *gone = __lucc_malloc(5, 888);
    __lucc_free(gone);
    __lucc_retag(gone, 999); /* freed: its slot was cleared */
    /* A wrapper's realloc through the function pointer keeps the
     * attribution; a direct realloc is attributed to its own site. */
    void *(*re)(void *, size_t) = __lucc_realloc_indirect;
    size_t *h = re((size_t *)kept[0] - 1, 8 + 72);
    kept[0] = h + 1;
    void *c = __lucc_malloc(24, 444);
    c = __lucc_realloc(c, 48, 1234);
    printf("%zu %zu\n", lucc_heap_object_count(), lucc_heap_bytes());
    (void)kept;
    return 0;
}
