/* server.c: a small epoll line server for the update tests.
 *
 * Answers every line with "VERSION\n". Takes its listening socket from
 * fd 3 (socket activation, LISTEN_FDS=1), so a new version started by an
 * update finds it there without binding. Built with -DVERSION="..." and
 * one of the failure modes a new version can have before its first
 * update point: -DSTARTUP_ABORT, -DSTARTUP_EXIT, -DSTARTUP_HANG.
 * -DNON_DUMPABLE makes it non-dumpable first. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "v1"
#endif

int main(void) {
    const char *n = getenv("LISTEN_FDS");
    if (!n || atoi(n) != 1) {
        fprintf(stderr, "server: expects its listening socket on fd 3 (LISTEN_FDS=1)\n");
        return 2;
    }
#ifdef NON_DUMPABLE
    /* What a daemon's privilege drop does: no /proc/PID/mem, no ptrace. */
    if (prctl(PR_SET_DUMPABLE, 0) != 0) {
        perror("server: prctl");
        return 2;
    }
#endif
#ifdef STARTUP_ABORT
    abort();
#endif
#ifdef STARTUP_EXIT
    exit(1);
#endif
#ifdef STARTUP_HANG
    for (;;)
        sleep(1);
#endif
    int lfd = 3;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror("server: epoll");
        return 2;
    }
    for (;;) {
        struct epoll_event got[16];
        int k = epoll_wait(ep, got, 16, -1);
        if (k < 0) {
            /* The update machinery must never leak EINTR to the program. */
            perror("server: epoll_wait");
            return 3;
        }
        for (int i = 0; i < k; i++) {
            int fd = got[i].data.fd;
            if (fd == lfd) {
                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) {
                    perror("server: accept4");
                    return 3;
                }
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                continue;
            }
            char buf[256];
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                close(fd);
                continue;
            }
            for (ssize_t j = 0; j < r; j++)
                if (buf[j] == '\n' && write(fd, VERSION "\n", strlen(VERSION) + 1) < 0)
                    break;
        }
    }
}
