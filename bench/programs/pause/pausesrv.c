/* pausesrv: the server whose live update bench/pause.py times.
 *
 *   pausesrv --port P [--entries N | --load FILE]
 *
 * At startup it builds a chained hash table of N entries (each a struct
 * plus its own name string, both from xmalloc: 2N small heap objects and
 * one bucket array), or rebuilds the same table from a file SAVE wrote.
 * It then serves a line protocol on 127.0.0.1:P (P = 0: any free port;
 * "listening on PORT" is printed once it accepts):
 *
 *   PING -> PONG          PID -> the serving process's pid
 *   GET K -> VALUE NAME   (or NOTFOUND)
 *   COUNT -> N            BYTES -> payload bytes of the table (see below)
 *   VERSION -> 1 or 2     SAVE PATH -> OK (the table, version independent)
 *   SHUTDOWN -> OK, then exit
 *
 * Built with -DV2 the entry gains a field (`hits`, counted by GET), so an
 * update from v1 to v2 converts every entry object, the common real case of
 * a struct that grew. Built with -DV2_SMALL only the one small counters
 * object changes (it gains `pings`) and every entry keeps its type: the
 * common case of a release that touches little state, whose pause should
 * not be paid per entry. Both answer VERSION 2. Values and names are
 * functions of the key, so a client can check any answer without keeping
 * the table itself. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __LUCC__
#include <lucc.h>
#endif

#define SAVE_MAGIC 0x31565350u /* "PSV1", the same for both versions */
#define IOBUF_SIZE (1 << 20)

struct entry {
    uint64_t key;
    uint64_t value;
    struct entry *next;
    char *name;
#ifdef V2
    uint64_t hits;
#endif
};

/* One heap object, the small state a release may change on its own. */
struct counters {
    uint64_t gets;
    uint64_t notfound;
#ifdef V2_SMALL
    uint64_t pings;
#endif
};

struct conn {
    int fd;
    size_t used, outlen;
    char buf[1024];
    char out[1024]; /* the replies to one read, sent in one write */
};

struct server {
    int listenfd;
    int epfd;
    int shutdown;
    struct entry **buckets;
    size_t nbuckets;
    size_t count;
    size_t payload_bytes; /* entries, names and buckets as allocated */
    struct counters *counters;
};

static struct server server;

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "pausesrv: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static uint64_t value_of(uint64_t key) { return key * 2654435761u + 7; }

static size_t bucket_of(uint64_t key) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (server.nbuckets - 1);
}

static void table_init(size_t entries) {
    server.nbuckets = 1024;
    while (server.nbuckets < entries) server.nbuckets <<= 1;
    server.buckets = xmalloc(server.nbuckets * sizeof *server.buckets);
    memset(server.buckets, 0, server.nbuckets * sizeof *server.buckets);
    server.payload_bytes = server.nbuckets * sizeof *server.buckets;
}

static void table_put(uint64_t key, uint64_t value, const char *name, size_t namelen) {
    struct entry *e = xmalloc(sizeof *e);
    memset(e, 0, sizeof *e);
    e->key = key;
    e->value = value;
    e->name = xmalloc(namelen + 1);
    memcpy(e->name, name, namelen);
    e->name[namelen] = '\0';
    size_t b = bucket_of(key);
    e->next = server.buckets[b];
    server.buckets[b] = e;
    server.count++;
    server.payload_bytes += sizeof *e + namelen + 1;
}

static struct entry *table_get(uint64_t key) {
    for (struct entry *e = server.buckets[bucket_of(key)]; e; e = e->next)
        if (e->key == key) return e;
    return NULL;
}

static void generate(size_t entries) {
    table_init(entries);
    char name[32];
    for (size_t k = 0; k < entries; k++) {
        int len = snprintf(name, sizeof name, "entry-%zu", k);
        table_put(k, value_of(k), name, (size_t)len);
    }
}

/* File: magic, count, then per entry key, value, name length, name. */
static int save(const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    /* A heap buffer, freed when done: a static one would be 1 MB of
     * untyped memory that every update traces word by word. */
    char *iobuf = xmalloc(IOBUF_SIZE);
    setvbuf(f, iobuf, _IOFBF, IOBUF_SIZE);
    uint32_t magic = SAVE_MAGIC;
    uint64_t count = server.count;
    fwrite(&magic, sizeof magic, 1, f);
    fwrite(&count, sizeof count, 1, f);
    for (size_t b = 0; b < server.nbuckets; b++) {
        for (struct entry *e = server.buckets[b]; e; e = e->next) {
            uint32_t len = (uint32_t)strlen(e->name);
            fwrite(&e->key, sizeof e->key, 1, f);
            fwrite(&e->value, sizeof e->value, 1, f);
            fwrite(&len, sizeof len, 1, f);
            fwrite(e->name, 1, len, f);
        }
    }
    int failed = ferror(f) || fclose(f) != 0;
    free(iobuf);
    return failed ? -1 : 0;
}

static void load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    char *iobuf = xmalloc(IOBUF_SIZE);
    setvbuf(f, iobuf, _IOFBF, IOBUF_SIZE);
    uint32_t magic;
    uint64_t count;
    if (fread(&magic, sizeof magic, 1, f) != 1 || magic != SAVE_MAGIC ||
        fread(&count, sizeof count, 1, f) != 1) {
        fprintf(stderr, "pausesrv: %s is not a saved table\n", path);
        exit(1);
    }
    table_init((size_t)count);
    char name[256];
    for (uint64_t i = 0; i < count; i++) {
        uint64_t key, value;
        uint32_t len;
        if (fread(&key, sizeof key, 1, f) != 1 || fread(&value, sizeof value, 1, f) != 1 ||
            fread(&len, sizeof len, 1, f) != 1 || len >= sizeof name ||
            fread(name, 1, len, f) != len) {
            fprintf(stderr, "pausesrv: %s is truncated at entry %" PRIu64 "\n", path, i);
            exit(1);
        }
        table_put(key, value, name, len);
    }
    fclose(f);
    free(iobuf);
}

static void flush(struct conn *c) {
    size_t off = 0;
    while (off < c->outlen) {
        ssize_t n = write(c->fd, c->out + off, c->outlen - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* the peer went away; its EPOLLHUP closes it */
        off += (size_t)n;
    }
    c->outlen = 0;
}

/* Replies are gathered and written once per read: two small writes in a
 * row would wait on the client's delayed ACK (Nagle), 40 ms a request. */
static void reply(struct conn *c, const char *text) {
    size_t len = strlen(text);
    if (c->outlen + len > sizeof c->out) flush(c);
    if (len > sizeof c->out) len = sizeof c->out;
    memcpy(c->out + c->outlen, text, len);
    c->outlen += len;
}

static void command(struct conn *c, char *line) {
    char out[320];
    if (strcmp(line, "PING") == 0) {
#ifdef V2_SMALL
        server.counters->pings++;
#endif
        reply(c, "PONG\n");
    } else if (strcmp(line, "PID") == 0) {
        snprintf(out, sizeof out, "%ld\n", (long)getpid());
        reply(c, out);
    } else if (strncmp(line, "GET ", 4) == 0) {
        struct entry *e = table_get(strtoull(line + 4, NULL, 10));
        server.counters->gets++;
        if (!e) {
            server.counters->notfound++;
            reply(c, "NOTFOUND\n");
            return;
        }
#ifdef V2
        e->hits++;
#endif
        snprintf(out, sizeof out, "%" PRIu64 " %s\n", e->value, e->name);
        reply(c, out);
    } else if (strcmp(line, "COUNT") == 0) {
        snprintf(out, sizeof out, "%zu\n", server.count);
        reply(c, out);
    } else if (strcmp(line, "BYTES") == 0) {
        snprintf(out, sizeof out, "%zu\n", server.payload_bytes);
        reply(c, out);
    } else if (strcmp(line, "VERSION") == 0) {
#if defined(V2) || defined(V2_SMALL)
        reply(c, "2\n");
#else
        reply(c, "1\n");
#endif
    } else if (strncmp(line, "SAVE ", 5) == 0) {
        reply(c, save(line + 5) == 0 ? "OK\n" : "ERR save failed\n");
    } else if (strcmp(line, "SHUTDOWN") == 0) {
        reply(c, "OK\n");
        server.shutdown = 1;
    } else {
        reply(c, "ERR unknown command\n");
    }
}

static void close_conn(struct conn *c) {
    epoll_ctl(server.epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static void on_readable(struct conn *c) {
    ssize_t n;
    do {
        n = read(c->fd, c->buf + c->used, sizeof c->buf - c->used);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        close_conn(c);
        return;
    }
    c->used += (size_t)n;
    char *start = c->buf, *nl;
    while ((nl = memchr(start, '\n', c->used - (size_t)(start - c->buf)))) {
        *nl = '\0';
        if (nl > start && nl[-1] == '\r') nl[-1] = '\0';
        command(c, start);
        start = nl + 1;
    }
    flush(c);
    c->used -= (size_t)(start - c->buf);
    memmove(c->buf, start, c->used);
    if (c->used == sizeof c->buf) close_conn(c); /* a line longer than the buffer */
}

static void on_acceptable(void) {
    int fd;
    while ((fd = accept4(server.listenfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        int yes = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        struct conn *c = xmalloc(sizeof *c);
        c->fd = fd;
        c->used = c->outlen = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(server.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
        }
    }
}

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int yes = 1;
    /* A restart binds the port its killed predecessor left in TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        perror("pausesrv: listen");
        return -1;
    }
    return fd;
}

static void usage(void) {
    fprintf(stderr, "usage: pausesrv --port P [--entries N | --load FILE]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int port = -1;
    size_t entries = 1000;
    const char *load_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc) entries = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--load") == 0 && i + 1 < argc) load_path = argv[++i];
        else usage();
    }
    if (port < 0) usage();

    server.listenfd = listen_on(port);
    if (server.listenfd < 0) return 1;
    int update_startup = 0;
#ifdef __LUCC__
    /* A new version started by an update receives the table from the old
     * process; building or loading it again would only be thrown away. */
    update_startup = lucc_is_update_startup();
#endif
    if (!update_startup) {
        server.counters = xmalloc(sizeof *server.counters);
        memset(server.counters, 0, sizeof *server.counters);
        if (load_path) load(load_path);
        else generate(entries);
    }

    server.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &server};
    epoll_ctl(server.epfd, EPOLL_CTL_ADD, server.listenfd, &ev);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    getsockname(server.listenfd, (struct sockaddr *)&sa, &len);
    if (!update_startup) {
        printf("listening on %d\n", ntohs(sa.sin_port));
        fflush(stdout);
    }

    struct epoll_event events[64];
    while (!server.shutdown) {
        int n = epoll_wait(server.epfd, events, 64, 1000);
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < n && !server.shutdown; i++) {
            if (events[i].data.ptr == &server) on_acceptable();
            else on_readable(events[i].data.ptr);
        }
    }
    return 0;
}
