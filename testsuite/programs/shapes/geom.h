/* Small geometry helpers, kept in a static library of their own. */
#ifndef GEOM_H
#define GEOM_H

struct point {
    double x, y;
};

/* A typedef'd anonymous struct, as C headers often declare them. */
typedef struct {
    struct point min, max;
} bbox_t;

double geomDist(struct point a, struct point b);
bbox_t geomUnion(bbox_t a, bbox_t b);
long geomRound(double v); /* to thousandths, so output does not depend on float printing */

#endif
