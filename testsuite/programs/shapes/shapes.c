/* Shape constructors and their vtables. */
#include <stdlib.h>
#include <string.h>
#include "shapes.h"

static double circleArea(const struct shape *s) {
    return 3.14159265358979 * s->u.circle.radius * s->u.circle.radius;
}

static bbox_t circleBounds(const struct shape *s) {
    double r = s->u.circle.radius;
    bbox_t b = {{s->u.circle.center.x - r, s->u.circle.center.y - r}, {s->u.circle.center.x + r, s->u.circle.center.y + r}};
    return b;
}

static double rectArea(const struct shape *s) {
    return s->u.rect.w * s->u.rect.h;
}

static bbox_t rectBounds(const struct shape *s) {
    bbox_t b = {s->u.rect.corner, {s->u.rect.corner.x + s->u.rect.w, s->u.rect.corner.y + s->u.rect.h}};
    return b;
}

/* Shoelace formula. */
static double polyArea(const struct shape *s) {
    double a = 0;
    int n = s->u.poly.n;
    for (int i = 0; i < n; i++) {
        const struct point *p = &s->u.poly.pts[i], *q = &s->u.poly.pts[(i + 1) % n];
        a += p->x * q->y - q->x * p->y;
    }
    return a < 0 ? -a / 2 : a / 2;
}

static bbox_t polyBounds(const struct shape *s) {
    bbox_t b = {s->u.poly.pts[0], s->u.poly.pts[0]};
    for (int i = 1; i < s->u.poly.n; i++) {
        bbox_t p = {s->u.poly.pts[i], s->u.poly.pts[i]};
        b = geomUnion(b, p);
    }
    return b;
}

const struct shape_ops circle_ops = {"circle", circleArea, circleBounds};
const struct shape_ops rect_ops = {"rect", rectArea, rectBounds};
const struct shape_ops poly_ops = {"poly", polyArea, polyBounds};

static struct shape *newShape(enum shape_kind kind, const struct shape_ops *ops) {
    struct shape *s = malloc(sizeof(struct shape));
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->ops = ops;
    return s;
}

struct shape *shapeCircle(double x, double y, double r) {
    struct shape *s = newShape(SHAPE_CIRCLE, &circle_ops);
    s->u.circle.center.x = x;
    s->u.circle.center.y = y;
    s->u.circle.radius = r;
    return s;
}

struct shape *shapeRect(double x, double y, double w, double h) {
    struct shape *s = newShape(SHAPE_RECT, &rect_ops);
    s->u.rect.corner.x = x;
    s->u.rect.corner.y = y;
    s->u.rect.w = w;
    s->u.rect.h = h;
    return s;
}

struct shape *shapePoly(int n, const struct point *pts) {
    struct shape *s = newShape(SHAPE_POLY, &poly_ops);
    s->u.poly.n = n > MAX_POLY ? MAX_POLY : n;
    memcpy(s->u.poly.pts, pts, sizeof(struct point) * (size_t)s->u.poly.n);
    return s;
}
