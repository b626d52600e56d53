/*
 * conv_transpose.c - ConvTranspose: the gradient of Conv, with pads, strides, dilations, groups,
 * output_padding, output_shape and auto_pad; 1- to 3-D computed as 3-D. A constant W takes the
 * packed fast path of Conv (conv_packed.c: the same products as a convolution over the input
 * spread out by the strides, in the reference's order), except with a -0 bias.
 */

#include "ops.h"

static const char *const attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                    "output_padding", "output_shape", "pads", "strides", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

/* y: (N, M, OD, OH, OW); x: (N, C, ID, IH, IW); w: (C, M/group, KD, KH, KW); bias: (M) or NULL */
static void alog_conv_transpose_f32(float *y, const float *x, const alog_weights *w,
                                    const float *bias, const alog_conv_geom *g)
{
    const int64_t *in = g->in, *out = g->out, *k = g->kernel, *s = g->stride, *dl = g->dilation;
    const int64_t *pb = g->pad_begin;
    int64_t cin_g = g->in_channels / g->group, cout_g = g->out_channels / g->group;
    int64_t n, c, om, i0, i1, i2, k0, k1, k2;
    size_t out_plane = (size_t)(out[0] * out[1] * out[2]), kvol = (size_t)(k[0] * k[1] * k[2]);
    size_t in_plane = (size_t)(in[0] * in[1] * in[2]), j;
    for (n = 0; n < g->batch; ++n)
        for (c = 0; c < g->out_channels; ++c)
            for (j = 0; j < out_plane; ++j)
                y[(size_t)(n * g->out_channels + c) * out_plane + j] = bias ? bias[c] : 0.0f;
    for (n = 0; n < g->batch; ++n)
    for (c = 0; c < g->in_channels; ++c) {
        int64_t grp = c / cin_g;
        const float *xc = x + (size_t)(n * g->in_channels + c) * in_plane;
        for (om = 0; om < cout_g; ++om) {
            float *yc = y + (size_t)(n * g->out_channels + grp * cout_g + om) * out_plane;
            size_t wc = (size_t)(c * cout_g + om) * kvol; /* this filter's first weight */
            for (i0 = 0; i0 < in[0]; ++i0)
            for (i1 = 0; i1 < in[1]; ++i1)
            for (i2 = 0; i2 < in[2]; ++i2) {
                float xv = xc[(i0 * in[1] + i1) * in[2] + i2];
                for (k0 = 0; k0 < k[0]; ++k0) {
                    int64_t o0 = i0 * s[0] - pb[0] + k0 * dl[0];
                    if (o0 < 0 || o0 >= out[0])
                        continue;
                    for (k1 = 0; k1 < k[1]; ++k1) {
                        int64_t o1 = i1 * s[1] - pb[1] + k1 * dl[1];
                        if (o1 < 0 || o1 >= out[1])
                            continue;
                        for (k2 = 0; k2 < k[2]; ++k2) {
                            int64_t o2 = i2 * s[2] - pb[2] + k2 * dl[2];
                            if (o2 < 0 || o2 >= out[2])
                                continue;
                            yc[(o0 * out[1] + o1) * out[2] + o2] +=
                                xv * alog_weight_at(w, wc + (size_t)((k0 * k[1] + k1) * k[2] + k2));
                        }
                    }
                }
            }
        }
    }
}

/* ---- adapter ------------------------------------------------------------------------------ */

/* Output sizes from the pads, or pads from output_shape / auto_pad (ONNX's formulas). */
static alog_status output_size(alog_model *m, const alog_node *node, alog_conv_geom *g,
                               const int64_t *pads_end, int mode)
{
    int64_t out_pad[ALOG_MAX_RANK], shape[ALOG_MAX_RANK];
    size_t n_pad, n_shape;
    int i, lead = ALOG_CONV_MAX_SPATIAL - g->spatial;
    ALOG_TRY(alog_attr_ints(m, node, "output_padding", out_pad, ALOG_MAX_RANK, &n_pad));
    ALOG_TRY(alog_attr_ints(m, node, "output_shape", shape, ALOG_MAX_RANK, &n_shape));
    if ((n_pad && n_pad != (size_t)g->spatial) ||
        (n_shape && n_shape != (size_t)g->spatial && n_shape != (size_t)g->spatial + 2))
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "output_padding/output_shape length");
    for (i = 0; i < ALOG_CONV_MAX_SPATIAL; ++i) {
        int k = i - lead;
        int64_t extent = (g->kernel[i] - 1) * g->dilation[i] + 1;
        int64_t op = (k >= 0 && n_pad) ? out_pad[k] : 0;
        int64_t full = g->stride[i] * (g->in[i] - 1) + op + extent, pe = pads_end[i];
        int64_t target = -1;
        if (k >= 0 && n_shape)
            target = shape[n_shape - (size_t)g->spatial + (size_t)k];
        else if (k >= 0 && (mode == 1 || mode == 2))
            target = g->in[i] * g->stride[i];
        if (target >= 0) {
            /* total is negative when output_shape asks for more than the pads give: ONNX
             * halves it with floor division (Python's //), which C's / does not do */
            int64_t total = full - target;
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            g->pad_begin[i] = mode == 1 ? half : total - half;
            pe = total - g->pad_begin[i];
        } else if (mode == 3) {
            g->pad_begin[i] = pe = 0;
        }
        g->out[i] = full - g->pad_begin[i] - pe;
        if (g->out[i] < 1)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "the output would be empty");
    }
    return ALOG_OK;
}

static alog_status prepare(alog_model *m, alog_node *node)
{
    alog_conv_geom *g = (alog_conv_geom *)node->params;
    int64_t pads_end[ALOG_CONV_MAX_SPATIAL];
    int mode;
    ALOG_TRY(alog_conv_prepare(m, node, 1, g, pads_end, &mode));
    ALOG_TRY(output_size(m, node, g, pads_end, mode));
    return alog_conv_set_output_and_pack(m, node, g);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    return alog_conv_run(m, node, alog_conv_transpose_f32);
}

const alog_op alog_op_conv_transpose = {"ConvTranspose", attrs, sizeof(alog_conv_geom), prepare,
                                        run};
