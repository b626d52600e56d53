/*
 * alog_math.c - expf, tanhf and the logistic sigmoid after Cephes (S. L. Moshier): a
 * Cody-Waite range reduction and short minimax polynomials, float only, so a Cortex-M4F
 * runs them in hardware and gets the same numbers as the host.
 *
 * Written without branches: every case is computed and the answer picked with bit masks. That
 * is what lets gcc and clang vectorize the array versions at -O2 (a branch, or a select they
 * turn back into one, stops them: they will not evaluate a float operation speculatively). The
 * scalar and array functions share one body per function, so they return the same bits.
 */
#include <stdint.h>
#include <string.h>

#include "../isa.h"
#include "alog_math.h"

/* The array functions run blocks of this many elements: a trip count the compiler knows is
 * what gcc's -O2 cost model needs before it vectorizes a loop. */
#define BLOCK 16

/* The bodies below must be inlined into the block loops to be vectorized there. */
#define ALWAYS_INLINE ALOG_ALWAYS_INLINE

/* ---- bits and selection --------------------------------------------------------------------- */

static ALWAYS_INLINE uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static ALWAYS_INLINE float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* 2^n for n in [-126, 127], built from its bits. */
static ALWAYS_INLINE float pow2i(int n)
{
    return float_of((uint32_t)(n + 127) << 23);
}

/* cond ? a : b, both already computed. */
static ALWAYS_INLINE float pick(int cond, float a, float b)
{
    uint32_t mask = 0u - (uint32_t)(cond != 0);
    return float_of((bits_of(a) & mask) | (bits_of(b) & ~mask));
}

static ALWAYS_INLINE int pick_int(int cond, int a, int b)
{
    uint32_t mask = 0u - (uint32_t)(cond != 0);
    return (int)(((uint32_t)a & mask) | ((uint32_t)b & ~mask));
}

/* ---- the functions, one element ------------------------------------------------------------ */

static ALWAYS_INLINE float exp_one(float x)
{
    const float hi = 88.72283905206835f, lo = -103.97208f; /* beyond: inf and 0 */
    /* clamped, NaN included, so the conversion to int below is always defined */
    float xc = pick(x >= lo, x, lo), fx, r, z, p, e;
    int n, scale;
    xc = pick(xc <= hi, xc, hi);
    /* x = n ln2 + r, |r| <= ln2 / 2, ln2 split in two so n * ln2_hi is exact */
    fx = xc * 1.44269504088896341f;
    n = (int)(fx + pick(fx >= 0.0f, 0.5f, -0.5f));
    r = xc - (float)n * 0.693359375f;
    r = r - (float)n * -2.12194440e-4f;
    z = r * r;
    p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
          4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    /* 2^n in two factors when 2^n itself is not a normal float (then exactly 2^n * 1) */
    scale = pick_int(n > 127, 127, pick_int(n < -126, n + 64, n));
    e = p * pow2i(scale) * pow2i(n - scale);
    return pick(x != x, x, pick(x > hi, float_of(0x7f800000u), pick(x < lo, 0.0f, e)));
}

static ALWAYS_INLINE float tanh_one(float x)
{
    float z = pick(x < 0.0f, -x, x);
    /* |x| >= 0.625: 1 - 2 / (e^2|x| + 1); the argument bounded where tanh rounds to 1 */
    float big = 1.0f - 2.0f / (exp_one(2.0f * pick(z <= 9.0f, z, 9.0f)) + 1.0f);
    float x2 = x * x;
    float small = ((((-5.70498872745e-3f * x2 + 2.06390887954e-2f) * x2 - 5.37397155531e-2f) *
                        x2 + 1.33314422036e-1f) * x2 - 3.33332819422e-1f) * x2 * x + x;
    float r = pick(z >= 0.625f, pick(x < 0.0f, -big, big), small);
    r = pick(z > 9.0f, pick(x < 0.0f, -1.0f, 1.0f), r); /* tanh(9) rounds to 1 in float */
    return pick(x != x, x, r);
}

static ALWAYS_INLINE float sigmoid_one(float x)
{
    /* exp(-x) overflows to inf for x < -88.7, giving exactly 0: the right limit */
    return 1.0f / (1.0f + exp_one(-x));
}

float alog_expf(float x)
{
    return exp_one(x);
}

float alog_tanhf(float x)
{
    return tanh_one(x);
}

float alog_sigmoidf(float x)
{
    return sigmoid_one(x);
}

/* ---- arrays -------------------------------------------------------------------------------- */

/* One block function per function and form: the baseline, and on x86-64 AVX2 and AVX-512F
 * (isa.h). Each is the scalar body inlined into a fixed-length loop, so all give the scalar
 * function's bits. */
/* One form: name(v) applies one() to the BLOCK elements of v; attr: its target attribute. */
#define BLOCK_FORM(name, attr, one)                                                            \
    attr static void name(float *v)                                                            \
    {                                                                                          \
        int i;                                                                                 \
        for (i = 0; i < BLOCK; ++i)                                                            \
            v[i] = one(v[i]);                                                                  \
    }

#if ALOG_ISA_DISPATCH
#define BLOCK_FUNCTIONS(name, one)                                                             \
    BLOCK_FORM(name##_block, , one)                                                            \
    BLOCK_FORM(name##_block_avx2, ALOG_TARGET_AVX2, one)                                       \
    BLOCK_FORM(name##_block_avx512, ALOG_TARGET_AVX512, one)
#define PICK(name, isa)                                                                        \
    (((isa) & ALOG_ISA_AVX512) ? name##_block_avx512                                           \
                               : ((isa) & ALOG_ISA_AVX2) ? name##_block_avx2 : name##_block)
#else
#define BLOCK_FUNCTIONS(name, one) BLOCK_FORM(name##_block, , one)
#define PICK(name, isa) ((void)(isa), name##_block)
#endif

BLOCK_FUNCTIONS(exp, exp_one)
BLOCK_FUNCTIONS(tanh, tanh_one)
BLOCK_FUNCTIONS(sigmoid, sigmoid_one)

/* Whole blocks in place, then the tail through a zero-padded copy of one block. */
static void each_block(float *v, size_t n, void (*block)(float *))
{
    float tail[BLOCK] = {0.0f};
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        block(v + i);
    if (i < n) {
        memcpy(tail, v + i, (n - i) * sizeof(float));
        block(tail);
        memcpy(v + i, tail, (n - i) * sizeof(float));
    }
}

void alog_expf_array(float *v, size_t n, unsigned isa)
{
    each_block(v, n, PICK(exp, isa));
}

void alog_tanhf_array(float *v, size_t n, unsigned isa)
{
    each_block(v, n, PICK(tanh, isa));
}

void alog_sigmoidf_array(float *v, size_t n, unsigned isa)
{
    each_block(v, n, PICK(sigmoid, isa));
}

/* ---- double exp (the probability rule, docs/detection.md 2.3) ------------------------------- */

/* 2^n as a double for n in [-1022, 1023], built from its bits. */
static double pow2d(int n)
{
    uint64_t u = (uint64_t)(n + 1023) << 52;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* fdlibm's e_exp.c (Sun Microsystems, 1993): x = k ln2 + r, |r| <= ln2 / 2, ln2 split so that
 * k ln2 is exact; exp(r) from a degree-5 minimax rational form. Within 1 ulp of e^x, the same
 * bits on every target (plain double arithmetic, no fused multiply-add). */
double alog_exp(double x)
{
    static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
                        inv_ln2 = 1.44269504088896338700e+00, p1 = 1.66666666666666019037e-01,
                        p2 = -2.77777777770155933842e-03, p3 = 6.61375632143793436117e-05,
                        p4 = -1.65339022054652515390e-06, p5 = 4.13813679705723846039e-08;
    double hi, lo, r, t, c, y;
    int k;
    if (x != x)
        return x;
    if (x > 709.782712893383973096)
        return x * 1e308 * 10.0; /* +inf */
    if (x < -745.13321910194110842)
        return 0.0;
    if (x > -3.7252902984e-09 && x < 3.7252902984e-09)
        return 1.0 + x;
    k = (int)(x * inv_ln2 + (x < 0 ? -0.5 : 0.5));
    hi = x - k * ln2_hi;
    lo = k * ln2_lo;
    r = hi - lo;
    t = r * r;
    c = r - t * (p1 + t * (p2 + t * (p3 + t * (p4 + t * p5))));
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    if (k >= -1021)
        return k > 1023 ? y * 2.0 * pow2d(k - 1) : y * pow2d(k);
    return y * pow2d(k + 1000) * pow2d(-1000); /* a subnormal result */
}
