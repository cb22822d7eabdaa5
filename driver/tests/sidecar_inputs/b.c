#include "shapes.h"

struct node b_node = { 1, &b_node };
static struct shape shapes[3];
struct table *tab;
/* The runtime's reserved namespace: its state, not the program's. */
int __lucc_private_state;

int use_b(void)
{
    static long calls;
    calls++;
    return (int)calls + b_node.value + shapes[calls % 3].color + (tab ? tab->grid[1][2] : 0) + __lucc_private_state;
}
