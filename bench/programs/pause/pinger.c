/* pinger PORT: the client side of the update pause, in C so that what it
 * measures is the server and not a client's interpreter or scheduler.
 *
 * Over one connection, opened before the update, it sends "PING\nPID\n"
 * and reads both answers, again and again, stamping each pair with
 * CLOCK_MONOTONIC (the clock Python's time.monotonic_ns reads). After
 * WARMUP answers it prints "pinging" and goes on until SIGTERM, then
 * prints one line:
 *
 *   answers A first_pid P last_first_ns T switch_pid Q switch_ns T
 *   longest_gap_ns G gap_end_ns T
 *
 * last_first_ns: the last answer from the first pid; switch_*: the first
 * answer from another pid (0 if none); the longest gap between two
 * consecutive answers, and when it ended. Exit 1 if the connection broke. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 200

static volatile sig_atomic_t stop;

static void on_term(int sig) {
    (void)sig;
    stop = 1;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static char pending[4096];
static size_t used;

/* Reads one line into out; 0 on success, -1 when stopped, -2 when the
 * connection broke. */
static int read_line(int fd, char *out, size_t cap) {
    for (;;) {
        char *nl = memchr(pending, '\n', used);
        if (nl) {
            size_t len = (size_t)(nl - pending);
            if (len >= cap) len = cap - 1;
            memcpy(out, pending, len);
            out[len] = '\0';
            used -= (size_t)(nl + 1 - pending);
            memmove(pending, nl + 1, used);
            return 0;
        }
        ssize_t n = read(fd, pending + used, sizeof pending - used);
        if (n < 0 && errno == EINTR) {
            if (stop) return -1;
            continue;
        }
        if (n <= 0) return -2;
        used += (size_t)n;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pinger PORT\n");
        return 2;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_term; /* no SA_RESTART: a blocked read returns */
    sigaction(SIGTERM, &sa, NULL);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("pinger: connect");
        return 1;
    }
    int yes = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);

    long long answers = 0, first_pid = 0, switch_pid = 0;
    long long last_first_ns = 0, switch_ns = 0, prev_ns = 0, gap = 0, gap_end = 0;
    char pong[64], pid[64];
    int broke = 0;
    while (!stop) {
        static const char req[] = "PING\nPID\n";
        if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
            if (stop) break;
            broke = 1;
            break;
        }
        int r = read_line(fd, pong, sizeof pong);
        if (r == 0) r = read_line(fd, pid, sizeof pid);
        if (r == -1) break;
        if (r == -2 || strcmp(pong, "PONG") != 0) {
            broke = 1;
            break;
        }
        long long t = now_ns(), p = atoll(pid);
        if (answers == 0) first_pid = p;
        if (p == first_pid) last_first_ns = t;
        else if (!switch_pid) {
            switch_pid = p;
            switch_ns = t;
        }
        if (answers > 0 && t - prev_ns > gap) {
            gap = t - prev_ns;
            gap_end = t;
        }
        prev_ns = t;
        if (++answers == WARMUP) {
            printf("pinging\n");
            fflush(stdout);
        }
    }
    printf("answers %lld first_pid %lld last_first_ns %lld switch_pid %lld switch_ns %lld "
           "longest_gap_ns %lld gap_end_ns %lld\n",
           answers, first_pid, last_first_ns, switch_pid, switch_ns, gap, gap_end);
    if (broke) fprintf(stderr, "pinger: the connection broke after %lld answers\n", answers);
    return broke;
}
