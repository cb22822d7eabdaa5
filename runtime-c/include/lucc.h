/* lucc.h: what a program built with lucc may call on its runtime.
 *
 * Every program lucc links carries the runtime; this header lets the
 * program ask it things directly. Test for LUCC_H_VERSION to know which
 * functions exist; later versions only add. */
#ifndef LUCC_H
#define LUCC_H

#define LUCC_H_VERSION 1

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Live heap objects the runtime tracks, and the bytes they asked for. */
size_t lucc_heap_object_count(void);
size_t lucc_heap_bytes(void);

#ifdef __cplusplus
}
#endif

#endif
