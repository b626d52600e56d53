/* sigmoid.c - Sigmoid: the logistic function. */
#include <string.h>

#include "../math/alog_math.h"
#include "ops.h"

/* ---- reference kernel --------------------------------------------------------------------- */

static void alog_sigmoid_f32(float *y, const float *x, size_t n, unsigned isa)
{
    /* The array form computes alog_sigmoidf() of each element bit for bit, in a loop the compiler
     * vectorizes (src/math/alog_math.h); it works in place. */
    if (y != x)
        memcpy(y, x, n * sizeof *y);
    alog_sigmoidf_array(y, n, isa);
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status run(alog_model *m, const alog_node *node)
{
    const alog_value *x = alog_input(m, node, 0), *y = alog_output(m, node, 0);
    alog_sigmoid_f32((float *)y->data, (const float *)x->data, y->count, m->isa);
    return ALOG_OK;
}

const alog_op alog_op_sigmoid = {"Sigmoid", NULL, 0, alog_unary_prepare, run};
