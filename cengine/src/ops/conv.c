/*
 * conv.c - Conv: 1-, 2- or 3-D convolution with pads, strides, dilations, groups and auto_pad,
 * computed as 3-D with unit leading dims. Also the attribute reading ConvTranspose shares.
 *
 * Two paths, chosen at load: when W is a constant, it is packed into panels in the arena and
 * the product runs vectorized across output channels (conv_packed.c), with the reference
 * kernel's bits; otherwise, and with -DALOG_REFERENCE_KERNELS, the reference kernel runs.
 */
#include <string.h>

#include "ops.h"

static const char *const attrs[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads",
                                    "strides", NULL};

/* ---- shared with ConvTranspose ------------------------------------------------------------ */

alog_status alog_conv_auto_pad(alog_model *m, const alog_node *node, int *out_mode)
{
    static const char *const modes[4] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    const uint8_t *s;
    size_t len;
    int i;
    ALOG_TRY(alog_attr_string(m, node, "auto_pad", &s, &len));
    *out_mode = 0;
    if (!s)
        return ALOG_OK;
    for (i = 0; i < 4; ++i) {
        if (alog_pb_str_eq(s, len, modes[i])) {
            *out_mode = i;
            return ALOG_OK;
        }
    }
    return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR, "auto_pad '%.*s' is unknown",
                          (int)len, (const char *)s);
}

/* Reads an ints attribute of `spatial` values (or `twice` that) into the 3-D padded slots. */
static alog_status spatial_ints(alog_model *m, const alog_node *node, const char *name,
                                int spatial, int64_t dflt, int64_t *out, int64_t *out_end)
{
    int64_t v[2 * ALOG_CONV_MAX_SPATIAL];
    size_t n, want = out_end ? 2 * (size_t)spatial : (size_t)spatial;
    int i, lead = ALOG_CONV_MAX_SPATIAL - spatial;
    ALOG_TRY(alog_attr_ints(m, node, name, v, 2 * ALOG_CONV_MAX_SPATIAL, &n));
    if (n != 0 && n != want)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "%s has %lu values, expected %lu", name,
                              (unsigned long)n, (unsigned long)want);
    for (i = 0; i < ALOG_CONV_MAX_SPATIAL; ++i) {
        int k = i - lead;
        out[i] = (k >= 0 && n) ? v[k] : (k >= 0 ? dflt : (out_end ? 0 : 1));
        if (out_end)
            out_end[i] = (k >= 0 && n) ? v[spatial + k] : 0;
    }
    return ALOG_OK;
}

alog_status alog_conv_read_attrs(alog_model *m, const alog_node *node, const alog_value *x,
                                 const alog_value *w, alog_conv_geom *g, int64_t *pads_end)
{
    int64_t kernel[ALOG_CONV_MAX_SPATIAL];
    int i, lead;
    size_t n;
    if (x->rank < 3 || x->rank > 2 + ALOG_CONV_MAX_SPATIAL || w->rank != x->rank)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE,
                              "only 1-, 2- and 3-D inputs with matching weights are supported");
    memset(g, 0, sizeof *g);
    g->spatial = x->rank - 2;
    lead = ALOG_CONV_MAX_SPATIAL - g->spatial;
    ALOG_TRY(alog_attr_int(m, node, "group", 1, &g->group));
    ALOG_TRY(spatial_ints(m, node, "strides", g->spatial, 1, g->stride, NULL));
    ALOG_TRY(spatial_ints(m, node, "dilations", g->spatial, 1, g->dilation, NULL));
    ALOG_TRY(spatial_ints(m, node, "pads", g->spatial, 0, g->pad_begin, pads_end));
    ALOG_TRY(alog_attr_ints(m, node, "kernel_shape", kernel, ALOG_CONV_MAX_SPATIAL, &n));
    if (n != 0 && n != (size_t)g->spatial)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "kernel_shape has the wrong length");
    g->batch = x->dims[0];
    for (i = 0; i < ALOG_CONV_MAX_SPATIAL; ++i) {
        int k = i - lead;
        g->in[i] = k >= 0 ? x->dims[2 + k] : 1;
        g->kernel[i] = k >= 0 ? w->dims[2 + k] : 1;
        if (k >= 0 && n && kernel[k] != g->kernel[i])
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "kernel_shape disagrees with W");
        if (g->stride[i] < 1 || g->dilation[i] < 1 || g->pad_begin[i] < 0 || pads_end[i] < 0)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE,
                                  "strides and dilations must be >= 1, pads >= 0");
    }
    if (g->group < 1)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "group must be >= 1");
    return ALOG_OK;
}

/* ---- reference kernel --------------------------------------------------------------------- */

/* y: (N, M, OD, OH, OW); x: (N, C, ID, IH, IW); w: (M, C/group, KD, KH, KW); bias: (M) or NULL */
static void alog_conv_f32(float *y, const float *x, const alog_weights *w, const float *bias,
                          const alog_conv_geom *g)
{
    const int64_t *in = g->in, *out = g->out, *k = g->kernel, *s = g->stride, *dl = g->dilation;
    const int64_t *pb = g->pad_begin;
    int64_t cin_g = g->in_channels / g->group, cout_g = g->out_channels / g->group;
    int64_t n, oc, ic, o0, o1, o2, k0, k1, k2;
    size_t in_plane = (size_t)(in[0] * in[1] * in[2]), kvol = (size_t)(k[0] * k[1] * k[2]);
    for (n = 0; n < g->batch; ++n)
    for (oc = 0; oc < g->out_channels; ++oc) {
        int64_t grp = oc / cout_g;
        for (o0 = 0; o0 < out[0]; ++o0)
        for (o1 = 0; o1 < out[1]; ++o1)
        for (o2 = 0; o2 < out[2]; ++o2) {
            float acc = 0.0f;
            for (ic = 0; ic < cin_g; ++ic) {
                const float *xc = x + (size_t)(n * g->in_channels + grp * cin_g + ic) * in_plane;
                size_t wc = (size_t)(oc * cin_g + ic) * kvol; /* this filter's first weight */
                for (k0 = 0; k0 < k[0]; ++k0) {
                    int64_t i0 = o0 * s[0] - pb[0] + k0 * dl[0];
                    if (i0 < 0 || i0 >= in[0])
                        continue;
                    for (k1 = 0; k1 < k[1]; ++k1) {
                        int64_t i1 = o1 * s[1] - pb[1] + k1 * dl[1];
                        if (i1 < 0 || i1 >= in[1])
                            continue;
                        for (k2 = 0; k2 < k[2]; ++k2) {
                            int64_t i2 = o2 * s[2] - pb[2] + k2 * dl[2];
                            if (i2 < 0 || i2 >= in[2])
                                continue;
                            acc += xc[(i0 * in[1] + i1) * in[2] + i2] *
                                   alog_weight_at(w, wc + (size_t)((k0 * k[1] + k1) * k[2] + k2));
                        }
                    }
                }
            }
            *y++ = acc + (bias ? bias[oc] : 0.0f);
        }
    }
}

/* ---- Conv's output sizes ------------------------------------------------------------------- */

/* Output size per axis, resolving auto_pad into explicit begin padding. */
static alog_status output_size(alog_model *m, const alog_node *node, alog_conv_geom *g,
                               const int64_t *pads_end, int mode)
{
    int i;
    for (i = 0; i < ALOG_CONV_MAX_SPATIAL; ++i) {
        int64_t extent = (g->kernel[i] - 1) * g->dilation[i] + 1, pe = pads_end[i];
        if (mode == 1 || mode == 2) { /* SAME: out = ceil(in / stride) */
            int64_t out = (g->in[i] + g->stride[i] - 1) / g->stride[i];
            int64_t total = (out - 1) * g->stride[i] + extent - g->in[i];
            if (total < 0)
                total = 0;
            g->pad_begin[i] = mode == 1 ? total / 2 : total - total / 2;
            pe = total - g->pad_begin[i];
        } else if (mode == 3) {
            g->pad_begin[i] = pe = 0;
        }
        if (g->in[i] + g->pad_begin[i] + pe < extent)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "the kernel is larger than the input");
        g->out[i] = (g->in[i] + g->pad_begin[i] + pe - extent) / g->stride[i] + 1;
    }
    return ALOG_OK;
}

/* ---- shared adapter (Conv and ConvTranspose) ----------------------------------------------- */

alog_status alog_conv_prepare(alog_model *m, alog_node *node, int transposed, alog_conv_geom *g,
                              int64_t *pads_end, int *out_mode)
{
    alog_value *x, *w, *b;
    ALOG_TRY(alog_require_arity(m, node, 2, 3, 1, 1));
    ALOG_TRY(alog_require_input(&x, m, node, 0, ALOG_DTYPE_FLOAT32));
    ALOG_TRY(alog_require_input(&w, m, node, 1, ALOG_DTYPE_FLOAT32));
    ALOG_TRY(alog_conv_read_attrs(m, node, x, w, g, pads_end));
    ALOG_TRY(alog_conv_auto_pad(m, node, out_mode));
    g->transposed = transposed;
    g->in_channels = x->dims[1];
    /* W is (M, C/group, k...) for Conv and (C, M/group, k...) for ConvTranspose */
    if (w->dims[1] > INT64_MAX / g->group) /* group >= 1, W has rank >= 3 (read_attrs) */
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "channels do not match W and group");
    g->out_channels = transposed ? w->dims[1] * g->group : w->dims[0];
    if (transposed ? (w->dims[0] != g->in_channels || g->in_channels % g->group)
                   : (g->out_channels % g->group || w->dims[1] * g->group != g->in_channels))
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "channels do not match W and group");
    if (alog_input(m, node, 2)) {
        ALOG_TRY(alog_require_input(&b, m, node, 2, ALOG_DTYPE_FLOAT32));
        if (b->count != (size_t)g->out_channels)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "B must have one value per channel");
        g->has_bias = 1;
    }
    return alog_input_weights(m, node, 1, &g->weights, &g->constant);
}

static alog_status set_output(alog_model *m, const alog_node *node, const alog_conv_geom *g)
{
    int64_t dims[2 + ALOG_CONV_MAX_SPATIAL];
    int i;
    dims[0] = g->batch;
    dims[1] = g->out_channels;
    for (i = 0; i < g->spatial; ++i)
        dims[2 + i] = g->out[ALOG_CONV_MAX_SPATIAL - g->spatial + i];
    return alog_set_output(m, node, 0, ALOG_DTYPE_FLOAT32, 2 + g->spatial, dims);
}

alog_status alog_conv_set_output_and_pack(alog_model *m, alog_node *node, alog_conv_geom *g)
{
    ALOG_TRY(set_output(m, node, g));
    return alog_conv_pack(m, node, g);
}

alog_status alog_conv_run(alog_model *m, const alog_node *node, alog_conv_kernel kernel)
{
    const alog_value *b = alog_input(m, node, 2);
    const alog_conv_geom *g = (const alog_conv_geom *)node->params;
    const float *bias = b ? (const float *)b->data : NULL;
    float *y = (float *)alog_output(m, node, 0)->data;
    const float *x = (const float *)alog_input(m, node, 0)->data;
    alog_weights w = g->weights;
    if (ALOG_PACK_WEIGHTS && alog_conv_packed_exact(g, bias)) { /* not in a reference build */
        alog_conv_packed_f32(y, x, bias, g, node->scratch, m->isa);
        return ALOG_OK;
    }
    if (!g->constant) { /* W is an activation: this run's values */
        memset(&w, 0, sizeof w);
        w.f = (const float *)alog_input(m, node, 1)->data;
        w.inner = w.scales = 1;
    }
    kernel(y, x, &w, bias, g);
    return ALOG_OK;
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status prepare(alog_model *m, alog_node *node)
{
    alog_conv_geom *g = (alog_conv_geom *)node->params;
    int64_t pads_end[ALOG_CONV_MAX_SPATIAL];
    int mode;
    ALOG_TRY(alog_conv_prepare(m, node, 0, g, pads_end, &mode));
    ALOG_TRY(output_size(m, node, g, pads_end, mode));
    return alog_conv_set_output_and_pack(m, node, g);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    return alog_conv_run(m, node, alog_conv_f32);
}

const alog_op alog_op_conv = {"Conv", attrs, sizeof(alog_conv_geom), prepare, run};
