/* The line server every pair version runs: poll() over a listening socket
 * on 127.0.0.1 and a few connections, each request line handed to
 * pair_command(). `--port N` (0: ephemeral) prints "listening on PORT".
 * Built-in requests: PID (the serving process's pid), QUIT (close this
 * connection), SHUTDOWN (exit 0).
 *
 * Connections live in globals (not in main's locals) because a live update
 * carries globals over: the new version picks up the open connections
 * with their partly read input and goes on serving them. Replies are
 * written through fmemopen() on a static buffer and closed before the next
 * poll(), so no libc FILE is alive across an update point. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pair.h"

#define SRV_MAX_CONNS 8
#define SRV_LINE_MAX 4096
#define SRV_REPLY_MAX (64 * 1024)

struct srv_conn {
    int used;
    int fd;
    size_t len;
    char buf[SRV_LINE_MAX];
};

static struct srv_conn srv_conns[SRV_MAX_CONNS];
static char srv_reply[SRV_REPLY_MAX];

static int srv_write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void srv_close(struct srv_conn *c) {
    close(c->fd);
    c->used = 0;
    c->len = 0;
}

/* Runs one request; returns 0 to keep the connection, -1 to close it. */
static int srv_request(struct srv_conn *c, const char *line) {
    if (strcmp(line, "SHUTDOWN") == 0) {
        srv_write_all(c->fd, "BYE\n", 4);
        exit(0);
    }
    if (strcmp(line, "PID") == 0) {
        /* Which process serves this connection: the tests need the pid to
         * update, and see it change at a commit. */
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        return srv_write_all(c->fd, pid, (size_t)n);
    }
    if (strcmp(line, "QUIT") == 0) {
        srv_write_all(c->fd, "BYE\n", 4);
        return -1;
    }
    FILE *out = fmemopen(srv_reply, sizeof srv_reply, "w");
    if (!out)
        return -1;
    pair_command(line, out);
    fflush(out);
    long n = ftell(out);
    fclose(out);
    if (n < 0 || (size_t)n >= sizeof srv_reply)
        n = 0;
    return srv_write_all(c->fd, srv_reply, (size_t)n);
}

/* Reads what is available and runs every complete line in it. */
static void srv_serve(struct srv_conn *c) {
    ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (r <= 0) {
        if (r < 0 && errno == EINTR)
            return;
        srv_close(c);
        return;
    }
    c->len += (size_t)r;
    size_t start = 0;
    for (size_t i = 0; i < c->len; i++) {
        if (c->buf[i] != '\n')
            continue;
        c->buf[i] = '\0';
        if (i > start && c->buf[i - 1] == '\r')
            c->buf[i - 1] = '\0';
        if (srv_request(c, c->buf + start) < 0) {
            srv_close(c);
            return;
        }
        start = i + 1;
    }
    memmove(c->buf, c->buf + start, c->len - start);
    c->len -= start;
    if (c->len == sizeof c->buf) /* a line longer than the buffer */
        srv_close(c);
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
            return 2;
        }
    }
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        perror("socket");
        return 1;
    }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 16) < 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    printf("listening on %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    for (;;) {
        struct pollfd fds[SRV_MAX_CONNS + 1];
        int owner[SRV_MAX_CONNS + 1];
        nfds_t n = 0;
        fds[n].fd = lfd;
        fds[n].events = POLLIN;
        owner[n++] = -1;
        for (int i = 0; i < SRV_MAX_CONNS; i++) {
            if (!srv_conns[i].used)
                continue;
            fds[n].fd = srv_conns[i].fd;
            fds[n].events = POLLIN;
            owner[n++] = i;
        }
        if (poll(fds, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        for (nfds_t k = 1; k < n; k++) {
            if (fds[k].revents & (POLLIN | POLLHUP | POLLERR))
                srv_serve(&srv_conns[owner[k]]);
        }
        if (fds[0].revents & POLLIN) {
            int cfd = accept(lfd, NULL, NULL);
            if (cfd < 0)
                continue;
            int slot = -1;
            for (int i = 0; i < SRV_MAX_CONNS && slot < 0; i++)
                if (!srv_conns[i].used)
                    slot = i;
            if (slot < 0) {
                close(cfd);
                continue;
            }
            srv_conns[slot].used = 1;
            srv_conns[slot].fd = cfd;
            srv_conns[slot].len = 0;
        }
    }
}
