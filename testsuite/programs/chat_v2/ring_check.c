/* `make check`: the ring read and grown from the layout a live update
 * from v1 leaves behind (see ring.h), without a live update: 8 entries
 * modulo 8 from head 5, cap 0, slots 8..15 empty. Not part of the
 * program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ring.h"

static int failures = 0;

static void expect(const struct ring *r, unsigned first, unsigned n, const char *what) {
    char want[16];
    if (r->count != n) {
        printf("FAIL %s: count %u, want %u\n", what, r->count, n);
        failures++;
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        snprintf(want, sizeof want, "m%u", first + i);
        const char *got = ringGet(r, i);
        if (!got || strcmp(got, want) != 0) {
            printf("FAIL %s: entry %u is %s, want %s\n", what, i, got ? got : "NULL", want);
            failures++;
        }
    }
}

static char *msg(unsigned i) {
    char *s = malloc(16);
    snprintf(s, 16, "m%u", i);
    return s;
}

int main(void) {
    struct ring r;
    memset(&r, 0, sizeof r);
    /* v1 pushed m0..m12 into 8 slots: m5..m12 remain, the oldest (m5) in
     * slot 13 % 8 = 5. */
    for (unsigned i = 5; i <= 12; i++) r.items[i % RING_LEN_V1] = msg(i);
    r.head = 5;
    r.count = 8;
    expect(&r, 5, 8, "as carried over");
    ringPush(&r, msg(13));
    expect(&r, 5, 9, "after the first push");
    for (unsigned i = 14; i <= 30; i++) ringPush(&r, msg(i));
    expect(&r, 15, 16, "full and wrapped");
    ringClear(&r);
    expect(&r, 0, 0, "cleared");

    struct ring fresh;
    memset(&fresh, 0, sizeof fresh);
    for (unsigned i = 0; i < 20; i++) ringPush(&fresh, msg(i));
    expect(&fresh, 4, 16, "fresh ring");
    ringClear(&fresh);

    if (failures) return 1;
    printf("ring_check: ok\n");
    return 0;
}
