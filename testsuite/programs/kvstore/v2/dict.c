/* See dict.h. The table's memory goes through _dictAlloc/_dictFree, its
 * own wrappers around the program allocator (zmalloc), as in real servers:
 * wrappers of wrappers. Growth is a full rehash on doubling; that is
 * enough for a test server and keeps iteration simple. */
#include <string.h>
#include "dict.h"
#include "zmalloc.h"

static uint8_t dict_hash_function_seed[16];

static void *_dictAlloc(size_t size) { return zmalloc(size); }
static void _dictFree(void *ptr) { zfree(ptr); }

void dictSetHashFunctionSeed(const uint8_t *seed) {
    memcpy(dict_hash_function_seed, seed, sizeof dict_hash_function_seed);
}

/* FNV-1a over the seed then the key, finished with a 64-bit mixer. */
uint64_t dictGenHashFunction(const void *key, size_t len) {
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < sizeof dict_hash_function_seed; i++) {
        h ^= dict_hash_function_seed[i];
        h *= 1099511628211ULL;
    }
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static dictEntry **allocTable(unsigned long size) {
    dictEntry **table = _dictAlloc(size * sizeof(dictEntry *));
    memset(table, 0, size * sizeof(dictEntry *));
    return table;
}

dict *dictCreate(dictType *type, void *privdata) {
    dict *d = _dictAlloc(sizeof(*d));
    d->type = type;
    d->privdata = privdata;
    d->size = DICT_INITIAL_SIZE;
    d->sizemask = d->size - 1;
    d->used = 0;
    d->table = allocTable(d->size);
    return d;
}

static void dictExpand(dict *d) {
    unsigned long newsize = d->size * 2;
    dictEntry **newtable = allocTable(newsize);
    for (unsigned long i = 0; i < d->size; i++) {
        dictEntry *he = d->table[i];
        while (he) {
            dictEntry *next = he->next;
            unsigned long idx = d->type->hashFunction(he->key) & (newsize - 1);
            he->next = newtable[idx];
            newtable[idx] = he;
            he = next;
        }
    }
    _dictFree(d->table);
    d->table = newtable;
    d->size = newsize;
    d->sizemask = newsize - 1;
}

static int keysEqual(dict *d, const void *k1, const void *k2) {
    if (d->type->keyCompare) return d->type->keyCompare(d->privdata, k1, k2);
    return k1 == k2;
}

dictEntry *dictFind(dict *d, const void *key) {
    unsigned long idx = d->type->hashFunction(key) & d->sizemask;
    for (dictEntry *he = d->table[idx]; he; he = he->next)
        if (keysEqual(d, key, he->key)) return he;
    return NULL;
}

void *dictFetchValue(dict *d, const void *key) {
    dictEntry *he = dictFind(d, key);
    return he ? dictGetVal(he) : NULL;
}

int dictAdd(dict *d, void *key, void *val) {
    if (dictFind(d, key)) return DICT_ERR;
    if (d->used >= d->size) dictExpand(d);
    unsigned long idx = d->type->hashFunction(key) & d->sizemask;
    dictEntry *he = _dictAlloc(sizeof(*he));
    he->key = d->type->keyDup ? d->type->keyDup(d->privdata, key) : key;
    he->v.val = val;
    he->next = d->table[idx];
    d->table[idx] = he;
    d->used++;
    return DICT_OK;
}

/* Returns 1 if the key was new, 0 if an existing value was replaced. */
int dictReplace(dict *d, void *key, void *val) {
    dictEntry *he = dictFind(d, key);
    if (!he) {
        dictAdd(d, key, val);
        return 1;
    }
    void *old = he->v.val;
    he->v.val = val;
    if (d->type->valDestructor) d->type->valDestructor(d->privdata, old);
    return 0;
}

static void freeEntry(dict *d, dictEntry *he) {
    if (d->type->keyDestructor) d->type->keyDestructor(d->privdata, he->key);
    if (d->type->valDestructor) d->type->valDestructor(d->privdata, he->v.val);
    _dictFree(he);
}

int dictDelete(dict *d, const void *key) {
    unsigned long idx = d->type->hashFunction(key) & d->sizemask;
    dictEntry **link = &d->table[idx];
    while (*link) {
        dictEntry *he = *link;
        if (keysEqual(d, key, he->key)) {
            *link = he->next;
            freeEntry(d, he);
            d->used--;
            return DICT_OK;
        }
        link = &he->next;
    }
    return DICT_ERR;
}

void dictRelease(dict *d) {
    for (unsigned long i = 0; i < d->size; i++) {
        dictEntry *he = d->table[i];
        while (he) {
            dictEntry *next = he->next;
            freeEntry(d, he);
            he = next;
        }
    }
    _dictFree(d->table);
    _dictFree(d);
}

dictIterator *dictGetIterator(dict *d) {
    dictIterator *iter = _dictAlloc(sizeof(*iter));
    iter->d = d;
    iter->index = 0;
    iter->entry = NULL;
    iter->nextEntry = NULL;
    return iter;
}

/* Safe against deleting the returned entry: the next one is kept aside. */
dictEntry *dictNext(dictIterator *iter) {
    if (iter->nextEntry) {
        iter->entry = iter->nextEntry;
    } else {
        while (iter->index < iter->d->size && !iter->d->table[iter->index]) iter->index++;
        if (iter->index >= iter->d->size) return NULL;
        iter->entry = iter->d->table[iter->index++];
    }
    iter->nextEntry = iter->entry->next;
    return iter->entry;
}

void dictReleaseIterator(dictIterator *iter) {
    _dictFree(iter);
}
