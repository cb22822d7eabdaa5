/* signedness_enum v1: jobs whose fields change signedness (prio unsigned
 * -> int, delta int -> unsigned) and kind between int and enum (state int
 * -> enum job_state; kind enum job_kind -> int) in v2. The script's values
 * are in range for both versions and every state is an enumerator. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

enum job_kind { KIND_BATCH, KIND_CRON = 5, KIND_ONESHOT };

struct job {
    char name[12];
    unsigned int prio;
    int delta;
    int state; /* 0 new, 1 running, 2 done */
    enum job_kind kind;
    struct job *next;
};

static struct job *jobs;
static unsigned int default_prio = 10;
static int last_state;

static const char *const state_names[] = {"new", "running", "done"};

static const char *state_name(int s) {
    return s >= 0 && s <= 2 ? state_names[s] : "?";
}

void pair_command(const char *line, FILE *out) {
    char name[12];
    unsigned int prio;
    int delta, state, kind;
    if (sscanf(line, "JOB %11s %u %d %d %d", name, &prio, &delta, &state, &kind) == 5) {
        struct job *j = xcalloc(1, sizeof *j);
        snprintf(j->name, sizeof j->name, "%s", name);
        j->prio = prio;
        j->delta = delta;
        j->state = state;
        j->kind = (enum job_kind)kind;
        j->next = jobs;
        jobs = j;
        last_state = state;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "DEFAULT %u", &prio) == 1) {
        default_prio = prio;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct job *j = jobs; j; j = j->next)
            fprintf(out, "job %s prio=%lld delta=%lld state=%s kind=%d\n", j->name, (long long)j->prio,
                    (long long)j->delta, state_name(j->state), (int)j->kind);
        fprintf(out, "default_prio=%lld last_state=%s\n", (long long)default_prio, state_name(last_state));
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
