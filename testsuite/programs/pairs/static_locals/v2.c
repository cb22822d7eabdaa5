/* static_locals v2: next_id's counter is a long long and it has a second
 * static local (`taken`, zero after an update), remember's buffer grows to
 * 128 bytes and its fill level becomes an unsigned int. After an update
 * the counter, the words, and the pointer to the newest word (into the
 * moved static buffer) are as v1 left them. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

/* The next id; taken (counter advanced) only when `take` is set, so DUMP
 * can show it without changing state. */
static long long next_id(int take, int *ntaken) {
    static long long counter = 100;
    static int taken;
    if (take)
        taken++;
    if (ntaken)
        *ntaken = taken;
    return take ? counter++ : counter;
}

/* Appends a word to the static buffer; returns the buffer's contents, and
 * through *last the start of the newest word (a static pointer into the
 * static buffer). */
static const char *remember(const char *word, const char **last) {
    static char buf[128];
    static unsigned int used;
    static char *newest;
    if (word) {
        size_t n = strlen(word);
        if (used + n + 2 <= sizeof buf) {
            if (used)
                buf[used++] = ',';
            newest = buf + used;
            memcpy(buf + used, word, n + 1);
            used += n;
        }
    }
    if (last)
        *last = newest ? newest : "";
    return buf;
}

void pair_command(const char *line, FILE *out) {
    char word[32];
    if (strcmp(line, "ID") == 0) {
        fprintf(out, "OK %lld\n", next_id(1, NULL));
    } else if (sscanf(line, "REMEMBER %31s", word) == 1) {
        remember(word, NULL);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        const char *last;
        const char *all = remember(NULL, &last);
        int taken;
        fprintf(out, "next_id=%lld\n", next_id(0, &taken));
        fprintf(out, "words=%s\nlast=%s\ntaken=%d\n", all, last, taken);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
