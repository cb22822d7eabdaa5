/* Over-aligned blocks are aligned, usable to their last byte, freeable. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "lucc.h"
#include "lucc_rt_abi.h"

#define CHECK(c, code) do { if (!(c)) return code; } while (0)

int main(void) {
    size_t als[] = {8, 16, 32, 64, 256, 4096, 65536};
    for (size_t i = 0; i < sizeof als / sizeof *als; i++) {
        size_t al = als[i];
        char *a = __lucc_aligned_alloc(al, 100, 1);
        char *m = __lucc_memalign(al, 3, 2);
        void *pm = NULL;
        CHECK(__lucc_posix_memalign(&pm, al, 1000, 3) == 0, 10);
        CHECK(a && m && pm, 11);
        CHECK((uintptr_t)a % al == 0 && (uintptr_t)m % al == 0 && (uintptr_t)pm % al == 0, 12);
        memset(a, 1, 100);
        memset(m, 2, 3);
        memset(pm, 3, 1000);
        CHECK(lucc_heap_object_count() == 3 && lucc_heap_bytes() == 1103, 13);
        /* Growing an aligned block keeps its contents. */
        a = __lucc_realloc(a, 5000, 0);
        CHECK(a && a[0] == 1 && a[99] == 1, 14);
        __lucc_free(a);
        __lucc_free(m);
        __lucc_free(pm);
        CHECK(lucc_heap_object_count() == 0, 15);
    }
    void *pm = (void *)1;
    CHECK(__lucc_posix_memalign(&pm, 24, 10, 4) == EINVAL && pm == (void *)1, 16);
    CHECK(__lucc_posix_memalign(&pm, 4, 10, 4) == EINVAL, 17);
    CHECK(__lucc_aligned_alloc(48, 10, 5) == NULL && errno == EINVAL, 18);
    char *odd = __lucc_memalign(48, 10, 6); /* glibc rounds up to 64 */
    CHECK(odd && (uintptr_t)odd % 64 == 0, 19);
    __lucc_free(odd);
    puts("ok");
    return 0;
}
