#ifndef ARGS_H
#define ARGS_H
int count_args(int argc, char **argv);
#endif
