/* mapfilter: pipelines of map, filter and fold over vectors of integers and
   doubles, the functions passed as a function pointer and an environment
   (C's closures), one of them counting what it rejects in a variable of the
   caller, repeated reps times (as programs/lang/mapfilter.lark and
   benches/peers/lua/mapfilter.lua).
   Usage: mapfilter [n [reps]]   (defaults n = 100000, reps = 300) */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

struct ivec { int64_t *data; size_t len, cap; };
struct fvec { double *data; size_t len, cap; };

static void ipush(struct ivec *v, int64_t x) {
    if (v->len == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->data = realloc(v->data, v->cap * sizeof *v->data);
        if (!v->data) abort();
    }
    v->data[v->len++] = x;
}

static void fpush(struct fvec *v, double x) {
    if (v->len == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->data = realloc(v->data, v->cap * sizeof *v->data);
        if (!v->data) abort();
    }
    v->data[v->len++] = x;
}

static struct ivec map_ii(const struct ivec *v, int64_t (*f)(void *, int64_t), void *env) {
    struct ivec out = {0};
    for (size_t i = 0; i < v->len; i++) ipush(&out, f(env, v->data[i]));
    return out;
}

static struct fvec map_if(const struct ivec *v, double (*f)(void *, int64_t), void *env) {
    struct fvec out = {0};
    for (size_t i = 0; i < v->len; i++) fpush(&out, f(env, v->data[i]));
    return out;
}

static struct ivec filter_i(const struct ivec *v, int (*f)(void *, int64_t), void *env) {
    struct ivec out = {0};
    for (size_t i = 0; i < v->len; i++)
        if (f(env, v->data[i])) ipush(&out, v->data[i]);
    return out;
}

static struct fvec filter_f(const struct fvec *v, int (*f)(void *, double), void *env) {
    struct fvec out = {0};
    for (size_t i = 0; i < v->len; i++)
        if (f(env, v->data[i])) fpush(&out, v->data[i]);
    return out;
}

static int64_t fold_i(const struct ivec *v, int64_t acc, int64_t (*f)(void *, int64_t, int64_t), void *env) {
    for (size_t i = 0; i < v->len; i++) acc = f(env, acc, v->data[i]);
    return acc;
}

static double fold_f(const struct fvec *v, double acc, double (*f)(void *, double, double), void *env) {
    for (size_t i = 0; i < v->len; i++) acc = f(env, acc, v->data[i]);
    return acc;
}

/* The closures and what they capture. */
struct affine { int64_t k, r; };
static int64_t affine(void *env, int64_t x) {
    struct affine *e = env;
    return x * e->k + e->r;
}
static int is_even(void *env, int64_t x) { (void)env; return x % 2 == 0; }
static int64_t add_mod(void *env, int64_t acc, int64_t x) { (void)env; return acc + x % 1000; }
static double scaled(void *env, int64_t x) { return (double)x * *(double *)env; }
static int big_or_count(void *env, double x) {
    if (x <= 3000.0) {
        ++*(int64_t *)env;
        return 0;
    }
    return 1;
}
static double add(void *env, double acc, double x) { (void)env; return acc + x; }

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 100000;
    int64_t reps = argc > 2 ? strtoll(argv[2], NULL, 10) : 300;
    struct ivec xs = {0};
    for (int64_t i = 0; i < n; i++) ipush(&xs, i * 7919 % 10007);
    int64_t total = 0;
    double ftotal = 0.0;
    for (int64_t r = 0; r < reps; r++) {
        struct affine kr = {r % 7 + 1, r};
        struct ivec ys = map_ii(&xs, affine, &kr);
        struct ivec evens = filter_i(&ys, is_even, NULL);
        total += fold_i(&evens, 0, add_mod, NULL);
        double scale = 1.0 / (double)kr.k;
        struct fvec fs = map_if(&evens, scaled, &scale);
        int64_t rejected = 0;
        struct fvec big = filter_f(&fs, big_or_count, &rejected);
        ftotal += fold_f(&big, 0.0, add, NULL);
        total += rejected;
        free(ys.data);
        free(evens.data);
        free(fs.data);
        free(big.data);
    }
    printf("mapfilter(%lld, %lld): total = %lld, float total = %.6f\n", (long long)n,
           (long long)reps, (long long)total, ftotal);
    free(xs.data);
    return 0;
}
