/* malloc_bench.c: malloc/free throughput through the runtime vs plain libc.
 *
 * Each thread keeps a ring of 256 live blocks of 16..527 bytes and
 * replaces one per step (free the oldest, allocate anew, touch it), the
 * pattern of a server's request handling. Measure with the release
 * archive:
 *
 *   cargo build --release -p lucc-rt
 *   clang-14 -O2 -pthread -I runtime-c/include runtime-c/bench/malloc_bench.c \
 *       target/release/liblucc_rt.a -lpthread -ldl -lm -lrt -o /tmp/malloc_bench
 *   /tmp/malloc_bench [STEPS_PER_THREAD=5000000] [THREADS=1] [FILL=0]
 *
 * FILL=1 writes every byte of each block (memset), closer to a program
 * that uses what it allocates; FILL=0 touches the first and last byte
 * only, the allocator's worst case.
 *
 * THREADS=1 runs on the main thread and never creates one, so both libc
 * and the runtime see a single-threaded process (and skip their locks).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lucc_rt_abi.h"

#define RING 256

static long steps;
static int use_lucc;
static int fill;

static void *run(void *arg) {
    void *ring[RING] = {0};
    uint32_t x = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    for (long i = 0; i < steps; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t n = 16 + x % 512;
        int k = i % RING;
        char *p;
        if (use_lucc) {
            __lucc_free(ring[k]);
            p = __lucc_malloc(n, 7);
        } else {
            free(ring[k]);
            p = malloc(n);
        }
        if (fill)
            memset(p, (int)i, n);
        else
            p[0] = p[n - 1] = (char)i;
        ring[k] = p;
    }
    for (int k = 0; k < RING; k++) use_lucc ? __lucc_free(ring[k]) : free(ring[k]);
    return NULL;
}

static double measure(int threads) {
    pthread_t th[64];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (threads == 1) /* stay single-threaded, as the process is */
        run(NULL);
    else
        for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, run, (void *)(uintptr_t)t);
    for (int t = 0; threads > 1 && t < threads; t++) pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    return ns / ((double)steps * threads);
}

int main(int argc, char **argv) {
    steps = argc > 1 ? atol(argv[1]) : 5000000;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    if (threads < 1 || threads > 64) threads = 1;
    fill = argc > 3 ? atoi(argv[3]) : 0;
    double best[2] = {1e30, 1e30};
    for (int round = 0; round < 3; round++) {
        for (use_lucc = 0; use_lucc < 2; use_lucc++) {
            double v = measure(threads);
            if (v < best[use_lucc]) best[use_lucc] = v;
        }
    }
    printf("threads %d, %ld steps each (free+malloc+%s), best of 3\n", threads, steps, fill ? "fill" : "touch");
    printf("libc: %.1f ns/step\nlucc: %.1f ns/step\nratio: %.2f\n", best[0], best[1], best[1] / best[0]);
    return 0;
}
