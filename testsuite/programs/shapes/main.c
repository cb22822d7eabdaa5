/* shapes entry point: builds a scene, prints per-shape lines and totals.
 * Numbers are printed in integer thousandths so the output is the same
 * whatever compiler and optimisation level produced the binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "shapes.h"

/* A char buffer that holds a struct; aligned so the cast is legal. */
static _Alignas(struct record) char snapshot[sizeof(int) + 32 * sizeof(struct record)];

static struct shape *scene; /* linked through shape.next */

static const char *colorName(enum color c) {
    switch (c) {
    case RED: return "red";
    case GREEN: return "green";
    case BLUE: return "blue";
    case BLACK: return "black";
    }
    return "?";
}

static void add(struct shape *s, enum color c, int filled, int width, int layer, const char *tag) {
    s->style.color = c;
    s->style.filled = filled;
    s->style.dashed = !filled;
    s->style.width = width;
    s->style.layer = layer;
    s->next = scene;
    scene = s;
    registryAdd(s, tag);
}

static int describe(const struct shape *s) {
    static int calls; /* numbered lines */
    bbox_t b = s->ops->bounds(s);
    printf("%d %s color=%s filled=%u width=%u layer=%d area=%ld bbox=(%ld,%ld)-(%ld,%ld)\n", ++calls, s->ops->name,
           colorName((enum color)s->style.color), s->style.filled, s->style.width, s->style.layer,
           geomRound(s->ops->area(s)), geomRound(b.min.x), geomRound(b.min.y), geomRound(b.max.x),
           geomRound(b.max.y));
    return calls;
}

int main(int argc, char **argv) {
    int copies = argc > 1 ? atoi(argv[1]) : 1;
    struct point tri[3] = {{0, 0}, {4, 0}, {0, 3}};
    struct point sq[4] = {{1, 1}, {3, 1}, {3, 3}, {1, 3}};
    for (int i = 0; i < copies; i++) {
        add(shapeCircle(i, 0, 1.5), RED, 1, 2, -3, "c");
        add(shapeRect(-1, -2, 3, 4.5), GREEN, 0, 31, 31, "r");
        add(shapePoly(3, tri), BLUE, 1, 1, -32, "tri");
        add(shapePoly(4, sq), BLACK, 0, 7, 0, "square");
    }

    printf("%s\n", banner);
    double total = 0;
    bbox_t all = scene->ops->bounds(scene);
    int lines = 0;
    for (int i = 0; i < registryCount(); i++) {
        struct shape *s = registryGet(i);
        lines = describe(s);
        total += s->ops->area(s);
        all = geomUnion(all, s->ops->bounds(s));
    }

    registrySnapshot(snapshot, sizeof snapshot);
    int n;
    memcpy(&n, snapshot, sizeof n);
    const struct record *recs = (const struct record *)(snapshot + sizeof(int));
    unsigned flagsum = 0;
    for (int i = 0; i < n; i++) flagsum += recs[i].flags + (unsigned)strlen(recs[i].tag);

    unsigned long first = registryNextSerial();
    unsigned long second = registryNextSerial();
    int onscene = 0;
    for (struct shape *s = scene; s; s = s->next) onscene++;
    printf("lines=%d shapes=%d records=%d flagsum=%u total_area=%ld bbox=(%ld,%ld)-(%ld,%ld) serial=%lu,%lu\n", lines,
           onscene, n, flagsum, geomRound(total), geomRound(all.min.x), geomRound(all.min.y), geomRound(all.max.x),
           geomRound(all.max.y), first, second);
    printf("sizes: shape=%zu style=%zu record=%zu\n", sizeof(struct shape), sizeof(struct style), sizeof(struct record));

    while (scene) {
        struct shape *next = scene->next;
        free(scene);
        scene = next;
    }
    return 0;
}
