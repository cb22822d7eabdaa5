/* Rooms: a singly linked list in creation order. Rooms outlive their
 * members, so history is there for whoever joins later. */
#include <stdlib.h>
#include <string.h>
#include "chat.h"
#include "xmalloc.h"

struct room *roomFindOrCreate(const char *name) {
    struct room **link = &chat.rooms;
    for (; *link; link = &(*link)->next)
        if (strcmp((*link)->name, name) == 0) return *link;
    struct room *r = xcalloc(1, sizeof(*r));
    r->name = xstrdup(name);
    *link = r;
    return r;
}

void roomLeave(struct user *u) {
    if (!u->room) return;
    u->room->members--;
    u->room = NULL;
}

void roomJoin(struct user *u, struct room *r) {
    roomLeave(u);
    u->room = r;
    r->members++;
}

void roomFreeAll(void) {
    while (chat.rooms) {
        struct room *r = chat.rooms;
        chat.rooms = r->next;
        ringClear(&r->history);
        free(r->name);
        free(r);
    }
}
