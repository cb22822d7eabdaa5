/* field_removed v1: accounts with a `legacy_flags` field that v2 drops,
 * and a global `audit_count` v2 no longer has. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct account {
    int id;
    long legacy_flags;
    char owner[16];
    long balance;
    struct account *next;
};

static struct account *accounts;
static long audit_count;

void pair_command(const char *line, FILE *out) {
    int id;
    char owner[16];
    long balance, flags;
    if (sscanf(line, "OPEN %d %15s %ld %ld", &id, owner, &balance, &flags) == 4) {
        struct account *a = xcalloc(1, sizeof *a);
        a->id = id;
        a->legacy_flags = flags;
        snprintf(a->owner, sizeof a->owner, "%s", owner);
        a->balance = balance;
        a->next = accounts;
        accounts = a;
        audit_count++;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct account *a = accounts; a; a = a->next)
            fprintf(out, "account %d owner=%s balance=%ld flags=%ld\n", a->id, a->owner, a->balance, a->legacy_flags);
        fprintf(out, "audit_count=%ld\n", audit_count);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
