/* See ring.h. */
#include <stdlib.h>
#include "ring.h"

/* The modulus the ring's entries are laid out with. A fresh ring (cap 0,
 * count 0) has no layout to respect. */
static unsigned ringCap(const struct ring *r) {
    return r->cap ? r->cap : RING_LEN_V1;
}

/* Moves the entries of a ring laid out modulo 8 (see ring.h) to slots
 * 0..count-1, in order, and gives it the full capacity. */
static void ringGrow(struct ring *r) {
    char *old[RING_LEN_V1];
    for (unsigned i = 0; i < r->count; i++) old[i] = r->items[(r->head + i) % RING_LEN_V1];
    for (unsigned i = 0; i < RING_LEN; i++) r->items[i] = i < r->count ? old[i] : NULL;
    r->head = 0;
    r->cap = RING_LEN;
}

void ringPush(struct ring *r, char *owned) {
    if (r->cap != RING_LEN) ringGrow(r);
    if (r->count == RING_LEN) {
        free(r->items[r->head]);
        r->items[r->head] = owned;
        r->head = (r->head + 1) % RING_LEN;
    } else {
        r->items[(r->head + r->count) % RING_LEN] = owned;
        r->count++;
    }
}

const char *ringGet(const struct ring *r, unsigned i) {
    return i < r->count ? r->items[(r->head + i) % ringCap(r)] : NULL;
}

void ringClear(struct ring *r) {
    unsigned cap = ringCap(r);
    for (unsigned i = 0; i < r->count; i++) free(r->items[(r->head + i) % cap]);
    r->head = r->count = 0;
}
