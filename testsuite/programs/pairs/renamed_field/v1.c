/* renamed_field v1: struct user's `age` and `score` are renamed in v2
 * (years, points; points also widened). Without transform.toml an update
 * would see two fields dropped and two added (zero); with it the values
 * follow the renames. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct user {
    char name[16];
    int age;
    int score;
    struct user *next;
};

static struct user *users;
static struct user admin = {"root", 50, 1, NULL};

static void print_user(FILE *out, const struct user *u) {
    fprintf(out, "user %s age=%lld score=%lld\n", u->name, (long long)u->age, (long long)u->score);
}

void pair_command(const char *line, FILE *out) {
    char name[16];
    int a, s;
    if (sscanf(line, "USER %15s %d %d", name, &a, &s) == 3) {
        struct user *u = xcalloc(1, sizeof *u);
        snprintf(u->name, sizeof u->name, "%s", name);
        u->age = a;
        u->score = s;
        u->next = users;
        users = u;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "ADMIN %d %d", &a, &s) == 2) {
        admin.age = a;
        admin.score = s;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        print_user(out, &admin);
        for (struct user *u = users; u; u = u->next)
            print_user(out, u);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
