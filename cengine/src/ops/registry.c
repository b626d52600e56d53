/*
 * registry.c - op_type -> operator: one row per operator file.
 *
 * A build for known models may keep only the operators they use (a firmware image has no room
 * for the rest): with ALOG_OPS_CONFIG defined, this file includes the generated
 * alog_ops_config.h (alog_detect.codegen, from the models' .onnx files), which sets
 * ALOG_OP_<TYPE> to 1 for each operator the models use and to 0 for every other one. A row set
 * to 0 keeps its name but not its operator: nothing then refers to that operator's code, so the
 * linker leaves it out, and a model that needs it fails to load saying the build left it out.
 * Without ALOG_OPS_CONFIG every operator is in.
 */
#include <string.h>

#include "ops.h"

#ifdef ALOG_OPS_CONFIG
#include "alog_ops_config.h"
/* `kept` is a constant 0 or 1: a row set to 0 holds NULL, with no reference to the operator. */
#define ROW(type, op, kept) {type, (kept) ? &op : NULL}
#else
#define ROW(type, op, kept) {type, &op}
#endif

typedef struct registry_row {
    const char *type; /* ONNX op_type */
    const alog_op *op; /* NULL: left out of this build */
} registry_row;

static const registry_row registry[] = {
    ROW("Add", alog_op_add, ALOG_OP_ADD),
    ROW("Concat", alog_op_concat, ALOG_OP_CONCAT),
    ROW("Constant", alog_op_constant, ALOG_OP_CONSTANT),
    ROW("Conv", alog_op_conv, ALOG_OP_CONV),
    ROW("ConvTranspose", alog_op_conv_transpose, ALOG_OP_CONVTRANSPOSE),
    ROW("DequantizeLinear", alog_op_dequantize_linear, ALOG_OP_DEQUANTIZELINEAR),
    ROW("Div", alog_op_div, ALOG_OP_DIV),
    ROW("Gather", alog_op_gather, ALOG_OP_GATHER),
    ROW("Gemm", alog_op_gemm, ALOG_OP_GEMM),
    ROW("LSTM", alog_op_lstm, ALOG_OP_LSTM),
    ROW("MatMul", alog_op_matmul, ALOG_OP_MATMUL),
    ROW("Mul", alog_op_mul, ALOG_OP_MUL),
    ROW("ReduceSum", alog_op_reduce_sum, ALOG_OP_REDUCESUM),
    ROW("Relu", alog_op_relu, ALOG_OP_RELU),
    ROW("Reshape", alog_op_reshape, ALOG_OP_RESHAPE),
    ROW("Selu", alog_op_selu, ALOG_OP_SELU),
    ROW("Sigmoid", alog_op_sigmoid, ALOG_OP_SIGMOID),
    ROW("Slice", alog_op_slice, ALOG_OP_SLICE),
    ROW("Softmax", alog_op_softmax, ALOG_OP_SOFTMAX),
    ROW("Split", alog_op_split, ALOG_OP_SPLIT),
    ROW("Squeeze", alog_op_squeeze, ALOG_OP_SQUEEZE),
    ROW("Sub", alog_op_sub, ALOG_OP_SUB),
    ROW("Tanh", alog_op_tanh, ALOG_OP_TANH),
    ROW("Transpose", alog_op_transpose, ALOG_OP_TRANSPOSE),
    ROW("Unsqueeze", alog_op_unsqueeze, ALOG_OP_UNSQUEEZE),
};

static const registry_row *find_row(const uint8_t *type, size_t type_len)
{
    size_t i;
    for (i = 0; i < sizeof registry / sizeof registry[0]; ++i)
        if (alog_pb_str_eq(type, type_len, registry[i].type))
            return &registry[i];
    return NULL;
}

const alog_op *alog_op_find(const uint8_t *type, size_t type_len)
{
    const registry_row *row = find_row(type, type_len);
    return row ? row->op : NULL;
}

int alog_op_left_out(const uint8_t *type, size_t type_len)
{
    const registry_row *row = find_row(type, type_len);
    return row && !row->op;
}
