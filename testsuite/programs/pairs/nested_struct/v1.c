/* nested_struct v1: people with two embedded addresses and a manager
 * pointer; v2 adds a field inside the nested struct (struct address),
 * swaps the two embedded addresses and adds an embedded struct. A global
 * struct embeds one too (`hq`). */
#include <stdio.h>
#include <string.h>

#include "pair.h"

struct address {
    char city[12];
    int zip;
};

struct person {
    char name[12];
    struct address home;
    struct address work;
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
            fprintf(out, "person %s home=%s/%d work=%s/%d manager=%s\n", p->name, p->home.city, p->home.zip,
                    p->work.city, p->work.zip, p->manager ? p->manager->name : "-");
        }
        fprintf(out, "hq %d %s/%d\n", hq.id, hq.where.city, hq.where.zip);
        fputs(PAIR_END, out);
    } else {
        fprintf(out, "ERR bad command\n");
    }
}
