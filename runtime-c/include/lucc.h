/* lucc.h: what a program built with lucc may call on its runtime.
 *
 * Every program lucc links carries the runtime; this header lets the
 * program ask it things directly and take part in its live updates. Test
 * for LUCC_H_VERSION to know which functions exist; later versions only
 * add. */
#ifndef LUCC_H
#define LUCC_H

#define LUCC_H_VERSION 3

#include <stddef.h>

#include "lucc_startup.h"

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

/* Transfer callbacks, for what the automatic state transfer cannot infer
 * (a changed meaning, a value derived from others). The new version
 * registers them during its startup, before its first update point; they
 * run in the new process after the automatic transfer, before it reports
 * ready. A nonzero return rolls the update back: the old version goes on.
 *
 * An object callback gets a private copy of the old bytes (`old`, whose
 * pointers are the old process's values: translate them with
 * lucc_transfer_pointer) and the new object, already converted field by
 * field, to adjust in place. All return 0 on success, -1 on bad arguments.
 */
typedef int (*lucc_object_transfer_fn)(const void *old, size_t old_size, void *new_obj, size_t new_size,
                                       void *arg);
typedef int (*lucc_transfer_done_fn)(void *arg);

/* Every heap object of the type: "struct conn", "conn" or a typedef name
 * (one call per element of an allocated array of them). */
int lucc_on_transfer_type(const char *type_name, lucc_object_transfer_fn fn, void *arg);
/* A global ("name") or a static local ("function::name"). */
int lucc_on_transfer_variable(const char *name, lucc_object_transfer_fn fn, void *arg);
/* Once, after all object and variable callbacks. */
int lucc_on_transfer_done(lucc_transfer_done_fn fn, void *arg);

/* Inside a callback: the new address of what the old pointer value
 * pointed to (an object, a field, a global, a function, a string
 * literal). NULL for NULL and for what the new version no longer has; an
 * address of nothing known comes back unchanged. */
void *lucc_transfer_pointer(const void *old_ptr);

#ifdef __cplusplus
}
#endif

#endif
