/* tanh.c - Tanh: the hyperbolic tangent. */
#include "../math/alog_math.h"
#include "ops.h"

/* ---- reference kernel --------------------------------------------------------------------- */

static void alog_tanh_f32(float *y, const float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        y[i] = alog_tanhf(x[i]);
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status run(alog_model *m, const alog_node *node)
{
    const alog_value *x = alog_input(m, node, 0), *y = alog_output(m, node, 0);
    alog_tanh_f32((float *)y->data, (const float *)x->data, y->count);
    return ALOG_OK;
}

const alog_op alog_op_tanh = {"Tanh", NULL, 0, alog_unary_prepare, run};
