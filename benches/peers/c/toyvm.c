/* toyvm: an interpreter for a toy register machine (an opcode and three
   operands per instruction, in a flat array) running a program of two nested
   loops that computes a checksum, n times with different seeds (as
   programs/lang/toyvm.lark and benches/peers/lua/toyvm.lua).
   Usage: toyvm [n [size]]   (defaults n = 2000, size = 100) */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

enum op { HALT, LOADI, ADD, ADDI, MUL, MULI, MODI, JMP, JGE };

/* An assembler: instruction k is code[4k .. 4k + 3]; a jump forward is
   patched when its target is reached. */
static int64_t code[256];
static int64_t count;

static int64_t emit(int64_t op, int64_t a, int64_t b, int64_t c) {
    int64_t *at = &code[count * 4];
    at[0] = op;
    at[1] = a;
    at[2] = b;
    at[3] = c;
    return count++;
}
static void patch(int64_t at, int64_t target) { code[at * 4 + 3] = target; }

/* Runs code on the registers r; returns the number of instructions executed. */
static int64_t run(const int64_t *code, int64_t *r) {
    int64_t pc = 0, steps = 0;
    for (;;) {
        const int64_t *in = &code[pc * 4];
        int64_t a = in[1], b = in[2], c = in[3];
        steps++;
        pc++;
        switch (in[0]) {
        case LOADI: r[a] = b; break;
        case ADD: r[a] = r[b] + r[c]; break;
        case ADDI: r[a] = r[b] + c; break;
        case MUL: r[a] = r[b] * r[c]; break;
        case MULI: r[a] = r[b] * c; break;
        case MODI: r[a] = r[b] % c; break;
        case JMP: pc = c; break;
        case JGE: if (r[a] >= r[b]) pc = c; break;
        default: return steps;
        }
    }
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 2000;
    int64_t size = argc > 2 ? strtoll(argv[2], NULL, 10) : 100;
    /* r0 = acc (the seed at first), r1 = rows, r2 = cols:
       for i in 0..rows { for j in 0..cols { acc = (acc * 31 + i * j + j) % 1000003 } } */
    emit(LOADI, 3, 0, 0);                   /* i = 0 */
    int64_t outer = emit(JGE, 3, 1, -1);    /* if i >= rows: done */
    emit(LOADI, 4, 0, 0);                   /* j = 0 */
    int64_t inner = emit(JGE, 4, 2, -1);    /* if j >= cols: next i */
    emit(MULI, 5, 0, 31);
    emit(MUL, 6, 3, 4);
    emit(ADD, 5, 5, 6);
    emit(ADD, 5, 5, 4);
    emit(MODI, 0, 5, 1000003);
    emit(ADDI, 4, 4, 1);
    emit(JMP, 0, 0, inner);
    patch(inner, emit(ADDI, 3, 3, 1));
    emit(JMP, 0, 0, outer);
    patch(outer, emit(HALT, 0, 0, 0));

    int64_t total = 0, steps = 0, r[8];
    for (int64_t rep = 0; rep < n; rep++) {
        for (int k = 0; k < 8; k++) r[k] = 0;
        r[0] = rep;
        r[1] = size;
        r[2] = size;
        steps += run(code, r);
        total += r[0];
    }
    printf("toyvm(%lld, %lld): acc total = %lld, steps = %lld\n", (long long)n, (long long)size,
           (long long)total, (long long)steps);
    return 0;
}
