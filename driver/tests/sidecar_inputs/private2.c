struct priv {
    long b;
    char c;
    struct priv *next;
};

struct priv *p2;
