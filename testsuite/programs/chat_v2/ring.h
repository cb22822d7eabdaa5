/* A fixed-size ring of owned strings: the newest RING_LEN entries are
 * kept, the oldest is freed when a new one arrives.
 *
 * v1 rings held 8 entries and had no `cap`. A ring carried over from v1
 * arrives with its 8 entries in the first 8 slots, indexed modulo 8 from
 * `head`, the other slots empty and `cap` 0: it is read with capacity 8
 * until its next push, which lines the entries up from slot 0 and makes
 * it a full RING_LEN ring. */
#ifndef RING_H
#define RING_H

#define RING_LEN 16
#define RING_LEN_V1 8

struct ring {
    char *items[RING_LEN];
    unsigned head;  /* index of the oldest entry */
    unsigned count;
    unsigned cap; /* RING_LEN; 0 until the first push (see above) */
};

void ringPush(struct ring *r, char *owned);
const char *ringGet(const struct ring *r, unsigned i); /* 0 = oldest */
void ringClear(struct ring *r);

#endif
