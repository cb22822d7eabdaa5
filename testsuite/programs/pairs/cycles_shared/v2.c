/* cycles_shared v2: struct tag gains `color` and puts refs first; struct
 * node reorders its fields and gains `weight`. After an update from v1 the
 * ring is still consistent in both directions, every node's tag is the
 * same object as the containers' (same #index), color and weight zero. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct node;

struct tag {
    int refs;
    int color;
    struct node *first;
    char name[8];
};

struct node {
    struct tag *tag;
    long weight;
    struct node *next;
    int val;
    struct node *prev;
};

#define NTAGS 6
struct bag {
    int n;
    struct tag *items[NTAGS];
};

static struct node *ring;
static struct tag *tags[NTAGS];
static struct bag *bag;

static int tag_index(const struct tag *t) {
    for (int i = 0; i < NTAGS; i++)
        if (tags[i] == t)
            return i;
    return -1;
}

static struct node *find(int val) {
    struct node *n = ring;
    if (!n)
        return NULL;
    do {
        if (n->val == val)
            return n;
        n = n->next;
    } while (n != ring);
    return NULL;
}

void pair_command(const char *line, FILE *out) {
    int i, val;
    char name[8];
    if (sscanf(line, "TAG %d %7s", &i, name) == 2 && i >= 0 && i < NTAGS && !tags[i]) {
        tags[i] = xcalloc(1, sizeof *tags[i]);
        snprintf(tags[i]->name, sizeof tags[i]->name, "%s", name);
        fprintf(out, "OK\n");
    } else if (sscanf(line, "BAG %d", &i) == 1 && i >= 0 && i < NTAGS && tags[i]) {
        if (!bag)
            bag = xcalloc(1, sizeof *bag);
        if (bag->n < NTAGS)
            bag->items[bag->n++] = tags[i];
        fprintf(out, "OK\n");
    } else if (sscanf(line, "NODE %d %d", &val, &i) == 2 && i >= 0 && i < NTAGS && tags[i]) {
        struct node *n = xmalloc(sizeof *n);
        n->val = val;
        n->weight = 0;
        n->tag = tags[i];
        tags[i]->refs++;
        if (!tags[i]->first)
            tags[i]->first = n;
        if (!ring) {
            n->prev = n->next = n;
            ring = n;
        } else {
            n->prev = ring->prev;
            n->next = ring;
            ring->prev->next = n;
            ring->prev = n;
        }
        fprintf(out, "OK\n");
    } else if (sscanf(line, "HEAD %d", &val) == 1 && find(val)) {
        ring = find(val);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        int count = 0, consistent = 1;
        struct node *n = ring;
        if (n) {
            do {
                if (n->next->prev != n || n->prev->next != n)
                    consistent = 0;
                fprintf(out, "node %d tag=#%d:%s weight=%ld\n", n->val, tag_index(n->tag), n->tag->name, n->weight);
                count++;
                n = n->next;
            } while (n != ring && count < 100);
            fprintf(out, "backward");
            n = ring;
            do {
                n = n->prev;
                fprintf(out, " %d", n->val);
            } while (n != ring && count-- > 0);
            fprintf(out, "\n");
        }
        fprintf(out, "ring %s\n", consistent ? "consistent" : "BROKEN");
        for (i = 0; i < NTAGS; i++)
            if (tags[i])
                fprintf(out, "tag #%d %s refs=%d first=%d color=%d\n", i, tags[i]->name, tags[i]->refs,
                        tags[i]->first ? tags[i]->first->val : -1, tags[i]->color);
        if (bag) {
            fprintf(out, "bag");
            for (i = 0; i < bag->n; i++)
                fprintf(out, " #%d", tag_index(bag->items[i]));
            fprintf(out, "\n");
        }
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
