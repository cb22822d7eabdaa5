#include "shapes.h"

struct node *list_head;
struct flags global_flags;
union number num;
static struct shape shapes[3];
item_t items[2];
volatile int counter;

static int area(const struct shape *s)
{
    return s->corners[0].x;
}

int use_a(void)
{
    static int calls;
    {
        static struct node *cache;
        cache = list_head;
        counter += cache != 0;
    }
    calls++;
    shapes[0].area = area;
    global_flags.c = -3;
    return calls + shapes[calls % 3].area(&shapes[0]) + (int)items[calls % 2].id + num.i;
}

int main(void)
{
    return use_a() + use_b();
}
