/* field_removed v2: struct account without `legacy_flags` (the fields
 * after it move up) and no `audit_count`; OPEN still takes the flags
 * argument and ignores it. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct account {
    int id;
    char owner[16];
    long balance;
    struct account *next;
};

static struct account *accounts;

void pair_command(const char *line, FILE *out) {
    int id;
    char owner[16];
    long balance, flags;
    if (sscanf(line, "OPEN %d %15s %ld %ld", &id, owner, &balance, &flags) == 4) {
        struct account *a = xcalloc(1, sizeof *a);
        a->id = id;
        snprintf(a->owner, sizeof a->owner, "%s", owner);
        a->balance = balance;
        a->next = accounts;
        accounts = a;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct account *a = accounts; a; a = a->next)
            fprintf(out, "account %d owner=%s balance=%ld\n", a->id, a->owner, a->balance);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
