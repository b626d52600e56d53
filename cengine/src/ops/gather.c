/* gather.c - Gather: pick slices of `data` along `axis` by int64 indices (negative from the end). */
#include <string.h>

#include "ops.h"

typedef struct gather_params {
    size_t outer;     /* product of data dims before axis */
    size_t axis_len;  /* data dim at axis */
    size_t inner;     /* product of data dims after axis */
} gather_params;

static const char *const attrs[] = {"axis", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

/*
 * y: (outer, n_idx, inner) elements of `elem` bytes; x: (outer, axis_len, inner).
 * Returns the position of the first index out of range, or n_idx when all are valid.
 */
static size_t alog_gather(void *y, const void *x, size_t elem, size_t outer, size_t axis_len,
                          size_t inner, const int64_t *idx, size_t n_idx)
{
    size_t o, j, row = inner * elem;
    for (j = 0; j < n_idx; ++j)
        if (idx[j] < -(int64_t)axis_len || idx[j] >= (int64_t)axis_len)
            return j;
    for (o = 0; o < outer; ++o) {
        for (j = 0; j < n_idx; ++j) {
            size_t k = (size_t)(idx[j] < 0 ? idx[j] + (int64_t)axis_len : idx[j]);
            memcpy((char *)y + (o * n_idx + j) * row, (const char *)x + (o * axis_len + k) * row,
                   row);
        }
    }
    return n_idx;
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status prepare(alog_model *m, alog_node *node)
{
    gather_params *p = (gather_params *)node->params;
    alog_value *data, *idx;
    int64_t axis, dims[ALOG_MAX_RANK];
    int a, rank, i;
    ALOG_TRY(alog_require_arity(m, node, 2, 2, 1, 1));
    data = alog_input(m, node, 0);
    if (!data)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input 0 is missing");
    ALOG_TRY(alog_require_input(&idx, m, node, 1, ALOG_DTYPE_INT64));
    ALOG_TRY(alog_attr_int(m, node, "axis", 0, &axis));
    if (data->rank < 1)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "data must have rank >= 1");
    ALOG_TRY(alog_axis(m, node, axis, data->rank, &a));
    rank = data->rank - 1 + idx->rank;
    if (rank > ALOG_MAX_RANK)
        return alog_node_fail(m, node, ALOG_ERR_LIMIT, "output rank %d exceeds %d", rank,
                              ALOG_MAX_RANK);
    for (i = 0; i < a; ++i)
        dims[i] = data->dims[i];
    for (i = 0; i < idx->rank; ++i)
        dims[a + i] = idx->dims[i];
    for (i = a + 1; i < data->rank; ++i)
        dims[idx->rank + i - 1] = data->dims[i];
    p->outer = alog_dims_product(data->dims, 0, a);
    p->axis_len = (size_t)data->dims[a];
    p->inner = alog_dims_product(data->dims, a + 1, data->rank);
    return alog_set_output(m, node, 0, data->dtype, rank, dims);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const gather_params *p = (const gather_params *)node->params;
    const alog_value *x = alog_input(m, node, 0), *idx = alog_input(m, node, 1);
    const alog_value *y = alog_output(m, node, 0);
    size_t bad = alog_gather(y->data, x->data, alog_dtype_size(x->dtype), p->outer, p->axis_len,
                             p->inner, (const int64_t *)idx->data, idx->count);
    if (bad < idx->count)
        return alog_node_fail(m, node, ALOG_ERR_INVALID_ARGUMENT,
                              "index %lld is out of range [-%lu, %lu)",
                              (long long)((const int64_t *)idx->data)[bad],
                              (unsigned long)p->axis_len, (unsigned long)p->axis_len);
    return ALOG_OK;
}

const alog_op alog_op_gather = {"Gather", attrs, sizeof(gather_params), prepare, run};
