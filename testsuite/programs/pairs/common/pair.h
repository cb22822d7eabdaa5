/* What every version of every pair shares: the server calls
 * pair_command() for each request line; the versions allocate through
 * xmalloc/xstrdup (common/xmalloc.c, another translation unit, so lucc
 * must see through the wrapper across units) as well as libc directly. */
#ifndef PAIR_H
#define PAIR_H

#include <stddef.h>
#include <stdio.h>

/* Handles one request line (no newline). Replies go to `out`: one line,
 * or several lines ended by PAIR_END. */
void pair_command(const char *line, FILE *out);

/* The line that ends a multi-line reply (DUMP). */
#define PAIR_END ".\n"

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);

#endif
