/* type_removed_unmappable v1: connections record their descriptor as an
 * int. v2 replaces that int by a pointer to a new struct sock: no rule
 * converts an int into a struct pointer, so an update from v1 state that
 * holds connections must stop, naming struct conn.fd, and roll back; v1
 * runs on with its state intact. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct conn {
    int fd;
    char peer[16];
    struct conn *next;
};

static struct conn *conns;
static int nconns;

void pair_command(const char *line, FILE *out) {
    int fd;
    char peer[16];
    if (sscanf(line, "CONN %d %15s", &fd, peer) == 2) {
        struct conn *c = xcalloc(1, sizeof *c);
        c->fd = fd;
        snprintf(c->peer, sizeof c->peer, "%s", peer);
        c->next = conns;
        conns = c;
        nconns++;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        fprintf(out, "nconns=%d\n", nconns);
        for (struct conn *c = conns; c; c = c->next)
            fprintf(out, "conn %s fd=%d\n", c->peer, c->fd);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
