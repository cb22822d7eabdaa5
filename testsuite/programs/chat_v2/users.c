/* Connections and the nick table. A user struct is one connection; it is
 * in the hash table only once it has a nick. Output is buffered per user
 * and written as soon as possible, so a pushed MSG reaches its socket
 * before the sender's own reply does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "chat.h"
#include "xmalloc.h"

static unsigned hashNick(const char *s) {
    unsigned h = 5381;
    while (*s) h = h * 33 + (unsigned char)*s++;
    return h % USER_BUCKETS;
}

struct user *userNew(int fd) {
    struct user *u = xcalloc(1, sizeof(struct user));
    u->fd = fd;
    u->outcap = 256;
    u->out = xmalloc(u->outcap);
    return u;
}

static void unlinkNick(struct user *u) {
    if (!u->nick) return;
    struct user **link = &chat.users[hashNick(u->nick)];
    while (*link && *link != u) link = &(*link)->hnext;
    if (*link) *link = u->hnext;
    free(u->nick);
    u->nick = NULL;
    u->hnext = NULL;
}

void userFree(struct user *u) {
    roomLeave(u);
    unlinkNick(u);
    if (u->fd != -1) close(u->fd);
    free(u->label);
    free(u->out);
    free(u);
}

struct user *userFind(const char *nick) {
    for (struct user *u = chat.users[hashNick(nick)]; u; u = u->hnext)
        if (strcmp(u->nick, nick) == 0) return u;
    return NULL;
}

/* Returns 0 if another user has the nick. */
int userSetNick(struct user *u, const char *nick) {
    struct user *other = userFind(nick);
    if (other && other != u) return 0;
    unlinkNick(u);
    u->nick = xstrdup(nick);
    unsigned b = hashNick(nick);
    u->hnext = chat.users[b];
    chat.users[b] = u;
    return 1;
}

void userSend(struct user *u, const char *line) {
    size_t n = strlen(line);
    if (u->outlen + n + 1 > u->outcap) {
        while (u->outlen + n + 1 > u->outcap) u->outcap *= 2;
        u->out = xrealloc(u->out, u->outcap);
    }
    memcpy(u->out + u->outlen, line, n);
    u->out[u->outlen + n] = '\n';
    u->outlen += n + 1;
    userFlush(u);
}

/* Writes what the socket takes; returns -1 if the peer is gone. */
int userFlush(struct user *u) {
    if (u->fd == -1) return 0;
    size_t done = 0;
    while (done < u->outlen) {
        ssize_t n = write(u->fd, u->out + done, u->outlen - done);
        if (n == -1 && errno == EINTR) continue;
        if (n == -1 && errno == EAGAIN) break;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    memmove(u->out, u->out + done, u->outlen - done);
    u->outlen -= done;
    return 0;
}
