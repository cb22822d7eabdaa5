/* shapes: a batch program whose state uses the C features a type map must
 * describe: a tagged union, bitfields, enums, nested structs, arrays of
 * structs, a typedef'd anonymous struct, function-pointer vtables, a char
 * buffer holding a struct, pointers kept in uintptr_t, a global pointer to
 * a string literal, and static locals. It prints a deterministic summary. */
#ifndef SHAPES_H
#define SHAPES_H
#include <stdint.h>
#include "geom.h"

enum shape_kind { SHAPE_CIRCLE = 1, SHAPE_RECT, SHAPE_POLY };

enum color { RED, GREEN, BLUE, BLACK = 7 };

struct style {
    unsigned color : 3;
    unsigned filled : 1;
    unsigned dashed : 1;
    unsigned width : 5;
    signed layer : 6;
};

struct shape;

struct shape_ops {
    const char *name;
    double (*area)(const struct shape *s);
    bbox_t (*bounds)(const struct shape *s);
};

#define MAX_POLY 8

struct shape {
    enum shape_kind kind;
    const struct shape_ops *ops;
    struct style style;
    union {
        struct {
            struct point center;
            double radius;
        } circle;
        struct {
            struct point corner;
            double w, h;
        } rect;
        struct {
            int n;
            struct point pts[MAX_POLY];
        } poly;
    } u;
    struct shape *next;
};

extern const struct shape_ops circle_ops, rect_ops, poly_ops;

struct shape *shapeCircle(double x, double y, double r);
struct shape *shapeRect(double x, double y, double w, double h);
struct shape *shapePoly(int n, const struct point *pts);

/* registry.c */
struct record {
    char tag[8];
    uintptr_t shape_addr; /* a struct shape * kept as an integer */
    uint16_t flags;
};

void registryAdd(struct shape *s, const char *tag);
int registryCount(void);
struct shape *registryGet(int i);
const struct record *registryRecord(int i);
void registrySnapshot(char *buf, unsigned long len);
unsigned long registryNextSerial(void);

extern const char *banner;

#endif
