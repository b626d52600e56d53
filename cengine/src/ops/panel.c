/*
 * panel.c - matrix products over a constant weight matrix packed at load time into row panels.
 *
 * Why panels: the reference kernels sum each output row on its own, in column order. Vectorizing
 * that row by row would need several partial sums per row, a different summation order and so
 * different bits. Packed ALOG_PANEL rows at a time, column after column, the inner loop runs
 * across the panel's rows instead: every row's sum still starts at 0 and adds its products in
 * column order, exactly as the reference does. The compiler vectorizes across rows, never inside
 * a sum (no -ffast-math, and -ffp-contract=off keeps each multiply and add apart), so the result
 * is the reference's bits at any vector width, on any target, at any optimisation level.
 *
 * On x86-64 the panel product is compiled three times, for the baseline (SSE2), AVX2 and
 * AVX-512F (isa.h); the caller passes the model's isa and the product picks its form per call.
 */
#include <string.h>

#include "ops.h"

/* The forms written with gcc/clang vectors (PANEL_FORM below): on x86-64 (SSE2, AVX2, AVX-512F)
 * and on AArch64 (NEON). Elsewhere, and in a reference build, the portable forms alone. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__aarch64__)) && \
    !defined(ALOG_REFERENCE_KERNELS)
#define PANEL_VECTOR_FORMS 1
#if defined(__x86_64__)
#include <immintrin.h> /* only to widen int8 to float in registers */
#else
#include <arm_neon.h> /* likewise */
#endif
#else
#define PANEL_VECTOR_FORMS 0
#endif

size_t alog_panel_rows(size_t rows)
{
    return (rows + ALOG_PANEL - 1) / ALOG_PANEL * ALOG_PANEL;
}

/* ---- packing ------------------------------------------------------------------------------ */

size_t alog_panel_strided(const void *ctx, size_t r, size_t k)
{
    const alog_panel_strides *s = (const alog_panel_strides *)ctx;
    return s->base + r * s->row_stride + k * s->col_stride;
}

/* The scale index of element i of quantized weights. */
static size_t scale_index(const alog_weights *w, size_t i)
{
    return w->scales == 1 ? 0 : (i / w->inner) % w->scales;
}

int alog_panel_int8_fits(const alog_weights *w, alog_panel_index index, const void *ctx,
                         size_t rows, size_t cols)
{
    size_t r, k, slice;
    if (w->f)
        return 0;
    if (w->scales == 1)
        return 1;
    for (r = 0; r < rows; ++r) /* every element of a row in the same slice of the scale's axis */
        for (k = 0, slice = index(ctx, r, 0) / w->inner; k < cols; ++k)
            if (index(ctx, r, k) / w->inner != slice)
                return 0;
    return 1;
}

size_t alog_panel_bytes(size_t rows, size_t cols, int int8)
{
    size_t padded = alog_panel_rows(rows);
    if (!int8)
        return padded * cols * sizeof(float);
    /* the int8 panels, then the row scales on a float boundary */
    return (padded * cols + sizeof(float) - 1) / sizeof(float) * sizeof(float) +
           padded * sizeof(float);
}

void alog_panel_pack(alog_panels *out, void *mem, const alog_weights *w, alog_panel_index index,
                     const void *ctx, size_t rows, size_t cols, int int8, int write)
{
    size_t padded = alog_panel_rows(rows), p, k, j;
    memset(out, 0, sizeof *out);
    if (int8) {
        int8_t *q = (int8_t *)mem;
        float *scale = (float *)(void *)((uint8_t *)mem + (padded * cols + sizeof(float) - 1) /
                                                              sizeof(float) * sizeof(float));
        out->q = q;
        out->scale = scale;
        for (p = 0; write && p < padded; p += ALOG_PANEL) {
            int8_t *panel = q + p * cols;
            for (j = 0; j < ALOG_PANEL; ++j) /* the padding rows: 0 * 0 */
                scale[p + j] = p + j < rows ? w->scale[scale_index(w, index(ctx, p + j, 0))] : 0.0f;
            for (k = 0; k < cols; ++k)
                for (j = 0; j < ALOG_PANEL; ++j)
                    panel[k * ALOG_PANEL + j] = p + j < rows ? w->q[index(ctx, p + j, k)] : 0;
        }
        return;
    }
    out->f = (float *)mem;
    for (p = 0; write && p < padded; p += ALOG_PANEL) {
        float *panel = (float *)mem + p * cols;
        for (k = 0; k < cols; ++k)
            for (j = 0; j < ALOG_PANEL; ++j)
                panel[k * ALOG_PANEL + j] =
                    p + j < rows ? alog_weight_at(w, index(ctx, p + j, k)) : 0.0f;
    }
}

/* ---- the forms: float panels -------------------------------------------------------------- */

/*
 * One panel against one vector: sum[j] = start[j] + panel[0][j] * x[0] + panel[1][j] * x[1] + ...,
 * added left to right. One named
 * accumulator per row, not an array: gcc keeps an array on the stack at -O2 but packs these
 * into vector registers (8 SSE, 4 AVX or 2 AVX-512 ones: independent chains that keep the
 * adders busy), as clang does either way.
 */
static ALOG_ALWAYS_INLINE void panel_dot_body(float *sum, const float *start, const float *panel,
                                              const float *x, size_t cols)
{
    float a0 = start[0], a1 = start[1], a2 = start[2], a3 = start[3], a4 = start[4];
    float a5 = start[5], a6 = start[6], a7 = start[7], a8 = start[8], a9 = start[9];
    float a10 = start[10], a11 = start[11], a12 = start[12], a13 = start[13], a14 = start[14];
    float a15 = start[15], a16 = start[16], a17 = start[17], a18 = start[18], a19 = start[19];
    float a20 = start[20], a21 = start[21], a22 = start[22], a23 = start[23], a24 = start[24];
    float a25 = start[25], a26 = start[26], a27 = start[27], a28 = start[28], a29 = start[29];
    float a30 = start[30], a31 = start[31];
    size_t k;
    for (k = 0; k < cols; ++k) {
        const float xk = x[k];
        const float *c = panel + k * ALOG_PANEL;
        a0 += c[0] * xk; a1 += c[1] * xk; a2 += c[2] * xk; a3 += c[3] * xk;
        a4 += c[4] * xk; a5 += c[5] * xk; a6 += c[6] * xk; a7 += c[7] * xk;
        a8 += c[8] * xk; a9 += c[9] * xk; a10 += c[10] * xk; a11 += c[11] * xk;
        a12 += c[12] * xk; a13 += c[13] * xk; a14 += c[14] * xk; a15 += c[15] * xk;
        a16 += c[16] * xk; a17 += c[17] * xk; a18 += c[18] * xk; a19 += c[19] * xk;
        a20 += c[20] * xk; a21 += c[21] * xk; a22 += c[22] * xk; a23 += c[23] * xk;
        a24 += c[24] * xk; a25 += c[25] * xk; a26 += c[26] * xk; a27 += c[27] * xk;
        a28 += c[28] * xk; a29 += c[29] * xk; a30 += c[30] * xk; a31 += c[31] * xk;
    }
    sum[0] = a0; sum[1] = a1; sum[2] = a2; sum[3] = a3; sum[4] = a4; sum[5] = a5; sum[6] = a6; sum[7] = a7;
    sum[8] = a8; sum[9] = a9; sum[10] = a10; sum[11] = a11; sum[12] = a12; sum[13] = a13; sum[14] = a14; sum[15] = a15;
    sum[16] = a16; sum[17] = a17; sum[18] = a18; sum[19] = a19; sum[20] = a20; sum[21] = a21; sum[22] = a22; sum[23] = a23;
    sum[24] = a24; sum[25] = a25; sum[26] = a26; sum[27] = a27; sum[28] = a28; sum[29] = a29; sum[30] = a30; sum[31] = a31;
}

static void panel_dot(float *sum, const float *start, const void *panel, const float *scale,
                      size_t stride, const float *const *xs, size_t cols)
{
    (void)scale;
    (void)stride;
    panel_dot_body(sum, start, (const float *)panel, xs[0], cols);
}

/*
 * The forms of the panel product a model's isa picks from: dot for one panel (ALOG_PANEL rows),
 * dot2 and dot4 (or NULL) for two and four consecutive panels at once (sum and start that many
 * panels long). Each sum's next add waits on its last (the adder's latency), so a form needs
 * enough independent vector sums in flight to keep the adders busy: one panel is eight of them
 * in SSE but only four AVX2 or two AVX-512 ones, so AVX2 works two panels at once and AVX-512
 * four (eight sums either way), or two where fewer rows are left. Each row's sum is still its
 * own, in column order: the same bits.
 */
/*
 * Every form has this signature. panels: the first panel, float or int8 (alog_panels); the next
 * one starts `stride` elements later; scale: the first panel's row scales (int8 panels only; the
 * next panel's follow, ALOG_PANEL floats later); xs[0..vectors): the vectors, `cols` long. Vector
 * v's sums (panels * ALOG_PANEL of them) go to sum + v * panels * ALOG_PANEL, each sum starting
 * from start (panels * ALOG_PANEL values). A form with several vectors loads (and for int8
 * converts) each weight once for all of them: what keeps the product from waiting on the cache
 * when the panels do not fit in L1 (a convolution's long unfolded rows, or a batch of windows).
 */
typedef void (*panel_fn)(float *sum, const float *start, const void *panels, const float *scale,
                         size_t stride, const float *const *xs, size_t cols);

typedef struct panel_form {
    size_t panels, vectors;
    panel_fn fn;
} panel_form;

#define MAX_MULTI 3

typedef struct panel_kernels {
    panel_fn dot[3];              /* one vector against 1, 2 and 4 panels (NULL: no such form) */
    panel_form multi[MAX_MULTI];  /* several vectors, in order of preference */
    size_t n_multi;
} panel_kernels;

#if ALOG_ISA_DISPATCH
ALOG_TARGET_AVX2 static void panel_dot_avx2(float *sum, const float *start, const void *panel,
                                            const float *scale, size_t stride,
                                            const float *const *xs, size_t cols)
{
    (void)scale;
    (void)stride;
    panel_dot_body(sum, start, (const float *)panel, xs[0], cols);
}

ALOG_TARGET_AVX512 static void panel_dot_avx512(float *sum, const float *start,
                                                const void *panel, const float *scale,
                                                size_t stride, const float *const *xs,
                                                size_t cols)
{
    (void)scale;
    (void)stride;
    panel_dot_body(sum, start, (const float *)panel, xs[0], cols);
}

/* 8 and 16 floats, loaded and stored at any float-aligned address (gcc and clang vectors). */
typedef float v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));

/* Two consecutive panels (panel p at panels + p * cols * ALOG_PANEL), eight 8-lane sums. */
ALOG_TARGET_AVX2 static void panel_dot2_avx2(float *sum, const float *start, const void *panels,
                                             const float *scale, size_t stride,
                                             const float *const *xs, size_t cols)
{
    const float *pa = (const float *)panels, *pb = pa + stride, *x = xs[0];
    v8f a0 = *(const v8f *)(start + 0), a1 = *(const v8f *)(start + 8);
    v8f a2 = *(const v8f *)(start + 16), a3 = *(const v8f *)(start + 24);
    v8f b0 = *(const v8f *)(start + 32), b1 = *(const v8f *)(start + 40);
    v8f b2 = *(const v8f *)(start + 48), b3 = *(const v8f *)(start + 56);
    size_t k;
    (void)scale;
    for (k = 0; k < cols; ++k) {
        const float xk = x[k];
        const float *ca = pa + k * ALOG_PANEL, *cb = pb + k * ALOG_PANEL;
        a0 += *(const v8f *)(ca + 0) * xk;
        a1 += *(const v8f *)(ca + 8) * xk;
        a2 += *(const v8f *)(ca + 16) * xk;
        a3 += *(const v8f *)(ca + 24) * xk;
        b0 += *(const v8f *)(cb + 0) * xk;
        b1 += *(const v8f *)(cb + 8) * xk;
        b2 += *(const v8f *)(cb + 16) * xk;
        b3 += *(const v8f *)(cb + 24) * xk;
    }
    *(v8f *)(sum + 0) = a0;
    *(v8f *)(sum + 8) = a1;
    *(v8f *)(sum + 16) = a2;
    *(v8f *)(sum + 24) = a3;
    *(v8f *)(sum + 32) = b0;
    *(v8f *)(sum + 40) = b1;
    *(v8f *)(sum + 48) = b2;
    *(v8f *)(sum + 56) = b3;
}

/* One panel against two vectors, eight 8-lane sums (each weight loaded serves both). */
ALOG_TARGET_AVX2 static void panel_dot1x2_avx2(float *sum, const float *start, const void *panels,
                                               const float *scale, size_t stride,
                                               const float *const *xs, size_t cols)
{
    const float *panel = (const float *)panels, *x0 = xs[0], *x1 = xs[1];
    const v8f s0 = *(const v8f *)(start + 0), s1 = *(const v8f *)(start + 8);
    const v8f s2 = *(const v8f *)(start + 16), s3 = *(const v8f *)(start + 24);
    v8f a0 = s0, a1 = s1, a2 = s2, a3 = s3, b0 = s0, b1 = s1, b2 = s2, b3 = s3;
    size_t k;
    (void)stride;
    (void)scale;
    for (k = 0; k < cols; ++k) {
        const float *c = panel + k * ALOG_PANEL;
        const v8f w0 = *(const v8f *)(c + 0), w1 = *(const v8f *)(c + 8);
        const v8f w2 = *(const v8f *)(c + 16), w3 = *(const v8f *)(c + 24);
        const float u = x0[k], v = x1[k];
        a0 += w0 * u; a1 += w1 * u; a2 += w2 * u; a3 += w3 * u;
        b0 += w0 * v; b1 += w1 * v; b2 += w2 * v; b3 += w3 * v;
    }
    *(v8f *)(sum + 0) = a0; *(v8f *)(sum + 8) = a1; *(v8f *)(sum + 16) = a2; *(v8f *)(sum + 24) = a3;
    *(v8f *)(sum + 32) = b0; *(v8f *)(sum + 40) = b1; *(v8f *)(sum + 48) = b2; *(v8f *)(sum + 56) = b3;
}

/* Two consecutive panels, four 16-lane sums. */
ALOG_TARGET_AVX512 static void panel_dot2_avx512(float *sum, const float *start,
                                                 const void *panels, const float *scale,
                                                 size_t stride, const float *const *xs,
                                                 size_t cols)
{
    const float *pa = (const float *)panels, *pb = pa + stride, *x = xs[0];
    v16f a0 = *(const v16f *)(start + 0), a1 = *(const v16f *)(start + 16);
    v16f b0 = *(const v16f *)(start + 32), b1 = *(const v16f *)(start + 48);
    size_t k;
    (void)scale;
    for (k = 0; k < cols; ++k) {
        const float xk = x[k];
        const size_t o = k * ALOG_PANEL;
        a0 += *(const v16f *)(pa + o) * xk;
        a1 += *(const v16f *)(pa + o + 16) * xk;
        b0 += *(const v16f *)(pb + o) * xk;
        b1 += *(const v16f *)(pb + o + 16) * xk;
    }
    *(v16f *)(sum + 0) = a0;
    *(v16f *)(sum + 16) = a1;
    *(v16f *)(sum + 32) = b0;
    *(v16f *)(sum + 48) = b1;
}

/* Two consecutive panels against two vectors, eight 16-lane sums: each weight loaded serves
 * both vectors. */
ALOG_TARGET_AVX512 static void panel_dot2x2_avx512(float *sum, const float *start,
                                                   const void *panels, const float *scale,
                                                   size_t stride, const float *const *xs,
                                                   size_t cols)
{
    const float *pa = (const float *)panels, *pb = pa + stride, *x0 = xs[0], *x1 = xs[1];
    v16f a0 = *(const v16f *)(start + 0), a1 = *(const v16f *)(start + 16);
    v16f b0 = *(const v16f *)(start + 32), b1 = *(const v16f *)(start + 48);
    v16f e0 = a0, e1 = a1, f0 = b0, f1 = b1;
    size_t k;
    (void)scale;
    for (k = 0; k < cols; ++k) {
        const float u = x0[k], v = x1[k];
        const size_t o = k * ALOG_PANEL;
        const v16f wa0 = *(const v16f *)(pa + o), wa1 = *(const v16f *)(pa + o + 16);
        const v16f wb0 = *(const v16f *)(pb + o), wb1 = *(const v16f *)(pb + o + 16);
        a0 += wa0 * u;
        a1 += wa1 * u;
        b0 += wb0 * u;
        b1 += wb1 * u;
        e0 += wa0 * v;
        e1 += wa1 * v;
        f0 += wb0 * v;
        f1 += wb1 * v;
    }
    *(v16f *)(sum + 0) = a0;
    *(v16f *)(sum + 16) = a1;
    *(v16f *)(sum + 32) = b0;
    *(v16f *)(sum + 48) = b1;
    *(v16f *)(sum + 64) = e0;
    *(v16f *)(sum + 80) = e1;
    *(v16f *)(sum + 96) = f0;
    *(v16f *)(sum + 112) = f1;
}

/* Two consecutive panels against four vectors, sixteen 16-lane sums: each weight loaded serves
 * four vectors, which keeps the products from waiting on the L2 cache when the panels do not fit
 * in L1 (a convolution's long unfolded rows). */
ALOG_TARGET_AVX512 static void panel_dot2x4_avx512(float *sum, const float *start,
                                                   const void *panels, const float *scale,
                                                   size_t stride, const float *const *xs,
                                                   size_t cols)
{
    const float *pa = (const float *)panels, *pb = pa + stride;
    const float *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];
    const v16f s0 = *(const v16f *)(start + 0), s1 = *(const v16f *)(start + 16);
    const v16f s2 = *(const v16f *)(start + 32), s3 = *(const v16f *)(start + 48);
    v16f a0 = s0, a1 = s1, a2 = s2, a3 = s3, b0 = s0, b1 = s1, b2 = s2, b3 = s3;
    v16f c0 = s0, c1 = s1, c2 = s2, c3 = s3, d0 = s0, d1 = s1, d2 = s2, d3 = s3;
    size_t k;
    (void)scale;
    for (k = 0; k < cols; ++k) {
        const size_t o = k * ALOG_PANEL;
        const v16f w0 = *(const v16f *)(pa + o), w1 = *(const v16f *)(pa + o + 16);
        const v16f w2 = *(const v16f *)(pb + o), w3 = *(const v16f *)(pb + o + 16);
        const float u0 = x0[k], u1 = x1[k], u2 = x2[k], u3 = x3[k];
        a0 += w0 * u0; a1 += w1 * u0; a2 += w2 * u0; a3 += w3 * u0;
        b0 += w0 * u1; b1 += w1 * u1; b2 += w2 * u1; b3 += w3 * u1;
        c0 += w0 * u2; c1 += w1 * u2; c2 += w2 * u2; c3 += w3 * u2;
        d0 += w0 * u3; d1 += w1 * u3; d2 += w2 * u3; d3 += w3 * u3;
    }
    *(v16f *)(sum + 0) = a0; *(v16f *)(sum + 16) = a1; *(v16f *)(sum + 32) = a2; *(v16f *)(sum + 48) = a3;
    *(v16f *)(sum + 64) = b0; *(v16f *)(sum + 80) = b1; *(v16f *)(sum + 96) = b2; *(v16f *)(sum + 112) = b3;
    *(v16f *)(sum + 128) = c0; *(v16f *)(sum + 144) = c1; *(v16f *)(sum + 160) = c2; *(v16f *)(sum + 176) = c3;
    *(v16f *)(sum + 192) = d0; *(v16f *)(sum + 208) = d1; *(v16f *)(sum + 224) = d2; *(v16f *)(sum + 240) = d3;
}

/* One panel against four vectors, eight 16-lane sums: the narrow outputs (32 channels or fewer). */
ALOG_TARGET_AVX512 static void panel_dot1x4_avx512(float *sum, const float *start,
                                                   const void *panels, const float *scale,
                                                   size_t stride, const float *const *xs,
                                                   size_t cols)
{
    const float *panel = (const float *)panels;
    const float *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];
    const v16f s0 = *(const v16f *)(start + 0), s1 = *(const v16f *)(start + 16);
    v16f a0 = s0, a1 = s1, b0 = s0, b1 = s1, c0 = s0, c1 = s1, d0 = s0, d1 = s1;
    size_t k;
    (void)stride;
    (void)scale;
    for (k = 0; k < cols; ++k) {
        const size_t o = k * ALOG_PANEL;
        const v16f w0 = *(const v16f *)(panel + o), w1 = *(const v16f *)(panel + o + 16);
        const float u0 = x0[k], u1 = x1[k], u2 = x2[k], u3 = x3[k];
        a0 += w0 * u0; a1 += w1 * u0;
        b0 += w0 * u1; b1 += w1 * u1;
        c0 += w0 * u2; c1 += w1 * u2;
        d0 += w0 * u3; d1 += w1 * u3;
    }
    *(v16f *)(sum + 0) = a0; *(v16f *)(sum + 16) = a1;
    *(v16f *)(sum + 32) = b0; *(v16f *)(sum + 48) = b1;
    *(v16f *)(sum + 64) = c0; *(v16f *)(sum + 80) = c1;
    *(v16f *)(sum + 96) = d0; *(v16f *)(sum + 112) = d1;
}

/* Four consecutive panels, eight 16-lane sums. */
ALOG_TARGET_AVX512 static void panel_dot4_avx512(float *sum, const float *start,
                                                 const void *panels, const float *scale,
                                                 size_t stride, const float *const *xs,
                                                 size_t cols)
{
    const float *pa = (const float *)panels, *pb = pa + stride, *pc = pb + stride;
    const float *pd = pc + stride, *x = xs[0];
    v16f a0 = *(const v16f *)(start + 0), a1 = *(const v16f *)(start + 16);
    v16f b0 = *(const v16f *)(start + 32), b1 = *(const v16f *)(start + 48);
    v16f c0 = *(const v16f *)(start + 64), c1 = *(const v16f *)(start + 80);
    v16f d0 = *(const v16f *)(start + 96), d1 = *(const v16f *)(start + 112);
    size_t k;
    (void)scale;
    for (k = 0; k < cols; ++k) {
        const float xk = x[k];
        const size_t o = k * ALOG_PANEL;
        a0 += *(const v16f *)(pa + o) * xk;
        a1 += *(const v16f *)(pa + o + 16) * xk;
        b0 += *(const v16f *)(pb + o) * xk;
        b1 += *(const v16f *)(pb + o + 16) * xk;
        c0 += *(const v16f *)(pc + o) * xk;
        c1 += *(const v16f *)(pc + o + 16) * xk;
        d0 += *(const v16f *)(pd + o) * xk;
        d1 += *(const v16f *)(pd + o + 16) * xk;
    }
    *(v16f *)(sum + 0) = a0;
    *(v16f *)(sum + 16) = a1;
    *(v16f *)(sum + 32) = b0;
    *(v16f *)(sum + 48) = b1;
    *(v16f *)(sum + 64) = c0;
    *(v16f *)(sum + 80) = c1;
    *(v16f *)(sum + 96) = d0;
    *(v16f *)(sum + 112) = d1;
}
#endif

/* ---- the forms: int8 panels --------------------------------------------------------------- */

/*
 * An int8 panel holds each row's weights as int8 with one float scale per row: weight (r, k) is
 * (float)q * scale[r], rounded once, the float DequantizeLinear makes, then multiplied and added
 * as above. Read from memory in a quarter of the bytes, converted in registers.
 */

/* The portable form: named accumulators, as panel_dot_body. */
#define ACC_I8(j) a##j += ((float)c[j] * scale[j]) * xk
static void panel_dot_i8(float *sum, const float *start, const void *panels, const float *scale,
                         size_t stride, const float *const *xs, size_t cols)
{
    const int8_t *panel = (const int8_t *)panels;
    const float *x = xs[0];
    float a0 = start[0], a1 = start[1], a2 = start[2], a3 = start[3], a4 = start[4];
    float a5 = start[5], a6 = start[6], a7 = start[7], a8 = start[8], a9 = start[9];
    float a10 = start[10], a11 = start[11], a12 = start[12], a13 = start[13], a14 = start[14];
    float a15 = start[15], a16 = start[16], a17 = start[17], a18 = start[18], a19 = start[19];
    float a20 = start[20], a21 = start[21], a22 = start[22], a23 = start[23], a24 = start[24];
    float a25 = start[25], a26 = start[26], a27 = start[27], a28 = start[28], a29 = start[29];
    float a30 = start[30], a31 = start[31];
    size_t k;
    (void)stride;
    for (k = 0; k < cols; ++k) {
        const float xk = x[k];
        const int8_t *c = panel + k * ALOG_PANEL;
        ACC_I8(0); ACC_I8(1); ACC_I8(2); ACC_I8(3); ACC_I8(4); ACC_I8(5); ACC_I8(6); ACC_I8(7);
        ACC_I8(8); ACC_I8(9); ACC_I8(10); ACC_I8(11); ACC_I8(12); ACC_I8(13); ACC_I8(14);
        ACC_I8(15); ACC_I8(16); ACC_I8(17); ACC_I8(18); ACC_I8(19); ACC_I8(20); ACC_I8(21);
        ACC_I8(22); ACC_I8(23); ACC_I8(24); ACC_I8(25); ACC_I8(26); ACC_I8(27); ACC_I8(28);
        ACC_I8(29); ACC_I8(30); ACC_I8(31);
    }
    sum[0] = a0; sum[1] = a1; sum[2] = a2; sum[3] = a3; sum[4] = a4; sum[5] = a5; sum[6] = a6; sum[7] = a7;
    sum[8] = a8; sum[9] = a9; sum[10] = a10; sum[11] = a11; sum[12] = a12; sum[13] = a13; sum[14] = a14; sum[15] = a15;
    sum[16] = a16; sum[17] = a17; sum[18] = a18; sum[19] = a19; sum[20] = a20; sum[21] = a21; sum[22] = a22; sum[23] = a23;
    sum[24] = a24; sum[25] = a25; sum[26] = a26; sum[27] = a27; sum[28] = a28; sum[29] = a29; sum[30] = a30; sum[31] = a31;
}
#undef ACC_I8

/* ---- forms written once for any vector width (gcc and clang vectors) ------------------------ */

#if PANEL_VECTOR_FORMS
#define UNROLL _Pragma("GCC unroll 32")
/* Vectors of L lanes per panel row. */
#define PER_ROW(L) (ALOG_PANEL / (L))

/*
 * name: P consecutive panels against V vectors, each sum a VF lane (L of them per vector). ROW(w,
 * panels, offset, scale, k) sets w[0 .. PER_ROW(L)) to row k of the panel at panels + offset as
 * floats (float loads, or int8 converted and scaled), in row order. Each lane then adds its
 * products in k order, as every other form does: the same bits.
 */
#define PANEL_FORM(name, attr, VF, L, ROW, P, V)                                               \
    attr static void name(float *sum, const float *start, const void *panels,                 \
                          const float *scale, size_t stride, const float *const *xs,          \
                          size_t cols)                                                        \
    {                                                                                         \
        VF acc[(V) * (P) * PER_ROW(L)], w[PER_ROW(L)];                                        \
        float u[V];                                                                           \
        size_t k;                                                                             \
        int p, v, j;                                                                          \
        (void)scale;                                                                          \
        (void)stride;                                                                         \
        UNROLL for (v = 0; v < (V); ++v)                                                      \
            UNROLL for (j = 0; j < (P) * PER_ROW(L); ++j)                                     \
                acc[v * (P) * PER_ROW(L) + j] = *(const VF *)(start + j * (L));               \
        for (k = 0; k < cols; ++k) {                                                          \
            UNROLL for (v = 0; v < (V); ++v)                                                  \
                u[v] = xs[v][k];                                                              \
            UNROLL for (p = 0; p < (P); ++p) {                                                \
                ROW(w, panels, (size_t)p * stride, scale + p * ALOG_PANEL, k);                \
                UNROLL for (j = 0; j < PER_ROW(L); ++j)                                       \
                    UNROLL for (v = 0; v < (V); ++v)                                          \
                        acc[(v * (P) + p) * PER_ROW(L) + j] += w[j] * u[v];                   \
            }                                                                                 \
        }                                                                                     \
        UNROLL for (j = 0; j < (V) * (P) * PER_ROW(L); ++j)                                   \
            *(VF *)(sum + j * (L)) = acc[j];                                                  \
    }

typedef float v4f __attribute__((vector_size(16), aligned(4), may_alias));

/* Float rows, 4 lanes (SSE, NEON). */
#define ROW_F32_4(w, panels, offset, scale, k)                                                 \
    do {                                                                                      \
        const float *row_ = (const float *)(panels) + (offset) + (k) * ALOG_PANEL;            \
        int j_;                                                                               \
        UNROLL for (j_ = 0; j_ < PER_ROW(4); ++j_)                                            \
            w[j_] = *(const v4f *)(row_ + 4 * j_);                                            \
    } while (0)

/* Scales the converted int8 rows: w[j] = (float)q * scale, one rounding. */
#define SCALE_ROW(VF, L, w, scale)                                                             \
    do {                                                                                      \
        int s_;                                                                               \
        UNROLL for (s_ = 0; s_ < PER_ROW(L); ++s_)                                            \
            w[s_] = w[s_] * *(const VF *)((scale) + (L) * s_);                                \
    } while (0)
#endif /* PANEL_VECTOR_FORMS */

#if PANEL_VECTOR_FORMS && defined(__x86_64__)
/* int8 rows on baseline x86-64 (SSE2 has no sign extension of bytes): each byte doubled into
 * 16 bits, then into 32, shifted back down arithmetically. */
#define ROW_I8_SSE2(w, panels, offset, scale, k)                                               \
    do {                                                                                      \
        const int8_t *q_ = (const int8_t *)(panels) + (offset) + (k) * ALOG_PANEL;            \
        int h_;                                                                               \
        UNROLL for (h_ = 0; h_ < 2; ++h_) {                                                   \
            const __m128i b_ = _mm_loadu_si128((const __m128i *)(const void *)(q_ + 16 * h_)); \
            const __m128i lo_ = _mm_unpacklo_epi8(b_, b_), hi_ = _mm_unpackhi_epi8(b_, b_);   \
            w[4 * h_ + 0] = (v4f)_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(lo_, lo_), 24)); \
            w[4 * h_ + 1] = (v4f)_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(lo_, lo_), 24)); \
            w[4 * h_ + 2] = (v4f)_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(hi_, hi_), 24)); \
            w[4 * h_ + 3] = (v4f)_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(hi_, hi_), 24)); \
        }                                                                                     \
        SCALE_ROW(v4f, 4, w, scale);                                                          \
    } while (0)

PANEL_FORM(panel_dot_i8_sse2, , v4f, 4, ROW_I8_SSE2, 1, 1)
PANEL_FORM(panel_dot1x2_i8_sse2, , v4f, 4, ROW_I8_SSE2, 1, 2)
#endif

#if PANEL_VECTOR_FORMS && ALOG_ISA_DISPATCH
#define ROW_I8_AVX2(w, panels, offset, scale, k)                                               \
    do {                                                                                      \
        const int8_t *q_ = (const int8_t *)(panels) + (offset) + (k) * ALOG_PANEL;            \
        int j_;                                                                               \
        UNROLL for (j_ = 0; j_ < PER_ROW(8); ++j_)                                            \
            w[j_] = (v8f)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(                             \
                _mm_loadl_epi64((const __m128i *)(const void *)(q_ + 8 * j_))));              \
        SCALE_ROW(v8f, 8, w, scale);                                                          \
    } while (0)

#define ROW_I8_AVX512(w, panels, offset, scale, k)                                             \
    do {                                                                                      \
        const int8_t *q_ = (const int8_t *)(panels) + (offset) + (k) * ALOG_PANEL;            \
        int j_;                                                                               \
        UNROLL for (j_ = 0; j_ < PER_ROW(16); ++j_)                                           \
            w[j_] = (v16f)_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(                            \
                _mm_loadu_si128((const __m128i *)(const void *)(q_ + 16 * j_))));             \
        SCALE_ROW(v16f, 16, w, scale);                                                        \
    } while (0)

/* As the float forms: enough independent sums in flight for each width. */
PANEL_FORM(panel_dot_i8_avx2, ALOG_TARGET_AVX2, v8f, 8, ROW_I8_AVX2, 1, 1)
PANEL_FORM(panel_dot2_i8_avx2, ALOG_TARGET_AVX2, v8f, 8, ROW_I8_AVX2, 2, 1)
PANEL_FORM(panel_dot1x2_i8_avx2, ALOG_TARGET_AVX2, v8f, 8, ROW_I8_AVX2, 1, 2)
PANEL_FORM(panel_dot_i8_avx512, ALOG_TARGET_AVX512, v16f, 16, ROW_I8_AVX512, 1, 1)
PANEL_FORM(panel_dot2_i8_avx512, ALOG_TARGET_AVX512, v16f, 16, ROW_I8_AVX512, 2, 1)
PANEL_FORM(panel_dot4_i8_avx512, ALOG_TARGET_AVX512, v16f, 16, ROW_I8_AVX512, 4, 1)
PANEL_FORM(panel_dot2x4_i8_avx512, ALOG_TARGET_AVX512, v16f, 16, ROW_I8_AVX512, 2, 4)
PANEL_FORM(panel_dot2x2_i8_avx512, ALOG_TARGET_AVX512, v16f, 16, ROW_I8_AVX512, 2, 2)
PANEL_FORM(panel_dot1x4_i8_avx512, ALOG_TARGET_AVX512, v16f, 16, ROW_I8_AVX512, 1, 4)
#endif

#if PANEL_VECTOR_FORMS && ALOG_ISA_NEON_FORMS
/* NEON (AArch64's Advanced SIMD: IEEE arithmetic, subnormals kept): 32 vector registers, so two
 * panels (sixteen sums) at once. The multiplies and adds stay apart (-ffp-contract=off: no fmla). */
#define ROW_I8_NEON(w, panels, offset, scale, k)                                               \
    do {                                                                                      \
        const int8_t *q_ = (const int8_t *)(panels) + (offset) + (k) * ALOG_PANEL;            \
        int h_;                                                                               \
        UNROLL for (h_ = 0; h_ < 2; ++h_) {                                                   \
            const int8x16_t b_ = vld1q_s8(q_ + 16 * h_);                                      \
            const int16x8_t lo_ = vmovl_s8(vget_low_s8(b_)), hi_ = vmovl_s8(vget_high_s8(b_)); \
            w[4 * h_ + 0] = (v4f)vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo_)));                 \
            w[4 * h_ + 1] = (v4f)vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo_)));                \
            w[4 * h_ + 2] = (v4f)vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi_)));                 \
            w[4 * h_ + 3] = (v4f)vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi_)));                \
        }                                                                                     \
        SCALE_ROW(v4f, 4, w, scale);                                                          \
    } while (0)

PANEL_FORM(panel_dot_neon, , v4f, 4, ROW_F32_4, 1, 1)
PANEL_FORM(panel_dot2_neon, , v4f, 4, ROW_F32_4, 2, 1)
PANEL_FORM(panel_dot1x2_neon, , v4f, 4, ROW_F32_4, 1, 2)
PANEL_FORM(panel_dot_i8_neon, , v4f, 4, ROW_I8_NEON, 1, 1)
PANEL_FORM(panel_dot2_i8_neon, , v4f, 4, ROW_I8_NEON, 2, 1)
PANEL_FORM(panel_dot1x2_i8_neon, , v4f, 4, ROW_I8_NEON, 1, 2)
#endif

/* ---- choosing the forms ------------------------------------------------------------------- */

/* The most panels any form works at once. */
#define MAX_WIDE 4

#if PANEL_VECTOR_FORMS
static void add_multi(panel_kernels *k, size_t panels, size_t vectors, panel_fn fn)
{
    k->multi[k->n_multi].panels = panels;
    k->multi[k->n_multi].vectors = vectors;
    k->multi[k->n_multi++].fn = fn;
}
#endif

static panel_kernels pick_kernels(unsigned isa, int int8)
{
    panel_kernels k;
    memset(&k, 0, sizeof k);
    k.dot[0] = int8 ? panel_dot_i8 : panel_dot;
#if PANEL_VECTOR_FORMS && defined(__x86_64__)
    if (int8) {
        k.dot[0] = panel_dot_i8_sse2;
        add_multi(&k, 1, 2, panel_dot1x2_i8_sse2);
    }
#endif
#if PANEL_VECTOR_FORMS && ALOG_ISA_DISPATCH
    if ((isa & ALOG_ISA_AVX512) && int8) {
        k.n_multi = 0;
        k.dot[0] = panel_dot_i8_avx512;
        k.dot[1] = panel_dot2_i8_avx512;
        k.dot[2] = panel_dot4_i8_avx512;
        add_multi(&k, 2, 4, panel_dot2x4_i8_avx512);
        add_multi(&k, 2, 2, panel_dot2x2_i8_avx512);
        add_multi(&k, 1, 4, panel_dot1x4_i8_avx512);
    } else if (isa & ALOG_ISA_AVX512) {
        k.dot[0] = panel_dot_avx512;
        k.dot[1] = panel_dot2_avx512;
        k.dot[2] = panel_dot4_avx512;
        add_multi(&k, 2, 4, panel_dot2x4_avx512);
        add_multi(&k, 2, 2, panel_dot2x2_avx512);
        add_multi(&k, 1, 4, panel_dot1x4_avx512);
    } else if ((isa & ALOG_ISA_AVX2) && int8) {
        k.n_multi = 0;
        k.dot[0] = panel_dot_i8_avx2;
        k.dot[1] = panel_dot2_i8_avx2;
        add_multi(&k, 1, 2, panel_dot1x2_i8_avx2);
    } else if (isa & ALOG_ISA_AVX2) {
        k.dot[0] = panel_dot_avx2;
        k.dot[1] = panel_dot2_avx2;
        add_multi(&k, 1, 2, panel_dot1x2_avx2);
    }
#endif
#if PANEL_VECTOR_FORMS && ALOG_ISA_NEON_FORMS
    if (isa & ALOG_ISA_NEON) {
        k.dot[0] = int8 ? panel_dot_i8_neon : panel_dot_neon;
        k.dot[1] = int8 ? panel_dot2_i8_neon : panel_dot2_neon;
        add_multi(&k, 1, 2, int8 ? panel_dot1x2_i8_neon : panel_dot1x2_neon);
    }
#endif
    (void)isa;
    return k;
}

/* ---- products ------------------------------------------------------------------------------ */

/* y[j] += a[j] for j < n <= ALOG_PANEL; a full panel as a fixed-length loop gcc vectorizes. */
static void add_panel(float *restrict y, const float *restrict a, size_t n)
{
    size_t j;
    if (n == ALOG_PANEL)
        for (j = 0; j < ALOG_PANEL; ++j)
            y[j] += a[j];
    else
        for (j = 0; j < n; ++j)
            y[j] += a[j];
}

/* Rows in the group of panels that starts at row p: the widest one-vector form that has panels
 * with rows in them for all its width. */
static size_t group_rows(const panel_kernels *k, size_t rows, size_t p)
{
    if (k->dot[2] && rows - p > 3 * ALOG_PANEL)
        return 4 * ALOG_PANEL;
    if (k->dot[1] && rows - p > ALOG_PANEL)
        return 2 * ALOG_PANEL;
    return ALOG_PANEL;
}

/* The panel that starts at row p, and its row scales (int8 panels). */
static const void *panel_at(const alog_panels *w, size_t p, size_t cols)
{
    return w->f ? (const void *)(w->f + p * cols) : (const void *)(w->q + p * cols);
}

static const float *scale_at(const alog_panels *w, size_t p)
{
    return w->f ? NULL : w->scale + p;
}

/* The group of panels at row p (of a matrix with `cols` columns) against x: the sums start from
 * start. */
static void dot_group(const panel_kernels *k, size_t group, float *sum, const float *start,
                      const alog_panels *w, size_t p, size_t cols, const float *x)
{
    const float *xs[1];
    panel_fn fn = group == 4 * ALOG_PANEL ? k->dot[2] : group == 2 * ALOG_PANEL ? k->dot[1] : k->dot[0];
    xs[0] = x;
    fn(sum, start, panel_at(w, p, cols), scale_at(w, p), cols * ALOG_PANEL, xs, cols);
}

/* Stores the first `take` sums of `vectors` consecutive vectors (vector v's at sum + v * per) at
 * ys[j * y_row_stride + v * y_vec_stride]. Row by row when the rows are apart: a row's vectors
 * then share a cache line in a channel-major output (a convolution's), instead of every vector
 * touching every row's line again. */
static void store_sums(float *ys, size_t y_row_stride, size_t y_vec_stride, const float *sum,
                       size_t per, size_t vectors, size_t take)
{
    size_t j, v;
    if (y_row_stride == 1) {
        for (v = 0; v < vectors; ++v)
            memcpy(ys + v * y_vec_stride, sum + v * per, take * sizeof(float));
        return;
    }
    for (j = 0; j < take; ++j)
        for (v = 0; v < vectors; ++v)
            ys[j * y_row_stride + v * y_vec_stride] = sum[v * per + j];
}

/* The first multi-vector form with rows for all its panels from row p and at most n vectors, or
 * NULL. */
static const panel_form *pick_multi(const panel_kernels *k, size_t rows, size_t p, size_t n)
{
    size_t i;
    for (i = 0; i < k->n_multi; ++i)
        if (rows - p > (k->multi[i].panels - 1) * ALOG_PANEL && n >= k->multi[i].vectors)
            return &k->multi[i];
    return NULL;
}

/* Panels outside, vectors inside: each group of panels is read from memory once and reused from
 * cache by every vector, several vectors at a time where the form has a multi-vector product. */
void alog_panel_matmul_strided(float *y, size_t y_row_stride, size_t y_vec_stride,
                               const alog_panels *w, size_t rows, size_t cols, const float *init,
                               const float *x, size_t x_stride, size_t n, unsigned isa)
{
    float sum[2 * MAX_WIDE * ALOG_PANEL]; /* up to four vectors' sums of two panels */
    float start[MAX_WIDE * ALOG_PANEL];
    panel_kernels k = pick_kernels(isa, w->f == NULL);
    size_t s, p, j, v, i, group;
    for (p = 0; p < rows; p += group) {
        const panel_form *first = pick_multi(&k, rows, p, n);
        size_t take;
        group = first ? first->panels * ALOG_PANEL : group_rows(&k, rows, p);
        take = rows - p < group ? rows - p : group;
        for (j = 0; j < group; ++j)
            start[j] = init && j < take ? init[p + j] : 0.0f;
        s = 0;
        for (i = first ? (size_t)(first - k.multi) : k.n_multi; i < k.n_multi; ++i) {
            const panel_form *m = &k.multi[i];
            if (m->panels * ALOG_PANEL != group)
                continue;
            for (; s + m->vectors <= n; s += m->vectors) {
                const float *xs[4];
                for (v = 0; v < m->vectors; ++v)
                    xs[v] = x + (s + v) * x_stride;
                m->fn(sum, start, panel_at(w, p, cols), scale_at(w, p), cols * ALOG_PANEL, xs,
                      cols);
                store_sums(y + p * y_row_stride + s * y_vec_stride, y_row_stride, y_vec_stride,
                           sum, group, m->vectors, take);
            }
        }
        for (; s < n; ++s) {
            dot_group(&k, group, sum, start, w, p, cols, x + s * x_stride);
            store_sums(y + p * y_row_stride + s * y_vec_stride, y_row_stride, y_vec_stride, sum,
                       group, 1, take);
        }
    }
}

void alog_panel_matmul(float *y, size_t y_stride, const alog_panels *w, size_t rows, size_t cols,
                       const float *x, size_t x_stride, size_t n, unsigned isa)
{
    alog_panel_matmul_strided(y, 1, y_stride, w, rows, cols, NULL, x, x_stride, n, isa);
}

void alog_panel_matvec_add(float *y, const alog_panels *w, size_t rows, size_t cols,
                           const float *x, const float *bias, unsigned isa)
{
    static const float zeros[MAX_WIDE * ALOG_PANEL];
    float sum[MAX_WIDE * ALOG_PANEL];
    panel_kernels k = pick_kernels(isa, w->f == NULL);
    size_t p, j, group;
    for (p = 0; p < rows; p += group) {
        group = group_rows(&k, rows, p);
        dot_group(&k, group, sum, zeros, w, p, cols, x);
        for (j = 0; j < group && p + j < rows; j += ALOG_PANEL) {
            size_t take = rows - p - j < ALOG_PANEL ? rows - p - j : ALOG_PANEL;
            add_panel(y + p + j, sum + j, take);
            if (bias)
                add_panel(y + p + j, bias + p + j, take);
        }
    }
}
