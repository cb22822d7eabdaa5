/* init.c: the ABI check symbol, the constructor and the public queries.
 *
 * They share one object file on purpose: every instrumented object
 * references __lucc_abi_version_1, which makes the linker pull this file
 * out of the archive, and with it the constructor. */
#include <pthread.h>
#include <stdlib.h>

#include "lucc.h"
#include "lucc_rt_abi.h"
#include "rt_rs.h"

char __lucc_abi_version_1;

void lucc_rt_update_init(void); /* runtime-rs/src/update */

/* Cheap on purpose (one getenv, one control thread started); runs before the program's constructors
 * in most link orders, but nothing breaks if a program allocates first:
 * the registry needs no initialisation. */
__attribute__((constructor)) static void lucc_runtime_init(void) {
    lucc_rt_init();
    lucc_rt_update_init();
    atexit(lucc_rt_fini);
    pthread_atfork(lucc_rt_fork_prepare, lucc_rt_fork_done, lucc_rt_fork_done);
}

size_t lucc_heap_object_count(void) { return lucc_rt_object_count(); }

size_t lucc_heap_bytes(void) { return lucc_rt_bytes(); }
