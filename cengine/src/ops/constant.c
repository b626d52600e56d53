/* constant.c - Constant: a tensor, float(s) or int(s) fixed at load time (no run-time work). */
#include <string.h>

#include "ops.h"

static const char *const attrs[] = {"value", "value_float", "value_floats", "value_int",
                                    "value_ints", "value_string", "value_strings",
                                    "sparse_value", NULL};

/* The output becomes a constant holding `count` elements copied from src. */
static alog_status make_constant(alog_model *m, alog_value *y, alog_dtype dtype, int rank,
                                 int64_t count, const void *src)
{
    size_t bytes = (size_t)count * alog_dtype_size(dtype);
    ALOG_TRY(alog_arena_alloc(m, bytes, &y->data));
    if (bytes)
        memcpy(y->data, src, bytes);
    y->kind = ALOG_VALUE_CONSTANT;
    y->dtype = dtype;
    y->rank = rank;
    y->dims[0] = count;
    y->count = (size_t)count;
    return ALOG_OK;
}

static alog_status from_tensor(alog_model *m, const alog_node *node, const alog_attr *a,
                               alog_value *y)
{
    alog_value t;
    alog_status st;
    memset(&t, 0, sizeof t);
    if (a->value.wire != ALOG_PB_BYTES)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "value is not a tensor");
    st = alog_tensor_decode(m, a->value.data, a->value.len, &t);
    if (st != ALOG_OK)
        return alog_node_fail(m, node, st, "value cannot be used: %s", alog_status_str(st));
    y->kind = ALOG_VALUE_CONSTANT;
    y->dtype = t.dtype;
    y->rank = t.rank;
    memcpy(y->dims, t.dims, sizeof y->dims);
    y->count = t.count;
    y->data = t.data;
    return ALOG_OK;
}

static alog_status prepare(alog_model *m, alog_node *node)
{
    alog_value *y;
    alog_attr a;
    int found;
    int64_t ints[64];
    float floats[64];
    size_t n;
    ALOG_TRY(alog_require_arity(m, node, 0, 0, 1, 1));
    y = alog_output(m, node, 0);
    if (!y)
        return ALOG_OK;
    ALOG_TRY(alog_attr_find(m, node, "value", &a, &found));
    if (found)
        return from_tensor(m, node, &a, y);
    ALOG_TRY(alog_attr_find(m, node, "value_float", &a, &found));
    if (found) {
        ALOG_TRY(alog_attr_float(m, node, "value_float", 0.0f, &floats[0]));
        return make_constant(m, y, ALOG_DTYPE_FLOAT32, 0, 1, floats);
    }
    ALOG_TRY(alog_attr_find(m, node, "value_int", &a, &found));
    if (found) {
        ALOG_TRY(alog_attr_int(m, node, "value_int", 0, &ints[0]));
        return make_constant(m, y, ALOG_DTYPE_INT64, 0, 1, ints);
    }
    ALOG_TRY(alog_attr_find(m, node, "value_floats", &a, &found));
    if (found) {
        ALOG_TRY(alog_attr_floats(m, node, "value_floats", floats, 64, &n));
        return make_constant(m, y, ALOG_DTYPE_FLOAT32, 1, (int64_t)n, floats);
    }
    ALOG_TRY(alog_attr_find(m, node, "value_ints", &a, &found));
    if (found) {
        ALOG_TRY(alog_attr_ints(m, node, "value_ints", ints, 64, &n));
        return make_constant(m, y, ALOG_DTYPE_INT64, 1, (int64_t)n, ints);
    }
    return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                          "only tensor, float(s) and int(s) values are supported");
}

static alog_status run(alog_model *m, const alog_node *node)
{
    (void)m;
    (void)node;
    return ALOG_OK; /* the value was placed at load time */
}

const alog_op alog_op_constant = {"Constant", attrs, 0, prepare, run};
