/* void_containers v2: struct entry gains `hits` first and puts key after
 * name (24 bytes instead of 16). After an update from v1 every list
 * position, hash value, the stash and the blob name the same entries as
 * before, hits is zero, and both fakes are unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pair.h"

struct entry {
    long hits;
    char name[12];
    int key;
};

struct glist {
    void *data;
    struct glist *next;
};

struct hentry {
    char *key;
    void *val;
    struct hentry *next;
};

#define NBUCKETS 8
#define FAKE_MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aULL)

static struct glist *list;
static struct hentry *table[NBUCKETS];
static uintptr_t stash;
static unsigned char blob[24];
static uintptr_t fake[2], fake_xor[2];

static unsigned hash(const char *s) {
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h % NBUCKETS;
}

static void *lookup(const char *key) {
    for (struct hentry *e = table[hash(key)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->val;
    return NULL;
}

static void put(const char *key, void *val) {
    struct hentry *e = xmalloc(sizeof *e);
    e->key = xstrdup(key);
    e->val = val;
    e->next = table[hash(key)];
    table[hash(key)] = e;
}

/* "#i key/name": which list position holds it, by address. */
static void describe(FILE *out, const void *p) {
    int i = 0;
    for (struct glist *l = list; l; l = l->next, i++)
        if (l->data == p) {
            const struct entry *en = p;
            fprintf(out, "#%d %d/%s", i, en->key, en->name);
            return;
        }
    fprintf(out, p ? "not-in-list" : "-");
}

static void print_entry(FILE *out, const struct entry *e) {
    fprintf(out, "%d/%s hits=%ld", e->key, e->name, e->hits);
}

void pair_command(const char *line, FILE *out) {
    int key, i;
    char name[12];
    unsigned long long n;
    void *p;
    if (sscanf(line, "ADD %d %11s", &key, name) == 2) {
        struct entry *e = xcalloc(1, sizeof *e);
        e->key = key;
        snprintf(e->name, sizeof e->name, "%s", name);
        struct glist *l = xmalloc(sizeof *l);
        l->data = e;
        l->next = NULL;
        struct glist **tail = &list;
        while (*tail)
            tail = &(*tail)->next;
        *tail = l;
        put(name, e);
        fprintf(out, "OK\n");
    } else if (sscanf(line, "STASH %11s", name) == 1 && (p = lookup(name))) {
        stash = (uintptr_t)p;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "BLOB %11s", name) == 1 && (p = lookup(name))) {
        memcpy(blob + 8, &p, sizeof p);
        fprintf(out, "OK\n");
    } else if (sscanf(line, "FAKE %d %llu", &i, &n) == 2 && i >= 0 && i < 2) {
        fake[i] = (uintptr_t)n;
        fake_xor[i] = fake[i] ^ FAKE_MASK;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "FAKEFREED %d", &i) == 1 && i >= 0 && i < 2) {
        struct entry *gone = xmalloc(sizeof *gone);
        fake[i] = (uintptr_t)gone;
        fake_xor[i] = fake[i] ^ FAKE_MASK;
        free(gone);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        i = 0;
        for (struct glist *l = list; l; l = l->next, i++) {
            fprintf(out, "list #%d ", i);
            print_entry(out, l->data);
            fprintf(out, "\n");
        }
        for (int b = 0; b < NBUCKETS; b++)
            for (struct hentry *e = table[b]; e; e = e->next) {
                fprintf(out, "hash %d %s -> ", b, e->key);
                describe(out, e->val);
                fprintf(out, "\n");
            }
        fprintf(out, "stash -> ");
        describe(out, (void *)stash);
        memcpy(&p, blob + 8, sizeof p);
        fprintf(out, "\nblob -> ");
        describe(out, p);
        fprintf(out, "\n");
        for (i = 0; i < 2; i++)
            fprintf(out, "fake %d %s\n", i, (fake[i] ^ FAKE_MASK) == fake_xor[i] ? "unchanged" : "CHANGED");
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
