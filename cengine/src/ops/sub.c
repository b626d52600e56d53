/* sub.c - Sub: element-wise subtraction with numpy broadcasting. */
#include "ops.h"

/* ---- reference kernels -------------------------------------------------------------------- */

static void alog_sub_f32(float *y, const float *a, size_t a_step, const float *b, size_t b_step,
                        size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        y[i] = a[i * a_step] - b[i * b_step];
}

static void alog_sub_i64(int64_t *y, const int64_t *a, size_t a_step, const int64_t *b, size_t b_step,
                        size_t n)
{
    size_t i;
    /* unsigned arithmetic: wraps on overflow like onnxruntime instead of undefined behaviour */
    for (i = 0; i < n; ++i)
        y[i] = (int64_t)((uint64_t)a[i * a_step] - (uint64_t)b[i * b_step]);
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status prepare(alog_model *m, alog_node *node)
{
    return alog_binary_prepare(m, node, 1);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    return alog_binary_run(m, node, alog_sub_f32, alog_sub_i64);
}

const alog_op alog_op_sub = {"Sub", NULL, sizeof(alog_broadcast), prepare, run};
