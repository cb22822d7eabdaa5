/* Chained hash table. What a table does with its keys and values (hash,
 * copy, compare, free) is a dictType of function pointers, so one
 * implementation serves every table. Tables are hashed with a seed chosen
 * at startup, so iteration order differs from run to run. */
#ifndef DICT_H
#define DICT_H
#include <stddef.h>
#include <stdint.h>

typedef struct dictEntry {
    void *key;
    union {
        void *val;
        int64_t s64;
    } v;
    struct dictEntry *next;
} dictEntry;

typedef struct dictType {
    uint64_t (*hashFunction)(const void *key);
    void *(*keyDup)(void *privdata, const void *key);
    int (*keyCompare)(void *privdata, const void *key1, const void *key2);
    void (*keyDestructor)(void *privdata, void *key);
    void (*valDestructor)(void *privdata, void *obj);
} dictType;

typedef struct dict {
    dictType *type;
    void *privdata;
    dictEntry **table;
    unsigned long size;
    unsigned long sizemask;
    unsigned long used;
} dict;

typedef struct dictIterator {
    dict *d;
    unsigned long index;
    dictEntry *entry, *nextEntry;
} dictIterator;

#define DICT_OK 0
#define DICT_ERR 1
#define DICT_INITIAL_SIZE 4

#define dictSize(d) ((d)->used)
#define dictGetKey(he) ((he)->key)
#define dictGetVal(he) ((he)->v.val)

void dictSetHashFunctionSeed(const uint8_t *seed);
uint64_t dictGenHashFunction(const void *key, size_t len);
dict *dictCreate(dictType *type, void *privdata);
int dictAdd(dict *d, void *key, void *val);
int dictReplace(dict *d, void *key, void *val);
dictEntry *dictFind(dict *d, const void *key);
void *dictFetchValue(dict *d, const void *key);
int dictDelete(dict *d, const void *key);
void dictRelease(dict *d);
dictIterator *dictGetIterator(dict *d);
dictEntry *dictNext(dictIterator *iter);
void dictReleaseIterator(dictIterator *iter);

#endif
