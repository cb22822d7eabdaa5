/* cycles_shared v1: a cyclic doubly linked ring of nodes; tags shared by
 * several nodes and held by two containers (the global array `tags` and a
 * heap `struct bag`), each tag pointing back at the first node that used
 * it. v2 changes both struct node and struct tag, so all of them are
 * rebuilt: cycles must terminate and a shared tag must stay ONE object
 * (DUMP identifies tags by address through both containers). */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct node;

struct tag {
    char name[8];
    int refs;
    struct node *first;
};

struct node {
    int val;
    struct node *prev;
    struct node *next;
    struct tag *tag;
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
                fprintf(out, "node %d tag=#%d:%s\n", n->val, tag_index(n->tag), n->tag->name);
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
                fprintf(out, "tag #%d %s refs=%d first=%d\n", i, tags[i]->name, tags[i]->refs,
                        tags[i]->first ? tags[i]->first->val : -1);
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
