/* CPU-bound benchmark with few allocations: a dense matrix product, a prime
 * sieve and an escape-time fractal over buffers allocated once.
 *
 * Why: the counterpart of allocheavy.c.  lucc instruments before optimising;
 * here almost nothing is an allocation site, so any slowdown measured is the
 * cost of instrumentation on plain loops (or of a worse optimisation
 * pipeline), not of the heap registry.  Prints a checksum so that builds by
 * different compilers can be checked to compute the same thing.
 *
 * Usage: cpubound [SCALE]   (default 30; work grows linearly with SCALE)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double matmul(int n, int rounds) {
    double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n),
           *c = malloc(sizeof(double) * n * n);
    for (int i = 0; i < n * n; i++) {
        a[i] = (i % 7) * 0.25;
        b[i] = (i % 5) * 0.5;
    }
    double sum = 0;
    for (int r = 0; r < rounds; r++) {
        memset(c, 0, sizeof(double) * n * n);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) {
                double aik = a[i * n + k];
                for (int j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
            }
        sum += c[(r * 31) % (n * n)];
        a[r % (n * n)] += 1.0;
    }
    free(a); free(b); free(c);
    return sum;
}

static long sieve(int limit) {
    unsigned char *composite = calloc((size_t)limit + 1, 1);
    long count = 0, sum = 0;
    for (long i = 2; i <= limit; i++) {
        if (composite[i]) continue;
        count++;
        sum += i;
        for (long j = i * i; j <= limit; j += i) composite[j] = 1;
    }
    free(composite);
    return count * 1000003 + sum % 1000003;
}

static long fractal(int width, int height, int max_iter) {
    long total = 0;
    for (int py = 0; py < height; py++)
        for (int px = 0; px < width; px++) {
            double x0 = -2.0 + 2.5 * px / width, y0 = -1.25 + 2.5 * py / height;
            double x = 0, y = 0;
            int it = 0;
            while (x * x + y * y <= 4.0 && it < max_iter) {
                double t = x * x - y * y + x0;
                y = 2 * x * y + y0;
                x = t;
                it++;
            }
            total += it;
        }
    return total;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 30;
    double m = matmul(200, 3 * scale);
    long s = sieve(2000000 * scale);
    long f = fractal(40 * scale, 300, 500);
    printf("cpubound: scale %d, matmul %.3f, sieve %ld, fractal %ld\n", scale, m, s, f);
    return 0;
}
