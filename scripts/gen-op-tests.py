#!/usr/bin/env python3
"""Generates the table-driven op-family programs programs/ops/{consts,
int_arith,int_compare,float,float_compare,convert,print,branches}.tj and
their expected output programs/ops/expected/NAME.txt. The expected output is
computed by a scratch Rust program (built in a temporary directory) that
evaluates every case with Rust's own operators, independently of any tierjit
engine. (calls.tj, arrays.tj and traps.tj and their expected output are
hand-written.)

Usage: python3 scripts/gen-op-tests.py     (from anywhere; needs cargo)
"""
import os, subprocess, tempfile
MAX = 2**63 - 1
MIN = -2**63
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'programs', 'ops')

def esc(s):
    return s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')

def rs_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'

class Prog:
    def __init__(self, name, header):
        self.name = name; self.lines = []; self.rs = []
        self.header = header
    def op(self, s, comment=None):
        self.lines.append('    ' + (s if comment is None else '%-28s ; %s' % (s, comment)))
    def raw(self, s):
        self.lines.append(s)
    def section(self, title):
        self.lines.append('')
        self.lines.append('    ; ---- %s ----' % title)
    def prints(self, s):
        self.op('prints "%s"' % esc(s))
        self.rs.append('out.push_str(%s);' % rs_str(s))
    def printi(self, reg, rs_expr):
        self.op('printi %s' % reg)
        self.rs.append('out.push_str(&format!("{}", %s));' % rs_expr)
    def printf(self, reg, digits, rs_expr):
        self.op('printf %s, %d' % (reg, digits))
        self.rs.append('out.push_str(&pf(%s, %d));' % (rs_expr, digits))
    def write(self, regs_comment):
        text = self.header.rstrip('\n') + '\n\n'
        text += regs_comment.rstrip('\n') + '\n'
        text += 'func main() -> none\n'
        body = self.lines
        while body and body[0] == '':
            body = body[1:]
        text += '\n'.join(body) + '\n    ret\nend\n'
        open(os.path.join(OUT, self.name + '.tj'), 'w').write(text)

def rsi(v):
    if v == MIN:
        return 'i64::MIN'
    return '(%d_i64)' % v

def tji(v):
    return str(v)

progs = []

# ------------------------------------------------------------------ int_arith
p = Prog('int_arith', '''; ops/int_arith: every i64 arithmetic and logic op, register-register and
; register-immediate forms, plus neg and not, on edge cases: wrapping
; add/sub/mul/neg, division truncating toward zero, remainders of negative
; operands and i64::MIN % -1 = 0, shift counts >= 64 or negative (masked to
; 6 bits), arithmetic vs logical right shifts, sign-extended immediates.
; Each line prints `op(a, b) = result`.''')
RR = {
    'add': [(MAX, 1), (MIN, -1), (5, -7), (MAX, MAX), (MIN, MIN), (-1, 1), (0x123456789, 0x987654321)],
    'sub': [(MIN, 1), (MAX, -1), (0, MIN), (5, 7), (-5, -7), (MIN, MAX)],
    'mul': [(MAX, 2), (MIN, -1), (2**32, 2**32), (-3, 7), (3037000500, 3037000500), (MAX, MAX), (-1, -1), (MIN, MIN)],
    'div': [(7, 2), (-7, 2), (7, -2), (-7, -2), (MIN, 1), (MIN, 2), (MAX, -1), (MIN, MAX), (0, -5), (1, MIN), (MIN, MIN), (-1, 2)],
    'rem': [(7, 2), (-7, 2), (7, -2), (-7, -2), (MIN, -1), (MIN, 2), (MIN, 3), (MAX, MIN), (MIN, MAX), (5, 5), (-1, MIN), (0, -3)],
    'and': [(0x0ff0, 0x00ff), (-1, 0x1234), (MIN, -1), (0x5555555555555555, -0x5555555555555556), (-16, 0x7ff)],
    'or': [(0x0ff0, 0x00ff), (MIN, 1), (0x5555555555555555, -0x5555555555555556), (0, 0), (-16, 7)],
    'xor': [(0x0ff0, 0x00ff), (-1, 0x1234), (MIN, -1), (0x5555555555555555, -1), (7, 7)],
    'shl': [(1, 0), (1, 1), (1, 63), (1, 64), (1, 65), (3, -1), (-1, 127), (0x123456789, 200), (MAX, 1), (5, MIN), (0x0f, 60)],
    'shr': [(MIN, 1), (MIN, 63), (MIN, 64), (-1, 63), (-8, 2), (0x7000, 4), (-8, -62), (MAX, 62), (-100, 65)],
    'ushr': [(MIN, 1), (-1, 63), (-1, 64), (-1, 1), (-8, 2), (16, 4), (-1, -1), (MAX, 62), (-100, 65)],
}
IMM = {
    'addi': [(MAX, 1), (MIN, -1), (0, -32768), (0, 32767), (100, -200)],
    'subi': [(MIN, 1), (MAX, -1), (0, -32768), (5, 32767)],
    'muli': [(MAX, 2), (MIN, -1), (-3, 7), (2**62, 4), (123456789, -32768)],
    'divi': [(7, 2), (-7, 2), (7, -2), (-7, -2), (MIN, 32767), (MAX, -32768), (MIN, -32768), (5, -1)],
    'remi': [(-7, 2), (7, -2), (MIN, -1), (MIN, 32767), (1000000007, 7), (-32768, -32768)],
    'andi': [(-1, 0x7fff), (0x12345, -16), (MIN + 5, -1), (-1, -32768), (0x12345, 0)],
    'ori': [(0, -32768), (0x10000, 0x7fff), (MIN, 1), (-2, 1)],
    'xori': [(0x1234, -1), (-1, -32768), (MAX, 0x7fff)],
    'shli': [(1, 63), (1, 64), (5, -1), (1, 32767), (1, -32768), (-1, 32)],
    'shri': [(MIN, 63), (MIN, 64), (-1000, 3), (1000, -61), (MAX, 32767)],
    'ushri': [(-1, 1), (-1, 64), (MIN, 63), (-1000, 3), (-1, -32768)],
}
RSOP = {
    'add': '{a}.wrapping_add({b})', 'sub': '{a}.wrapping_sub({b})', 'mul': '{a}.wrapping_mul({b})',
    'div': '{a}.checked_div({b}).unwrap()', 'rem': '{a}.wrapping_rem({b})',
    'and': '({a} & {b})', 'or': '({a} | {b})', 'xor': '({a} ^ {b})',
    'shl': '{a}.wrapping_shl({b} as u32)', 'shr': '{a}.wrapping_shr({b} as u32)',
    'ushr': '(({a} as u64).wrapping_shr({b} as u32) as i64)',
}
p.raw('    ; register-register: i2 = i0 op i1')
for op, cases in RR.items():
    p.section(op)
    for a, b in cases:
        p.op('iconst i0, %s' % tji(a))
        p.op('iconst i1, %s' % tji(b))
        p.op('%s i2, i0, i1' % op)
        p.prints('%s(%d, %d) = ' % (op, a, b))
        p.printi('i2', RSOP[op].format(a=rsi(a), b=rsi(b)))
        p.prints('\n')
p.section('register-immediate: i2 = i0 op imm')
for op, cases in IMM.items():
    p.section(op)
    for a, b in cases:
        assert -32768 <= b <= 32767
        p.op('iconst i0, %s' % tji(a))
        p.op('%s i2, i0, %d' % (op, b))
        p.prints('%s(%d, %d) = ' % (op, a, b))
        p.printi('i2', RSOP[op[:-1]].format(a=rsi(a), b=rsi(b)))
        p.prints('\n')
p.section('neg, not')
for op, rs in (('neg', '{a}.wrapping_neg()'), ('not', '!{a}')):
    for a in (0, 1, -1, MAX, MIN, 0x1234):
        p.op('iconst i0, %s' % tji(a))
        p.op('%s i2, i0' % op)
        p.prints('%s(%d) = ' % (op, a))
        p.printi('i2', rs.format(a=rsi(a)))
        p.prints('\n')
p.section('in place: destination = source')
p.op('iconst i3, 10')
p.op('add i3, i3, i3', '20')
p.op('muli i3, i3, -3', '-60')
p.op('sub i3, i3, i3', '0')
p.op('subi i3, i3, 5', '-5')
p.op('shli i3, i3, 2', '-20')
p.prints('in place = ')
p.printi('i3', '(((10_i64 + 10) * -3 - ((10_i64 + 10) * -3)) - 5) << 2')
p.prints('\n')
progs.append((p, '; Registers: i0, i1 = the operands, i2 = the result, i3 = scratch.'))

# ------------------------------------------------------------------ int_compare
p = Prog('int_compare', '''; ops/int_compare: the i64 compares eq ne lt le gt ge (register-register)
; and eqi nei lti lei gti gei (register-immediate), each giving 0 or 1; signed
; order at the extremes and sign-extended immediates.
; Each line prints `a b: eq ne lt le gt ge` as six 0/1 digits.''')
CMPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge']
RSC = {'eq': '==', 'ne': '!=', 'lt': '<', 'le': '<=', 'gt': '>', 'ge': '>='}
p.section('register-register: i2 = (i0 cmp i1)')
for a, b in [(1, 1), (1, 2), (2, 1), (-1, 0), (0, -1), (MIN, MAX), (MAX, MIN), (MIN, MIN), (MAX, MAX), (-5, -6)]:
    p.op('iconst i0, %s' % tji(a))
    p.op('iconst i1, %s' % tji(b))
    p.prints('%d %d:' % (a, b))
    for c in CMPS:
        p.op('%s i2, i0, i1' % c)
        p.prints(' ')
        p.printi('i2', '(%s %s %s) as i64' % (rsi(a), RSC[c], rsi(b)))
    p.prints('\n')
p.section('register-immediate: i2 = (i0 cmp imm)')
for a, b in [(5, 5), (-32768, -32768), (-32769, -32768), (MIN, 32767), (32767, 32767), (32768, 32767), (0, -1), (MAX, 0), (-1, -1)]:
    p.op('iconst i0, %s' % tji(a))
    p.prints('%d imm %d:' % (a, b))
    for c in CMPS:
        p.op('%si i2, i0, %d' % (c, b))
        p.prints(' ')
        p.printi('i2', '(%s %s %s) as i64' % (rsi(a), RSC[c], rsi(b)))
    p.prints('\n')
p.section('the result register may be an operand')
p.op('iconst i0, 3')
p.op('lti i0, i0, 4', '1')
p.op('eq i0, i0, i0', '1')
p.op('gti i0, i0, 1', '0')
p.prints('in place = ')
p.printi('i0', '0_i64')
p.prints('\n')
progs.append((p, '; Registers: i0, i1 = the operands, i2 = the result.'))

# ------------------------------------------------------------------ float
p = Prog('float', '''; ops/float: fadd fsub fmul fdiv fneg fabs fsqrt ffloor (IEEE 754 double,
; round to nearest even): rounding, signed zeros, infinities, overflow and
; underflow, subnormals. A NaN result is shown as `nan? 1` (tested with
; `fne x, x`) instead of printed: the sign of a NaN made by an invalid
; operation differs between x86-64 (negative) and aarch64 (positive). fneg and
; fabs only touch the sign bit, so their NaN results are printed.
; Each line prints `op(a, b) = result` with 20 digits after the point.''')
def fl(s):
    return s
FBIN = {
    'fadd': [('0.1', '0.2'), ('1e16', '1.0'), ('1e16', '2.0'), ('-0.0', '0.0'), ('-0.0', '-0.0'), ('inf', '-1e300'),
             ('1.7976931348623157e308', '1.7976931348623157e308'), ('5e-324', '5e-324'), ('inf', '-inf'), ('nan', '1.0'), ('0.5', '0.25')],
    'fsub': [('0.3', '0.1'), ('1.0', '1.0'), ('0.0', '0.0'), ('-0.0', '0.0'), ('0.0', '-0.0'), ('inf', 'inf'), ('-1.7976931348623157e308', '1.7976931348623157e308'), ('2.5', '-0.5')],
    'fmul': [('0.1', '3.0'), ('-1.0', '0.0'), ('-0.0', '-0.0'), ('1e200', '1e200'), ('1e-200', '1e-200'), ('0.0', 'inf'), ('-2.0', 'inf'), ('1.5', '-2.25'), ('3', '0.1')],
    'fdiv': [('1.0', '3.0'), ('2.0', '3.0'), ('1.0', '0.0'), ('-1.0', '0.0'), ('1.0', '-0.0'), ('0.0', '0.0'), ('inf', 'inf'), ('5e-324', '2.0'),
             ('1.5e-323', '2.0'), ('1e308', '0.1'), ('-7.0', '2.0'), ('1.0', 'inf'), ('-1.0', 'inf')],
}
FUN = {
    'fneg': ['0.0', '-0.0', '1.5', '-inf', 'nan', 'bits:0xfff8000000000000'],
    'fabs': ['-0.0', '-1.5', '2.5', '-inf', 'nan', 'bits:0xfff8000000000000'],
    'fsqrt': ['2.0', '4.0', '0.0', '-0.0', 'inf', '-1.0', '1e-310', '0.01', '-inf', 'nan'],
    'ffloor': ['2.5', '-2.5', '0.3', '-0.3', '-0.0', '0.0', '-0.5', '3.0', '-3.0', 'inf', '-inf', '1e300', '4503599627370495.5', '-4503599627370495.5', '4503599627370497.0', 'nan'],
}
RSF = {'fadd': '({a} + {b})', 'fsub': '({a} - {b})', 'fmul': '({a} * {b})', 'fdiv': '({a} / {b})',
       'fneg': '(-{a})', 'fabs': '{a}.abs()', 'fsqrt': '{a}.sqrt()', 'ffloor': '{a}.floor()'}
def is_nan_case(op, a, b=None):
    import math
    def v(s):
        if s.startswith('bits:'):
            import struct
            return struct.unpack('<d', struct.pack('<Q', int(s[5:], 16)))[0]
        return float(s)
    x = v(a)
    if op in ('fneg', 'fabs'):
        return False  # printed, sign is deterministic
    if op == 'fsqrt': return math.isnan(x) or x < 0
    if op == 'ffloor': return math.isnan(x)
    y = v(b)
    try:
        r = {'fadd': lambda: x + y, 'fsub': lambda: x - y, 'fmul': lambda: x * y, 'fdiv': lambda: x / y}[op]()
    except ZeroDivisionError:
        return x == 0 or math.isnan(x)
    return math.isnan(r)
def rsl(s):
    return 'lit(%s)' % rs_str(s)
P537 = 'bits:0x6180000000000000'
SCALE = {('fadd', '5e-324', '5e-324'): 2, ('fmul', '1e-200', '1e-200'): 2, ('fdiv', '5e-324', '2.0'): 2,
         ('fdiv', '1.5e-323', '2.0'): 2, ('fsqrt', '1e-310'): 1, ('fsqrt', '0.01'): 0}
def scaled(key, expr, reg='f2'):
    """Also print a tiny result times 2^537 (or 2^1074): exact, and visible."""
    n = SCALE.get(key, 0)
    if not n:
        return
    p.op('fconst f3, %s' % P537, '2^537')
    p.op('fmul f4, %s, f3' % reg)
    e = '(%s * lit("%s"))' % (expr, P537)
    if n == 2:
        p.op('fmul f4, f4, f3')
        e = '(%s * lit("%s"))' % (e, P537)
    p.prints(' (x 2^%d = ' % (537 * n))
    p.printf('f4', 20, e)
    p.prints(')')
for op, cases in FBIN.items():
    p.section(op)
    for a, b in cases:
        p.op('fconst f0, %s' % a)
        p.op('fconst f1, %s' % b)
        p.op('%s f2, f0, f1' % op)
        p.prints('%s(%s, %s) = ' % (op, a, b))
        expr = RSF[op].format(a=rsl(a), b=rsl(b))
        if is_nan_case(op, a, b):
            p.op('fne i0, f2, f2')
            p.prints('nan? ')
            p.printi('i0', '(%s.is_nan()) as i64' % expr)
        else:
            p.printf('f2', 20, expr)
            scaled((op, a, b), expr)
        p.prints('\n')
for op, cases in FUN.items():
    p.section(op)
    for a in cases:
        p.op('fconst f0, %s' % a)
        p.op('%s f2, f0' % op)
        p.prints('%s(%s) = ' % (op, a))
        expr = RSF[op].format(a=rsl(a))
        if is_nan_case(op, a):
            p.op('fne i0, f2, f2')
            p.prints('nan? ')
            p.printi('i0', '(%s.is_nan()) as i64' % expr)
        else:
            p.printf('f2', 20, expr)
            scaled((op, a), expr)
        p.prints('\n')
p.section('in place: destination = source')
p.op('fconst f3, 1.5')
p.op('fadd f3, f3, f3', '3.0')
p.op('fmul f3, f3, f3', '9.0')
p.op('fsqrt f3, f3', '3.0')
p.op('fneg f3, f3', '-3.0')
p.op('fdiv f3, f3, f3', '1.0')
p.prints('in place = ')
p.printf('f3', 3, '1.0_f64')
p.prints('\n')
progs.append((p, '; Registers: f0, f1 = the operands, f2 = the result, i0 = the NaN test,\n; f3 = 2^537 (or scratch), f4 = a tiny result scaled up.'))

# ------------------------------------------------------------------ float_compare
p = Prog('float_compare', '''; ops/float_compare: feq fne flt fle fgt fge (f64 operands, 0/1 into an i64
; register) with IEEE semantics: -0.0 == 0.0, every ordered compare with a
; NaN is false and fne is true, infinities compare as usual.
; Each line prints `a b: eq ne lt le gt ge` as six 0/1 digits.
; (The fused fjeq ... fjge are in branches.tj.)''')
FPAIRS = [('1.0', '1.0'), ('1.0', '2.0'), ('2.0', '1.0'), ('-0.0', '0.0'), ('0.0', '-0.0'), ('nan', '1.0'), ('1.0', 'nan'), ('nan', 'nan'),
          ('bits:0xfff8000000000000', 'bits:0xfff8000000000000'), ('inf', 'inf'), ('-inf', 'inf'), ('inf', '1.7976931348623157e308'),
          ('-inf', '-1.7976931348623157e308'), ('5e-324', '0.0'), ('-5e-324', '-0.0'), ('0.1', '0.1000000000000000055511151231257827')]
for a, b in FPAIRS:
    p.op('fconst f0, %s' % a)
    p.op('fconst f1, %s' % b)
    p.prints('%s %s:' % (a, b))
    for c in CMPS:
        p.op('f%s i0, f0, f1' % c)
        p.prints(' ')
        p.printi('i0', '(%s %s %s) as i64' % (rsl(a), RSC[c], rsl(b)))
    p.prints('\n')
p.section('a register against itself')
p.op('fconst f2, nan')
p.op('feq i1, f2, f2', '0')
p.op('fne i2, f2, f2', '1')
p.op('fconst f3, -0.0')
p.op('fge i3, f3, f3', '1')
p.prints('self: ')
p.printi('i1', '0_i64'); p.prints(' ')
p.printi('i2', '1_i64'); p.prints(' ')
p.printi('i3', '1_i64'); p.prints('\n')
progs.append((p, '; Registers: f0, f1 = the operands, i0 = the result; f2, f3, i1..i3 scratch.'))

# ------------------------------------------------------------------ convert
p = Prog('convert', '''; ops/convert: i2f (round to nearest even above 2^53) and f2i (truncation
; toward zero, saturating at i64::MIN and i64::MAX, NaN gives 0).''')
p.section('i2f: printed with one digit after the point')
for a in [0, 1, -1, 123456789, 2**53, 2**53 + 1, 2**53 + 2, 2**53 + 3, -(2**53) - 1, MAX, MIN, MAX - 511, MAX - 512, 2**62 + 2**10 - 1]:
    p.op('iconst i0, %s' % tji(a))
    p.op('i2f f0, i0')
    p.prints('i2f(%d) = ' % a)
    p.printf('f0', 1, '(%s as f64)' % rsi(a))
    p.prints('\n')
p.section('f2i')
for a in ['0.0', '-0.0', '2.9', '-2.9', '0.999', '-0.5', '1e18', '-1e18', '4503599627370497.0', '9.2233720368547748e18',
          '9223372036854775807.0', '-9223372036854775808.0', '-9.2233720368547779e18', '1e19', '-1e19', '1e300', 'inf', '-inf', 'nan',
          'bits:0xfff8000000000000', '5e-324', '123456.789']:
    p.op('fconst f0, %s' % a)
    p.op('f2i i0, f0')
    p.prints('f2i(%s) = ' % a)
    p.printi('i0', '(%s as i64)' % rsl(a))
    p.prints('\n')
p.section('round trips')
p.op('iconst i1, -42')
p.op('i2f f1, i1')
p.op('f2i i1, f1')
p.prints('f2i(i2f(-42)) = ')
p.printi('i1', '-42_i64')
p.prints('\n')
progs.append((p, '; Registers: i0, f0 = the operand and the result; i1, f1 scratch.'))

# ------------------------------------------------------------------ print
p = Prog('print', '''; ops/print: prints (with every string escape except \\0 and \\r), printi and
; printf (C's %.Nf: exact decimal expansion, round half to even, signed zero,
; inf, nan with the sign bit, 0 to 40 digits).''')
p.section('prints')
for s in ['plain', ' tab:\there', ' backslash:\\ quote:" semicolon:; ', 'unicode: \u00e9 \u20ac \U0001f600', '']:
    p.prints(s)
    p.prints('\n')
p.op(r'prints "\u{48}\u{49}\n"', 'HI')
p.rs.append('out.push_str("HI\\n");')
p.section('printi')
for a in [0, -1, 7, MAX, MIN, 1000000007]:
    p.op('iconst i0, %s' % tji(a))
    p.printi('i0', rsi(a))
    p.prints('\n')
p.section('printf')
PF = [('0.125', 2), ('0.375', 2), ('2.5', 0), ('3.5', 0), ('0.5', 0), ('1.5', 0), ('-0.5', 0), ('-0.0', 3), ('0.0', 0), ('-0.0', 0),
      ('0.1', 20), ('0.1', 40), ('1.0', 40), ('1e300', 0), ('5e-324', 40), ('-1e-7', 6), ('-1e-7', 7), ('0.000001', 5), ('0.0000005', 6), ('0.0000015', 6),
      ('123456789012345678.0', 0), ('0.999999999', 3), ('-0.999999999', 9), ('9.9999999995', 9), ('1.7976931348623157e308', 1),
      ('inf', 3), ('-inf', 0), ('nan', 2), ('bits:0xfff8000000000000', 2), ('bits:0x7ff0000000000001', 1), ('2.0', 9), ('-1.25', 1)]
for a, d in PF:
    p.op('fconst f0, %s' % a)
    p.prints('%%.%df of %s: ' % (d, a))
    p.printf('f0', d, rsl(a))
    p.prints('\n')
progs.append((p, '; Registers: i0, f0 = the value printed.'))

# ------------------------------------------------------------------ consts
p = Prog('consts', '''; ops/consts: nop, iconst (inline 16-bit and pooled 64-bit values, decimal and
; hex), fconst (every literal form), rnull, mov, fmov, rmov.''')
p.section('nop')
p.op('nop')
p.op('nop')
p.section('iconst')
for s, v in [('0', 0), ('1', 1), ('-1', -1), ('32767', 32767), ('-32768', -32768), ('32768', 32768), ('-32769', -32769),
             ('0x7fff', 0x7fff), ('0x8000', 0x8000), ('-0x10', -16), ('9223372036854775807', MAX), ('-9223372036854775808', MIN),
             ('0x7fffffffffffffff', MAX), ('-0x8000000000000000', MIN), ('0x123456789abcdef', 0x123456789abcdef), ('1000000007', 1000000007)]:
    p.op('iconst i0, %s' % s)
    p.prints('iconst %s = ' % s)
    p.printi('i0', rsi(v))
    p.prints('\n')
p.section('fconst (printed with 17 digits)')
for s in ['0.0', '-0.0', '1.5', '-2.25', '1e-3', '2.5E-3', '1e10', '3.141592653589793', '0.1', '7', '-7', '0x10',
          '9007199254740993', 'bits:0x3ff0000000000001', 'bits:0x8000000000000000', '5e-324', 'inf', '-inf', '1.7976931348623157e308', '4.84143144246472090e+00']:
    p.op('fconst f0, %s' % s)
    p.prints('fconst %s = ' % s)
    p.printf('f0', 17, rsl(s))
    if s == '5e-324':
        p.op('fconst f3, %s' % P537, '2^537')
        p.op('fmul f4, f0, f3')
        p.op('fmul f4, f4, f3')
        p.prints(' (x 2^1074 = ')
        p.printf('f4', 1, '(lit("5e-324") * lit("%s") * lit("%s"))' % (P537, P537))
        p.prints(')')
    p.prints('\n')
p.section('mov, fmov: copies, the source unchanged')
p.op('iconst i1, -123456789012')
p.op('mov i2, i1')
p.op('addi i1, i1, 1', 'only the source changes')
p.prints('mov: ')
p.printi('i2', '-123456789012_i64'); p.prints(' ')
p.printi('i1', '-123456789011_i64'); p.prints('\n')
p.op('mov i2, i2', 'a self-move is a no-op')
p.prints('mov self: ')
p.printi('i2', '-123456789012_i64'); p.prints('\n')
p.op('fconst f1, -0.0')
p.op('fmov f2, f1')
p.prints('fmov: ')
p.printf('f2', 1, '-0.0_f64'); p.prints('\n')
p.section('rnull, rmov: the copy aliases the same array')
p.op('iconst i3, 2')
p.op('newi r0, i3')
p.op('rmov r1, r0')
p.op('iconst i4, 1')
p.op('iconst i5, 77')
p.op('seti r1, i4, i5', 'written through r1')
p.op('geti i6, r0, i4', 'read through r0')
p.prints('rmov alias: ')
p.printi('i6', '77_i64'); p.prints('\n')
p.op('rnull r0', 'r1 still holds the array')
p.op('len i6, r1')
p.prints('rnull keeps the copy: ')
p.printi('i6', '2_i64'); p.prints('\n')
p.op('rmov r0, r1')
p.op('rnull r1')
p.op('len i6, r0')
p.prints('rmov back: ')
p.printi('i6', '2_i64'); p.prints('\n')
progs.append((p, '; Registers: i0, f0 = the constant printed; i1..i6, f1, f2, r0, r1 scratch;\n; f3 = 2^537, f4 = 5e-324 scaled up.'))

# ------------------------------------------------------------------ branches
p = Prog('branches', """; ops/branches: the fused compare-and-branch ops jeq jne jlt jle jgt jge
; (register-register), jeqi ... jgei (register-immediate), fjeq ... fjge (f64,
; NaN unordered), jz, jnz and jmp; forward and backward targets, a branch to
; the next op, labels on their own line and before an op.
; For each pair of operands, one letter per condition eq ne lt le gt ge:
; T when the branch is taken, N when it falls through.""")
lab = [0]
def branch(cond_op):
    lab[0] += 1
    t, d = 't%d' % lab[0], 'd%d' % lab[0]
    p.op(cond_op % t)
    p.op('prints "N"')
    p.op('jmp %s' % d)
    p.raw('%s: prints "T"' % t)
    p.raw('%s:' % d)
def letter(expr):
    p.rs.append('out.push_str(if %s { "T" } else { "N" });' % expr)
p.section('jeq ... jge: if i0 cmp i1 goto')
for a, b in [(1, 1), (1, 2), (2, 1), (-1, 0), (MIN, MAX), (MAX, MIN), (MIN, MIN)]:
    p.op('iconst i0, %s' % tji(a))
    p.op('iconst i1, %s' % tji(b))
    p.prints('%d %d: ' % (a, b))
    for c in CMPS:
        branch('j%s i0, i1, %%s' % c)
        letter('%s %s %s' % (rsi(a), RSC[c], rsi(b)))
    p.prints('\n')
p.section('jeqi ... jgei: if i0 cmp imm goto')
for a, b in [(5, 5), (4, 5), (6, 5), (-32769, -32768), (-32768, -32768), (MIN, 32767), (MAX, -32768), (32768, 32767)]:
    p.op('iconst i0, %s' % tji(a))
    p.prints('%d imm %d: ' % (a, b))
    for c in CMPS:
        branch('j%si i0, %d, %%s' % (c, b))
        letter('%s %s %s' % (rsi(a), RSC[c], rsi(b)))
    p.prints('\n')
p.section('fjeq ... fjge: if f0 cmp f1 goto')
for a, b in [('1.0', '1.0'), ('1.0', '2.0'), ('2.0', '1.0'), ('-0.0', '0.0'), ('nan', '1.0'), ('1.0', 'nan'), ('nan', 'nan'), ('-inf', 'inf'), ('inf', 'inf')]:
    p.op('fconst f0, %s' % a)
    p.op('fconst f1, %s' % b)
    p.prints('%s %s: ' % (a, b))
    for c in CMPS:
        branch('fj%s f0, f1, %%s' % c)
        letter('%s %s %s' % (rsl(a), RSC[c], rsl(b)))
    p.prints('\n')
p.section('jz, jnz')
for a in [0, 1, -1, MIN, 2**32]:
    p.op('iconst i0, %s' % tji(a))
    p.prints('%d: z nz ' % a)
    branch('jz i0, %s')
    letter('%s == 0' % rsi(a))
    branch('jnz i0, %s')
    letter('%s != 0' % rsi(a))
    p.prints('\n')
p.section('a branch to the next op, taken or not, and a jmp to the next op')
p.op('iconst i0, 1')
p.op('jeqi i0, 1, next1', 'taken')
p.raw('next1:')
p.op('jeqi i0, 2, next2', 'not taken')
p.raw('next2:')
p.op('jmp next3')
p.raw('next3:')
p.prints('next: ok\n')
loops = [
    ('jlt: i0 = 0 .. 9 while i0 < i5 = 10', ['iconst i5, 10', 'iconst i0, 0'], ['addi i0, i0, 1'], 'jlt i0, i5, %s', 10),
    ('jle: i0 = 0 .. 10 while i0 <= i5 = 10', ['iconst i5, 10', 'iconst i0, 0'], ['addi i0, i0, 1'], 'jle i0, i5, %s', 11),
    ('jgt: i0 = 10 down while i0 > i5 = 0', ['iconst i5, 0', 'iconst i0, 10'], ['subi i0, i0, 1'], 'jgt i0, i5, %s', 10),
    ('jge: i0 = 3 down while i0 >= i5 = -1', ['iconst i5, -1', 'iconst i0, 3'], ['subi i0, i0, 1'], 'jge i0, i5, %s', 5),
    ('jne: i0 += 3 until 30', ['iconst i5, 30', 'iconst i0, 0'], ['addi i0, i0, 3'], 'jne i0, i5, %s', 10),
    ('jeq: while i0 == i5 (once)', ['iconst i5, 0', 'iconst i0, 0'], ['addi i0, i0, 1'], 'jeq i0, i5, %s', 1),
    ('jlti: i0 = -5 .. 4 while i0 < 5', ['iconst i0, -5'], ['addi i0, i0, 1'], 'jlti i0, 5, %s', 10),
    ('jlei: i0 *= 2 from 1 while i0 <= 1024', ['iconst i0, 1'], ['muli i0, i0, 2'], 'jlei i0, 1024, %s', 11),
    ('jgti: i0 = 7 down while i0 > 0', ['iconst i0, 7'], ['subi i0, i0, 1'], 'jgti i0, 0, %s', 7),
    ('jgei: i0 = 3 down while i0 >= 0', ['iconst i0, 3'], ['subi i0, i0, 1'], 'jgei i0, 0, %s', 4),
    ('jnei: i0 += 3 until 30', ['iconst i0, 0'], ['addi i0, i0, 3'], 'jnei i0, 30, %s', 10),
    ('jeqi: while i0 == -1 (once)', ['iconst i0, -1'], ['subi i0, i0, 1'], 'jeqi i0, -1, %s', 1),
    ('jnz: i0 = 6 down to 0', ['iconst i0, 6'], ['subi i0, i0, 1'], 'jnz i0, %s', 6),
    ('fjlt: f0 += 0.5 while f0 < 4.0', ['fconst f5, 4.0', 'fconst f6, 0.5', 'fconst f0, 0.0'], ['fadd f0, f0, f6'], 'fjlt f0, f5, %s', 8),
    ('fjne: f0 += 0.25 until 1.0', ['fconst f5, 1.0', 'fconst f6, 0.25', 'fconst f0, 0.0'], ['fadd f0, f0, f6'], 'fjne f0, f5, %s', 4),
]
p.section('backward branches: loops, i1 counts the iterations')
for k, (title, init, body, cond, n) in enumerate(loops):
    p.raw('    ; %s' % title)
    for s in init:
        p.op(s)
    p.op('iconst i1, 0')
    p.raw('loop%d:' % k)
    p.op('addi i1, i1, 1')
    for s in body:
        p.op(s)
    p.op(cond % ('loop%d' % k))
    p.prints('%s: ' % cond.split()[0])
    p.printi('i1', '%d_i64' % n)
    p.prints('\n')
p.section('while loop: test at the top, jz out, jmp back')
p.op('iconst i0, 5')
p.op('iconst i1, 0')
p.raw('while_top:')
p.op('jz i0, while_end')
p.op('add i1, i1, i0')
p.op('subi i0, i0, 1')
p.op('jmp while_top')
p.raw('while_end:')
p.prints('while sum 5..1: ')
p.printi('i1', '15_i64')
p.prints('\n')
p.section('jmp forward over code')
p.prints('jmp over code: ')
p.op('iconst i0, 1')
p.op('jmp skip')
p.op('iconst i0, 2', 'skipped')
p.prints('not printed\n')
p.rs.pop()
p.raw('skip: printi i0')
p.rs.append('out.push_str("1");')
p.prints('\n')
progs.append((p, '; Registers: i0, i1, f0, f1 = the operands; i1 counts loop iterations;\n; i5, f5, f6 = loop bounds and steps.'))

# ------------------------------------------------------------------ emit
rs = ['use std::fmt::Write as _;',
      'fn lit(s: &str) -> f64 { if let Some(h) = s.strip_prefix("bits:0x") { return f64::from_bits(u64::from_str_radix(h, 16).unwrap()); }',
      '  if let Some(h) = s.strip_prefix("0x") { return i64::from_str_radix(h, 16).unwrap() as f64; }',
      '  match s { "inf" => f64::INFINITY, "-inf" => f64::NEG_INFINITY, "nan" => f64::NAN, _ => s.parse::<f64>().unwrap() } }',
      'fn pf(v: f64, d: usize) -> String { if v.is_nan() { if v.is_sign_negative() { "-nan".into() } else { "nan".into() } } else { format!("{:.*}", d, v) } }',
      'fn main() {', '  let _ = lit; let mut w = String::new(); let _ = write!(w, "");',
      '  let which = std::env::args().nth(1).unwrap();']
for p, _ in progs:
    rs.append('  if which == "%s" {' % p.name)
    rs.append('    let mut out = String::new();')
    rs.extend('    ' + l for l in p.rs)
    rs.append('    print!("{}", out);')
    rs.append('  }')
rs.append('}')
for p, regs in progs:
    p.write(regs)
with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, 'src'))
    open(os.path.join(tmp, 'src', 'main.rs'), 'w').write('\n'.join(rs) + '\n')
    open(os.path.join(tmp, 'Cargo.toml'), 'w').write('[package]\nname = "opcases"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n')
    env = dict(os.environ, RUSTFLAGS='-A warnings')
    subprocess.run(['cargo', 'build', '-q', '--manifest-path', os.path.join(tmp, 'Cargo.toml')], check=True, env=env)
    exe = os.path.join(tmp, 'target', 'debug', 'opcases')
    for p, _ in progs:
        out = subprocess.run([exe, p.name], check=True, capture_output=True).stdout
        open(os.path.join(OUT, 'expected', p.name + '.txt'), 'wb').write(out)
        print('wrote programs/ops/%s.tj and expected/%s.txt' % (p.name, p.name))
