/* A fixed array of records that keep their shapes as integers
 * (uintptr_t), the way some programs hide pointers in handles. */
#include <stdio.h>
#include <string.h>
#include "shapes.h"

#define MAX_RECORDS 32

static struct record records[MAX_RECORDS];
static int nrecords;

const char *banner = "shapes summary";

unsigned long registryNextSerial(void) {
    static unsigned long serial = 100;
    return serial++;
}

void registryAdd(struct shape *s, const char *tag) {
    if (nrecords == MAX_RECORDS) return;
    struct record *r = &records[nrecords++];
    snprintf(r->tag, sizeof r->tag, "%s", tag);
    r->shape_addr = (uintptr_t)s;
    r->flags = (uint16_t)(s->style.filled | (s->style.dashed << 1) | ((unsigned)s->kind << 4));
}

int registryCount(void) {
    return nrecords;
}

struct shape *registryGet(int i) {
    return (struct shape *)records[i].shape_addr;
}

const struct record *registryRecord(int i) {
    return &records[i];
}

/* Copies the records into a caller's byte buffer (as a wire format would),
 * prefixed by the count. */
void registrySnapshot(char *buf, unsigned long len) {
    unsigned long need = sizeof(int) + sizeof(struct record) * (unsigned long)nrecords;
    if (need > len) return;
    memcpy(buf, &nrecords, sizeof(int));
    memcpy(buf + sizeof(int), records, sizeof(struct record) * (unsigned long)nrecords);
}
