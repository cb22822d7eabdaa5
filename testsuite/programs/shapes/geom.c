/* See geom.h. */
#include <math.h>
#include "geom.h"

double geomDist(struct point a, struct point b) {
    return sqrt((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y));
}

bbox_t geomUnion(bbox_t a, bbox_t b) {
    bbox_t r;
    r.min.x = fmin(a.min.x, b.min.x);
    r.min.y = fmin(a.min.y, b.min.y);
    r.max.x = fmax(a.max.x, b.max.x);
    r.max.y = fmax(a.max.y, b.max.y);
    return r;
}

long geomRound(double v) {
    return lround(v * 1000.0);
}
