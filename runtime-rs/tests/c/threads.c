/* Four threads allocate and free 100k blocks each, keeping one in 100
 * and freeing, crosswise, blocks another thread made. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include "lucc.h"
#include "lucc_rt_abi.h"

#define THREADS 4
#define ROUNDS 100000
#define KEEP_EVERY 100

static void *handoff[THREADS][ROUNDS / KEEP_EVERY];

static void *work(void *arg) {
    uintptr_t t = (uintptr_t)arg;
    void *recent[8] = {0};
    for (int i = 0; i < ROUNDS; i++) {
        char *p = __lucc_malloc(16 + i % 200, (uint32_t)(t + 1));
        p[0] = (char)i;
        __lucc_retag(p, (uint32_t)(t + 11));
        if (i % KEEP_EVERY == 0) {
            handoff[t][i / KEEP_EVERY] = p;
            continue;
        }
        __lucc_free(recent[i % 8]);
        recent[i % 8] = p;
    }
    for (int i = 0; i < 8; i++) __lucc_free(recent[i]);
    return NULL;
}

static void *free_other(void *arg) {
    uintptr_t t = (uintptr_t)arg;
    /* Free the odd half of the next thread's kept blocks. */
    for (int i = 1; i < ROUNDS / KEEP_EVERY; i += 2) __lucc_free(handoff[(t + 1) % THREADS][i]);
    return NULL;
}

int main(void) {
    pthread_t th[THREADS];
    for (uintptr_t t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, work, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    printf("%zu\n", lucc_heap_object_count());
    for (uintptr_t t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, free_other, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    printf("%zu\n", lucc_heap_object_count());
    return 0;
}
