/* A static function only ever inlined: at -O2 it has no out-of-line copy,
   and clang 14 files its static locals under a DIE without a name. And a
   record the program's state never reaches, which inspect leaves out. */
struct tally_state {
    int total;
};
/* Only a local has this type: no state reaches it. */
struct scratch {
    int argc;
    char **argv;
};

struct tally_state state;

static int tally(int k)
{
    static int hits;
    if (k > 2) {
        static int hits;
        hits++;
        state.total += hits;
    }
    hits += k;
    return hits;
}

int main(int argc, char **argv)
{
    volatile struct scratch scratch = {argc, argv};
    return tally(scratch.argc) + state.total;
}
