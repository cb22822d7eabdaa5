/* Request dispatch through a table of handlers (v2 adds ME). Each handler
 * gets the user and the rest of the line after the command word. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "chat.h"
#include "xmalloc.h"

typedef void (*handler_fn)(struct user *u, char *args);

struct handler {
    const char *name;
    handler_fn fn;
    int needs_nick;
    int needs_room;
};

static void cmdNick(struct user *u, char *args) {
    char reply[128];
    if (!*args || strchr(args, ' ') || strlen(args) > 32) {
        userSend(u, "ERR bad nick");
    } else if (!userSetNick(u, args)) {
        userSend(u, "ERR nick in use");
    } else {
        snprintf(reply, sizeof reply, "OK nick %s", args);
        userSend(u, reply);
    }
}

static void cmdJoin(struct user *u, char *args) {
    char reply[128];
    if (!*args || strchr(args, ' ') || strlen(args) > 32) {
        userSend(u, "ERR bad room");
        return;
    }
    roomJoin(u, roomFindOrCreate(args));
    snprintf(reply, sizeof reply, "OK joined %s", args);
    userSend(u, reply);
}

static void cmdSay(struct user *u, char *args) {
    size_t n = strlen(u->nick) + strlen(args) + 3;
    char *msg = xmalloc(n);
    snprintf(msg, n, "%s: %s", u->nick, args);
    char *push = xmalloc(n + strlen(u->room->name) + 5);
    sprintf(push, "MSG %s %s", u->room->name, msg);
    for (int i = 0; i < chat.nconns; i++) {
        struct user *o = chat.conns[i];
        if (o != u && o->room == u->room && !o->closing) userSend(o, push);
    }
    free(push);
    ringPush(&u->room->history, msg);
    chat.messages++;
    u->said++;
    userSend(u, "OK");
}

static int compareNicks(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cmdWho(struct user *u, char *args) {
    (void)args;
    char **nicks = xmalloc(sizeof(char *) * (size_t)(chat.nconns + 1));
    int n = 0;
    size_t len = strlen(u->room->name) + 8;
    for (int i = 0; i < chat.nconns; i++) {
        struct user *o = chat.conns[i];
        if (o->room == u->room && o->nick) {
            nicks[n++] = o->nick;
            len += strlen(o->nick) + 1;
        }
    }
    qsort(nicks, (size_t)n, sizeof(char *), compareNicks);
    char *reply = xmalloc(len);
    sprintf(reply, "WHO %s:", u->room->name);
    for (int i = 0; i < n; i++) {
        strcat(reply, " ");
        strcat(reply, nicks[i]);
    }
    userSend(u, reply);
    free(reply);
    free(nicks);
}

static void cmdHist(struct user *u, char *args) {
    (void)args;
    const struct ring *h = &u->room->history;
    if (h->count == 0) {
        userSend(u, "HIST (empty)");
        return;
    }
    size_t len = 8;
    for (unsigned i = 0; i < h->count; i++) len += strlen(ringGet(h, i)) + 3;
    char *reply = xmalloc(len);
    strcpy(reply, "HIST ");
    for (unsigned i = 0; i < h->count; i++) {
        if (i) strcat(reply, " | ");
        strcat(reply, ringGet(h, i));
    }
    userSend(u, reply);
    free(reply);
}

/* The asking user's own numbers: "ME nick room said:N" (room "-" when in
 * none). */
static void cmdMe(struct user *u, char *args) {
    (void)args;
    char reply[128];
    snprintf(reply, sizeof reply, "ME %s %s said:%lu", u->nick, u->room ? u->room->name : "-", u->said);
    userSend(u, reply);
}

static void cmdQuit(struct user *u, char *args) {
    (void)args;
    userSend(u, "BYE");
    u->closing = 1;
}

static void cmdShutdown(struct user *u, char *args) {
    cmdQuit(u, args);
    chat.shutdown = 1;
}

static const struct handler handlers[] = {
    {"NICK", cmdNick, 0, 0},  {"JOIN", cmdJoin, 1, 0}, {"SAY", cmdSay, 1, 1},
    {"WHO", cmdWho, 1, 1},    {"HIST", cmdHist, 1, 1}, {"QUIT", cmdQuit, 0, 0},
    {"SHUTDOWN", cmdShutdown, 0, 0}, {"ME", cmdMe, 1, 0},
};

void dispatchLine(struct user *u, char *line) {
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = '\0';
    char *args = line + strcspn(line, " ");
    if (*args) *args++ = '\0';
    while (*args == ' ') args++;
    if (!*line) return;
    /* Answered outside the handler table, as in v1: VERSION only tells a
     * client which release runs. */
    if (strcasecmp(line, "VERSION") == 0) {
        userSend(u, "VERSION v2");
        return;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        const struct handler *h = &handlers[i];
        if (strcasecmp(h->name, line) != 0) continue;
        if (h->needs_nick && !u->nick)
            userSend(u, "ERR set a nick first");
        else if (h->needs_room && !u->room)
            userSend(u, "ERR join a room first");
        else
            h->fn(u, args);
        return;
    }
    userSend(u, "ERR unknown command");
}
