/*
 * dequantize_linear.c - DequantizeLinear: y = (x - zero_point) * scale, per tensor or along one
 * axis, for weight-only quantization: x an int8 constant (a quantized weight initializer), the
 * scales float32 constants, each finite and > 0, the zero points (if given) all 0.
 *
 * Its output is the float weights an LSTM, Gemm, Conv or ConvTranspose multiplies by. Those
 * operators read it in its int8 form instead (alog_input_weights: (float)x[i] * scale, the same
 * float this operator computes) and keep int8 panels; when every reader does, the float tensor
 * is never made (plan.c folds it) and this operator does nothing. Otherwise it computes y at each
 * run, like any operator.
 */
#include "ops.h"

enum { IN_X, IN_SCALE, IN_ZERO_POINT };

static const char *const attrs[] = {"axis", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

static void alog_dequantize_i8(float *y, const alog_weights *w, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        y[i] = alog_weight_at(w, i);
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status require_constant(alog_model *m, const alog_node *node, int i,
                                    alog_dtype dtype, alog_value **out)
{
    ALOG_TRY(alog_require_input(out, m, node, i, dtype));
    if ((*out)->kind != ALOG_VALUE_CONSTANT)
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                              "input %d must be a constant (the engine dequantizes weights only)",
                              i);
    return ALOG_OK;
}

/* Scales, and zero points when given: one per slice of the axis, or one for the whole tensor. */
static alog_status check_scales(alog_model *m, const alog_node *node, const alog_value *scale,
                                const alog_value *zero_point, size_t expected)
{
    const float *s = (const float *)scale->data;
    size_t i;
    if (scale->count != expected)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE,
                              "the scale has %lu values, the quantized axis %lu",
                              (unsigned long)scale->count, (unsigned long)expected);
    for (i = 0; i < scale->count; ++i)
        if (!(s[i] > 0.0f) || s[i] - s[i] != 0.0f) /* zero, negative, NaN or infinite */
            return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                                  "scale %lu is not a finite number > 0", (unsigned long)i);
    if (!zero_point)
        return ALOG_OK;
    if (zero_point->rank != scale->rank || zero_point->count != scale->count)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "the zero point and the scale differ in shape");
    for (i = 0; i < zero_point->count; ++i)
        if (((const int8_t *)zero_point->data)[i] != 0)
            return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                                  "zero point %lu is not 0 (only symmetric quantization is "
                                  "supported)", (unsigned long)i);
    return ALOG_OK;
}

static alog_status prepare(alog_model *m, alog_node *node)
{
    alog_value *x, *scale, *zero_point = NULL, *y;
    alog_weights *w;
    int64_t axis;
    int a;
    ALOG_TRY(alog_require_arity(m, node, 2, 3, 1, 1));
    ALOG_TRY(require_constant(m, node, IN_X, ALOG_DTYPE_INT8, &x));
    ALOG_TRY(require_constant(m, node, IN_SCALE, ALOG_DTYPE_FLOAT32, &scale));
    if (alog_input(m, node, IN_ZERO_POINT))
        ALOG_TRY(require_constant(m, node, IN_ZERO_POINT, ALOG_DTYPE_INT8, &zero_point));
    ALOG_TRY(alog_attr_int(m, node, "axis", 1, &axis));
    ALOG_TRY(alog_arena_alloc(m, sizeof *w, (void **)&w));
    w->q = (const int8_t *)x->data;
    w->scale = (const float *)scale->data;
    if (scale->rank == 0) { /* per tensor */
        w->scales = 1;
        w->inner = x->count ? x->count : 1;
        ALOG_TRY(check_scales(m, node, scale, zero_point, 1));
    } else if (scale->rank == 1) { /* per axis */
        ALOG_TRY(alog_axis(m, node, axis, x->rank, &a));
        w->scales = (size_t)x->dims[a];
        w->inner = alog_dims_product(x->dims, a + 1, x->rank);
        ALOG_TRY(check_scales(m, node, scale, zero_point, w->scales));
        if (w->scales == 0 || w->inner == 0) /* an empty tensor: nothing to scale */
            w->scales = w->inner = 1;
    } else {
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "the scale must be a scalar or a 1-D tensor");
    }
    ALOG_TRY(alog_set_output(m, node, 0, ALOG_DTYPE_FLOAT32, x->rank, x->dims));
    y = alog_output(m, node, 0);
    if (y)
        y->quantized = w;
    return ALOG_OK;
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const alog_value *y = alog_output(m, node, 0);
    if (!y || y->folded) /* every reader takes the int8 form */
        return ALOG_OK;
    alog_dequantize_i8((float *)y->data, y->quantized, y->count);
    return ALOG_OK;
}

const alog_op alog_op_dequantize_linear = {"DequantizeLinear", attrs, 0, prepare, run};
