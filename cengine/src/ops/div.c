/* div.c - Div: element-wise float32 division with numpy broadcasting. */
#include "ops.h"

/* ---- reference kernel --------------------------------------------------------------------- */

static void alog_div_f32(float *y, const float *a, size_t a_step, const float *b, size_t b_step,
                         size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        y[i] = a[i * a_step] / b[i * b_step];
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status prepare(alog_model *m, alog_node *node)
{
    /* integer division would need its own rounding and divide-by-zero rules: not needed */
    return alog_binary_prepare(m, node, 0);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    return alog_binary_run(m, node, alog_div_f32, NULL);
}

const alog_op alog_op_div = {"Div", NULL, sizeof(alog_broadcast), prepare, run};
