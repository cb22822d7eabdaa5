/* memcpy_floor BYTES: the floor under any state transfer of BYTES of live
 * heap: one memcpy of that many bytes into memory never touched before
 * (a fresh mapping, so the first-touch page faults are paid as a new
 * process's heap would pay them). Prints the nanoseconds it took. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static void *fresh_mapping(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("memcpy_floor: mmap");
        exit(1);
    }
    return p;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: memcpy_floor BYTES\n");
        return 2;
    }
    size_t bytes = strtoull(argv[1], NULL, 10);
    if (bytes == 0) bytes = 1;
    unsigned char *src = fresh_mapping(bytes);
    unsigned char *dst = fresh_mapping(bytes);
    /* The source is the old heap: resident and warm. */
    for (size_t i = 0; i < bytes; i++) src[i] = (unsigned char)(i * 131u);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memcpy(dst, src, bytes);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    /* Reading the copy keeps the compiler from dropping it as a dead store. */
    unsigned sum = dst[0] + dst[bytes / 2] + dst[bytes - 1];
    printf("%lld %u\n", ns, sum);
    return 0;
}
