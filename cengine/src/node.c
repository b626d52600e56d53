/* node.c - the helpers operators use: inputs, outputs, shapes, constant operands, errors. */
#include <stdarg.h>
#include <string.h>

#include "engine.h"
#include "format.h"

alog_status alog_node_fail(alog_model *m, const alog_node *node, alog_status status,
                           const char *fmt, ...)
{
    va_list ap;
    size_t used = 0;
    if (!m)
        return status;
    if (node && node->op)
        used = alog_format(m->error, sizeof m->error, "%s node '%.*s': ", node->op->type,
                           (int)(node->name_len > 64 ? 64 : node->name_len),
                           (const char *)node->name);
    va_start(ap, fmt);
    alog_vformat(m->error + used, sizeof m->error - used, fmt, ap);
    va_end(ap);
    return status;
}

alog_value *alog_input(const alog_model *m, const alog_node *node, int i)
{
    if (i < 0 || i >= node->n_inputs || node->inputs[i] < 0)
        return NULL;
    return &m->values[node->inputs[i]];
}

alog_value *alog_output(const alog_model *m, const alog_node *node, int i)
{
    if (i < 0 || i >= node->n_outputs || node->outputs[i] < 0)
        return NULL;
    return &m->values[node->outputs[i]];
}

static const char *dtype_name(alog_dtype dtype)
{
    switch (dtype) {
    case ALOG_DTYPE_FLOAT32:
        return "float32";
    case ALOG_DTYPE_INT8:
        return "int8";
    case ALOG_DTYPE_INT64:
        return "int64";
    }
    return "an unsupported type";
}

alog_status alog_require_input(alog_value **out, alog_model *m, const alog_node *node, int i,
                               alog_dtype dtype)
{
    alog_value *v = alog_input(m, node, i);
    *out = v;
    if (!v)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input %d is missing", i);
    if (v->dtype != dtype)
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR, "input %d is %s, expected %s", i,
                              dtype_name(v->dtype), dtype_name(dtype));
    return ALOG_OK;
}

alog_status alog_require_arity(alog_model *m, const alog_node *node, int min_in, int max_in,
                               int min_out, int max_out)
{
    if (node->n_inputs < min_in || node->n_inputs > max_in)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "takes %d to %d inputs, got %d", min_in,
                              max_in, node->n_inputs);
    if (node->n_outputs < min_out || node->n_outputs > max_out)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "gives %d to %d outputs, got %d",
                              min_out, max_out, node->n_outputs);
    return ALOG_OK;
}

size_t alog_dims_product(const int64_t *dims, int begin, int end)
{
    size_t p = 1;
    int i;
    for (i = begin; i < end; ++i)
        p *= (size_t)dims[i];
    return p;
}

alog_status alog_set_output(alog_model *m, const alog_node *node, int i, alog_dtype dtype,
                            int rank, const int64_t *dims)
{
    alog_value *v = alog_output(m, node, i);
    size_t count = 1, limit;
    int k;
    if (!v)
        return ALOG_OK; /* an omitted optional output */
    if (rank < 0 || rank > ALOG_MAX_RANK)
        return alog_node_fail(m, node, ALOG_ERR_LIMIT, "output rank %d exceeds %d", rank,
                              ALOG_MAX_RANK);
    limit = SIZE_MAX / 4 / alog_dtype_size(dtype);
    for (k = 0; k < rank; ++k) {
        if (dims[k] < 0)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "output %d has a negative dimension", i);
        if (dims[k] && count > limit / (size_t)dims[k])
            return alog_node_fail(m, node, ALOG_ERR_LIMIT, "output %d is too large", i);
        count *= (size_t)dims[k];
        v->dims[k] = dims[k];
    }
    v->dtype = dtype;
    v->rank = rank;
    v->count = count;
    return ALOG_OK;
}

alog_status alog_const_ints(alog_model *m, const alog_node *node, int i, int64_t *out,
                            size_t cap, size_t *out_count)
{
    alog_value *v;
    ALOG_TRY(alog_require_input(&v, m, node, i, ALOG_DTYPE_INT64));
    if (v->kind != ALOG_VALUE_CONSTANT)
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                              "input %d must be a constant (an initializer or a Constant): the "
                              "engine resolves shapes at load time", i);
    if (v->rank > 1 || v->count > cap)
        return alog_node_fail(m, node, ALOG_ERR_LIMIT, "input %d must be a list of at most %lu",
                              i, (unsigned long)cap);
    if (v->count)
        memcpy(out, v->data, v->count * sizeof(int64_t));
    *out_count = v->count;
    return ALOG_OK;
}

alog_status alog_axis(alog_model *m, const alog_node *node, int64_t axis, int rank,
                      int *out_axis)
{
    if (axis < -(int64_t)rank || axis >= (int64_t)rank)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "axis %lld is out of range for rank %d",
                              (long long)axis, rank);
    *out_axis = (int)(axis < 0 ? axis + rank : axis);
    return ALOG_OK;
}

alog_status alog_input_weights(alog_model *m, alog_node *node, int i, alog_weights *out,
                               int *out_found)
{
    alog_value *v = alog_input(m, node, i);
    memset(out, 0, sizeof *out);
    *out_found = 0;
    if (!v)
        return ALOG_OK;
    if (v->dtype != ALOG_DTYPE_FLOAT32)
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR, "input %d is %s, expected %s", i,
                              dtype_name(v->dtype), dtype_name(ALOG_DTYPE_FLOAT32));
    if (v->quantized) {
        *out = *v->quantized;
        if (i < 32)
            node->claimed |= (uint32_t)1 << i;
        *out_found = 1;
    } else if (v->kind == ALOG_VALUE_CONSTANT) {
        out->f = (const float *)v->data;
        out->inner = out->scales = 1;
        *out_found = 1;
    }
    return ALOG_OK;
}
