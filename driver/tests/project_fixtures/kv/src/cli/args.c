#include "args.h"

int count_args(int argc, char **argv)
{
    (void)argv;
    return argc - 1;
}
