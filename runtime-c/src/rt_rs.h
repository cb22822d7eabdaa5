/* rt_rs.h: the Rust half's entry points (runtime-rs/src), which do the
 * work behind the thin C wrappers. Private to the runtime. */
#ifndef LUCC_RT_RS_H
#define LUCC_RT_RS_H

#include <stddef.h>
#include <stdint.h>

void *lucc_rt_malloc(size_t n, uint32_t site);
void *lucc_rt_calloc(size_t n, size_t sz, uint32_t site);
/* site 0 keeps the old block's attribution. */
void *lucc_rt_realloc(void *p, size_t n, uint32_t site);
/* align is a power of two; null and errno set on failure. */
void *lucc_rt_aligned(size_t align, size_t n, uint32_t site);
void lucc_rt_free(void *p);
void lucc_rt_retag(const void *p, uint32_t site);
size_t lucc_rt_object_count(void);
size_t lucc_rt_bytes(void);
void lucc_rt_init(void);
void lucc_rt_fini(void);
void lucc_rt_fork_prepare(void);
void lucc_rt_fork_done(void);

#endif
