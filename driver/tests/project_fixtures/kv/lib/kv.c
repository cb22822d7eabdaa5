#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kv.h"
#include "hash.h"

struct entry {
    const char *key, *value;
    struct entry *next;
};

struct kv {
    int nbuckets;
    struct entry **buckets;
};

struct kv *kv_new(void)
{
    struct kv *kv = malloc(sizeof *kv);
    volatile double slots = KV_SLOTS; /* keeps sqrt a libm call at -O0 */
    kv->nbuckets = (int)sqrt(slots);
    kv->buckets = calloc(kv->nbuckets, sizeof *kv->buckets);
    return kv;
}

void kv_put(struct kv *kv, const char *key, const char *value)
{
    struct entry *e = malloc(sizeof *e);
    unsigned b = kv_hash(key) % kv->nbuckets;
    e->key = key;
    e->value = value;
    e->next = kv->buckets[b];
    kv->buckets[b] = e;
}

const char *kv_get(const struct kv *kv, const char *key)
{
    for (struct entry *e = kv->buckets[kv_hash(key) % kv->nbuckets]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->value;
    return NULL;
}

int kv_buckets(const struct kv *kv)
{
    return kv->nbuckets;
}
