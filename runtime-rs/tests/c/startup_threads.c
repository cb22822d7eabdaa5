/* startup_threads: only the main thread's startup calls are recorded, and
 * none after the startup ended. Run by tests/startup_record.rs with
 * LUCC_STARTUP_RECORD_OUT; the record must hold exactly one open of
 * /dev/null (O_RDONLY) and the pipe. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lucc_startup.h"

static void *worker(void *arg) {
    (void)arg;
    /* a library's helper thread setting up during the program's startup */
    if (socket(AF_INET, SOCK_STREAM, 0) < 0 || open("/dev/null", O_WRONLY) < 0)
        perror("worker");
    return NULL;
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    int fds[2];
    if (open("/dev/null", O_RDONLY) < 0 || pipe(fds) < 0)
        return 1;
    lucc_startup_done();
    if (open("/dev/null", O_RDWR) < 0 || socket(AF_INET, SOCK_DGRAM, 0) < 0)
        return 1;
    printf("update=%d\n", lucc_is_update_startup());
    return 0;
}
