/* pointers_to_globals_and_strings v2: a global (counter_z) and a field
 * (cfg.version) come first, hits_counter has a second static local, the
 * dispatch table starts with a new op and the functions are defined in
 * another order, and label_for knows more literals. Every slot must still
 * show the same label, target and op. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

typedef int (*op_fn)(int);

struct cfg {
    long version;
    int x;
    char name[8];
};

struct slot {
    const char *label;
    int *target;
    op_fn op;
};

static int op_increment(int v) { return v + 1; }
static int op_square(int v) { return v * v; }
static int op_negate(int v) { return -v; }
static int op_double(int v) { return 2 * v; }

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {{"inc", op_increment}, {"double", op_double}, {"negate", op_negate}, {"square", op_square}};
#define NOPS (int)(sizeof ops / sizeof ops[0])

int counter_z = 77;
int counter_a;
int counter_b = 5;
struct cfg cfg = {2, 1, "cfg"};
static const char *greeting = "hello";
static int *current = &counter_b;

#define NSLOTS 6
static struct slot slots[NSLOTS];

/* The address of a static local: only this function can name it. */
static int *hits_counter(void) {
    static int calls;
    static int hits;
    calls++;
    return &hits;
}

static const char *label_for(int k) {
    switch (k) {
    case 0:
        return "alpha";
    case 1:
        return "beta";
    case 3:
        return "delta";
    default:
        return "gamma-ray";
    }
}

static int *target_named(const char *t) {
    if (strcmp(t, "a") == 0)
        return &counter_a;
    if (strcmp(t, "b") == 0)
        return &counter_b;
    if (strcmp(t, "cfg.x") == 0)
        return &cfg.x;
    if (strcmp(t, "hits") == 0)
        return hits_counter();
    return NULL;
}

static const char *target_name(const int *p) {
    static const char *const names[] = {"a", "b", "cfg.x", "hits"};
    for (int i = 0; i < 4; i++)
        if (p == target_named(names[i]))
            return names[i];
    return "unknown";
}

static const char *op_name(op_fn fn) {
    for (int i = 0; i < NOPS; i++)
        if (ops[i].fn == fn)
            return ops[i].name;
    return "unknown";
}

void pair_command(const char *line, FILE *out) {
    int slot, label, v;
    char target[8], op[8];
    int *t;
    if (sscanf(line, "SLOT %d %d %7s %7s", &slot, &label, target, op) == 4 && slot >= 0 && slot < NSLOTS &&
        (t = target_named(target))) {
        op_fn fn = NULL;
        for (int i = 0; i < NOPS; i++)
            if (strcmp(ops[i].name, op) == 0)
                fn = ops[i].fn;
        if (!fn) {
            fprintf(out, "ERR no op %s\n", op);
            return;
        }
        slots[slot].label = label_for(label);
        slots[slot].target = t;
        slots[slot].op = fn;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "SETV %7s %d", target, &v) == 2 && (t = target_named(target))) {
        *t = v;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "CURRENT %7s", target) == 1 && (t = target_named(target))) {
        current = t;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "GREET %d", &label) == 1) {
        greeting = label_for(label);
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (int i = 0; i < NSLOTS; i++) {
            struct slot *s = &slots[i];
            if (!s->label) {
                fprintf(out, "slot %d empty\n", i);
                continue;
            }
            fprintf(out, "slot %d label=%s target=%s value=%d op=%s result=%d\n", i, s->label, target_name(s->target),
                    *s->target, op_name(s->op), s->op(*s->target));
        }
        fprintf(out, "greeting=%s current=%s value=%d cfg.name=%s\n", greeting, target_name(current), *current,
                cfg.name);
        /* After an update from v1: counter_z keeps v2's initial value (v1
         * had no such global), and so does cfg.version (a field added to a
         * global starts as the new version initialises it). */
        fprintf(out, "counter_z=%d cfg.version=%ld\n", counter_z, cfg.version);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
