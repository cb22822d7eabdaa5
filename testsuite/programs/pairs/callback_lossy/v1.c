/* callback_lossy v1: a stock list, each item with a name and a quantity.
 * v2 adds a price to the item, and its transfer callback (lucc.h) is wrong:
 * it keeps only the low byte of the quantity. The update commits without
 * --ttst (nothing in the transfer can tell); with --ttst the round trip
 * back into v1 brings quantities that differ, and it rolls back. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct item {
    char name[16];
    int qty;
    struct item *next;
};

static struct item *stock; /* newest last */
static int items;

void pair_command(const char *line, FILE *out) {
    char name[16];
    int qty;
    if (sscanf(line, "ADD %15s %d", name, &qty) == 2) {
        struct item *it = xmalloc(sizeof *it);
        memset(it, 0, sizeof *it);
        snprintf(it->name, sizeof it->name, "%s", name);
        it->qty = qty;
        struct item **tail = &stock;
        while (*tail)
            tail = &(*tail)->next;
        *tail = it;
        items++;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct item *it = stock; it; it = it->next)
            fprintf(out, "item %s qty=%d\n", it->name, it->qty);
        fprintf(out, "items=%d\n", items);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
