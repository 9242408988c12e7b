/* shapes: virtual calls in a hot loop over a class hierarchy built with
   function-pointer vtables: Circle, Rect, Square (a Rect) and Triangle
   override area, perimeter and sides; mass, one function for every shape,
   calls area (as programs/lang/shapes.lark and benches/peers/lua/shapes.lua).
   Usage: shapes [n]   (default n = 30000000) */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <math.h>

#define PI 3.141592653589793

struct shape;
struct shape_vtable {
    double (*area)(const struct shape *);
    double (*perimeter)(const struct shape *);
    int64_t (*sides)(const struct shape *);
};
struct shape { const struct shape_vtable *vt; double weight; };
struct circle { struct shape base; double r; };
struct rect { struct shape base; double w, h; };
struct triangle { struct shape base; double a, b, c; };

static double shape_mass(const struct shape *s) { return s->vt->area(s) * s->weight; }
static int64_t no_sides(const struct shape *s) { (void)s; return 0; }

static double circle_area(const struct shape *s) {
    const struct circle *c = (const struct circle *)s;
    return PI * c->r * c->r;
}
static double circle_perimeter(const struct shape *s) {
    return 2.0 * PI * ((const struct circle *)s)->r;
}
static const struct shape_vtable circle_vt = {circle_area, circle_perimeter, no_sides};

static double rect_area(const struct shape *s) {
    const struct rect *r = (const struct rect *)s;
    return r->w * r->h;
}
static double rect_perimeter(const struct shape *s) {
    const struct rect *r = (const struct rect *)s;
    return 2.0 * (r->w + r->h);
}
static int64_t rect_sides(const struct shape *s) { (void)s; return 4; }
static const struct shape_vtable rect_vt = {rect_area, rect_perimeter, rect_sides};

static double square_perimeter(const struct shape *s) { return 4.0 * ((const struct rect *)s)->w; }
static const struct shape_vtable square_vt = {rect_area, square_perimeter, rect_sides};

static double triangle_area(const struct shape *s) {
    const struct triangle *t = (const struct triangle *)s;
    double h = (t->a + t->b + t->c) * 0.5;
    return sqrt(h * (h - t->a) * (h - t->b) * (h - t->c));
}
static double triangle_perimeter(const struct shape *s) {
    const struct triangle *t = (const struct triangle *)s;
    return t->a + t->b + t->c;
}
static int64_t triangle_sides(const struct shape *s) { (void)s; return 3; }
static const struct shape_vtable triangle_vt = {triangle_area, triangle_perimeter, triangle_sides};

static struct shape *make(int64_t k) {
    double size = (double)(k % 10 + 1) * 0.5;
    double weight = 1.0 + (double)(k % 3) * 0.25;
    switch (k % 4) {
    case 0: {
        struct circle *c = malloc(sizeof *c);
        *c = (struct circle){{&circle_vt, weight}, size};
        return &c->base;
    }
    case 1: {
        struct rect *r = malloc(sizeof *r);
        *r = (struct rect){{&rect_vt, weight}, size, size + 1.0};
        return &r->base;
    }
    case 2: {
        struct rect *r = malloc(sizeof *r);
        *r = (struct rect){{&square_vt, weight}, size, size};
        return &r->base;
    }
    default: {
        struct triangle *t = malloc(sizeof *t);
        *t = (struct triangle){{&triangle_vt, weight}, size + 2.0, size + 3.0, size + 4.0};
        return &t->base;
    }
    }
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 30000000;
    enum { COUNT = 100 };
    struct shape *shapes[COUNT];
    for (int64_t k = 0; k < COUNT; k++) shapes[k] = make(k);
    double area = 0.0, perimeter = 0.0, mass = 0.0;
    int64_t sides = 0;
    for (int64_t i = 0; i < n; i++) {
        const struct shape *s = shapes[i % COUNT];
        area += s->vt->area(s);
        perimeter += s->vt->perimeter(s);
        mass += shape_mass(s);
        sides += s->vt->sides(s);
    }
    printf("shapes(%lld): area %.3f perimeter %.3f mass %.3f sides %lld\n", (long long)n, area,
           perimeter, mass, (long long)sides);
    for (int k = 0; k < COUNT; k++) free(shapes[k]);
    return 0;
}
