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

size_t alog_panel_rows(size_t rows)
{
    return (rows + ALOG_PANEL - 1) / ALOG_PANEL * ALOG_PANEL;
}

void alog_panel_pack(float *packed, const float *w, size_t rows, size_t cols, size_t row_stride,
                     size_t col_stride)
{
    size_t p, k, j;
    for (p = 0; p < rows; p += ALOG_PANEL) {
        float *panel = packed + p * cols;
        for (k = 0; k < cols; ++k)
            for (j = 0; j < ALOG_PANEL; ++j)
                panel[k * ALOG_PANEL + j] =
                    p + j < rows ? w[(p + j) * row_stride + k * col_stride] : 0.0f;
    }
}

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

static void panel_dot(float *sum, const float *start, const float *panel, const float *x,
                      size_t cols)
{
    panel_dot_body(sum, start, panel, x, cols);
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
typedef void (*panel_dot_fn)(float *sum, const float *start, const float *panel, const float *x,
                             size_t cols);
/* panels: the first panel; the next one starts `stride` floats later; count: the columns. */
typedef void (*panel_dotn_fn)(float *sum, const float *start, const float *panels, size_t stride,
                              const float *x, size_t count);

/* Several panels against several vectors xs[0..vectors): vector v's sums (panels * ALOG_PANEL of
 * them) at sum + v * panels * ALOG_PANEL, each sum starting from start. A weight loaded once
 * then serves every vector: what keeps the product from waiting on the cache when the panels do
 * not fit in L1 (a convolution's long unfolded rows), with enough independent sums in flight. */
typedef void (*panel_multi_fn)(float *sum, const float *start, const float *panels, size_t stride,
                               const float *const *xs, size_t count);

typedef struct panel_multi {
    size_t panels, vectors;
    panel_multi_fn fn;
} panel_multi;

#define MAX_MULTI 3

typedef struct panel_kernels {
    panel_dot_fn dot;
    panel_dotn_fn dot2;
    panel_dotn_fn dot4;
    panel_multi multi[MAX_MULTI]; /* in order of preference */
    size_t n_multi;
} panel_kernels;

#if ALOG_ISA_DISPATCH
ALOG_TARGET_AVX2 static void panel_dot_avx2(float *sum, const float *start, const float *panel,
                                            const float *x, size_t cols)
{
    panel_dot_body(sum, start, panel, x, cols);
}

ALOG_TARGET_AVX512 static void panel_dot_avx512(float *sum, const float *start,
                                                const float *panel, const float *x, size_t cols)
{
    panel_dot_body(sum, start, panel, x, cols);
}

/* 8 and 16 floats, loaded and stored at any float-aligned address (gcc and clang vectors). */
typedef float v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));

/* Two consecutive panels (panel p at panels + p * cols * ALOG_PANEL), eight 8-lane sums. */
ALOG_TARGET_AVX2 static void panel_dot2_avx2(float *sum, const float *start, const float *panels,
                                             size_t stride, const float *x, size_t cols)
{
    const float *pa = panels, *pb = panels + stride;
    v8f a0 = *(const v8f *)(start + 0), a1 = *(const v8f *)(start + 8);
    v8f a2 = *(const v8f *)(start + 16), a3 = *(const v8f *)(start + 24);
    v8f b0 = *(const v8f *)(start + 32), b1 = *(const v8f *)(start + 40);
    v8f b2 = *(const v8f *)(start + 48), b3 = *(const v8f *)(start + 56);
    size_t k;
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
ALOG_TARGET_AVX2 static void panel_dot1x2_avx2(float *sum, const float *start, const float *panel,
                                               size_t stride, const float *const *xs, size_t cols)
{
    const float *x0 = xs[0], *x1 = xs[1];
    const v8f s0 = *(const v8f *)(start + 0), s1 = *(const v8f *)(start + 8);
    const v8f s2 = *(const v8f *)(start + 16), s3 = *(const v8f *)(start + 24);
    v8f a0 = s0, a1 = s1, a2 = s2, a3 = s3, b0 = s0, b1 = s1, b2 = s2, b3 = s3;
    size_t k;
    (void)stride;
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
                                                 const float *panels, size_t stride,
                                                 const float *x, size_t cols)
{
    const float *pa = panels, *pb = panels + stride;
    v16f a0 = *(const v16f *)(start + 0), a1 = *(const v16f *)(start + 16);
    v16f b0 = *(const v16f *)(start + 32), b1 = *(const v16f *)(start + 48);
    size_t k;
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
                                                   const float *panels, size_t stride,
                                                   const float *const *xs, size_t cols)
{
    const float *pa = panels, *pb = panels + stride, *x0 = xs[0], *x1 = xs[1];
    v16f a0 = *(const v16f *)(start + 0), a1 = *(const v16f *)(start + 16);
    v16f b0 = *(const v16f *)(start + 32), b1 = *(const v16f *)(start + 48);
    v16f e0 = a0, e1 = a1, f0 = b0, f1 = b1;
    size_t k;
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
                                                   const float *panels, size_t stride,
                                                   const float *const *xs, size_t cols)
{
    const float *pa = panels, *pb = panels + stride;
    const float *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];
    const v16f s0 = *(const v16f *)(start + 0), s1 = *(const v16f *)(start + 16);
    const v16f s2 = *(const v16f *)(start + 32), s3 = *(const v16f *)(start + 48);
    v16f a0 = s0, a1 = s1, a2 = s2, a3 = s3, b0 = s0, b1 = s1, b2 = s2, b3 = s3;
    v16f c0 = s0, c1 = s1, c2 = s2, c3 = s3, d0 = s0, d1 = s1, d2 = s2, d3 = s3;
    size_t k;
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
                                                   const float *panel, size_t stride,
                                                   const float *const *xs, size_t cols)
{
    const float *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];
    const v16f s0 = *(const v16f *)(start + 0), s1 = *(const v16f *)(start + 16);
    v16f a0 = s0, a1 = s1, b0 = s0, b1 = s1, c0 = s0, c1 = s1, d0 = s0, d1 = s1;
    size_t k;
    (void)stride;
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
                                                 const float *panels, size_t stride,
                                                 const float *x, size_t cols)
{
    const float *pa = panels, *pb = pa + stride, *pc = pb + stride, *pd = pc + stride;
    v16f a0 = *(const v16f *)(start + 0), a1 = *(const v16f *)(start + 16);
    v16f b0 = *(const v16f *)(start + 32), b1 = *(const v16f *)(start + 48);
    v16f c0 = *(const v16f *)(start + 64), c1 = *(const v16f *)(start + 80);
    v16f d0 = *(const v16f *)(start + 96), d1 = *(const v16f *)(start + 112);
    size_t k;
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

/* The most panels any form works at once. */
#define MAX_WIDE 4

static panel_kernels pick_kernels(unsigned isa)
{
    panel_kernels k;
    k.dot = panel_dot;
    k.dot2 = k.dot4 = NULL;
    k.n_multi = 0;
#if ALOG_ISA_DISPATCH
    if (isa & ALOG_ISA_AVX512) {
        const panel_multi multi[] = {{2, 4, panel_dot2x4_avx512},
                                     {2, 2, panel_dot2x2_avx512},
                                     {1, 4, panel_dot1x4_avx512}};
        k.dot = panel_dot_avx512;
        k.dot2 = panel_dot2_avx512;
        k.dot4 = panel_dot4_avx512;
        memcpy(k.multi, multi, sizeof multi);
        k.n_multi = sizeof multi / sizeof multi[0];
    } else if (isa & ALOG_ISA_AVX2) {
        k.dot = panel_dot_avx2;
        k.dot2 = panel_dot2_avx2;
        k.multi[0].panels = 1;
        k.multi[0].vectors = 2;
        k.multi[0].fn = panel_dot1x2_avx2;
        k.n_multi = 1;
    }
#endif
    (void)isa;
    return k;
}

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

/* Rows in the group of panels that starts at row p: the widest form that has panels with rows
 * in them for all its width. */
static size_t group_rows(const panel_kernels *k, size_t rows, size_t p)
{
    if (k->dot4 && rows - p > 3 * ALOG_PANEL)
        return 4 * ALOG_PANEL;
    if (k->dot2 && rows - p > ALOG_PANEL)
        return 2 * ALOG_PANEL;
    return ALOG_PANEL;
}

/* The group of panels at row p (of a matrix with `cols` columns) against x: the sums start from
 * start. */
static void dot_group(const panel_kernels *k, size_t group, float *sum, const float *start,
                      const float *packed, size_t p, size_t cols, const float *x)
{
    const float *first = packed + p * cols;
    if (group == 4 * ALOG_PANEL)
        k->dot4(sum, start, first, cols * ALOG_PANEL, x, cols);
    else if (group == 2 * ALOG_PANEL)
        k->dot2(sum, start, first, cols * ALOG_PANEL, x, cols);
    else
        k->dot(sum, start, first, x, cols);
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
static const panel_multi *pick_multi(const panel_kernels *k, size_t rows, size_t p, size_t n)
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
                               const float *packed, size_t rows, size_t cols, const float *init,
                               const float *x, size_t x_stride, size_t n, unsigned isa)
{
    float sum[2 * MAX_WIDE * ALOG_PANEL]; /* up to four vectors' sums of two panels */
    float start[MAX_WIDE * ALOG_PANEL];
    panel_kernels k = pick_kernels(isa);
    size_t s, p, j, v, i, group;
    for (p = 0; p < rows; p += group) {
        const panel_multi *first = pick_multi(&k, rows, p, n);
        size_t take;
        group = first ? first->panels * ALOG_PANEL : group_rows(&k, rows, p);
        take = rows - p < group ? rows - p : group;
        for (j = 0; j < group; ++j)
            start[j] = init && j < take ? init[p + j] : 0.0f;
        s = 0;
        for (i = first ? (size_t)(first - k.multi) : k.n_multi; i < k.n_multi; ++i) {
            const panel_multi *m = &k.multi[i];
            if (m->panels * ALOG_PANEL != group)
                continue;
            for (; s + m->vectors <= n; s += m->vectors) {
                const float *xs[4];
                for (v = 0; v < m->vectors; ++v)
                    xs[v] = x + (s + v) * x_stride;
                m->fn(sum, start, packed + p * cols, cols * ALOG_PANEL, xs, cols);
                store_sums(y + p * y_row_stride + s * y_vec_stride, y_row_stride, y_vec_stride,
                           sum, group, m->vectors, take);
            }
        }
        for (; s < n; ++s) {
            dot_group(&k, group, sum, start, packed, p, cols, x + s * x_stride);
            store_sums(y + p * y_row_stride + s * y_vec_stride, y_row_stride, y_vec_stride, sum,
                       group, 1, take);
        }
    }
}

void alog_panel_matmul(float *y, size_t y_stride, const float *packed, size_t rows, size_t cols,
                       const float *x, size_t x_stride, size_t n, unsigned isa)
{
    alog_panel_matmul_strided(y, 1, y_stride, packed, rows, cols, NULL, x, x_stride, n, isa);
}

void alog_panel_matvec_add(float *y, const float *packed, size_t rows, size_t cols,
                           const float *x, const float *bias, unsigned isa)
{
    static const float zeros[MAX_WIDE * ALOG_PANEL];
    float sum[MAX_WIDE * ALOG_PANEL];
    panel_kernels k = pick_kernels(isa);
    size_t p, j, group;
    for (p = 0; p < rows; p += group) {
        group = group_rows(&k, rows, p);
        dot_group(&k, group, sum, zeros, packed, p, cols, x);
        for (j = 0; j < group && p + j < rows; j += ALOG_PANEL) {
            size_t take = rows - p - j < ALOG_PANEL ? rows - p - j : ALOG_PANEL;
            add_panel(y + p + j, sum + j, take);
            if (bias)
                add_panel(y + p + j, bias + p + j, take);
        }
    }
}
