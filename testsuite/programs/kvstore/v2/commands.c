/* The command table and the commands (v2 adds CONNINFO, FREQ and INFO).
 * Commands are found by name in cmdTable and the connection remembers a
 * pointer into the table (lastcmd), as real servers do. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "server.h"
#include "zmalloc.h"

static void getCommand(struct conn *c);
static void setCommand(struct conn *c);
static void delCommand(struct conn *c);
static void incrCommand(struct conn *c);
static void appendCommand(struct conn *c);
static void keysCommand(struct conn *c);
static void dbsizeCommand(struct conn *c);
static void statsCommand(struct conn *c);
static void memoryCommand(struct conn *c);
static void pingCommand(struct conn *c);
static void quitCommand(struct conn *c);
static void shutdownCommand(struct conn *c);
static void conninfoCommand(struct conn *c);
static void freqCommand(struct conn *c);
static void infoCommand(struct conn *c);

struct command cmdTable[] = {
    {"GET", getCommand, 2, 0},
    {"SET", setCommand, 3, 0},
    {"DEL", delCommand, 2, 0},
    {"INCR", incrCommand, 2, 0},
    {"APPEND", appendCommand, 3, 0},
    {"KEYS", keysCommand, 1, 0},
    {"DBSIZE", dbsizeCommand, 1, 0},
    {"STATS", statsCommand, 1, 0},
    {"MEMORY", memoryCommand, 1, 0},
    {"PING", pingCommand, -1, 0},
    {"QUIT", quitCommand, 1, 0},
    {"SHUTDOWN", shutdownCommand, 1, 0},
    /* New in v2, appended so that v1's entries keep their places (and STATS
     * its order). */
    {"CONNINFO", conninfoCommand, 1, 0},
    {"FREQ", freqCommand, 2, 0},
    {"INFO", infoCommand, 1, 0},
};

#define NUM_COMMANDS (sizeof(cmdTable) / sizeof(cmdTable[0]))

void addReply(struct conn *c, const char *s) {
    c->reply = sdscat(c->reply, s);
    c->reply = sdscatlen(c->reply, "\n", 1);
}

void addReplyLongLong(struct conn *c, long long v) {
    c->reply = sdscatprintf(c->reply, "%lld\n", v);
}

struct command *lookupCommand(const char *name) {
    for (size_t j = 0; j < NUM_COMMANDS; j++)
        if (strcasecmp(cmdTable[j].name, name) == 0) return &cmdTable[j];
    return NULL;
}

void processCommand(struct conn *c) {
    static long long nreq = 0;
    c->reqno = ++nreq;
    c->cmds++;
    /* Answered outside cmdTable, as in v1, so that STATS reads the same in
     * both releases: VERSION only tells a client which release runs. */
    if (strcasecmp(c->argv[0], "VERSION") == 0) {
        addReply(c, "v2");
        return;
    }
    struct command *cmd = lookupCommand(c->argv[0]);
    if (!cmd) {
        server.stat_rejected++;
        c->reply = sdscatprintf(c->reply, "ERR unknown command '%s'\n", c->argv[0]);
        return;
    }
    if ((cmd->arity > 0 && c->argc != cmd->arity) || (cmd->arity < 0 && c->argc < -cmd->arity)) {
        server.stat_rejected++;
        c->reply = sdscatprintf(c->reply, "ERR wrong number of arguments for '%s'\n", cmd->name);
        return;
    }
    c->lastcmd = cmd;
    cmd->calls++;
    cmd->proc(c);
}

static struct kvobj *lookupKey(sds key) {
    struct kvobj *o = dictFetchValue(server.db, key);
    if (o) {
        server.stat_hits++;
        o->accesses++;
    } else
        server.stat_misses++;
    return o;
}

static void addReplyObject(struct conn *c, struct kvobj *o) {
    if (o->encoding == OBJ_ENCODING_INT) {
        addReplyLongLong(c, (long long)(intptr_t)o->ptr);
    } else {
        c->reply = sdscatlen(c->reply, o->ptr, sdslen(o->ptr));
        c->reply = sdscatlen(c->reply, "\n", 1);
    }
}

static void getCommand(struct conn *c) {
    struct kvobj *o = lookupKey(c->argv[1]);
    if (!o)
        addReply(c, "(nil)");
    else
        addReplyObject(c, o);
}

static void setCommand(struct conn *c) {
    struct kvobj *o = createStringObject(c->argv[2], sdslen(c->argv[2]));
    dictReplace(server.db, c->argv[1], tryObjectEncoding(o));
    addReply(c, "OK");
}

static void delCommand(struct conn *c) {
    addReplyLongLong(c, dictDelete(server.db, c->argv[1]) == DICT_OK);
}

static void incrCommand(struct conn *c) {
    struct kvobj *o = lookupKey(c->argv[1]);
    long long v = 0;
    if (o && !getLongLongFromObject(o, &v)) {
        addReply(c, "ERR value is not an integer");
        return;
    }
    v++;
    struct kvobj *n = createObject(OBJ_STRING, (void *)(intptr_t)v);
    n->encoding = OBJ_ENCODING_INT;
    dictReplace(server.db, c->argv[1], n);
    addReplyLongLong(c, v);
}

static void appendCommand(struct conn *c) {
    struct kvobj *o = lookupKey(c->argv[1]);
    if (!o) {
        o = createStringObject(c->argv[2], sdslen(c->argv[2]));
        dictAdd(server.db, c->argv[1], o);
    } else {
        if (o->encoding == OBJ_ENCODING_INT) {
            o->ptr = objectToSds(o);
            o->encoding = OBJ_ENCODING_RAW;
        }
        o->ptr = sdscatlen(o->ptr, c->argv[2], sdslen(c->argv[2]));
    }
    addReplyLongLong(c, (long long)sdslen(o->ptr));
}

static int compareSds(const void *a, const void *b) {
    return sdscmp(*(sds const *)a, *(sds const *)b);
}

/* Sorted, so that the reply does not depend on the hash seed. */
static void keysCommand(struct conn *c) {
    unsigned long n = dictSize(server.db), i = 0;
    if (n == 0) {
        addReply(c, "(empty)");
        return;
    }
    sds *keys = zmalloc(n * sizeof(sds));
    dictIterator *it = dictGetIterator(server.db);
    dictEntry *de;
    while ((de = dictNext(it)) != NULL) keys[i++] = dictGetKey(de);
    dictReleaseIterator(it);
    qsort(keys, n, sizeof(sds), compareSds);
    for (i = 0; i < n; i++) {
        if (i) c->reply = sdscatlen(c->reply, " ", 1);
        c->reply = sdscatlen(c->reply, keys[i], sdslen(keys[i]));
    }
    c->reply = sdscatlen(c->reply, "\n", 1);
    zfree(keys);
}

static void dbsizeCommand(struct conn *c) {
    addReplyLongLong(c, (long long)dictSize(server.db));
}

static void statsCommand(struct conn *c) {
    c->reply = sdscatprintf(c->reply, "requests:%lld connections:%lld keys:%lu hits:%lld misses:%lld", c->reqno,
                            server.stat_connections, dictSize(server.db), server.stat_hits, server.stat_misses);
    for (size_t j = 0; j < NUM_COMMANDS; j++)
        if (cmdTable[j].calls) c->reply = sdscatprintf(c->reply, " %s:%lld", cmdTable[j].name, cmdTable[j].calls);
    c->reply = sdscatlen(c->reply, "\n", 1);
}

static void memoryCommand(struct conn *c) {
    addReplyLongLong(c, (long long)zmalloc_used_memory());
}

static void pingCommand(struct conn *c) {
    if (c->argc > 1)
        addReply(c, c->argv[1]);
    else
        addReply(c, "PONG");
}

static void quitCommand(struct conn *c) {
    addReply(c, "BYE");
    c->flags |= CONN_CLOSE_AFTER_REPLY;
}

static void shutdownCommand(struct conn *c) {
    addReply(c, "BYE");
    c->flags |= CONN_CLOSE_AFTER_REPLY;
    shutdown_asap = 1;
}

/* The asking connection's own numbers. */
static void conninfoCommand(struct conn *c) {
    c->reply = sdscatprintf(c->reply, "id:%lu cmds:%lld created_ms:%lld\n", c->id, c->cmds, c->created_ms);
}

/* How often GET, INCR and APPEND found the key's current value; does not
 * count as a lookup itself. */
static void freqCommand(struct conn *c) {
    struct kvobj *o = dictFetchValue(server.db, c->argv[1]);
    if (!o)
        addReply(c, "(nil)");
    else
        c->reply = sdscatprintf(c->reply, "%llu\n", o->accesses);
}

static void infoCommand(struct conn *c) {
    c->reply = sdscatprintf(c->reply, "version:v2 uptime_ms:%lld bytes_in:%lld bytes_out:%lld rejected:%lld\n",
                            nowMs() - kvstats.started_ms, kvstats.bytes_in, kvstats.bytes_out, server.stat_rejected);
}
