/* timed.c: one blocking call with a 3 s timeout (argv[1]: poll, select,
 * epoll), then prints what it returned and how long it took. An update
 * that rolls back while the call waits must be invisible: no EINTR, and
 * the call still returns after 3 s in all, not 3 s after the rollback. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "poll";
    long start = now_ms();
    int r;
    if (strcmp(how, "select") == 0) {
        struct timeval tv = {3, 0};
        r = select(0, NULL, NULL, NULL, &tv);
    } else if (strcmp(how, "epoll") == 0) {
        struct epoll_event ev;
        r = epoll_wait(epoll_create1(0), &ev, 1, 3000);
    } else {
        r = poll(NULL, 0, 3000);
    }
    printf("ret=%d errno=%d elapsed=%ld\n", r, r < 0 ? errno : 0, now_ms() - start);
    return 0;
}
