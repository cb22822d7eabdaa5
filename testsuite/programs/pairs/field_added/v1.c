/* field_added v1: a list of items. v2 adds `price` to struct item and a
 * global `price_total`; an update must zero both. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct item {
    char name[16];
    int qty;
    struct item *next;
};

static struct item *items;      /* newest last */
static int nitems;

static void add(const char *name, int qty) {
    struct item *it = xmalloc(sizeof *it);
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "%s", name);
    it->qty = qty;
    struct item **tail = &items;
    while (*tail)
        tail = &(*tail)->next;
    *tail = it;
    nitems++;
}

void pair_command(const char *line, FILE *out) {
    char name[16];
    int qty;
    if (sscanf(line, "ADD %15s %d", name, &qty) == 2) {
        add(name, qty);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        fprintf(out, "nitems=%d\n", nitems);
        for (struct item *it = items; it; it = it->next)
            fprintf(out, "item %s qty=%d\n", it->name, it->qty);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
