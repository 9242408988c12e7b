/* copy64: the C peer of benches/programs/copy64.tj. Two byte buffers of n
   bytes (default 64 MiB), zeroed (calloc, as newb), the source filled; then
   reps times: memmove the whole source to the destination, change one
   byte, swap them. Prints a checksum of the first 64 bytes.
   Usage: copy64 [n] [reps]   (default n = 67108864, reps = 40) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 67108864;
    int64_t reps = argc > 2 ? strtoll(argv[2], NULL, 10) : 40;
    unsigned char *a = calloc(n, 1), *b = calloc(n, 1);
    if (!a || !b) return 1;
    memset(a, 90, n);
    for (int64_t k = 0; k < reps; k++) {
        memmove(b, a, n);
        b[k % n] = (unsigned char)k;
        unsigned char *t = a;
        a = b;
        b = t;
    }
    int64_t sum = 0;
    for (int64_t i = 0; i < 64 && i < n; i++) sum += a[i] * (i + 1);
    printf("copy64(%lld, %lld) = %lld\n", (long long)n, (long long)reps, (long long)sum);
    return 0;
}
