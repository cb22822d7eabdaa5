/* kvstore: a small key-value server shaped like the real ones (size-header
 * allocator, sds strings, dictType tables, a command table of function
 * pointers, epoll with heap pointers in the registrations, a free list of
 * connection structs). One line per request, one line per reply. */
#ifndef SERVER_H
#define SERVER_H
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
    int refcount;
    void *ptr;
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
    sds querybuf;
    sds reply;
    int argc;
    sds *argv;
    long long reqno; /* processCommand's count when this request ran */
    struct command *lastcmd;
    listNode *node;         /* in server.clients while open */
    struct conn *next_free; /* in server.free_conns while closed */
};

struct server {
    int port;
    int listenfd;
    int epfd;
    dict *db;
    list *clients;
    struct conn *free_conns;
    unsigned long next_conn_id;
    long long stat_connections;
    long long stat_hits;
    long long stat_misses;
    int shutdown_asap;
};

extern struct server server;
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
struct conn *createConn(int fd);
void freeConn(struct conn *c);
void processInputBuffer(struct conn *c);

/* net.c */
int netTcpServer(int port, int *bound_port);
int netAccept(int listenfd);
int netNonBlock(int fd);

#endif
