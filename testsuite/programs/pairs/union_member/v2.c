/* union_member v2: the union in struct value gains a struct member
 * (`pair`) and its string member grows to 24 chars, so its size and
 * layout change; transform.toml names the active member by the old
 * `type` (T_INT -> i, T_REAL -> d, T_TEXT -> s). union word is unchanged.
 * v2 also accepts PAIR values, which v1 state cannot hold. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

enum { T_INT, T_REAL, T_TEXT, T_PAIR };

struct value {
    char key[8];
    int type;
    union {
        long i;
        double d;
        char s[24];
        struct {
            int a;
            int b;
        } pair;
    } u;
    struct value *next;
};

union word {
    unsigned int u32;
    unsigned char bytes[4];
};

static struct value *values;
static union word magic;

static struct value *push(const char *key, int type) {
    struct value *v = xcalloc(1, sizeof *v);
    snprintf(v->key, sizeof v->key, "%s", key);
    v->type = type;
    struct value **tail = &values;
    while (*tail)
        tail = &(*tail)->next;
    *tail = v;
    return v;
}

void pair_command(const char *line, FILE *out) {
    char key[8], text[12];
    long i;
    double d;
    unsigned int m;
    int a, b;
    if (sscanf(line, "INT %7s %ld", key, &i) == 2) {
        push(key, T_INT)->u.i = i;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "REAL %7s %lf", key, &d) == 2) {
        push(key, T_REAL)->u.d = d;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "TEXT %7s %11s", key, text) == 2) {
        snprintf(push(key, T_TEXT)->u.s, sizeof values->u.s, "%s", text);
        fprintf(out, "OK\n");
    } else if (sscanf(line, "PAIR %7s %d %d", key, &a, &b) == 3) {
        struct value *v = push(key, T_PAIR);
        v->u.pair.a = a;
        v->u.pair.b = b;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "MAGIC %u", &m) == 1) {
        magic.u32 = m;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (struct value *v = values; v; v = v->next) {
            switch (v->type) {
            case T_INT:
                fprintf(out, "value %s int %ld\n", v->key, v->u.i);
                break;
            case T_REAL:
                fprintf(out, "value %s real %.4f\n", v->key, v->u.d);
                break;
            case T_TEXT:
                fprintf(out, "value %s text %s\n", v->key, v->u.s);
                break;
            case T_PAIR:
                fprintf(out, "value %s pair %d %d\n", v->key, v->u.pair.a, v->u.pair.b);
                break;
            }
        }
        fprintf(out, "magic %u bytes %u %u %u %u\n", magic.u32, magic.bytes[0], magic.bytes[1], magic.bytes[2],
                magic.bytes[3]);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
