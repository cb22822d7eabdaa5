/* int_narrowed v2: long -> int, int -> short, long long -> unsigned int,
 * and the global long long -> int. From v1 state whose values fit the
 * update commits; a value out of range (struct sample.value = 5000000000)
 * must refuse the conversion and roll the update back. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct sample {
    int value;
    short weight;
    unsigned int stamp;
    struct sample *next;
};

static struct sample *samples;
static int sample_sum;

void pair_command(const char *line, FILE *out) {
    long value;
    int weight;
    long long stamp;
    if (sscanf(line, "SAMPLE %ld %d %lld", &value, &weight, &stamp) == 3) {
        struct sample *s = xmalloc(sizeof *s);
        s->value = (int)value;
        s->weight = (short)weight;
        s->stamp = (unsigned int)stamp;
        s->next = samples;
        samples = s;
        sample_sum += (int)value;
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
