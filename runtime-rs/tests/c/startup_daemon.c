/* startup_daemon: a daemonising startup (fork, setsid, chdir, dup2, a POSIX
 * lock on a lockfile), run by tests/startup_replay.rs as the old version
 * and, with --spawn-update, again as the new one replaying the old's
 * record with its descriptors inherited (see startup_server.c).
 *
 * Prints "ready pid=P ppid=Q sid=S lockfd=F update=U". The new version must
 * not fork (its parent is the old daemon), and its lock must be answered:
 * taken for real it would conflict with the old process's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lucc_startup.h"

static void die(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    const char *dir = argv[1];
    pid_t p = fork();
    if (p < 0)
        die("fork");
    if (p > 0)
        _exit(0);
    if (setsid() < 0)
        die("setsid");
    if (chdir(dir) < 0)
        die("chdir");
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0)
        die("/dev/null");
    int lock = open("lock", O_RDWR | O_CREAT, 0644); /* relative: after chdir */
    if (lock < 0)
        die("open lock");
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(lock, F_SETLK, &fl) < 0)
        die("lock"); /* EAGAIN: another process holds it */
    lucc_startup_done();
    printf("ready pid=%d ppid=%d sid=%d lockfd=%d update=%d\n", getpid(), getppid(), getsid(0), lock,
           lucc_is_update_startup());
    fflush(stdout);
    if (argc > 2 && strcmp(argv[2], "--spawn-update") == 0) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
                fcntl(atoi(e->d_name), F_SETFD, 0);
        closedir(d);
        pid_t child = fork();
        if (child == 0) {
            char in[4096];
            snprintf(in, sizeof in, "%s/record", dir);
            setenv("LUCC_STARTUP_REPLAY_IN", in, 1);
            unsetenv("LUCC_STARTUP_RECORD_OUT");
            char *args[] = {argv[0], argv[1], NULL};
            execv("/proc/self/exe", args);
            die("execv");
        }
        int st;
        waitpid(child, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    return 0;
}
