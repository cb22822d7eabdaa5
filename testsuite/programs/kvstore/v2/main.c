/* kvstore v2 entry point: argument parsing, connections, and the epoll loop.
 *
 *   kvstore --port N        serve on 127.0.0.1:N (0: any free port); prints
 *                           "listening on PORT" once ready
 *   kvstore --script FILE   run the commands in FILE without a network and
 *                           print the replies (deterministic)
 *
 * Each connection is a heap struct registered in epoll with data.ptr
 * pointing at it; the listening socket's registration points at the global
 * `server`. Closed connections go to a free list and are reused. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include "server.h"
#include "zmalloc.h"

struct server server;
struct kvstats kvstats;
volatile sig_atomic_t shutdown_asap;

long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t dictSdsHash(const void *key) {
    return dictGenHashFunction(key, sdslen((sds)key));
}

static void *dictSdsDup(void *privdata, const void *key) {
    (void)privdata;
    return sdsdup((sds)key);
}

static int dictSdsKeyCompare(void *privdata, const void *k1, const void *k2) {
    (void)privdata;
    return sdscmp((sds)k1, (sds)k2) == 0;
}

static void dictSdsDestructor(void *privdata, void *key) {
    (void)privdata;
    sdsfree(key);
}

static void dictObjectDestructor(void *privdata, void *val) {
    (void)privdata;
    decrRefCount(val);
}

dictType dbDictType = {
    dictSdsHash, dictSdsDup, dictSdsKeyCompare, dictSdsDestructor, dictObjectDestructor,
};

static void seedHash(void) {
    uint8_t seed[16];
    FILE *f = fopen("/dev/urandom", "r");
    if (!f || fread(seed, 1, sizeof seed, f) != sizeof seed) {
        uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        memcpy(seed, &t, sizeof t);
        memcpy(seed + 8, &t, sizeof t);
    }
    if (f) fclose(f);
    dictSetHashFunctionSeed(seed);
}

struct conn *createConn(int fd) {
    struct conn *c;
    if (server.free_conns) {
        c = server.free_conns;
        server.free_conns = c->next_free;
        sdsclear(c->querybuf);
        sdsclear(c->reply);
    } else {
        c = zmalloc(sizeof(*c));
        c->querybuf = sdsempty();
        c->reply = sdsempty();
    }
    c->fd = fd;
    c->flags = 0;
    c->id = ++server.next_conn_id;
    c->argc = 0;
    c->argv = NULL;
    c->reqno = 0;
    c->cmds = 0;
    c->created_ms = nowMs();
    c->lastcmd = NULL;
    c->next_free = NULL;
    c->node = listAddNodeTail(server.clients, c);
    return c;
}

void freeConn(struct conn *c) {
    if (c->fd != -1) {
        epoll_ctl(server.epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    listDelNode(server.clients, c->node);
    c->node = NULL;
    c->next_free = server.free_conns;
    server.free_conns = c;
}

static void freeArgv(struct conn *c) {
    for (int j = 0; j < c->argc; j++) sdsfree(c->argv[j]);
    zfree(c->argv);
    c->argv = NULL;
    c->argc = 0;
}

/* Splits one request line on blanks into c->argv. */
static void splitLine(struct conn *c, const char *line, size_t len) {
    c->argv = zmalloc(MAX_ARGS * sizeof(sds));
    c->argc = 0;
    size_t i = 0;
    while (i < len && c->argc < MAX_ARGS) {
        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') i++;
        if (i > start) c->argv[c->argc++] = sdsnewlen(line + start, i - start);
    }
}

/* Runs every complete line in the query buffer. */
void processInputBuffer(struct conn *c) {
    while (!(c->flags & CONN_CLOSE_AFTER_REPLY)) {
        char *nl = memchr(c->querybuf, '\n', sdslen(c->querybuf));
        if (!nl) break;
        size_t linelen = (size_t)(nl - c->querybuf);
        splitLine(c, c->querybuf, linelen);
        sdsrange(c->querybuf, linelen + 1);
        if (c->argc > 0) processCommand(c);
        freeArgv(c);
    }
}

static void setWritable(struct conn *c, int on) {
    struct epoll_event ev = {0};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
    ev.data.ptr = c;
    epoll_ctl(server.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Returns 0 if the connection was closed. */
static int writeReplies(struct conn *c) {
    while (sdslen(c->reply) > 0) {
        ssize_t n = write(c->fd, c->reply, sdslen(c->reply));
        if (n == -1 && errno == EINTR) continue;
        if (n == -1 && errno == EAGAIN) {
            setWritable(c, 1);
            return 1;
        }
        if (n <= 0) {
            freeConn(c);
            return 0;
        }
        sdsrange(c->reply, (size_t)n);
        kvstats.bytes_out += n;
    }
    if (c->flags & CONN_CLOSE_AFTER_REPLY) {
        freeConn(c);
        return 0;
    }
    setWritable(c, 0);
    return 1;
}

static void readFromConn(struct conn *c) {
    c->querybuf = sdsMakeRoomFor(c->querybuf, 4096);
    ssize_t n = read(c->fd, c->querybuf + sdslen(c->querybuf), sdsavail(c->querybuf));
    if (n == -1 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        freeConn(c);
        return;
    }
    sdsIncrLen(c->querybuf, (size_t)n);
    kvstats.bytes_in += n;
    processInputBuffer(c);
    writeReplies(c);
}

static void acceptConns(void) {
    int fd;
    while ((fd = netAccept(server.listenfd)) != -1) {
        struct conn *c = createConn(fd);
        struct epoll_event ev = {0};
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(server.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
            perror("kvstore: epoll_ctl");
            freeConn(c);
            continue;
        }
        server.stat_connections++;
    }
}

static void onSignal(int sig) {
    (void)sig;
    shutdown_asap = 1;
}

static int serve(int port) {
    int bound;
    server.listenfd = netTcpServer(port, &bound);
    if (server.listenfd == -1) return 1;
    server.port = bound;
    server.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {0};
    ev.events = EPOLLIN;
    ev.data.ptr = &server;
    epoll_ctl(server.epfd, EPOLL_CTL_ADD, server.listenfd, &ev);
    printf("listening on %lld\n", server.port);
    fflush(stdout);

    struct epoll_event events[64];
    while (!shutdown_asap) {
        int n = epoll_wait(server.epfd, events, 64, 1000);
        if (n == -1 && errno == EINTR) continue;
        for (int i = 0; i < n && !shutdown_asap; i++) {
            if (events[i].data.ptr == &server) {
                acceptConns();
                continue;
            }
            struct conn *c = events[i].data.ptr;
            if (events[i].events & EPOLLOUT) {
                if (!writeReplies(c)) continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readFromConn(c);
        }
    }
    while (listLength(server.clients)) freeConn(listNodeValue(listFirst(server.clients)));
    close(server.epfd);
    close(server.listenfd);
    return 0;
}

static int runScript(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    struct conn *c = createConn(-1);
    c->flags |= CONN_SCRIPT;
    char line[4096];
    while (!shutdown_asap && !(c->flags & CONN_CLOSE_AFTER_REPLY) && fgets(line, sizeof line, f)) {
        c->querybuf = sdscat(c->querybuf, line);
        if (!strchr(line, '\n')) c->querybuf = sdscat(c->querybuf, "\n");
        processInputBuffer(c);
        fwrite(c->reply, 1, sdslen(c->reply), stdout);
        sdsclear(c->reply);
    }
    fclose(f);
    freeConn(c);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: kvstore --port N | --script FILE\n");
    exit(2);
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
            usage();
    }
    if (port < 0 && !script) usage();

    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, onSignal);
    signal(SIGINT, onSignal);
    seedHash();
    kvstats.started_ms = nowMs();
    server.db = dictCreate(&dbDictType, NULL);
    server.clients = listCreate();
    server.listenfd = -1;
    server.epfd = -1;

    return script ? runScript(script) : serve(port);
}
