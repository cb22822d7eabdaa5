/* Memory benchmark: hold N small heap objects at once, then report the
 * process's peak resident set (VmHWM).
 *
 * Why: lucc's heap is its own arena with a per-object header (the site id
 * that types the object at update time) and a registry of live objects, so
 * a program of many small objects is where its memory cost shows. The
 * objects are the shape that dominates real servers: a small keyed record
 * (24 bytes) and its own short string, linked into a chained hash table,
 * all alive at the peak. The program prints a checksum (the two builds must
 * agree) and, on a line of its own, "vmhwm_kib K" read from
 * /proc/self/status just before it frees everything.
 *
 * Usage: manyobjs [N]   (default 1000000; N objects: N/2 records and N/2 strings)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct record {
    uint64_t key;
    struct record *next;
    char *label;
};

static long vmhwm_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

int main(int argc, char **argv) {
    long objects = argc > 1 ? atol(argv[1]) : 1000000;
    long records = objects / 2;
    size_t nbuckets = 1024;
    while ((long)nbuckets < records) nbuckets <<= 1;
    struct record **buckets = calloc(nbuckets, sizeof *buckets);
    if (!buckets) return 1;

    uint64_t checksum = 0;
    for (long i = 0; i < records; i++) {
        struct record *r = malloc(sizeof *r);
        char text[24];
        int len = snprintf(text, sizeof text, "r%ld", i);
        r->label = malloc((size_t)len + 1);
        if (!r->label) return 1;
        memcpy(r->label, text, (size_t)len + 1);
        r->key = (uint64_t)i * 2654435761u;
        size_t b = (size_t)(r->key >> 7) & (nbuckets - 1);
        r->next = buckets[b];
        buckets[b] = r;
    }
    /* Walk everything once, so each object is touched while all are alive. */
    for (size_t b = 0; b < nbuckets; b++)
        for (struct record *r = buckets[b]; r; r = r->next)
            checksum += r->key ^ (uint64_t)strlen(r->label);

    long peak = vmhwm_kib();
    printf("records %ld checksum %llu\n", records, (unsigned long long)checksum);
    fprintf(stderr, "vmhwm_kib %ld\n", peak);

    for (size_t b = 0; b < nbuckets; b++) {
        struct record *r = buckets[b];
        while (r) {
            struct record *next = r->next;
            free(r->label);
            free(r);
            r = next;
        }
    }
    free(buckets);
    return peak < 0;
}
