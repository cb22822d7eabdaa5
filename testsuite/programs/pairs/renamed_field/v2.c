/* renamed_field v2: struct user's age is now `years`, score is `points`
 * (and a long, in front of years). transform.toml declares the renames.
 * DUMP keeps v1's wording so the two versions' dumps compare line by
 * line. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct user {
    char name[16];
    long points;
    int years;
    struct user *next;
};

static struct user *users;
static struct user admin = {"root", 1, 50, NULL};

static void print_user(FILE *out, const struct user *u) {
    fprintf(out, "user %s age=%lld score=%lld\n", u->name, (long long)u->years, (long long)u->points);
}

void pair_command(const char *line, FILE *out) {
    char name[16];
    int a, s;
    if (sscanf(line, "USER %15s %d %d", name, &a, &s) == 3) {
        struct user *u = xcalloc(1, sizeof *u);
        snprintf(u->name, sizeof u->name, "%s", name);
        u->years = a;
        u->points = s;
        u->next = users;
        users = u;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "ADMIN %d %d", &a, &s) == 2) {
        admin.years = a;
        admin.points = s;
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
