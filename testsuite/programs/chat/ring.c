/* See ring.h. */
#include <stdlib.h>
#include "ring.h"

void ringPush(struct ring *r, char *owned) {
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
    return i < r->count ? r->items[(r->head + i) % RING_LEN] : NULL;
}

void ringClear(struct ring *r) {
    for (unsigned i = 0; i < r->count; i++) free(r->items[(r->head + i) % RING_LEN]);
    r->head = r->count = 0;
}
