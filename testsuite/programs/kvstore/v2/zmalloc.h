/* Allocator with a size header, as key-value servers have: every block
 * carries its requested size in front, so zfree needs no size and a global
 * counter knows the bytes in use. The program's pointer is PREFIX_SIZE
 * bytes into the malloc'd block. */
#ifndef ZMALLOC_H
#define ZMALLOC_H
#include <stddef.h>

#define PREFIX_SIZE (sizeof(size_t))

void *zmalloc(size_t size);
void *zcalloc(size_t size);
void *zrealloc(void *ptr, size_t size);
void zfree(void *ptr);
char *zstrdup(const char *s);
size_t zmalloc_size(void *ptr);
size_t zmalloc_used_memory(void);

#endif
