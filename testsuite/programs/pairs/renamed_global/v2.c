/* renamed_global v2: request_count is now request_count, stats is
 * stats, latest is latest, and legacy_mode is gone; transform.toml
 * declares all four. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct stats {
    int hits;
    int misses;
    char last_key[12];
};

struct word {
    char text[12];
    struct word *next;
};

long request_count;
struct stats stats;
static struct word *words;
static struct word *latest;

void pair_command(const char *line, FILE *out) {
    char key[12];
    request_count++;
    if (sscanf(line, "LOOK %11s", key) == 1) {
        struct word *w;
        for (w = words; w; w = w->next)
            if (strcmp(w->text, key) == 0)
                break;
        if (w) {
            stats.hits++;
        } else {
            stats.misses++;
            w = xcalloc(1, sizeof *w);
            snprintf(w->text, sizeof w->text, "%s", key);
            w->next = words;
            words = w;
        }
        latest = w;
        snprintf(stats.last_key, sizeof stats.last_key, "%s", key);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        /* DUMP is a request too: it counts itself. */
        fprintf(out, "requests=%ld hits=%d misses=%d last_key=%s last_seen=%s\n", request_count, stats.hits,
                stats.misses, stats.last_key, latest ? latest->text : "-");
        for (struct word *w = words; w; w = w->next)
            fprintf(out, "word %s%s\n", w->text, w == latest ? " (last)" : "");
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
