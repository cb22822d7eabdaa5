#include <stdio.h>
#include "kv.h"
#include "cli/args.h"

int main(int argc, char **argv)
{
    struct kv *kv = kv_new();
    const char *gamma;
    kv_put(kv, "alpha", "1");
    kv_put(kv, "beta", "2");
    gamma = kv_get(kv, "gamma");
    printf("level %d\n", GREETING_LEVEL);
    printf("alpha=%s beta=%s gamma=%s\n", kv_get(kv, "alpha"), kv_get(kv, "beta"), gamma ? gamma : "(none)");
    printf("buckets=%d args=%d\n", kv_buckets(kv), count_args(argc, argv));
    return 0;
}
