/* Types shared by a.c and b.c: each unit's DWARF repeats them, the sidecar
   must hold them once. */
#include <stddef.h>

struct node {
    int value;
    struct node *next;
};

struct flags {
    unsigned a : 3;
    unsigned b : 5;
    int c : 7;
    unsigned char d;
    unsigned e : 1;
};

union number {
    int i;
    double d;
    char bytes[8];
};

enum color { RED, GREEN = 5, BLUE = -1 };

struct point {
    int x, y;
};

struct shape {
    enum color color;
    struct point corners[4];
    struct {
        int w, h;
    } size;
    union {
        int r;
        float f;
    };
    const char *name;
    int (*area)(const struct shape *);
};

typedef struct {
    long id;
    char tag[16];
} item_t;

struct table {
    int grid[2][3];
    size_t n;
    struct point pts[];
};

int use_a(void);
int use_b(void);
