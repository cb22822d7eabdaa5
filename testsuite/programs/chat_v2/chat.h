/* chat v2: the next release of chat (../chat); CHANGES.md lists what
 * changed in its types and commands. Every v1 request answers as in v1,
 * except that HIST now shows up to 16 messages.
 *
 * chat: a line-protocol chat server on poll(). Rooms are a linked list,
 * named users live in a hash table keyed by nick, each room keeps its last
 * messages in a ring of strdup'd strings, and commands are dispatched
 * through a table of function pointers.
 *
 * Requests: NICK name | JOIN room | SAY text... | WHO | HIST | ME | VERSION |
 * QUIT | SHUTDOWN.
 * Every request gets one reply line; SAY also pushes "MSG room nick: text"
 * to the other members of the room. */
#ifndef CHAT_H
#define CHAT_H
#include <stddef.h>
#include "ring.h"

#define MAX_CONNS 256
#define USER_BUCKETS 64
#define INBUF_LEN 1024

/* v1 order: name, members, history, next. */
struct room {
    struct room *next;
    char *name;
    struct ring history;
    long members; /* v1: int */
};

struct user {
    int fd;     /* -1 in script mode */
    char *label; /* script mode: the name the script uses for this client */
    char *nick; /* NULL until NICK */
    struct room *room;
    char inbuf[INBUF_LEN];
    size_t inlen;
    char *out;
    size_t outlen, outcap;
    int closing;
    struct user *hnext; /* chain in chat.users */
    /* SAY requests this user made (ME). Users carried over from an older
     * release start at 0. */
    unsigned long said;
};

struct chat {
    int listenfd;
    int shutdown;
    int nconns;
    struct user *conns[MAX_CONNS];
    struct user *users[USER_BUCKETS];
    struct room *rooms;
    long messages;
};

extern struct chat chat;

/* users.c */
struct user *userNew(int fd);
void userFree(struct user *u);
struct user *userFind(const char *nick);
int userSetNick(struct user *u, const char *nick);
void userSend(struct user *u, const char *line);
int userFlush(struct user *u);

/* rooms.c */
struct room *roomFindOrCreate(const char *name);
void roomLeave(struct user *u);
void roomJoin(struct user *u, struct room *r);
void roomFreeAll(void);

/* commands.c */
void dispatchLine(struct user *u, char *line);

#endif
