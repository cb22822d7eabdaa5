/* static_locals v1: state that only functions can name: next_id's
 * counter, remember's buffer and fill level, and a static pointer into
 * that buffer (the last word remembered). v2 widens the counter, grows the
 * buffer and adds a static local; the values must come through under the
 * same function::name. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

/* The next id; taken (counter advanced) only when `take` is set, so DUMP
 * can show it without changing state. */
static int next_id(int take) {
    static int counter = 100;
    return take ? counter++ : counter;
}

/* Appends a word to the static buffer; returns the buffer's contents, and
 * through *last the start of the newest word (a static pointer into the
 * static buffer). */
static const char *remember(const char *word, const char **last) {
    static char buf[64];
    static size_t used;
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
        fprintf(out, "OK %d\n", next_id(1));
    } else if (sscanf(line, "REMEMBER %31s", word) == 1) {
        remember(word, NULL);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        const char *last;
        const char *all = remember(NULL, &last);
        fprintf(out, "next_id=%d\n", next_id(0));
        fprintf(out, "words=%s\nlast=%s\n", all, last);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
