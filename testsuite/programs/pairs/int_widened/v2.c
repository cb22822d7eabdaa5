/* int_widened v2: short -> int, unsigned char -> unsigned int, int ->
 * long long, and the globals short -> long, unsigned short -> unsigned
 * long. The values stay what they were. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct counter {
    char name[12];
    int hits;
    unsigned int level;
    long long total;
    struct counter *next;
};

static struct counter *counters;
static long small_global;
static unsigned long small_unsigned;

void pair_command(const char *line, FILE *out) {
    char name[12];
    int hits, level, total;
    if (sscanf(line, "COUNT %11s %d %d %d", name, &hits, &level, &total) == 4) {
        struct counter *c = xcalloc(1, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", name);
        c->hits = hits;
        c->level = (unsigned int)level;
        c->total = total;
        c->next = counters;
        counters = c;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "GLOBALS %d %d", &hits, &level) == 2) {
        small_global = hits;
        small_unsigned = (unsigned long)level;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct counter *c = counters; c; c = c->next)
            fprintf(out, "counter %s hits=%lld level=%llu total=%lld\n", c->name, (long long)c->hits,
                    (unsigned long long)c->level, (long long)c->total);
        fprintf(out, "small_global=%lld small_unsigned=%llu\n", (long long)small_global,
                (unsigned long long)small_unsigned);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
