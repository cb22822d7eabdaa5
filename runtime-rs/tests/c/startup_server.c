/* startup_server: a server whose startup holds what a real one's does, run
 * twice by tests/startup_replay.rs: as the old version, then as the new
 * one re-running its startup with the old's descriptors inherited.
 *
 * usage: startup_server DIR [--spawn-update]
 * Startup: TCP listener on 127.0.0.1 (port 0), epoll instance with the
 * listeners registered (data.ptr = heap context), log file O_APPEND,
 * pidfile O_EXCL (written and closed), Unix socket DIR/sock (unlinked
 * first). Prints "ready pid=P port=N tcp=FD ep=FD unix=FD log=FD
 * pidino=I update=U", then serves "pong pid=P" to every connection.
 *
 * --spawn-update stands in for the update flow: after its startup the
 * process clears FD_CLOEXEC on all its descriptors, starts itself again
 * with LUCC_STARTUP_REPLAY_IN=DIR/record (what its own startup recorded)
 * and parks in waitpid, as a quiesced old version would. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "lucc_startup.h"

#define MAGIC 0x5e7e5e7eu

struct listener {
    unsigned magic;
    int fd;
};

static void die(const char *what) {
    perror(what);
    exit(1);
}

static struct listener *listener(int fd) {
    struct listener *l = malloc(sizeof *l);
    if (!l)
        die("malloc");
    l->magic = MAGIC;
    l->fd = fd;
    return l;
}

static void watch(int ep, int op, struct listener *l) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    if (epoll_ctl(ep, op, l->fd, &ev) < 0)
        die("epoll_ctl"); /* EEXIST on a shared instance lands here */
}

static void spawn_update(char **argv, const char *dir) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != dirfd(d))
            fcntl(fd, F_SETFD, 0);
    }
    closedir(d);
    char in[4096], out[4096];
    snprintf(in, sizeof in, "%s/record", dir);
    snprintf(out, sizeof out, "%s/record.new", dir);
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        setenv("LUCC_STARTUP_REPLAY_IN", in, 1);
        setenv("LUCC_STARTUP_RECORD_OUT", out, 1);
        char *args[] = {argv[0], argv[1], NULL};
        execv("/proc/self/exe", args);
        die("execv");
    }
    int st;
    waitpid(child, &st, 0);
    exit(0);
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    const char *dir = argv[1];
    char path[4096];

    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    if (tcp < 0)
        die("socket");
    int one = 1;
    if (setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        die("setsockopt");
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = 0};
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(tcp, (struct sockaddr *)&in, sizeof in) < 0)
        die("bind tcp");
    if (listen(tcp, 16) < 0)
        die("listen tcp");

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct listener *ltcp = listener(tcp);
    watch(ep, EPOLL_CTL_ADD, ltcp);

    snprintf(path, sizeof path, "%s/log", dir);
    int log = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log < 0)
        die("open log");

    snprintf(path, sizeof path, "%s/pid", dir);
    int pidfd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (pidfd < 0)
        die("open pidfile"); /* EEXIST if the old one's were not answered */
    struct stat pst;
    fstat(pidfd, &pst);
    dprintf(pidfd, "%d\n", getpid());
    close(pidfd);

    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s/sock", dir);
    unlink(un.sun_path);
    int us = socket(AF_UNIX, SOCK_STREAM, 0);
    if (us < 0)
        die("socket unix");
    if (bind(us, (struct sockaddr *)&un, sizeof un) < 0)
        die("bind unix");
    if (listen(us, 16) < 0)
        die("listen unix");
    struct listener *lus = listener(us);
    watch(ep, EPOLL_CTL_ADD, lus);

    socklen_t len = sizeof in;
    getsockname(tcp, (struct sockaddr *)&in, &len);
    dprintf(log, "started pid=%d update=%d\n", getpid(), lucc_is_update_startup());
    lucc_startup_done();

    /* The kernel still holds the old version's data.ptr values: after an
     * update commits, the transfer must make them valid; with the old one
     * parked for good, this process simply registers its own. */
    if (lucc_is_update_startup()) {
        watch(ep, EPOLL_CTL_MOD, ltcp);
        watch(ep, EPOLL_CTL_MOD, lus);
    }

    printf("ready pid=%d port=%d tcp=%d ep=%d unix=%d log=%d pidino=%lu update=%d\n", getpid(),
           ntohs(in.sin_port), tcp, ep, us, log, (unsigned long)pst.st_ino, lucc_is_update_startup());
    fflush(stdout);

    if (argc > 2 && strcmp(argv[2], "--spawn-update") == 0)
        spawn_update(argv, dir);

    for (;;) {
        struct epoll_event evs[8];
        int n = epoll_wait(ep, evs, 8, -1);
        for (int i = 0; i < n; i++) {
            struct listener *l = evs[i].data.ptr;
            if (l->magic != MAGIC)
                abort();
            int c = accept(l->fd, NULL, NULL);
            if (c < 0)
                continue;
            dprintf(c, "pong pid=%d\n", getpid());
            close(c);
        }
    }
}
