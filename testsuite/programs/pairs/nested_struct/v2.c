/* nested_struct v2: struct address gains `floor` (so every struct that
 * embeds it changes size), struct person declares work before home and
 * gains an embedded struct since. After an update floor and since are
 * zero; the manager pointers must still name the same people. */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct address {
    char city[12];
    int zip;
    int floor;
};

struct date {
    int year;
    int month;
};

struct person {
    char name[12];
    struct address work;
    struct date since;
    struct address home;
    struct person *manager;
};

struct site {
    int id;
    struct address where;
};

#define MAX_PEOPLE 8
static struct person *people[MAX_PEOPLE];
static int npeople;
static struct site hq;

static struct person *find(const char *name) {
    for (int i = 0; i < npeople; i++)
        if (strcmp(people[i]->name, name) == 0)
            return people[i];
    return NULL;
}

void pair_command(const char *line, FILE *out) {
    char name[12], hcity[12], wcity[12], mname[12];
    int hzip, wzip, id;
    if (sscanf(line, "PERSON %11s %11s %d %11s %d", name, hcity, &hzip, wcity, &wzip) == 5 && npeople < MAX_PEOPLE) {
        struct person *p = xcalloc(1, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", name);
        snprintf(p->home.city, sizeof p->home.city, "%s", hcity);
        p->home.zip = hzip;
        snprintf(p->work.city, sizeof p->work.city, "%s", wcity);
        p->work.zip = wzip;
        people[npeople++] = p;
        fprintf(out, "OK\n");
    } else if (sscanf(line, "MANAGER %11s %11s", name, mname) == 2 && find(name) && find(mname)) {
        find(name)->manager = find(mname);
        fprintf(out, "OK\n");
    } else if (sscanf(line, "HQ %d %11s %d", &id, hcity, &hzip) == 3) {
        hq.id = id;
        snprintf(hq.where.city, sizeof hq.where.city, "%s", hcity);
        hq.where.zip = hzip;
        fprintf(out, "OK\n");
    } else if (strcmp(line, "DUMP") == 0) {
        for (int i = 0; i < npeople; i++) {
            struct person *p = people[i];
            fprintf(out, "person %s home=%s/%d work=%s/%d manager=%s floors=%d/%d since=%d-%d\n", p->name,
                    p->home.city, p->home.zip, p->work.city, p->work.zip, p->manager ? p->manager->name : "-",
                    p->home.floor, p->work.floor, p->since.year, p->since.month);
        }
        fprintf(out, "hq %d %s/%d floor=%d\n", hq.id, hq.where.city, hq.where.zip, hq.where.floor);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
