/* json: generate a JSON document of n records (a deterministic LCG picks
   every number, string and shape), parse it with a recursive-descent parser
   into a tree of tagged nodes, walk the tree and print checksums (as
   programs/lang/json.lark and benches/peers/lua/json.lua).
   Usage: json [n]   (default n = 50000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static int64_t seed = 42;
static int64_t rand_next(void) {
    seed = seed * 16807 % 2147483647;
    return seed;
}

static const char *KEYS[] = {"id", "name", "value", "items", "tags", "meta", "score", "next"};
#define NKEYS 8

/* A growable byte buffer. */
struct buf { char *data; size_t len, cap; };

static void buf_add(struct buf *b, const char *s, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = b->cap * 2 + n + 64;
        b->data = realloc(b->data, b->cap);
        if (!b->data) abort();
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}
static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_char(struct buf *b, char c) { buf_add(b, &c, 1); }

static void gen_value(struct buf *out, int depth);

static void gen_string(struct buf *out) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    buf_char(out, '"');
    for (int64_t i = 0, n = rand_next() % 16; i < n; i++) {
        int64_t c = rand_next() % 40;
        if (c < 36) buf_char(out, alnum[c]);
        else if (c == 36) buf_char(out, ' ');
        else if (c == 37) buf_str(out, "\\\"");
        else if (c == 38) buf_str(out, "\\\\");
        else buf_str(out, "\\n");
    }
    buf_char(out, '"');
}

static void gen_object(struct buf *out, int depth) {
    buf_char(out, '{');
    int64_t count = rand_next() % 6, start = rand_next() % NKEYS;
    for (int64_t i = 0; i < count; i++) {
        if (i > 0) buf_str(out, ", ");
        buf_char(out, '"');
        buf_str(out, KEYS[(start + i) % NKEYS]);
        buf_str(out, "\": ");
        gen_value(out, depth + 1);
    }
    buf_char(out, '}');
}

static void gen_value(struct buf *out, int depth) {
    char tmp[64];
    int64_t r = rand_next() % 10;
    if (depth >= 3) r %= 6;
    if (r < 2) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)(rand_next() % 2000001 - 1000000));
        buf_str(out, tmp);
    } else if (r == 2) {
        int64_t cents = rand_next() % 2000001 - 1000000;
        if (cents < 0) {
            buf_char(out, '-');
            cents = -cents;
        }
        snprintf(tmp, sizeof tmp, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
        buf_str(out, tmp);
    } else if (r < 6) {
        gen_string(out);
    } else if (r < 8) {
        buf_char(out, '[');
        for (int64_t i = 0, n = rand_next() % 6; i < n; i++) {
            if (i > 0) buf_str(out, ", ");
            gen_value(out, depth + 1);
        }
        buf_char(out, ']');
    } else {
        gen_object(out, depth);
    }
}

/* The tree. */
enum kind { NUM, STR, ARR, OBJ };
struct value {
    enum kind kind;
    double num;            /* NUM */
    char *text;            /* STR */
    size_t text_len;
    struct value **items;  /* ARR: items; OBJ: the member values */
    char **keys;           /* OBJ: the member keys, in order */
    size_t *key_lens;
    size_t count, cap;
};

static struct value *new_value(enum kind kind) {
    struct value *v = calloc(1, sizeof *v);
    if (!v) abort();
    v->kind = kind;
    return v;
}

static void push_item(struct value *v, struct value *item, char *key, size_t key_len) {
    if (v->count == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->items = realloc(v->items, v->cap * sizeof *v->items);
        if (v->kind == OBJ) {
            v->keys = realloc(v->keys, v->cap * sizeof *v->keys);
            v->key_lens = realloc(v->key_lens, v->cap * sizeof *v->key_lens);
        }
    }
    v->items[v->count] = item;
    if (v->kind == OBJ) {
        v->keys[v->count] = key;
        v->key_lens[v->count] = key_len;
    }
    v->count++;
}

/* The member of o named key, or NULL. */
static struct value *lookup(const struct value *o, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 0; i < o->count; i++)
        if (o->key_lens[i] == n && memcmp(o->keys[i], key, n) == 0) return o->items[i];
    return NULL;
}

struct parser { const char *s; size_t pos; };

static void skip_ws(struct parser *p) {
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\n') p->pos++;
}

static void expect(struct parser *p, char c) {
    skip_ws(p);
    if (p->s[p->pos] != c) {
        fprintf(stderr, "expected %c at %zu\n", c, p->pos);
        exit(1);
    }
    p->pos++;
}

static char *parse_string(struct parser *p, size_t *len) {
    expect(p, '"');
    size_t start = p->pos, end = start;
    while (p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    char *t = malloc(end - start + 1), *w = t;
    if (!t) abort();
    while (p->pos < end) {
        char c = p->s[p->pos++];
        if (c == '\\') {
            c = p->s[p->pos++];
            if (c == 'n') c = '\n';
        }
        *w++ = c;
    }
    *w = 0;
    p->pos = end + 1;
    *len = (size_t)(w - t);
    return t;
}

static double parse_number(struct parser *p) {
    int negative = p->s[p->pos] == '-';
    if (negative) p->pos++;
    int64_t m = 0, digits = 0;
    while (p->s[p->pos] >= '0' && p->s[p->pos] <= '9') m = m * 10 + (p->s[p->pos++] - '0');
    if (p->s[p->pos] == '.') {
        p->pos++;
        while (p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            m = m * 10 + (p->s[p->pos++] - '0');
            digits++;
        }
    }
    double scale = 1.0;
    for (int64_t i = 0; i < digits; i++) scale *= 10.0;
    double v = (double)m / scale;
    return negative ? -v : v;
}

static struct value *parse_value(struct parser *p);

static struct value *parse_container(struct parser *p, enum kind kind) {
    char close = kind == OBJ ? '}' : ']';
    expect(p, kind == OBJ ? '{' : '[');
    struct value *v = new_value(kind);
    skip_ws(p);
    if (p->s[p->pos] == close) {
        p->pos++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        if (kind == OBJ) {
            key = parse_string(p, &key_len);
            expect(p, ':');
        }
        push_item(v, parse_value(p), key, key_len);
        skip_ws(p);
        char c = p->s[p->pos++];
        if (c == close) return v;
        if (c != ',') {
            fprintf(stderr, "bad container at %zu\n", p->pos);
            exit(1);
        }
    }
}

static struct value *parse_value(struct parser *p) {
    skip_ws(p);
    char c = p->s[p->pos];
    if (c == '{') return parse_container(p, OBJ);
    if (c == '[') return parse_container(p, ARR);
    struct value *v;
    if (c == '"') {
        v = new_value(STR);
        v->text = parse_string(p, &v->text_len);
    } else {
        v = new_value(NUM);
        v->num = parse_number(p);
    }
    return v;
}

struct stats {
    int64_t objects, arrays, strings, numbers, members, bytes, hash;
    double sum;
};

static void add_text(struct stats *st, const char *s, size_t n) {
    st->bytes += (int64_t)n;
    for (size_t i = 0; i < n; i++) st->hash = (st->hash * 31 + (unsigned char)s[i]) % 1000000007;
}

static void walk(struct stats *st, const struct value *v) {
    switch (v->kind) {
    case NUM:
        st->numbers++;
        st->sum += v->num;
        break;
    case STR:
        st->strings++;
        add_text(st, v->text, v->text_len);
        break;
    case ARR:
        st->arrays++;
        for (size_t i = 0; i < v->count; i++) walk(st, v->items[i]);
        break;
    case OBJ:
        st->objects++;
        for (size_t i = 0; i < v->count; i++) {
            st->members++;
            add_text(st, v->keys[i], v->key_lens[i]);
            walk(st, v->items[i]);
        }
        break;
    }
}

static void drop(struct value *v) {
    for (size_t i = 0; i < v->count; i++) {
        drop(v->items[i]);
        if (v->kind == OBJ) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->key_lens);
    free(v->text);
    free(v);
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 50000;
    struct buf doc = {0};
    buf_char(&doc, '[');
    for (int64_t i = 0; i < n; i++) {
        if (i > 0) buf_str(&doc, ",\n");
        gen_object(&doc, 0);
    }
    buf_str(&doc, "]\n");
    buf_char(&doc, 0);
    struct parser p = {doc.data, 0};
    struct value *root = parse_value(&p);
    struct stats st = {0};
    walk(&st, root);
    int64_t found = 0;
    double found_sum = 0.0;
    for (size_t i = 0; i < root->count; i++) {
        struct value *v = lookup(root->items[i], "value");
        if (v && v->kind == NUM) {
            found++;
            found_sum += v->num;
        }
    }
    printf("json(%lld): %zu bytes\n", (long long)n, doc.len - 1);
    printf("objects %lld arrays %lld strings %lld numbers %lld members %lld\n",
           (long long)st.objects, (long long)st.arrays, (long long)st.strings,
           (long long)st.numbers, (long long)st.members);
    printf("sum %.6f\n", st.sum);
    printf("string bytes %lld hash %lld\n", (long long)st.bytes, (long long)st.hash);
    printf("value lookups %lld sum %.6f\n", (long long)found, found_sum);
    drop(root);
    free(doc.data);
    return 0;
}
