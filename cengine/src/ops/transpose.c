/* transpose.c - Transpose: permute the axes (default: reverse them). */
#include "ops.h"

typedef struct transpose_params {
    int rank;
    int64_t in_dims[ALOG_MAX_RANK];   /* (rank) */
    int64_t perm[ALOG_MAX_RANK];      /* (rank) output axis i is input axis perm[i] */
} transpose_params;

static const char *const attrs[] = {"perm", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

/* y[.., i_k, ..] = x[.., i_perm[k], ..]; 4- or 8-byte elements. */
static void alog_transpose(void *y, const void *x, size_t elem, int rank, const int64_t *in_dims,
                           const int64_t *perm, size_t count)
{
    int64_t in_stride[ALOG_MAX_RANK], step[ALOG_MAX_RANK], out_dims[ALOG_MAX_RANK];
    int64_t counter[ALOG_MAX_RANK] = {0}, offset = 0, s = 1;
    size_t o;
    int d;
    for (d = rank - 1; d >= 0; --d) {
        in_stride[d] = s;
        s *= in_dims[d];
    }
    for (d = 0; d < rank; ++d) {
        step[d] = in_stride[perm[d]];
        out_dims[d] = in_dims[perm[d]];
    }
    for (o = 0; o < count; ++o) {
        if (elem == 4)
            ((uint32_t *)y)[o] = ((const uint32_t *)x)[offset];
        else
            ((uint64_t *)y)[o] = ((const uint64_t *)x)[offset];
        for (d = rank - 1; d >= 0; --d) {
            offset += step[d];
            if (++counter[d] < out_dims[d])
                break;
            offset -= step[d] * out_dims[d];
            counter[d] = 0;
        }
    }
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status prepare(alog_model *m, alog_node *node)
{
    transpose_params *p = (transpose_params *)node->params;
    alog_value *x;
    int64_t dims[ALOG_MAX_RANK];
    size_t n;
    int i, seen = 0;
    ALOG_TRY(alog_require_arity(m, node, 1, 1, 1, 1));
    x = alog_input(m, node, 0);
    if (!x)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input 0 is missing");
    ALOG_TRY(alog_attr_ints(m, node, "perm", p->perm, ALOG_MAX_RANK, &n));
    if (n == 0) {
        for (i = 0; i < x->rank; ++i)
            p->perm[i] = x->rank - 1 - i;
    } else if ((int)n != x->rank) {
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "perm has %d entries for rank %d", (int)n,
                              x->rank);
    }
    for (i = 0; i < x->rank; ++i) {
        if (p->perm[i] < 0 || p->perm[i] >= x->rank || (seen >> p->perm[i]) & 1)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "perm is not a permutation");
        seen |= 1 << p->perm[i];
        dims[i] = x->dims[p->perm[i]];
        p->in_dims[i] = x->dims[i];
    }
    p->rank = x->rank;
    return alog_set_output(m, node, 0, x->dtype, x->rank, dims);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const transpose_params *p = (const transpose_params *)node->params;
    const alog_value *x = alog_input(m, node, 0), *y = alog_output(m, node, 0);
    alog_transpose(y->data, x->data, alog_dtype_size(x->dtype), p->rank, p->in_dims, p->perm,
                   y->count);
    return ALOG_OK;
}

const alog_op alog_op_transpose = {"Transpose", attrs, sizeof(transpose_params), prepare, run};
