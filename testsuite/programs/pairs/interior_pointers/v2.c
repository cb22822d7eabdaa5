/* interior_pointers v2: struct rec gains `stamp` first, its fields are
 * reordered and vals grows to 6 elements. Every pointer into a field or
 * element of a rec (heap or the global grec), whether held in the global
 * refs or in another rec's `best`, must point at the same field or
 * element of the converted object. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

#define NVALS 6
#define NVALS_V1 4 /* what the commands address: v1's elements */

struct rec {
    long stamp;
    char name[8];
    int *best;
    int id;
    struct rec *next;
    int vals[NVALS];
};

struct ref {
    int *ip;
    char *cp;
};

#define NREFS 6
static struct rec grec;
static struct rec *recs;
static struct ref refs[NREFS];

static struct rec *find(int id) {
    if (id == grec.id)
        return &grec;
    for (struct rec *r = recs; r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

static int *int_slot(struct rec *r, int idx) {
    return idx < 0 ? &r->id : &r->vals[idx];
}

/* Writes "rec ID id" / "rec ID vals[K]" for the int p points at. */
static void describe_int(FILE *out, const int *p) {
    for (struct rec *r = &grec; r; r = r == &grec ? recs : r->next) {
        if (p == &r->id) {
            fprintf(out, "%s %d id=%d", r == &grec ? "grec" : "rec", r->id, *p);
            return;
        }
        for (int k = 0; k < NVALS; k++)
            if (p == &r->vals[k]) {
                fprintf(out, "%s %d vals[%d]=%d", r == &grec ? "grec" : "rec", r->id, k, *p);
                return;
            }
    }
    fprintf(out, "nowhere");
}

static void describe_char(FILE *out, const char *p) {
    for (struct rec *r = &grec; r; r = r == &grec ? recs : r->next)
        if (p >= r->name && p < r->name + sizeof r->name) {
            fprintf(out, "%s %d name+%d=%s", r == &grec ? "grec" : "rec", r->id, (int)(p - r->name), p);
            return;
        }
    fprintf(out, "nowhere");
}

static void fill(struct rec *r, int id, const int *v, const char *name) {
    r->id = id;
    for (int k = 0; k < NVALS_V1; k++)
        r->vals[k] = v[k];
    snprintf(r->name, sizeof r->name, "%s", name);
}

void pair_command(const char *line, FILE *out) {
    int id, v[NVALS_V1], slot, target, idx;
    char name[8];
    struct rec *r, *t;
    if (sscanf(line, "NEW %d %d %d %d %d %7s", &id, &v[0], &v[1], &v[2], &v[3], name) == 6) {
        r = xcalloc(1, sizeof *r);
        fill(r, id, v, name);
        r->next = recs;
        recs = r;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "GLOBAL %d %d %d %d %d %7s", &id, &v[0], &v[1], &v[2], &v[3], name) == 6) {
        fill(&grec, id, v, name);
        fprintf(out, "OK\n");
    } else if (sscanf(line, "REFVAL %d %d %d", &slot, &target, &idx) == 3 && slot >= 0 && slot < NREFS &&
               (t = find(target)) && idx >= -1 && idx < NVALS) {
        refs[slot].ip = int_slot(t, idx);
        fprintf(out, "OK\n");
    } else if (sscanf(line, "REFNAME %d %d %d", &slot, &target, &idx) == 3 && slot >= 0 && slot < NREFS &&
               (t = find(target)) && idx >= 0 && idx < (int)sizeof t->name) {
        refs[slot].cp = t->name + idx;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "BEST %d %d %d", &id, &target, &idx) == 3 && (r = find(id)) && (t = find(target)) &&
               idx >= -1 && idx < NVALS) {
        r->best = int_slot(t, idx);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (r = &grec; r; r = r == &grec ? recs : r->next) {
            fprintf(out, "%s %d stamp=%ld name=%s vals", r == &grec ? "grec" : "rec", r->id, r->stamp, r->name);
            for (int k = 0; k < NVALS; k++)
                fprintf(out, " %d", r->vals[k]);
            fprintf(out, " best=");
            if (r->best)
                describe_int(out, r->best);
            else
                fprintf(out, "-");
            fprintf(out, "\n");
        }
        for (int i = 0; i < NREFS; i++) {
            fprintf(out, "ref %d ip=", i);
            if (refs[i].ip)
                describe_int(out, refs[i].ip);
            else
                fprintf(out, "-");
            fprintf(out, " cp=");
            if (refs[i].cp)
                describe_char(out, refs[i].cp);
            else
                fprintf(out, "-");
            fprintf(out, "\n");
        }
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
