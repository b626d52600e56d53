/* tanh.c - Tanh: the hyperbolic tangent. */
#include "../math/alog_math.h"
#include "ops.h"

/* ---- kernel and adapter ------------------------------------------------------------------- */

/* The array form computes alog_tanhf() of each element bit for bit, in a loop the compiler
 * vectorizes (src/math/alog_math.h). */
static alog_status run(alog_model *m, const alog_node *node)
{
    return alog_unary_array_run(m, node, alog_tanhf_array);
}

const alog_op alog_op_tanh = {"Tanh", NULL, 0, alog_unary_prepare, run};
