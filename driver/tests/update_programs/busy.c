/* busy.c: a program that never blocks, for the update tests: its loop
 * reaches an update point only if built with -DEXPLICIT_POINT (a call to
 * lucc_update_point()); otherwise an update cannot quiesce it. */
#include <lucc.h>

volatile unsigned long work;

int main(void) {
    for (;;) {
        for (int i = 0; i < 100000; i++)
            work += i;
#ifdef EXPLICIT_POINT
        lucc_update_point();
#endif
    }
}
