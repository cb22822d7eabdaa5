/* startup_calls.c: the link-time wrappers of the calls that create or
 * configure OS resources during startup (lucc_abi::wrapped::STARTUP_CALLS).
 *
 * Each wrapper first reads lucc_rt_startup_mode: zero once the startup is
 * over, and then it is a direct call of libc (one load, one predictable
 * branch). While startup lasts it describes the call to the Rust half
 * (runtime-rs/src/startup): the descriptor arguments, the bytes that
 * identify the call, and those that only say what it did; the Rust half
 * answers it from the old process's record or lets it run, and records
 * it. Kind numbers are runtime-rs/src/startup/record.rs's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lucc_startup.h"

enum {
    K_SOCKET = 1, K_BIND, K_LISTEN, K_SETSOCKOPT, K_EPOLL_CREATE, K_EPOLL_CREATE1,
    K_EPOLL_CTL, K_EVENTFD, K_TIMERFD_CREATE, K_SIGNALFD, K_PIPE, K_PIPE2, K_OPEN,
    K_OPENAT, K_UNLINK, K_FORK, K_SETSID, K_CHDIR, K_FLOCK, K_FCNTL_LOCK, K_DUP2,
};

enum { PASS = 0, REAL = 1, ANSWERED = 2, REAL_REOPEN = 3 };

struct sc_call {
    int kind, nfds, fds[3];
    const void *key;
    size_t key_len;
    const void *payload;
    size_t payload_len;
};

struct sc_out {
    long ret;
    int err, nres, res[2], from;
};

extern int lucc_rt_startup_mode;
int lucc_rt_startup_begin(const struct sc_call *c, struct sc_out *o);
void lucc_rt_startup_end(const struct sc_call *c, const struct sc_out *o);
void lucc_rt_startup_init(void);
void lucc_rt_startup_done(void);
int lucc_rt_is_update_startup(void);

#define ACTIVE() __builtin_expect(__atomic_load_n(&lucc_rt_startup_mode, __ATOMIC_ACQUIRE) != 0, 0)

/* Replay must be in place before any startup call of the program's,
 * including its own constructors'. */
__attribute__((constructor(101))) static void lucc_startup_init(void) { lucc_rt_startup_init(); }

int lucc_is_update_startup(void) { return lucc_rt_is_update_startup(); }

void lucc_startup_done(void) { lucc_rt_startup_done(); }

/* Key builder: identifying arguments, concatenated. */
struct key {
    unsigned char b[512];
    size_t n;
};

static void put(struct key *k, const void *p, size_t n) {
    if (n > sizeof k->b - k->n)
        n = sizeof k->b - k->n; /* longer paths than fit share a prefix key */
    memcpy(k->b + k->n, p, n);
    k->n += n;
}

static void put_int(struct key *k, int v) { put(k, &v, sizeof v); }

/* Runs one observed call. REAL is the expression that performs it; it may
 * read `reopen` (nonzero: an O_EXCL open the old process already made) and
 * must leave its result in `r`. NFD_RES: descriptors produced (the result
 * is one when >= 0, unless OUT_FDS names a pair). */
#define OBSERVE(C, RET_T, REAL, PRODUCES_FD, OUT_FDS)                          \
    do {                                                                       \
        struct sc_out o_ = {0};                                                \
        int how_ = lucc_rt_startup_begin(&(C), &o_);                           \
        int reopen = how_ == REAL_REOPEN;                                      \
        RET_T r;                                                               \
        (void)reopen;                                                          \
        if (how_ == ANSWERED) {                                                \
            int *out_ = (OUT_FDS);                                             \
            if (out_ && o_.nres == 2) {                                        \
                out_[0] = o_.res[0];                                           \
                out_[1] = o_.res[1];                                           \
            }                                                                  \
            if (o_.ret < 0)                                                    \
                errno = o_.err;                                                \
            return (RET_T)o_.ret;                                              \
        }                                                                      \
        REAL;                                                                  \
        if (how_ == PASS)                                                      \
            return r;                                                          \
        int saved_ = errno;                                                    \
        o_.ret = (long)r;                                                      \
        o_.err = r < 0 ? saved_ : 0;                                           \
        int *out_ = (OUT_FDS);                                                 \
        if (r >= 0 && out_) {                                                  \
            o_.nres = 2;                                                       \
            o_.res[0] = out_[0];                                               \
            o_.res[1] = out_[1];                                               \
        } else if (r >= 0 && (PRODUCES_FD)) {                                  \
            o_.nres = 1;                                                       \
            o_.res[0] = (int)r;                                                \
        }                                                                      \
        lucc_rt_startup_end(&(C), &o_);                                        \
        errno = saved_;                                                        \
        return r;                                                              \
    } while (0)

#define CALL(K, NFDS, F0, F1, KEY, PAY, PAYN)                                  \
    struct sc_call c = {(K), (NFDS), {(F0), (F1), 0}, (KEY).b, (KEY).n, (PAY), (PAYN)}

int __real_socket(int, int, int);
int __wrap_socket(int domain, int type, int protocol) {
    if (!ACTIVE())
        return __real_socket(domain, type, protocol);
    struct key k = {.n = 0};
    put_int(&k, domain), put_int(&k, type), put_int(&k, protocol);
    CALL(K_SOCKET, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_socket(domain, type, protocol), 1, NULL);
}

int __real_bind(int, const struct sockaddr *, socklen_t);
int __wrap_bind(int fd, const struct sockaddr *addr, socklen_t len) {
    if (!ACTIVE())
        return __real_bind(fd, addr, len);
    struct key k = {.n = 0};
    put(&k, addr, len);
    CALL(K_BIND, 1, fd, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_bind(fd, addr, len), 0, NULL);
}

int __real_listen(int, int);
int __wrap_listen(int fd, int backlog) {
    if (!ACTIVE())
        return __real_listen(fd, backlog);
    struct key k = {.n = 0};
    CALL(K_LISTEN, 1, fd, 0, k, &backlog, sizeof backlog);
    OBSERVE(c, int, r = __real_listen(fd, backlog), 0, NULL);
}

int __real_setsockopt(int, int, int, const void *, socklen_t);
int __wrap_setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
    if (!ACTIVE())
        return __real_setsockopt(fd, level, name, val, len);
    struct key k = {.n = 0};
    put_int(&k, level), put_int(&k, name), put(&k, val, val ? len : 0);
    CALL(K_SETSOCKOPT, 1, fd, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_setsockopt(fd, level, name, val, len), 0, NULL);
}

int __real_epoll_create(int);
int __wrap_epoll_create(int size) {
    if (!ACTIVE())
        return __real_epoll_create(size);
    struct key k = {.n = 0}; /* the size is a hint the kernel ignores */
    CALL(K_EPOLL_CREATE, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_epoll_create(size), 1, NULL);
}

int __real_epoll_create1(int);
int __wrap_epoll_create1(int flags) {
    if (!ACTIVE())
        return __real_epoll_create1(flags);
    struct key k = {.n = 0};
    put_int(&k, flags);
    CALL(K_EPOLL_CREATE1, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_epoll_create1(flags), 1, NULL);
}

int __real_epoll_ctl(int, int, int, struct epoll_event *);
static int epoll_ctl_in_startup(int epfd, int op, int fd, struct epoll_event *ev) {
    struct key k = {.n = 0};
    put_int(&k, op);
    CALL(K_EPOLL_CTL, 2, epfd, fd, k, ev, ev ? sizeof *ev : 0);
    OBSERVE(c, int, r = __real_epoll_ctl(epfd, op, fd, ev), 0, NULL);
}

/* Every successful registration is also noted, startup or not: the kernel
 * keeps data.ptr values that point into the program's heap, and an update
 * that moves such an object must re-register it (runtime-rs/src/epoll.rs). */
void lucc_rt_epoll_note(int epfd, int op, int fd, const struct epoll_event *ev);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
    int r = ACTIVE() ? epoll_ctl_in_startup(epfd, op, fd, ev) : __real_epoll_ctl(epfd, op, fd, ev);
    if (r == 0)
        lucc_rt_epoll_note(epfd, op, fd, ev);
    return r;
}

int __real_eventfd(unsigned int, int);
int __wrap_eventfd(unsigned int initval, int flags) {
    if (!ACTIVE())
        return __real_eventfd(initval, flags);
    struct key k = {.n = 0};
    put_int(&k, (int)initval), put_int(&k, flags);
    CALL(K_EVENTFD, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_eventfd(initval, flags), 1, NULL);
}

int __real_timerfd_create(int, int);
int __wrap_timerfd_create(int clockid, int flags) {
    if (!ACTIVE())
        return __real_timerfd_create(clockid, flags);
    struct key k = {.n = 0};
    put_int(&k, clockid), put_int(&k, flags);
    CALL(K_TIMERFD_CREATE, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_timerfd_create(clockid, flags), 1, NULL);
}

int __real_signalfd(int, const sigset_t *, int);
int __wrap_signalfd(int fd, const sigset_t *mask, int flags) {
    if (!ACTIVE())
        return __real_signalfd(fd, mask, flags);
    struct key k = {.n = 0};
    put_int(&k, flags), put(&k, mask, sizeof *mask);
    CALL(K_SIGNALFD, 1, fd, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_signalfd(fd, mask, flags), 1, NULL);
}

int __real_pipe(int[2]);
int __wrap_pipe(int fds[2]) {
    if (!ACTIVE())
        return __real_pipe(fds);
    struct key k = {.n = 0};
    CALL(K_PIPE, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_pipe(fds), 0, fds);
}

int __real_pipe2(int[2], int);
int __wrap_pipe2(int fds[2], int flags) {
    if (!ACTIVE())
        return __real_pipe2(fds, flags);
    struct key k = {.n = 0};
    put_int(&k, flags);
    CALL(K_PIPE2, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_pipe2(fds, flags), 0, fds);
}

/* open's mode is an argument only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, mode)                                                 \
    do {                                                                       \
        if ((flags) & (O_CREAT | __O_TMPFILE)) {                               \
            va_list ap_;                                                       \
            va_start(ap_, flags);                                              \
            mode = va_arg(ap_, mode_t);                                        \
            va_end(ap_);                                                       \
        }                                                                      \
    } while (0)

#define REOPEN_FLAGS(flags) (reopen ? (flags) & ~(O_CREAT | O_EXCL | O_TRUNC) : (flags))

static void open_key(struct key *k, int flags, const char *path) {
    put_int(k, flags);
    put(k, path, strlen(path));
}

#define DEFINE_OPEN(NAME)                                                      \
    int __real_##NAME(const char *, int, ...);                                 \
    int __wrap_##NAME(const char *path, int flags, ...) {                      \
        mode_t mode = 0;                                                       \
        OPEN_MODE(flags, mode);                                                \
        if (!ACTIVE())                                                         \
            return __real_##NAME(path, flags, mode);                           \
        struct key k = {.n = 0};                                               \
        open_key(&k, flags, path);                                             \
        CALL(K_OPEN, 0, 0, 0, k, &mode, sizeof mode);                          \
        OBSERVE(c, int, r = __real_##NAME(path, REOPEN_FLAGS(flags), mode), 1, NULL); \
    }

#define DEFINE_OPENAT(NAME)                                                    \
    int __real_##NAME(int, const char *, int, ...);                            \
    int __wrap_##NAME(int dirfd, const char *path, int flags, ...) {           \
        mode_t mode = 0;                                                       \
        OPEN_MODE(flags, mode);                                                \
        if (!ACTIVE())                                                         \
            return __real_##NAME(dirfd, path, flags, mode);                    \
        struct key k = {.n = 0};                                               \
        open_key(&k, flags, path);                                             \
        CALL(K_OPENAT, 1, dirfd, 0, k, &mode, sizeof mode);                    \
        OBSERVE(c, int, r = __real_##NAME(dirfd, path, REOPEN_FLAGS(flags), mode), 1, NULL); \
    }

DEFINE_OPEN(open)
DEFINE_OPEN(open64)
DEFINE_OPENAT(openat)
DEFINE_OPENAT(openat64)

int __real_unlink(const char *);
int __wrap_unlink(const char *path) {
    if (!ACTIVE())
        return __real_unlink(path);
    struct key k = {.n = 0};
    put(&k, path, strlen(path));
    CALL(K_UNLINK, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_unlink(path), 0, NULL);
}

pid_t __real_fork(void);
pid_t __wrap_fork(void) {
    if (!ACTIVE())
        return __real_fork();
    struct key k = {.n = 0};
    CALL(K_FORK, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, pid_t, r = __real_fork(), 0, NULL);
}

pid_t __real_setsid(void);
pid_t __wrap_setsid(void) {
    if (!ACTIVE())
        return __real_setsid();
    struct key k = {.n = 0};
    CALL(K_SETSID, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, pid_t, r = __real_setsid(), 0, NULL);
}

int __real_chdir(const char *);
int __wrap_chdir(const char *path) {
    if (!ACTIVE())
        return __real_chdir(path);
    struct key k = {.n = 0};
    put(&k, path, strlen(path));
    CALL(K_CHDIR, 0, 0, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_chdir(path), 0, NULL);
}

int __real_flock(int, int);
int __wrap_flock(int fd, int op) {
    if (!ACTIVE())
        return __real_flock(fd, op);
    struct key k = {.n = 0};
    put_int(&k, op);
    CALL(K_FLOCK, 1, fd, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_flock(fd, op), 0, NULL);
}

int __real_dup2(int, int);
int __wrap_dup2(int oldfd, int newfd) {
    if (!ACTIVE())
        return __real_dup2(oldfd, newfd);
    struct key k = {.n = 0};
    put_int(&k, newfd);
    CALL(K_DUP2, 1, oldfd, 0, k, NULL, 0);
    OBSERVE(c, int, r = __real_dup2(oldfd, newfd), 1, NULL);
}

/* fcntl: only the lock commands are startup calls; the rest (flags,
 * duplication) pass through even during startup. The third argument is
 * an int or a pointer: passing it on as a long is what the ABI does. */
static int is_lock_cmd(int cmd) {
    return cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
}

#define DEFINE_FCNTL(NAME)                                                     \
    int __real_##NAME(int, int, ...);                                          \
    int __wrap_##NAME(int fd, int cmd, ...) {                                  \
        va_list ap;                                                            \
        va_start(ap, cmd);                                                     \
        long arg = va_arg(ap, long);                                           \
        va_end(ap);                                                            \
        if (!ACTIVE() || !is_lock_cmd(cmd))                                    \
            return __real_##NAME(fd, cmd, arg);                                \
        const struct flock *l = (const struct flock *)arg;                     \
        struct key k = {.n = 0};                                               \
        put_int(&k, cmd), put_int(&k, l->l_type), put_int(&k, l->l_whence);    \
        put(&k, &l->l_start, sizeof l->l_start), put(&k, &l->l_len, sizeof l->l_len); \
        CALL(K_FCNTL_LOCK, 1, fd, 0, k, NULL, 0);                              \
        OBSERVE(c, int, r = __real_##NAME(fd, cmd, arg), 0, NULL);             \
    }

DEFINE_FCNTL(fcntl)
DEFINE_FCNTL(fcntl64)
