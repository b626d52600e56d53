/*
 * conv_packed.c - the fast path of Conv and ConvTranspose: the weights packed at load into the
 * row panels of panel.c (one row per output channel), the input unfolded (im2col) into scratch a
 * tile of output pixels at a time, and one panel product per tile, vectorized across output
 * channels.
 *
 * Both operators become the same product. Per spatial axis the input is laid on a line of zeros:
 * element i at lead + i * step. Output o then adds, for k ascending, line[o * ostride + k * dil]
 * times tap k of the (re-ordered) weights:
 *   Conv           lead = pad_begin, step = 1, ostride = stride, taps as in W;
 *   ConvTranspose  lead = (kernel - 1) * dil - pad_begin, step = stride, ostride = 1, taps
 *                  reversed: tap k ascending is input index ascending, the order in which the
 *                  reference kernel scatters into each output.
 * Over input channels first, then (d, h, w) in that nesting, each output adds its products in
 * the reference kernel's order, from the same start (0 for Conv, then + bias; the bias for
 * ConvTranspose). The zeros of the line add products the reference skips: 0 times a finite
 * weight is +0 or -0, and adding either to a sum leaves it unchanged unless the sum is -0. A sum
 * that starts at +0 or at a nonzero value never becomes -0 in round-to-nearest, so the weights
 * are packed only when all finite, and a ConvTranspose whose bias holds a -0 runs the reference
 * kernel (alog_conv_packed_exact). Hence the reference kernel's exact bits.
 */
#include <string.h>

#include "ops.h"

/* Unfolded input per tile: 64 KiB, so that the tile stays in L2 while every panel of the
 * weights passes over it, and a large image does not need its whole unfolding at once. The tile
 * is alive at the peak of MSCRED's arena (the first ConvLSTM's convolutions): 256 KiB tiles ran
 * no faster on the default MSCRED (n = 16 and 56) and within 3% on the paper's at n = 32, and
 * took 200 KB more of the arena at n = 56. */
#define TILE_FLOATS 16384

/* ---- geometry ------------------------------------------------------------------------------ */

/* One axis laid on the line of zeros (see the top of the file). */
typedef struct conv_axis {
    int64_t lead, step, ostride;
} conv_axis;

static conv_axis axis_of(const alog_conv_geom *g, int a)
{
    conv_axis l;
    if (g->transposed) {
        l.lead = (g->kernel[a] - 1) * g->dilation[a] - g->pad_begin[a];
        l.step = g->stride[a];
        l.ostride = 1;
    } else {
        l.lead = g->pad_begin[a];
        l.step = 1;
        l.ostride = g->stride[a];
    }
    return l;
}

static size_t kernel_volume(const alog_conv_geom *g)
{
    return (size_t)(g->kernel[0] * g->kernel[1] * g->kernel[2]);
}

/* Products per output: input channels of a group times taps. */
static size_t unfolded_cols(const alog_conv_geom *g)
{
    return (size_t)(g->in_channels / g->group) * kernel_volume(g);
}

static size_t output_pixels(const alog_conv_geom *g)
{
    return (size_t)(g->out[0] * g->out[1] * g->out[2]);
}

static size_t tile_pixels(const alog_conv_geom *g)
{
    size_t cols = unfolded_cols(g), pixels = output_pixels(g);
    size_t tile = TILE_FLOATS / cols;
    return tile < 1 ? 1 : (tile > pixels ? pixels : tile);
}

/* Floats of the unfolded tile, even so that the int64 tables after it stay aligned. */
static size_t tile_floats(const alog_conv_geom *g)
{
    size_t n = tile_pixels(g) * unfolded_cols(g);
    return n + n % 2;
}

static size_t table_entries(const alog_conv_geom *g)
{
    return (size_t)(g->out[0] * g->kernel[0] + g->out[1] * g->kernel[1] +
                    g->out[2] * g->kernel[2]);
}

/* ---- packing ------------------------------------------------------------------------------- */

/* Where weight (row, col) of a ConvTranspose group's matrix lies in W (C, M/group, taps): row m,
 * column (c, tap) with the taps reversed. */
typedef struct transposed_index {
    size_t group, cin_g, cout_g, kvol;
} transposed_index;

static size_t transposed_at(const void *ctx, size_t r, size_t col)
{
    const transposed_index *t = (const transposed_index *)ctx;
    size_t c = col / t->kvol, k = col % t->kvol;
    return ((t->group * t->cin_g + c) * t->cout_g + r) * t->kvol + t->kvol - 1 - k;
}

/* Whether every weight is a finite number (0 times it is then +0 or -0, see the top). */
static int all_finite(const alog_weights *w, size_t n)
{
    size_t i;
    if (w->q) { /* |q| <= 128: finite when 128 * scale is */
        for (i = 0; i < w->scales; ++i)
            if (!(w->scale[i] * 128.0f - w->scale[i] * 128.0f == 0.0f))
                return 0;
        return 1;
    }
    for (i = 0; i < n; ++i)
        if (!(w->f[i] - w->f[i] == 0.0f)) /* NaN and +-inf give NaN */
            return 0;
    return 1;
}

/* The packed copy of an earlier node of the same op over the same weights (ConvLSTM steps). */
static const alog_panels *shared_packing(const alog_model *m, const alog_node *node,
                                         const alog_conv_geom *g)
{
    const alog_node *other;
    for (other = m->nodes; other < node; ++other) {
        const alog_conv_geom *o = (const alog_conv_geom *)other->params;
        if (other->op == node->op && other->inputs[1] == node->inputs[1] && o->packed &&
            o->group == g->group)
            return o->packed;
    }
    return NULL;
}

/*
 * One group's weights as panels: (alog_panel_rows(cout_g) / ALOG_PANEL, cols, ALOG_PANEL), one
 * row per output channel, the columns (input channel, tap). Conv's W rows are already in that
 * order; ConvTranspose's W is (C, M/group, taps) and its taps go reversed.
 */
static alog_status pack_group(alog_model *m, alog_panels *out, const alog_conv_geom *g,
                              size_t grp)
{
    size_t cols = unfolded_cols(g), cout_g = (size_t)(g->out_channels / g->group);
    alog_panel_strides conv;
    transposed_index transposed;
    alog_panel_index index = g->transposed ? transposed_at : alog_panel_strided;
    const void *ctx = g->transposed ? (const void *)&transposed : (const void *)&conv;
    void *mem;
    int int8;
    conv.base = grp * cout_g * cols;
    conv.row_stride = cols;
    conv.col_stride = 1;
    transposed.group = grp;
    transposed.cin_g = (size_t)(g->in_channels / g->group);
    transposed.cout_g = cout_g;
    transposed.kvol = kernel_volume(g);
    int8 = alog_panel_int8_fits(&g->weights, index, ctx, cout_g, cols);
    ALOG_TRY(alog_arena_alloc(m, alog_panel_bytes(cout_g, cols, int8), &mem));
    /* measuring needs the bytes, not what goes in them */
    alog_panel_pack(out, mem, &g->weights, index, ctx, cout_g, cols, int8, !m->measuring);
    return ALOG_OK;
}

alog_status alog_conv_pack(alog_model *m, alog_node *node, alog_conv_geom *g)
{
    const alog_value *w = alog_input(m, node, 1);
    alog_panels *packed;
    size_t grp;
    if (!ALOG_PACK_WEIGHTS || !g->constant || !all_finite(&g->weights, w->count))
        return ALOG_OK;
    g->packed = shared_packing(m, node, g);
    if (!g->packed) {
        ALOG_TRY(alog_arena_alloc(m, (size_t)g->group * sizeof *packed, (void **)&packed));
        for (grp = 0; grp < (size_t)g->group; ++grp)
            ALOG_TRY(pack_group(m, &packed[grp], g, grp));
        g->packed = packed;
    }
    node->scratch_size = tile_floats(g) * sizeof(float) + table_entries(g) * sizeof(int64_t);
    return ALOG_OK;
}

/* ---- the product --------------------------------------------------------------------------- */

/* table: (out, kernel): the input index output o reads through tap k, or -1 for a zero. */
static void axis_table(int64_t *table, const alog_conv_geom *g, int a)
{
    conv_axis l = axis_of(g, a);
    int64_t o, k;
    for (o = 0; o < g->out[a]; ++o) {
        for (k = 0; k < g->kernel[a]; ++k) {
            int64_t t = o * l.ostride + k * g->dilation[a] - l.lead;
            int ok = t >= 0 && t % l.step == 0 && t / l.step < g->in[a];
            *table++ = ok ? t / l.step : -1;
        }
    }
}

/* The input offset (in one channel's plane) output pixel p reads through tap (k0, k1, k2), or -1
 * for padding; t0, t1, t2: the pixel's rows of the axis tables. */
static int64_t tap_offset(const int64_t *t0, const int64_t *t1, const int64_t *t2, int64_t k0,
                          int64_t k1, int64_t k2, const int64_t *in)
{
    int64_t i0 = t0[k0], i1 = t1[k1], i2 = t2[k2];
    return (i0 < 0 || i1 < 0 || i2 < 0) ? -1 : (i0 * in[1] + i1) * in[2] + i2;
}

/* Taps whose offsets unfold() finds once per pixel for all channels; a kernel with more taps
 * finds each tap's offset per channel instead (the same values). */
#define UNFOLD_TAPS 64

/* Is every tap of the pixel whose axis-table rows are t0, t1, t2 inside the input? For Conv an
 * axis reads o * stride + k * dilation - pad, increasing with k: its first and last taps tell. */
static int conv_inside(const int64_t *t0, const int64_t *t1, const int64_t *t2, const int64_t *k)
{
    return t0[0] >= 0 && t0[k[0] - 1] >= 0 && t1[0] >= 0 && t1[k[1] - 1] >= 0 && t2[0] >= 0 &&
           t2[k[2] - 1] >= 0;
}

/*
 * col: (count, cols) the unfolded input of output pixels first.. first + count - 1, row-major
 * over (channel, tap) as the panels' columns; x: (cin_g, in) one group of one image.
 */
static void unfold(float *col, const float *x, const alog_conv_geom *g, int64_t *const *table,
                   size_t first, size_t count)
{
    const int64_t *in = g->in, *k = g->kernel;
    size_t in_plane = (size_t)(in[0] * in[1] * in[2]), cin_g = (size_t)(g->in_channels / g->group);
    size_t p, c, taps = (size_t)(k[0] * k[1] * k[2]), t;
    int64_t k0, k1, k2, off, offset[UNFOLD_TAPS], step[UNFOLD_TAPS];
    if (taps <= UNFOLD_TAPS) { /* a Conv's taps from its first, for a pixel inside the input */
        t = 0;
        for (k0 = 0; k0 < k[0]; ++k0)
        for (k1 = 0; k1 < k[1]; ++k1)
        for (k2 = 0; k2 < k[2]; ++k2)
            step[t++] = (k0 * g->dilation[0] * in[1] + k1 * g->dilation[1]) * in[2] +
                        k2 * g->dilation[2];
    }
    for (p = first; p < first + count; ++p) {
        int64_t o2 = (int64_t)p % g->out[2], o1 = (int64_t)p / g->out[2] % g->out[1];
        int64_t o0 = (int64_t)p / (g->out[2] * g->out[1]);
        const int64_t *t0 = table[0] + o0 * k[0], *t1 = table[1] + o1 * k[1];
        const int64_t *t2 = table[2] + o2 * k[2];
        if (taps <= UNFOLD_TAPS && !g->transposed && conv_inside(t0, t1, t2, k)) {
            /* most pixels: every value is there, at a fixed step from the first tap's */
            const float *xc = x + (t0[0] * in[1] + t1[0]) * in[2] + t2[0];
            for (c = 0; c < cin_g; ++c, xc += in_plane, col += taps)
                for (t = 0; t < taps; ++t)
                    col[t] = xc[step[t]];
            continue;
        }
        if (taps <= UNFOLD_TAPS) { /* the pixel's offset per tap, then each channel */
            t = 0;
            for (k0 = 0; k0 < k[0]; ++k0)
            for (k1 = 0; k1 < k[1]; ++k1)
            for (k2 = 0; k2 < k[2]; ++k2)
                offset[t++] = tap_offset(t0, t1, t2, k0, k1, k2, in);
            for (c = 0; c < cin_g; ++c) {
                const float *xc = x + c * in_plane;
                for (t = 0; t < taps; ++t)
                    *col++ = offset[t] < 0 ? 0.0f : xc[offset[t]];
            }
            continue;
        }
        for (c = 0; c < cin_g; ++c) {
            const float *xc = x + c * in_plane;
            for (k0 = 0; k0 < k[0]; ++k0)
            for (k1 = 0; k1 < k[1]; ++k1)
            for (k2 = 0; k2 < k[2]; ++k2) {
                off = tap_offset(t0, t1, t2, k0, k1, k2, in);
                *col++ = off < 0 ? 0.0f : xc[off];
            }
        }
    }
}

int alog_conv_packed_exact(const alog_conv_geom *g, const float *bias)
{
    int64_t oc;
    uint32_t bits;
    if (!g->packed)
        return 0;
    for (oc = 0; g->transposed && bias && oc < g->out_channels; ++oc) {
        memcpy(&bits, &bias[oc], sizeof bits);
        if (bits == 0x80000000u)
            return 0;
    }
    return 1;
}

/* y: (N, M, out); x: (N, C, in); bias: (M) or NULL; scratch: tile, then the axis tables */
void alog_conv_packed_f32(float *y, const float *x, const float *bias, const alog_conv_geom *g,
                          void *scratch, unsigned isa)
{
    size_t cols = unfolded_cols(g), pixels = output_pixels(g), tile = tile_pixels(g);
    size_t cin_g = (size_t)(g->in_channels / g->group), cout_g = (size_t)(g->out_channels / g->group);
    size_t in_plane = (size_t)(g->in[0] * g->in[1] * g->in[2]);
    size_t first, j;
    float *col = (float *)scratch; /* (tile, cols) */
    int64_t *table[ALOG_CONV_MAX_SPATIAL], n, grp, oc;
    int a;
    table[0] = (int64_t *)(void *)(col + tile_floats(g));
    for (a = 0; a < ALOG_CONV_MAX_SPATIAL; ++a) {
        if (a > 0)
            table[a] = table[a - 1] + g->out[a - 1] * g->kernel[a - 1];
        axis_table(table[a], g, a);
    }
    for (n = 0; n < g->batch; ++n)
    for (grp = 0; grp < g->group; ++grp) {
        const float *xg = x + ((size_t)(n * g->in_channels) + (size_t)grp * cin_g) * in_plane;
        float *yg = y + ((size_t)(n * g->out_channels) + (size_t)grp * cout_g) * pixels;
        const float *start = g->transposed && bias ? bias + (size_t)grp * cout_g : NULL;
        for (first = 0; first < pixels; first += tile) {
            size_t count = pixels - first < tile ? pixels - first : tile;
            unfold(col, xg, g, table, first, count);
            alog_panel_matmul_strided(yg + first, pixels, 1, &g->packed[grp], cout_g, cols, start,
                                      col, cols, count, isa);
        }
    }
    if (g->transposed)
        return;
    /* Conv adds its bias after the sum, as the reference does (+ 0 without one) */
    for (n = 0; n < g->batch; ++n)
        for (oc = 0; oc < g->out_channels; ++oc) {
            float b = bias ? bias[oc] : 0.0f;
            float *yc = y + (size_t)(n * g->out_channels + oc) * pixels;
            for (j = 0; j < pixels; ++j)
                yc[j] = yc[j] + b;
        }
}
