/* `struct priv` is private to each of private1.c and private2.c, with
   different layouts; private3.c only declares it. */
struct priv {
    int a;
    struct priv *next;
};

struct priv *p1;

int main(void)
{
    return p1 != 0;
}
