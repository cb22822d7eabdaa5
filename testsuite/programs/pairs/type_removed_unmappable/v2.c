/* type_removed_unmappable v2: struct conn's `fd` is now a struct sock *
 * (the descriptor moved into its own object). Built fresh it behaves like
 * v1; an update from v1 state cannot convert `int fd` into a pointer and
 * must fail with "struct conn.fd: int -> struct sock *: cannot convert". */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct sock {
    int fd;
    int flags;
};

struct conn {
    struct sock *fd;
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
        c->fd = xcalloc(1, sizeof *c->fd);
        c->fd->fd = fd;
        snprintf(c->peer, sizeof c->peer, "%s", peer);
        c->next = conns;
        conns = c;
        nconns++;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        fprintf(out, "nconns=%d\n", nconns);
        for (struct conn *c = conns; c; c = c->next)
            fprintf(out, "conn %s fd=%d\n", c->peer, c->fd->fd);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
