/* reshape.c - Reshape: the same elements under a new shape (0 copies a dim, -1 infers one). */
#include <string.h>

#include "ops.h"

static const char *const attrs[] = {"allowzero", NULL};

/* ---- reference kernel (shared with Squeeze and Unsqueeze) --------------------------------- */

alog_status alog_copy_run(alog_model *m, const alog_node *node)
{
    const alog_value *x = alog_input(m, node, 0), *y = alog_output(m, node, 0);
    if (y->count && y->data != x->data) /* planned in place, the bytes are already there */
        memcpy(y->data, x->data, y->count * alog_dtype_size(y->dtype));
    return ALOG_OK;
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status infer_dims(alog_model *m, const alog_node *node, const alog_value *x,
                              int64_t allowzero, int64_t *dims, int rank)
{
    size_t known = 1;
    int i, infer = -1;
    for (i = 0; i < rank; ++i) {
        if (dims[i] == 0 && !allowzero) {
            if (i >= x->rank)
                return alog_node_fail(m, node, ALOG_ERR_SHAPE, "0 at axis %d copies no input axis",
                                      i);
            dims[i] = x->dims[i];
        }
        if (dims[i] == -1) {
            if (infer >= 0)
                return alog_node_fail(m, node, ALOG_ERR_SHAPE, "more than one -1 in the shape");
            infer = i;
        } else if (dims[i] < 0) {
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "negative dimension %lld",
                                  (long long)dims[i]);
        } else {
            known *= (size_t)dims[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || x->count % known)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "cannot infer the -1 dimension");
        dims[infer] = (int64_t)(x->count / known);
        known *= (size_t)dims[infer];
    }
    if (known != x->count)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "%lu elements cannot take a shape of %lu",
                              (unsigned long)x->count, (unsigned long)known);
    return ALOG_OK;
}

static alog_status prepare(alog_model *m, alog_node *node)
{
    alog_value *x;
    int64_t dims[ALOG_MAX_RANK], allowzero;
    size_t rank;
    ALOG_TRY(alog_require_arity(m, node, 2, 2, 1, 1));
    x = alog_input(m, node, 0);
    if (!x)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input 0 is missing");
    ALOG_TRY(alog_attr_int(m, node, "allowzero", 0, &allowzero));
    ALOG_TRY(alog_const_ints(m, node, 1, dims, ALOG_MAX_RANK, &rank));
    ALOG_TRY(infer_dims(m, node, x, allowzero, dims, (int)rank));
    node->in_place = 1; /* the same bytes under another shape */
    return alog_set_output(m, node, 0, x->dtype, (int)rank, dims);
}

const alog_op alog_op_reshape = {"Reshape", attrs, 0, prepare, alog_copy_run};
