/* kvstore v2: the next release of kvstore v1 (see ../CHANGES.md for what
 * changed in its types and commands; every v1 command answers as in v1).
 *
 * kvstore: a small key-value server shaped like the real ones (size-header
 * allocator, sds strings, dictType tables, a command table of function
 * pointers, epoll with heap pointers in the registrations, a free list of
 * connection structs). One line per request, one line per reply. */
#ifndef SERVER_H
#define SERVER_H
#include <signal.h>
#include <stdint.h>
#include "dict.h"
#include "list.h"
#include "sds.h"

#define OBJ_STRING 0

#define OBJ_ENCODING_RAW 0 /* ptr is an sds */
#define OBJ_ENCODING_INT 1 /* ptr holds the integer itself */

#define CONN_CLOSE_AFTER_REPLY (1 << 0)
#define CONN_SCRIPT (1 << 1) /* replies go to stdout, no socket */

#define MAX_ARGS 16

struct kvobj {
    int type;
    int encoding;
    long refcount; /* v1: int */
    void *ptr;
    /* Lookups that found this value (FREQ). Values carried over from an
     * older release start at 0. */
    unsigned long long accesses;
};

struct conn;

struct command {
    const char *name;
    void (*proc)(struct conn *c);
    int arity; /* including the name; negative means "at least -arity" */
    long long calls;
};

struct conn {
    int fd;
    int flags;
    unsigned long id;
    long long cmds; /* requests this connection sent, answered or not */
    sds reply;      /* v1 had querybuf first */
    sds querybuf;
    int argc;
    sds *argv;
    long long reqno; /* processCommand's count when this request ran */
    struct command *lastcmd;
    listNode *node;         /* in server.clients while open */
    struct conn *next_free; /* in server.free_conns while closed */
    /* Wall clock at accept, in ms; 0 for a connection accepted by an
     * older release, which did not record it. */
    long long created_ms;
};

struct server {
    long long port; /* v1: int */
    int listenfd;
    int epfd;
    dict *db;
    list *clients;
    struct conn *free_conns;
    unsigned long next_conn_id;
    long long stat_connections;
    long long stat_hits;
    long long stat_misses;
    long long stat_rejected; /* unknown commands and wrong arity */
};

/* Totals since this process started (a live update restarts them). */
struct kvstats {
    long long started_ms;
    long long bytes_in;
    long long bytes_out;
};

extern struct server server;
extern struct kvstats kvstats;
/* Set by SHUTDOWN and by SIGTERM/SIGINT; v1 kept it in struct server, but
 * a flag a signal handler writes belongs in a sig_atomic_t. */
extern volatile sig_atomic_t shutdown_asap;
extern struct command cmdTable[];
extern dictType dbDictType;

/* object.c */
struct kvobj *createObject(int type, void *ptr);
struct kvobj *createStringObject(const char *s, size_t len);
struct kvobj *tryObjectEncoding(struct kvobj *o);
void decrRefCount(struct kvobj *o);
int getLongLongFromObject(struct kvobj *o, long long *out);
sds objectToSds(struct kvobj *o);

/* commands.c */
struct command *lookupCommand(const char *name);
void processCommand(struct conn *c);
void addReply(struct conn *c, const char *s);
void addReplyLongLong(struct conn *c, long long v);

/* main.c */
long long nowMs(void);
struct conn *createConn(int fd);
void freeConn(struct conn *c);
void processInputBuffer(struct conn *c);

/* net.c */
int netTcpServer(int port, int *bound_port);
int netAccept(int listenfd);
int netNonBlock(int fd);

#endif
