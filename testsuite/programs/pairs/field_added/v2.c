/* field_added v2: struct item gains `price` (between qty and next, so the
 * layout shifts) and the program a global `price_total`. After an update
 * from v1 both are zero: v1 had no price. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct item {
    char name[16];
    int qty;
    long price;
    struct item *next;
};

static struct item *items;
static int nitems;
static long price_total;

static void add(const char *name, int qty, long price) {
    struct item *it = xmalloc(sizeof *it);
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "%s", name);
    it->qty = qty;
    it->price = price;
    struct item **tail = &items;
    while (*tail)
        tail = &(*tail)->next;
    *tail = it;
    nitems++;
    price_total += price;
}

void pair_command(const char *line, FILE *out) {
    char name[16];
    int qty;
    long price = 0;
    int n = sscanf(line, "ADD %15s %d %ld", name, &qty, &price);
    if (n >= 2) {
        add(name, qty, n == 3 ? price : 0);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        fprintf(out, "nitems=%d\n", nitems);
        for (struct item *it = items; it; it = it->next)
            fprintf(out, "item %s qty=%d price=%ld\n", it->name, it->qty, it->price);
        fprintf(out, "price_total=%ld\n", price_total);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
