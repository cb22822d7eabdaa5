/* A fixed-size ring of owned strings: the newest RING_LEN entries are
 * kept, the oldest is freed when a new one arrives. */
#ifndef RING_H
#define RING_H

#define RING_LEN 8

struct ring {
    char *items[RING_LEN];
    unsigned head;  /* index of the oldest entry */
    unsigned count;
};

void ringPush(struct ring *r, char *owned);
const char *ringGet(const struct ring *r, unsigned i); /* 0 = oldest */
void ringClear(struct ring *r);

#endif
