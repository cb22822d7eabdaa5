/* fields_reordered v1: struct point in one field order; v2 declares the
 * same fields in another. Points live on the heap (a list) and in a
 * global (`origin`). */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct point {
    int x;
    char label[8];
    double y;
    short z;
    struct point *next;
};

static struct point origin;
static struct point *points;

static void print_point(FILE *out, const char *what, const struct point *p) {
    fprintf(out, "%s %s x=%d y=%.3f z=%d\n", what, p->label, p->x, p->y, p->z);
}

void pair_command(const char *line, FILE *out) {
    char label[8];
    int x, z;
    double y;
    if (sscanf(line, "POINT %7s %d %lf %d", label, &x, &y, &z) == 4) {
        struct point *p = xmalloc(sizeof *p);
        memset(p, 0, sizeof *p);
        snprintf(p->label, sizeof p->label, "%s", label);
        p->x = x;
        p->y = y;
        p->z = (short)z;
        p->next = points;
        points = p;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "ORIGIN %7s %d %lf %d", label, &x, &y, &z) == 4) {
        snprintf(origin.label, sizeof origin.label, "%s", label);
        origin.x = x;
        origin.y = y;
        origin.z = (short)z;
        origin.next = points;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        print_point(out, "origin", &origin);
        fprintf(out, "origin.next=%s\n", origin.next ? origin.next->label : "(null)");
        for (struct point *p = points; p; p = p->next)
            print_point(out, "point", p);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR unknown command\n");
    }
}
