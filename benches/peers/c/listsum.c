/* listsum: a linked list of n nodes (val = 0..n-1, built front to back,
   one malloc each), its val fields summed reps times.
   Usage: listsum [n [reps]]   (default n = 1000000, reps = 100) */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

struct node { int64_t val; struct node *next; };

static struct node *build(int64_t n) {
    struct node *head = NULL;
    for (int64_t i = n - 1; i >= 0; i--) {
        struct node *x = malloc(sizeof *x);
        if (!x) abort();
        x->val = i;
        x->next = head;
        head = x;
    }
    return head;
}

static int64_t sum(const struct node *p) {
    int64_t s = 0;
    for (; p; p = p->next) s += p->val;
    return s;
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 1000000;
    int64_t reps = argc > 2 ? strtoll(argv[2], NULL, 10) : 100;
    struct node *list = build(n);
    int64_t total = 0;
    for (int64_t r = 0; r < reps; r++) total += sum(list);
    printf("listsum(%lld, %lld) = %lld\n", (long long)n, (long long)reps, (long long)total);
    return 0;
}
