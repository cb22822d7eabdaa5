/* callback_lossy v2: struct item gains a price; the transfer callback
 * (lucc.h) meant to set it also rewrites the quantity, keeping only its
 * low byte: a callback that loses information. See v1.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __LUCC__
#include <lucc.h>
#endif

#include "pair.h"

struct item {
    char name[16];
    int qty;
    long price_cents;
    struct item *next;
};

static struct item *stock; /* newest last */
static int items;

#ifdef __LUCC__
/* v1's layout, as the callback reads the old bytes. */
struct item_v1 {
    char name[16];
    int qty;
    struct item_v1 *next;
};

static int item_from_v1(const void *old, size_t old_size, void *new_obj, size_t new_size, void *arg) {
    (void)arg;
    if (old_size < sizeof(struct item_v1) || new_size < sizeof(struct item))
        return 1;
    const struct item_v1 *o = old;
    struct item *n = new_obj;
    n->price_cents = 100;
    n->qty = (unsigned char)o->qty; /* the bug: the low byte only */
    return 0;
}

__attribute__((constructor)) static void register_callbacks(void) {
    lucc_on_transfer_type("item", item_from_v1, NULL);
}
#endif

/* LUCC_TEST_CRASH_FIRST_REQUEST set in the environment (the old version's,
 * which an update passes on): this version dies of a segmentation fault on
 * the first request it serves, the new version that crashes right after
 * resuming which testsuite/tests/all/probation.rs rolls back from. */
static void maybe_crash(void) {
    static int served;
    if (served++ == 0 && getenv("LUCC_TEST_CRASH_FIRST_REQUEST")) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
}

void pair_command(const char *line, FILE *out) {
    char name[16];
    int qty;
    maybe_crash();
    if (sscanf(line, "ADD %15s %d", name, &qty) == 2) {
        struct item *it = xmalloc(sizeof *it);
        memset(it, 0, sizeof *it);
        snprintf(it->name, sizeof it->name, "%s", name);
        it->qty = qty;
        it->price_cents = 100;
        struct item **tail = &stock;
        while (*tail)
            tail = &(*tail)->next;
        *tail = it;
        items++;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct item *it = stock; it; it = it->next)
            fprintf(out, "item %s qty=%d price=%ld\n", it->name, it->qty, it->price_cents);
        fprintf(out, "items=%d\n", items);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
