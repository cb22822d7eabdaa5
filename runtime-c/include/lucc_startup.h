/* lucc_startup.h: a program's view of startup record and replay.
 *
 * During an update the new version re-runs its startup; the calls that
 * would recreate what the old process holds (sockets, epoll, files,
 * locks, daemonising) are answered from the old process's record. These
 * let the program take part. */
#ifndef LUCC_STARTUP_H
#define LUCC_STARTUP_H

#ifdef __cplusplus
extern "C" {
#endif

/* Nonzero in a process started by an update (a new version re-running its
 * startup, and after it): skip work whose result the update transfers,
 * such as loading the dataset from disk. */
int lucc_is_update_startup(void);

/* Ends the startup early: calls from here on are neither recorded nor
 * answered from the old record. The first update point does the same. */
void lucc_startup_done(void);

#ifdef __cplusplus
}
#endif

#endif
