/* callbacks v1: accounts with a balance in dollars (double), a singly
 * linked list, and stats holding the total and a pointer to the largest
 * account. v2 changes the meaning of the money fields (whole cents in a
 * long), adds back links and a copy of the largest account's name: no
 * rule can infer those, v2's transfer callbacks (lucc.h) supply them. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct account {
    char name[16];
    double balance;
    struct account *next;
};

struct stats {
    double total;
    int opened;
    struct account *largest;
};

static struct account *accounts; /* newest last */
static struct stats stats;

static void open_account(const char *name, double balance) {
    struct account *a = xmalloc(sizeof *a);
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->balance = balance;
    struct account **tail = &accounts;
    while (*tail)
        tail = &(*tail)->next;
    *tail = a;
    stats.total += balance;
    stats.opened++;
    if (!stats.largest || balance > stats.largest->balance)
        stats.largest = a;
}

void pair_command(const char *line, FILE *out) {
    char name[16];
    double amount;
    if (sscanf(line, "OPEN %15s %lf", name, &amount) == 2) {
        open_account(name, amount);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct account *a = accounts; a; a = a->next)
            fprintf(out, "account %s cents=%lld\n", a->name, (long long)(a->balance * 100 + (a->balance < 0 ? -0.5 : 0.5)));
        fprintf(out, "total cents=%lld opened=%d largest=%s\n", (long long)(stats.total * 100 + (stats.total < 0 ? -0.5 : 0.5)),
                stats.opened, stats.largest ? stats.largest->name : "-");
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
