/* binarytrees: the benchmarks game's allocation test, one malloc and one
   free per node (as benches/programs/binarytrees.tj, whose nodes the
   collector frees). Usage: binarytrees [n]   (default n = 16) */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

struct tree { struct tree *left, *right; };

static struct tree *make(int d) {
    struct tree *t = malloc(sizeof *t);
    if (!t) abort();
    if (d > 0) {
        t->left = make(d - 1);
        t->right = make(d - 1);
    } else {
        t->left = t->right = NULL;
    }
    return t;
}

static int64_t check(const struct tree *t) {
    return t->left ? 1 + check(t->left) + check(t->right) : 1;
}

static void drop(struct tree *t) {
    if (t->left) {
        drop(t->left);
        drop(t->right);
    }
    free(t);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 16;
    struct tree *s = make(n + 1);
    printf("stretch tree of depth %d\t check: %lld\n", n + 1, (long long)check(s));
    drop(s);
    struct tree *longlived = make(n);
    for (int d = 4; d <= n; d += 2) {
        int64_t iters = (int64_t)1 << (n - d + 4), sum = 0;
        for (int64_t i = 0; i < iters; i++) {
            struct tree *t = make(d);
            sum += check(t);
            drop(t);
        }
        printf("%lld\t trees of depth %d\t check: %lld\n", (long long)iters, d, (long long)sum);
    }
    printf("long lived tree of depth %d\t check: %lld\n", n, (long long)check(longlived));
    return 0;
}
