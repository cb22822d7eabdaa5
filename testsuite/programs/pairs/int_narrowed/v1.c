/* int_narrowed v1: wide integer fields and a global that v2 narrows. An
 * update converts them with a range check: values that fit come through
 * (script.txt), a value that does not fit stops the update and the old
 * process runs on (script_overflow.txt: 5000000000 in sample.value). */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct sample {
    long value;
    int weight;
    long long stamp;
    struct sample *next;
};

static struct sample *samples;
static long long sample_sum;

void pair_command(const char *line, FILE *out) {
    long value;
    int weight;
    long long stamp;
    if (sscanf(line, "SAMPLE %ld %d %lld", &value, &weight, &stamp) == 3) {
        struct sample *s = xmalloc(sizeof *s);
        s->value = value;
        s->weight = weight;
        s->stamp = stamp;
        s->next = samples;
        samples = s;
        sample_sum += value;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct sample *s = samples; s; s = s->next)
            fprintf(out, "sample value=%lld weight=%lld stamp=%lld\n", (long long)s->value, (long long)s->weight,
                    (long long)s->stamp);
        fprintf(out, "sample_sum=%lld\n", (long long)sample_sum);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
