/* update_points.c: the program's blocking event-loop calls, wrapped
 * (ld --wrap, names in lucc_abi::wrapped::UPDATE_POINT_CALLS) so that a
 * program without annotations can be stopped for an update.
 *
 * Why this shape: an update can only start while the program waits, and
 * the calls below are where event loops wait. The runtime keeps its
 * update signal blocked everywhere except inside these calls (see
 * runtime-rs/src/update/quiesce.rs), so the signal can interrupt only
 * them: the program never sees an EINTR it would not have seen. An
 * interrupted call parks the thread while the update runs; if the update
 * rolls back, the call is retried with whatever time it had left.
 *
 * --wrap also redirects the runtime's own calls (Rust std's accept4 and
 * poll); those threads, and every call made while no update is set up,
 * take the first branch straight to libc. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>

/* The Rust half (runtime-rs/src/update/points.rs). */
int lucc_rt_update_signal(void);
/* Parks if an update is pending, opens the thread to the update signal;
 * 0 on a runtime thread or while updates are off: call straight; 2 in a
 * new version whose update just committed at this call. */
int lucc_rt_point_enter(void);
/* After EINTR: true if the update signal caused it (the thread has parked
 * if needed and the call must be retried). */
int lucc_rt_point_interrupted(void);
void lucc_rt_point_leave(void);

int __real_epoll_wait(int, struct epoll_event *, int, int);
int __real_epoll_pwait(int, struct epoll_event *, int, int, const sigset_t *);
int __real_poll(struct pollfd *, nfds_t, int);
int __real_ppoll(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
int __real_select(int, fd_set *, fd_set *, fd_set *, struct timeval *);
int __real_pselect(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
int __real_accept(int, struct sockaddr *, socklen_t *);
int __real_accept4(int, struct sockaddr *, socklen_t *, int);

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A millisecond timeout (negative: forever) as what is left of it. */
static int ms_left(int timeout_ms, int64_t start) {
    if (timeout_ms < 0)
        return timeout_ms;
    int64_t left = timeout_ms - (now_ns() - start) / 1000000;
    return left > 0 ? (int)left : 0;
}

static struct timespec ts_left(const struct timespec *t, int64_t start) {
    int64_t left = (int64_t)t->tv_sec * 1000000000 + t->tv_nsec - (now_ns() - start);
    if (left < 0)
        left = 0;
    return (struct timespec){.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
}

/* The caller's mask without the update signal, which must reach the call. */
static sigset_t *open_mask(const sigset_t *m, sigset_t *buf) {
    if (!m)
        return NULL;
    *buf = *m;
    sigdelset(buf, lucc_rt_update_signal());
    return buf;
}

/* Runs the call (statements that set r) until it returns something other
 * than an EINTR caused by an update that then rolled back.
 *
 * `on_resume` runs in a new version whose update has just committed at
 * this call. The call's arguments were set up before the transfer replaced
 * the state they came from: a poll set or select's fd sets list the
 * descriptors the new version's own startup knew, not the connections it
 * took over. Those calls answer "nothing ready" (RESUMED_NOTHING_READY),
 * which any event loop takes in its stride and which makes it build its
 * set again from the state it now has; an error such as EINTR would stop
 * loops that have no signal handlers and so never expect one. An
 * epoll_wait keeps its set in the kernel, already the old process's, and
 * an accept's listening socket is the inherited one: those are simply made
 * (RESUMED_CALL). */
#define RESUMED_CALL (void)0
#define RESUMED_NOTHING_READY(clear_results)                               \
    do {                                                                    \
        clear_results;                                                      \
        lucc_rt_point_leave();                                              \
        return 0;                                                           \
    } while (0)
#define UPDATE_POINT(on_resume, ...)                                       \
    int r;                                                                  \
    int how = lucc_rt_point_enter();                                        \
    if (how == 0) {                                                         \
        __VA_ARGS__;                                                        \
        return r;                                                           \
    }                                                                       \
    if (how == 2)                                                           \
        on_resume;                                                          \
    for (;;) {                                                              \
        __VA_ARGS__;                                                        \
        int e = errno;                                                      \
        if (r < 0 && e == EINTR && lucc_rt_point_interrupted()) {           \
            lucc_rt_point_enter();                                          \
            continue;                                                       \
        }                                                                   \
        lucc_rt_point_leave();                                              \
        errno = e;                                                          \
        return r;                                                           \
    }

static void clear_revents(struct pollfd *fds, nfds_t n) {
    for (nfds_t i = 0; i < n; i++)
        fds[i].revents = 0;
}

/* select reports "nothing ready" by emptying the sets. */
static void clear_sets(fd_set *rd, fd_set *wr, fd_set *ex) {
    if (rd) FD_ZERO(rd);
    if (wr) FD_ZERO(wr);
    if (ex) FD_ZERO(ex);
}

int __wrap_epoll_wait(int fd, struct epoll_event *ev, int n, int timeout) {
    int64_t start = now_ns();
    UPDATE_POINT(RESUMED_CALL, r = __real_epoll_wait(fd, ev, n, ms_left(timeout, start)))
}

int __wrap_epoll_pwait(int fd, struct epoll_event *ev, int n, int timeout, const sigset_t *m) {
    int64_t start = now_ns();
    sigset_t buf;
    const sigset_t *mask = open_mask(m, &buf);
    UPDATE_POINT(RESUMED_CALL, r = __real_epoll_pwait(fd, ev, n, ms_left(timeout, start), mask))
}

int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout) {
    int64_t start = now_ns();
    UPDATE_POINT(RESUMED_NOTHING_READY(clear_revents(fds, n)), r = __real_poll(fds, n, ms_left(timeout, start)))
}

int __wrap_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *m) {
    int64_t start = now_ns();
    sigset_t buf;
    const sigset_t *mask = open_mask(m, &buf);
    struct timespec left;
    UPDATE_POINT(RESUMED_NOTHING_READY(clear_revents(fds, n)), r = __real_ppoll(fds, n, t ? (left = ts_left(t, start), &left) : NULL, mask))
}

/* select's fd sets are in-out: a retry needs the caller's original sets. */
int __wrap_select(int n, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv) {
    int64_t start = now_ns();
    fd_set r0, w0, e0;
    if (rd) r0 = *rd;
    if (wr) w0 = *wr;
    if (ex) e0 = *ex;
    struct timespec t0 = tv ? (struct timespec){tv->tv_sec, tv->tv_usec * 1000} : (struct timespec){0, 0};
    int first = 1;
    UPDATE_POINT(RESUMED_NOTHING_READY(clear_sets(rd, wr, ex)),
        if (!first) {
            if (rd) *rd = r0;
            if (wr) *wr = w0;
            if (ex) *ex = e0;
            if (tv) {
                struct timespec l = ts_left(&t0, start);
                *tv = (struct timeval){l.tv_sec, l.tv_nsec / 1000};
            }
        } first = 0;
        r = __real_select(n, rd, wr, ex, tv))
}

int __wrap_pselect(int n, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *t, const sigset_t *m) {
    int64_t start = now_ns();
    sigset_t buf;
    const sigset_t *mask = open_mask(m, &buf);
    fd_set r0, w0, e0;
    if (rd) r0 = *rd;
    if (wr) w0 = *wr;
    if (ex) e0 = *ex;
    struct timespec left;
    int first = 1;
    UPDATE_POINT(RESUMED_NOTHING_READY(clear_sets(rd, wr, ex)),
        if (!first) {
            if (rd) *rd = r0;
            if (wr) *wr = w0;
            if (ex) *ex = e0;
        } first = 0;
        r = __real_pselect(n, rd, wr, ex, t ? (left = ts_left(t, start), &left) : NULL, mask))
}

int __wrap_accept(int fd, struct sockaddr *a, socklen_t *len) {
    UPDATE_POINT(RESUMED_CALL, r = __real_accept(fd, a, len))
}

int __wrap_accept4(int fd, struct sockaddr *a, socklen_t *len, int flags) {
    UPDATE_POINT(RESUMED_CALL, r = __real_accept4(fd, a, len, flags))
}
