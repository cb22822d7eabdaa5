#ifndef HASH_H
#define HASH_H
unsigned kv_hash(const char *s);
#endif
