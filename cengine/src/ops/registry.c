/* registry.c - op_type -> operator: one row per operator file. */
#include <string.h>

#include "ops.h"

static const alog_op *const registry[] = {
    &alog_op_add,     &alog_op_concat,      &alog_op_constant, &alog_op_conv,
    &alog_op_conv_transpose, &alog_op_div,  &alog_op_gather,   &alog_op_gemm,
    &alog_op_lstm,    &alog_op_matmul,      &alog_op_mul,      &alog_op_reduce_sum,
    &alog_op_relu,    &alog_op_reshape,     &alog_op_selu,     &alog_op_sigmoid,
    &alog_op_slice,   &alog_op_softmax,     &alog_op_split,    &alog_op_squeeze,
    &alog_op_sub,     &alog_op_tanh,        &alog_op_transpose, &alog_op_unsqueeze,
};

const alog_op *alog_op_find(const uint8_t *type, size_t type_len)
{
    size_t i;
    for (i = 0; i < sizeof registry / sizeof registry[0]; ++i)
        if (alog_pb_str_eq(type, type_len, registry[i]->type))
            return registry[i];
    return NULL;
}
