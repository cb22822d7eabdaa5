struct priv;

struct priv *p3;
