/* Threads allocate without pause while the main thread forks: each child
 * must be able to allocate (no shard lock inherited in the held state)
 * and sees the parent's objects. A deadlocked child dies by alarm. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include "lucc.h"
#include "lucc_rt_abi.h"

static volatile int stop;

static void *churn(void *arg) {
    (void)arg;
    while (!stop) __lucc_free(__lucc_malloc(64, 1));
    return NULL;
}

int main(void) {
    void *kept = __lucc_malloc(10, 2);
    pthread_t th[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, churn, NULL);
    for (int i = 0; i < 50; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10);
            for (int k = 0; k < 1000; k++) __lucc_free(__lucc_malloc(32, 3));
            /* The kept block, plus at most one block per churning thread. */
            size_t n = lucc_heap_object_count();
            _exit(n >= 1 && n <= 3 ? 0 : 1);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("child %d failed: status %d\n", i, st);
            return 1;
        }
    }
    stop = 1;
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    __lucc_free(kept);
    puts("ok");
    return 0;
}
