/* bitfields v1: a struct of bitfields (signed and unsigned) in a global
 * table and on the heap; v2 widens, reorders and adds bitfields, so every
 * value moves to another bit position and must be extracted and
 * re-inserted (sign included). */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct flags {
    unsigned active : 1;
    unsigned level : 3;
    int delta : 5;
    unsigned mode : 2;
    short id;
};

struct tagged {
    struct flags f;
    struct tagged *next;
};

#define NTABLE 4
static struct flags table[NTABLE];
static struct tagged *list;

static void print_flags(FILE *out, const char *what, const struct flags *f) {
    fprintf(out, "%s id=%d active=%d level=%d delta=%d mode=%d\n", what, f->id, (int)f->active, (int)f->level,
            (int)f->delta, (int)f->mode);
}

static void set_flags(struct flags *f, int id, int active, int level, int delta, int mode) {
    f->id = (short)id;
    f->active = (unsigned)active;
    f->level = (unsigned)level;
    f->delta = delta;
    f->mode = (unsigned)mode;
}

void pair_command(const char *line, FILE *out) {
    int slot, id, active, level, delta, mode;
    if (sscanf(line, "SET %d %d %d %d %d %d", &slot, &id, &active, &level, &delta, &mode) == 6 && slot >= 0 &&
        slot < NTABLE) {
        set_flags(&table[slot], id, active, level, delta, mode);
        fprintf(out, "OK\n");
    } else if (sscanf(line, "PUSH %d %d %d %d %d", &id, &active, &level, &delta, &mode) == 5) {
        struct tagged *t = xcalloc(1, sizeof *t);
        set_flags(&t->f, id, active, level, delta, mode);
        t->next = list;
        list = t;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (int i = 0; i < NTABLE; i++)
            print_flags(out, "table", &table[i]);
        for (struct tagged *t = list; t; t = t->next)
            print_flags(out, "list", &t->f);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
