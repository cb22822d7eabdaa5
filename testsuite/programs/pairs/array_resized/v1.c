/* array_resized v1: a global array v2 grows (scores[4] -> [8]) and
 * arrays v2 shrinks (struct shelf's tag[16] -> [8] and hist[6] -> [3],
 * the global `recent[8]` -> [4]). The script leaves every element that
 * v2 drops zero, so the update commits: grown elements come up zero,
 * shrunk arrays keep their leading elements. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

#define NSCORES 4
#define TAGLEN 16
#define NHIST 6
#define NRECENT 8

struct shelf {
    char tag[TAGLEN];
    long hist[NHIST];
    struct shelf *next;
};

static int scores[NSCORES];
static int recent[NRECENT];
static struct shelf *shelves;

void pair_command(const char *line, FILE *out) {
    int i, v;
    char tag[TAGLEN];
    long h0, h1, h2;
    if (sscanf(line, "SCORE %d %d", &i, &v) == 2 && i >= 0 && i < NSCORES) {
        scores[i] = v;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "RECENT %d %d", &i, &v) == 2 && i >= 0 && i < NRECENT) {
        recent[i] = v;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "SHELF %15s %ld %ld %ld", tag, &h0, &h1, &h2) == 4) {
        struct shelf *s = xcalloc(1, sizeof *s);
        snprintf(s->tag, sizeof s->tag, "%s", tag); /* calloc: the tail stays zero */
        s->hist[0] = h0;
        s->hist[1] = h1;
        s->hist[2] = h2;
        s->next = shelves;
        shelves = s;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        fprintf(out, "scores");
        for (i = 0; i < NSCORES; i++)
            fprintf(out, " %d", scores[i]);
        fprintf(out, "\nrecent");
        for (i = 0; i < NRECENT; i++)
            fprintf(out, " %d", recent[i]);
        fprintf(out, "\n");
        for (struct shelf *s = shelves; s; s = s->next) {
            fprintf(out, "shelf %s hist", s->tag);
            for (i = 0; i < NHIST; i++)
                fprintf(out, " %ld", s->hist[i]);
            fprintf(out, "\n");
        }
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
