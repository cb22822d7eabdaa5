/* lucc.h: what a program built with lucc may call on its runtime.
 *
 * Every program lucc links carries the runtime; this header lets the
 * program ask it things directly. Test for LUCC_H_VERSION to know which
 * functions exist; later versions only add. */
#ifndef LUCC_H
#define LUCC_H

#define LUCC_H_VERSION 2

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Live heap objects the runtime tracks, and the bytes they asked for. */
size_t lucc_heap_object_count(void);
size_t lucc_heap_bytes(void);

/* An update point: if an update of this process is pending, wait here
 * while it runs (returning only if it rolls back). Blocking calls of event
 * loops (epoll_wait, poll, select, accept, ...) are update points already;
 * call this in loops that never block. */
void lucc_update_point(void);

#ifdef __cplusplus
}
#endif

#endif
