/* signedness_enum v2: prio and default_prio become signed, delta
 * unsigned, state (and last_state) an enum whose enumerators carry v1's
 * integer values, kind a plain int holding v1's enumerator values. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

enum job_state { JOB_NEW, JOB_RUNNING, JOB_DONE };

struct job {
    char name[12];
    int prio;
    unsigned int delta;
    enum job_state state;
    int kind;
    struct job *next;
};

static struct job *jobs;
static int default_prio = 10;
static enum job_state last_state;

static const char *state_name(enum job_state s) {
    switch (s) {
    case JOB_NEW:
        return "new";
    case JOB_RUNNING:
        return "running";
    case JOB_DONE:
        return "done";
    }
    return "?";
}

void pair_command(const char *line, FILE *out) {
    char name[12];
    int prio, state, kind;
    unsigned int delta;
    if (sscanf(line, "JOB %11s %d %u %d %d", name, &prio, &delta, &state, &kind) == 5) {
        struct job *j = xcalloc(1, sizeof *j);
        snprintf(j->name, sizeof j->name, "%s", name);
        j->prio = prio;
        j->delta = delta;
        j->state = (enum job_state)state;
        j->kind = kind;
        j->next = jobs;
        jobs = j;
        last_state = (enum job_state)state;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "DEFAULT %d", &prio) == 1) {
        default_prio = prio;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct job *j = jobs; j; j = j->next)
            fprintf(out, "job %s prio=%lld delta=%lld state=%s kind=%d\n", j->name, (long long)j->prio,
                    (long long)j->delta, state_name(j->state), j->kind);
        fprintf(out, "default_prio=%lld last_state=%s\n", (long long)default_prio, state_name(last_state));
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
