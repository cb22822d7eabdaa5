/* callbacks v2: money in whole cents (long), accounts doubly linked, and
 * the largest account's name kept in stats. The automatic transfer keeps
 * names and links and zeroes what is new; v2 registers transfer callbacks
 * (lucc.h) for the rest: each account's cents from its old balance, the
 * stats' total and the name behind the old `largest` pointer (translated
 * with lucc_transfer_pointer), and, once all is in, the back links.
 * Built by plain cc (no update possible) it is the same program without
 * the callbacks. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef __LUCC__
#include <lucc.h>
#endif

#include "pair.h"

struct account {
    char name[16];
    long cents;
    struct account *next;
    struct account *prev;
};

struct stats {
    long total_cents;
    int opened;
    struct account *largest;
    char largest_name[16];
};

static struct account *accounts; /* newest last */
static struct stats stats;

/* v1's layouts, as the callbacks read the old bytes. */
struct account_v1 {
    char name[16];
    double balance;
    struct account_v1 *next;
};

struct stats_v1 {
    double total;
    int opened;
    struct account_v1 *largest;
};

#ifdef __LUCC__
static int account_from_v1(const void *old, size_t old_size, void *new_obj, size_t new_size, void *arg) {
    (void)arg;
    if (old_size < sizeof(struct account_v1) || new_size < sizeof(struct account))
        return 1;
    const struct account_v1 *o = old;
    struct account *n = new_obj;
    n->cents = lround(o->balance * 100);
    return 0;
}

static int stats_from_v1(const void *old, size_t old_size, void *new_obj, size_t new_size, void *arg) {
    (void)arg;
    if (old_size < sizeof(struct stats_v1) || new_size < sizeof(struct stats))
        return 1;
    const struct stats_v1 *o = old;
    struct stats *n = new_obj;
    n->total_cents = lround(o->total * 100);
    /* The automatic transfer already remapped n->largest; the old pointer
     * must translate to the same account. */
    struct account *l = lucc_transfer_pointer(o->largest);
    if (l != n->largest)
        return 2;
    if (l)
        snprintf(n->largest_name, sizeof n->largest_name, "%s", l->name);
    return 0;
}

static int link_back(void *arg) {
    (void)arg;
    struct account *prev = NULL;
    for (struct account *a = accounts; a; a = a->next) {
        a->prev = prev;
        prev = a;
    }
    return 0;
}

__attribute__((constructor)) static void register_callbacks(void) {
    lucc_on_transfer_type("account", account_from_v1, NULL);
    lucc_on_transfer_variable("stats", stats_from_v1, NULL);
    lucc_on_transfer_done(link_back, NULL);
}
#endif

static void open_account(const char *name, long cents) {
    struct account *a = xmalloc(sizeof *a);
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->cents = cents;
    struct account **tail = &accounts;
    struct account *prev = NULL;
    while (*tail) {
        prev = *tail;
        tail = &(*tail)->next;
    }
    a->prev = prev;
    *tail = a;
    stats.total_cents += cents;
    stats.opened++;
    if (!stats.largest || cents > stats.largest->cents) {
        stats.largest = a;
        snprintf(stats.largest_name, sizeof stats.largest_name, "%s", a->name);
    }
}

void pair_command(const char *line, FILE *out) {
    char name[16];
    double amount;
    if (sscanf(line, "OPEN %15s %lf", name, &amount) == 2) {
        open_account(name, lround(amount * 100));
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        struct account *last = NULL;
        for (struct account *a = accounts; a; a = a->next) {
            fprintf(out, "account %s cents=%ld\n", a->name, a->cents);
            last = a;
        }
        fprintf(out, "total cents=%ld opened=%d largest=%s\n", stats.total_cents, stats.opened,
                stats.largest ? stats.largest->name : "-");
        /* v2's own view: the back links and the kept name. */
        int back = 0;
        for (struct account *a = last; a; a = a->prev)
            back++;
        fprintf(out, "backwards=%d largest_name=%s\n", back, stats.largest_name[0] ? stats.largest_name : "-");
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
