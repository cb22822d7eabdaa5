/* Allocation that never returns NULL: the program has nothing sensible to
 * do without memory, so it aborts with a message instead. */
#ifndef XMALLOC_H
#define XMALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
