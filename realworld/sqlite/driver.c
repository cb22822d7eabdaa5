/* A fixed SQL workload over the SQLite amalgamation, printing every result.
 *
 * Why: the amalgamation (about 250k lines that nobody here wrote) is the
 * largest single translation unit we can get from a package registry, and a
 * workload that prints deterministic results lets the check compare a
 * lucc-built binary with a cc-built one byte for byte.  Everything printed is
 * derived from a seeded pseudo-random generator, never from time, addresses or
 * SQLite's own random(), so two correct builds print the same text.
 *
 * Usage: driver [ROWS]   (default 10000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite3.h"

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: deterministic across compilers, unlike rand(). */
static unsigned long long next_rand(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void die(sqlite3 *db, const char *what) {
    fprintf(stderr, "driver: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "driver: %s\n  in: %s\n", err, sql);
        sqlite3_free(err);
        exit(1);
    }
}

/* Prints every row of a query as tab-separated text, under a title line. */
static void print_query(sqlite3 *db, const char *title, const char *sql) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(db, title);
    printf("== %s\n", title);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int n = sqlite3_column_count(st);
        for (int i = 0; i < n; i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            printf("%s%s", i ? "\t" : "", v ? (const char *)v : "NULL");
        }
        putchar('\n');
    }
    if (rc != SQLITE_DONE) die(db, title);
    sqlite3_finalize(st);
}

static void insert_rows(sqlite3 *db, int rows) {
    static const char *cities[] = {"Oslo", "Lima", "Pune", "Kiev", "Nice",
                                   "Bern", "Riga", "Cork", "Graz", "Turku"};
    sqlite3_stmt *cust, *ord;
    exec(db, "BEGIN");
    if (sqlite3_prepare_v2(db, "INSERT INTO customer(id, name, city, credit) VALUES (?,?,?,?)",
                           -1, &cust, NULL) != SQLITE_OK) die(db, "prepare customer");
    if (sqlite3_prepare_v2(db, "INSERT INTO orders(id, customer_id, amount, item, note) VALUES (?,?,?,?,?)",
                           -1, &ord, NULL) != SQLITE_OK) die(db, "prepare orders");
    int customers = rows / 10 + 1;
    for (int i = 1; i <= customers; i++) {
        char name[32];
        snprintf(name, sizeof name, "cust-%05llu", next_rand() % 100000);
        sqlite3_bind_int(cust, 1, i);
        sqlite3_bind_text(cust, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(cust, 3, cities[next_rand() % 10], -1, SQLITE_STATIC);
        sqlite3_bind_double(cust, 4, (double)(next_rand() % 1000000) / 100.0);
        if (sqlite3_step(cust) != SQLITE_DONE) die(db, "insert customer");
        sqlite3_reset(cust);
    }
    for (int i = 1; i <= rows; i++) {
        char item[24], note[64];
        snprintf(item, sizeof item, "item-%03llu", next_rand() % 250);
        int len = (int)(next_rand() % 40);
        for (int k = 0; k < len; k++) note[k] = (char)('a' + next_rand() % 26);
        note[len] = 0;
        sqlite3_bind_int(ord, 1, i);
        sqlite3_bind_int(ord, 2, 1 + (int)(next_rand() % (unsigned)customers));
        sqlite3_bind_int64(ord, 3, (sqlite3_int64)(next_rand() % 50000));
        sqlite3_bind_text(ord, 4, item, -1, SQLITE_TRANSIENT);
        if (len % 7 == 0) sqlite3_bind_null(ord, 5);
        else sqlite3_bind_text(ord, 5, note, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(ord) != SQLITE_DONE) die(db, "insert order");
        sqlite3_reset(ord);
    }
    sqlite3_finalize(cust);
    sqlite3_finalize(ord);
    exec(db, "COMMIT");
}

int main(int argc, char **argv) {
    int rows = argc > 1 ? atoi(argv[1]) : 10000;
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) die(db, "open");
    printf("sqlite %s, %d rows\n", sqlite3_libversion(), rows);
    exec(db, "CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
             " city TEXT NOT NULL, credit REAL)");
    exec(db, "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER"
             " REFERENCES customer(id), amount INTEGER, item TEXT, note TEXT)");
    insert_rows(db, rows);
    exec(db, "CREATE INDEX orders_by_customer ON orders(customer_id)");
    exec(db, "CREATE INDEX orders_by_item ON orders(item, amount)");

    print_query(db, "counts", "SELECT (SELECT count(*) FROM customer), (SELECT count(*) FROM orders),"
                               " (SELECT count(note) FROM orders)");
    print_query(db, "per city (join, group, order)",
                "SELECT c.city, count(*), sum(o.amount), printf('%.3f', avg(o.amount)),"
                " min(o.amount), max(o.amount)"
                " FROM orders o JOIN customer c ON c.id = o.customer_id"
                " GROUP BY c.city ORDER BY c.city");
    print_query(db, "top customers",
                "SELECT c.id, c.name, sum(o.amount) AS total FROM customer c"
                " JOIN orders o ON o.customer_id = c.id"
                " GROUP BY c.id ORDER BY total DESC, c.id LIMIT 15");
    print_query(db, "items bought by many customers (having, distinct)",
                "SELECT item, count(DISTINCT customer_id) AS n FROM orders"
                " GROUP BY item HAVING n > 0 ORDER BY n DESC, item LIMIT 10");
    print_query(db, "customers without orders (left join)",
                "SELECT count(*) FROM customer c LEFT JOIN orders o ON o.customer_id = c.id"
                " WHERE o.id IS NULL");
    print_query(db, "window: running total of the first customer's orders",
                "SELECT id, amount, sum(amount) OVER (ORDER BY id) FROM orders"
                " WHERE customer_id = (SELECT min(customer_id) FROM orders) ORDER BY id LIMIT 20");
    print_query(db, "recursive cte",
                "WITH RECURSIVE fib(n, a, b) AS (SELECT 1, 0, 1 UNION ALL"
                " SELECT n + 1, b, a + b FROM fib WHERE n < 60) SELECT n, a FROM fib WHERE n % 6 = 0");
    print_query(db, "strings and floats",
                "SELECT upper(substr(name, 1, 6)), length(group_concat(city, ',')),"
                " printf('%.6e', sum(credit) / 7.0), hex(zeroblob(3)) FROM customer"
                " GROUP BY substr(name, 6, 1) ORDER BY 1 LIMIT 8");

    exec(db, "UPDATE orders SET amount = amount * 2 WHERE amount % 3 = 0");
    exec(db, "DELETE FROM orders WHERE note IS NULL");
    print_query(db, "after update and delete",
                "SELECT count(*), sum(amount), total(length(note)) FROM orders");
    print_query(db, "integrity", "PRAGMA integrity_check");
    sqlite3_close(db);
    return 0;
}
