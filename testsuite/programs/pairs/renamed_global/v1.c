/* renamed_global v1: globals that v2 renames (total_requests ->
 * request_count, g_stats -> stats, the pointer last_seen -> latest) and a
 * global v2 drops on purpose (legacy_mode, listed in transform.toml's
 * dropped_globals). */
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

long total_requests;
struct stats g_stats;
static struct word *words;
static struct word *last_seen;
int legacy_mode = 1;

void pair_command(const char *line, FILE *out) {
    char key[12];
    total_requests++;
    if (sscanf(line, "LOOK %11s", key) == 1) {
        struct word *w;
        for (w = words; w; w = w->next)
            if (strcmp(w->text, key) == 0)
                break;
        if (w) {
            g_stats.hits++;
        } else {
            g_stats.misses++;
            w = xcalloc(1, sizeof *w);
            snprintf(w->text, sizeof w->text, "%s", key);
            w->next = words;
            words = w;
        }
        last_seen = w;
        snprintf(g_stats.last_key, sizeof g_stats.last_key, "%s", key);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        /* DUMP is a request too: it counts itself. */
        fprintf(out, "requests=%ld hits=%d misses=%d last_key=%s last_seen=%s\n", total_requests, g_stats.hits,
                g_stats.misses, g_stats.last_key, last_seen ? last_seen->text : "-");
        for (struct word *w = words; w; w = w->next)
            fprintf(out, "word %s%s\n", w->text, w == last_seen ? " (last)" : "");
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
