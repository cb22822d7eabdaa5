/* Allocation-heavy benchmark: many small objects of several struct types,
 * created, linked into a tree, lists and a ring, and freed, in a seeded
 * pseudo-random pattern.
 *
 * Why: lucc wraps every allocation site and keeps a heap object registry, so
 * malloc/free-bound programs are where its run-time cost shows.  The pattern
 * is deterministic and the program prints a checksum, so builds by different
 * compilers can be checked to compute the same thing.
 *
 * Usage: allocheavy [STEPS]   (default 3000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct point { double x, y; };

struct item {
    unsigned id;
    char name[20];
    struct point *pos;
    struct item *next;
};

struct tnode {
    unsigned key;
    struct tnode *left, *right;
    struct item *items;
};

struct blob {
    size_t len;
    unsigned char data[];
};

#define RING 4096

static unsigned long long rng = 88172645463325252ULL;
static unsigned long long next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned long long checksum;
static long live_nodes;

static struct item *new_item(unsigned id) {
    struct item *it = malloc(sizeof *it);
    it->id = id;
    snprintf(it->name, sizeof it->name, "i%u", id);
    it->pos = malloc(sizeof *it->pos);
    it->pos->x = id * 0.5;
    it->pos->y = id * 0.25;
    it->next = NULL;
    return it;
}

static void free_items(struct item *it) {
    while (it) {
        struct item *next = it->next;
        checksum += it->id + (unsigned long long)(it->pos->x + it->pos->y) + strlen(it->name);
        free(it->pos);
        free(it);
        it = next;
    }
}

static struct tnode *tree_insert(struct tnode *t, unsigned key, struct tnode **found) {
    struct tnode **link = &t, *root = t;
    while (*link) {
        if ((*link)->key == key) { *found = *link; return root; }
        link = key < (*link)->key ? &(*link)->left : &(*link)->right;
    }
    struct tnode *n = calloc(1, sizeof *n);
    n->key = key;
    *link = n;
    *found = n;
    live_nodes++;
    return root ? root : n;
}

static void tree_free(struct tnode *t) {
    if (!t) return;
    tree_free(t->left);
    tree_free(t->right);
    free_items(t->items);
    checksum += t->key;
    live_nodes--;
    free(t);
}

int main(int argc, char **argv) {
    long steps = argc > 1 ? atol(argv[1]) : 3000000;
    struct blob *ring[RING] = {0};
    struct tnode *forest[16] = {0};
    for (long s = 0; s < steps; s++) {
        unsigned long long r = next_rand();
        unsigned op = r % 100;
        if (op < 45) {
            /* A keyed object with a short list of items hanging off it. */
            struct tnode *n;
            unsigned tree = (r >> 8) % 16;
            forest[tree] = tree_insert(forest[tree], (unsigned)(r >> 16) % 5000, &n);
            struct item *it = new_item((unsigned)s);
            it->next = n->items;
            n->items = it;
        } else if (op < 90) {
            /* Variable-sized buffers with a bounded lifetime (a ring). */
            unsigned slot = (r >> 8) % RING;
            if (ring[slot]) {
                checksum += ring[slot]->len + ring[slot]->data[ring[slot]->len - 1];
                free(ring[slot]);
            }
            size_t len = 8 + (r >> 24) % 248;
            struct blob *b = malloc(sizeof *b + len);
            b->len = len;
            memset(b->data, (int)(s & 0xff), len);
            ring[slot] = b;
        } else if (op < 99) {
            /* Grow a buffer in place, as parsers do. */
            unsigned slot = (r >> 8) % RING;
            if (ring[slot]) {
                size_t len = ring[slot]->len * 2 > 1024 ? 16 : ring[slot]->len * 2;
                struct blob *b = realloc(ring[slot], sizeof *b + len);
                memset(b->data, 7, len);
                b->len = len;
                ring[slot] = b;
            }
        } else {
            /* Drop a whole tree: a burst of frees. */
            unsigned tree = (r >> 8) % 16;
            tree_free(forest[tree]);
            forest[tree] = NULL;
        }
    }
    long nodes_at_end = live_nodes;
    for (int i = 0; i < 16; i++) tree_free(forest[i]);
    for (int i = 0; i < RING; i++) free(ring[i]);
    printf("allocheavy: %ld steps, %ld tree nodes live at end, checksum %llu\n",
           steps, nodes_at_end, checksum);
    return 0;
}
