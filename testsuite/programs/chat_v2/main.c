/* chat v2 entry point: argument parsing, the poll() loop, and script mode.
 *
 *   chat --port N        serve on 127.0.0.1:N (0: any free port); prints
 *                        "listening on PORT" once ready
 *   chat --script FILE   each line is "CLIENT REQUEST"; clients are created
 *                        on first use, and after every line each client's
 *                        output is printed as "CLIENT> LINE" */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "chat.h"
#include "xmalloc.h"

struct chat chat;

static void addConn(struct user *u) {
    chat.conns[chat.nconns++] = u;
}

/* Keeps the order of the others: script output lists clients in order. */
static void removeConn(int i) {
    userFree(chat.conns[i]);
    memmove(&chat.conns[i], &chat.conns[i + 1], sizeof(chat.conns[0]) * (size_t)(chat.nconns - i - 1));
    chat.nconns--;
}

/* Runs the complete lines in the user's input buffer. */
static void processInput(struct user *u) {
    char *nl;
    while (!u->closing && (nl = memchr(u->inbuf, '\n', u->inlen)) != NULL) {
        *nl = '\0';
        dispatchLine(u, u->inbuf);
        size_t used = (size_t)(nl - u->inbuf) + 1;
        memmove(u->inbuf, u->inbuf + used, u->inlen - used);
        u->inlen -= used;
    }
}

static int listenOn(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 || listen(fd, 64) == -1) {
        perror("chat: listen");
        exit(1);
    }
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    printf("listening on %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

static void onSignal(int sig) {
    (void)sig;
    chat.shutdown = 1;
}

static void serve(int port) {
    chat.listenfd = listenOn(port);
    struct pollfd pfds[MAX_CONNS + 1];
    while (!chat.shutdown) {
        pfds[0].fd = chat.nconns < MAX_CONNS ? chat.listenfd : -1;
        pfds[0].events = POLLIN;
        for (int i = 0; i < chat.nconns; i++) {
            pfds[i + 1].fd = chat.conns[i]->fd;
            pfds[i + 1].events = POLLIN | (chat.conns[i]->outlen ? POLLOUT : 0);
            pfds[i + 1].revents = 0;
        }
        int nfds = chat.nconns + 1;
        if (poll(pfds, (nfds_t)nfds, 1000) == -1) {
            if (errno == EINTR) continue;
            perror("chat: poll");
            break;
        }
        /* Walk backwards so removing a connection does not skip one. */
        for (int i = nfds - 2; i >= 0; i--) {
            struct user *u = chat.conns[i];
            short re = pfds[i + 1].revents;
            int gone = 0;
            if (re & POLLOUT) gone = userFlush(u) == -1;
            if (!gone && (re & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = read(u->fd, u->inbuf + u->inlen, INBUF_LEN - u->inlen);
                if (n == -1 && (errno == EINTR || errno == EAGAIN)) continue;
                if (n <= 0 || (size_t)n + u->inlen >= INBUF_LEN) {
                    gone = 1;
                } else {
                    u->inlen += (size_t)n;
                    processInput(u);
                }
            }
            if (gone || (u->closing && u->outlen == 0)) removeConn(i);
        }
        if (pfds[0].revents & POLLIN) {
            int fd = accept4(chat.listenfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd != -1) addConn(userNew(fd));
        }
    }
    while (chat.nconns) removeConn(chat.nconns - 1);
    close(chat.listenfd);
}

static struct user *scriptUser(const char *label) {
    for (int i = 0; i < chat.nconns; i++)
        if (strcmp(chat.conns[i]->label, label) == 0) return chat.conns[i];
    if (chat.nconns == MAX_CONNS) return NULL;
    struct user *u = userNew(-1);
    u->label = xstrdup(label);
    addConn(u);
    return u;
}

static int runScript(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    char line[INBUF_LEN];
    while (!chat.shutdown && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *req = line + strcspn(line, " ");
        if (*req) *req++ = '\0';
        if (!*line) continue;
        struct user *u = scriptUser(line);
        if (!u) break;
        dispatchLine(u, req);
        for (int i = 0; i < chat.nconns; i++) {
            struct user *o = chat.conns[i];
            for (char *p = o->out; p < o->out + o->outlen;) {
                char *nl = memchr(p, '\n', (size_t)(o->out + o->outlen - p));
                printf("%s> %.*s\n", o->label, (int)(nl - p), p);
                p = nl + 1;
            }
            o->outlen = 0;
        }
        for (int i = chat.nconns - 1; i >= 0; i--)
            if (chat.conns[i]->closing) removeConn(i);
    }
    fclose(f);
    while (chat.nconns) removeConn(chat.nconns - 1);
    printf("messages: %ld\n", chat.messages);
    return 0;
}

int main(int argc, char **argv) {
    int port = -1;
    const char *script = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--script") == 0 && i + 1 < argc)
            script = argv[++i];
        else
            port = -2;
    }
    if (port == -2 || (port < 0 && !script)) {
        fprintf(stderr, "usage: chat --port N | --script FILE\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, onSignal);
    signal(SIGINT, onSignal);
    int rc = 0;
    if (script)
        rc = runScript(script);
    else
        serve(port);
    roomFreeAll();
    return rc;
}
