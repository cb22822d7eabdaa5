/* A static function only ever inlined: at -O2 it has no out-of-line copy,
   and clang 14 files its static locals under a DIE without a name. */
int total;

static int tally(int k)
{
    static int hits;
    if (k > 2) {
        static int hits;
        hits++;
        total += hits;
    }
    hits += k;
    return hits;
}

int main(int argc, char **argv)
{
    (void)argv;
    return tally(argc) + total;
}
