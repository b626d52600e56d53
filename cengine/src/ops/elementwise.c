/* elementwise.c - numpy broadcasting and the shared prepare/run of element-wise operators. */
#include <string.h>

#include "ops.h"

/* ---- broadcasting ------------------------------------------------------------------------- */

alog_status alog_broadcast_shapes(alog_model *m, const alog_node *node, const alog_value *a,
                                  const alog_value *b, int *out_rank, int64_t *out_dims)
{
    int rank = a->rank > b->rank ? a->rank : b->rank, i;
    for (i = 0; i < rank; ++i) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE,
                                  "cannot broadcast dimension %lld with %lld", (long long)da,
                                  (long long)db);
        out_dims[i] = da == 1 ? db : da;
    }
    *out_rank = rank;
    return ALOG_OK;
}

/* Strides of an operand aligned to the output's rank: 0 where it is broadcast. */
static void operand_strides(const alog_value *v, int rank, const int64_t *out_dims,
                            int64_t *strides)
{
    int64_t s = 1;
    int i;
    for (i = rank - 1; i >= 0; --i) {
        int iv = i - (rank - v->rank);
        int64_t d = iv >= 0 ? v->dims[iv] : 1;
        strides[i] = (d == 1 && out_dims[i] != 1) ? 0 : s;
        s *= d;
    }
}

/* Merges dim i into i+1 when both operands walk them as one contiguous (or broadcast) run. */
static void merge_dims(alog_broadcast *p)
{
    int i, j;
    for (i = p->rank - 2; i >= 0; --i) {
        int64_t inner = p->dims[i + 1];
        if (p->a_stride[i] != p->a_stride[i + 1] * inner ||
            p->b_stride[i] != p->b_stride[i + 1] * inner)
            continue;
        p->dims[i + 1] *= p->dims[i];
        for (j = i; j < p->rank - 1; ++j) {
            p->dims[j] = p->dims[j + 1];
            p->a_stride[j] = p->a_stride[j + 1];
            p->b_stride[j] = p->b_stride[j + 1];
        }
        p->rank--;
    }
}

static alog_status plan_broadcast(alog_model *m, const alog_node *node, const alog_value *a,
                                  const alog_value *b, alog_broadcast *p)
{
    int64_t dims[ALOG_MAX_RANK];
    int rank;
    ALOG_TRY(alog_broadcast_shapes(m, node, a, b, &rank, dims));
    ALOG_TRY(alog_set_output(m, node, 0, a->dtype, rank, dims));
    if (rank == 0) {
        dims[0] = 1;
        rank = 1;
        p->a_stride[0] = p->b_stride[0] = 0;
    } else {
        operand_strides(a, rank, dims, p->a_stride);
        operand_strides(b, rank, dims, p->b_stride);
    }
    p->rank = rank;
    memcpy(p->dims, dims, sizeof dims);
    merge_dims(p);
    return ALOG_OK;
}

/* ---- binary operators --------------------------------------------------------------------- */

alog_status alog_binary_prepare(alog_model *m, alog_node *node, int allow_i64)
{
    alog_value *a, *b;
    ALOG_TRY(alog_require_arity(m, node, 2, 2, 1, 1));
    a = alog_input(m, node, 0);
    if (!a)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input 0 is missing");
    if (a->dtype != ALOG_DTYPE_FLOAT32 && !(allow_i64 && a->dtype == ALOG_DTYPE_INT64))
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                              "element type %d is not supported", (int)a->dtype);
    ALOG_TRY(alog_require_input(&b, m, node, 1, a->dtype));
    ALOG_TRY(plan_broadcast(m, node, a, b, (alog_broadcast *)node->params));
    /* y[i] is written after its operands are read, so y may take the bytes of an operand of the
     * output's shape (one that is not broadcast) */
    node->in_place = a->count == alog_output(m, node, 0)->count ? 1
                     : b->count == alog_output(m, node, 0)->count ? 2 : 0;
    return ALOG_OK;
}

alog_status alog_binary_run(alog_model *m, const alog_node *node, alog_binary_f32 f32,
                            alog_binary_i64 i64)
{
    const alog_broadcast *p = (const alog_broadcast *)node->params;
    const alog_value *a = alog_input(m, node, 0), *b = alog_input(m, node, 1);
    const alog_value *y = alog_output(m, node, 0);
    size_t elem = alog_dtype_size(y->dtype), inner = (size_t)p->dims[p->rank - 1];
    size_t outer = y->count / (inner ? inner : 1), o;
    int64_t counter[ALOG_MAX_RANK] = {0};
    int64_t ao = 0, bo = 0;
    int d;
    if (y->count == 0)
        return ALOG_OK;
    for (o = 0; o < outer; ++o) {
        char *yp = (char *)y->data + o * inner * elem;
        const char *ap = (const char *)a->data + (size_t)ao * elem;
        const char *bp = (const char *)b->data + (size_t)bo * elem;
        if (y->dtype == ALOG_DTYPE_FLOAT32)
            f32((float *)(void *)yp, (const float *)(const void *)ap,
                (size_t)p->a_stride[p->rank - 1], (const float *)(const void *)bp,
                (size_t)p->b_stride[p->rank - 1], inner);
        else
            i64((int64_t *)(void *)yp, (const int64_t *)(const void *)ap,
                (size_t)p->a_stride[p->rank - 1], (const int64_t *)(const void *)bp,
                (size_t)p->b_stride[p->rank - 1], inner);
        /* odometer over the outer dims */
        for (d = p->rank - 2; d >= 0; --d) {
            ao += p->a_stride[d];
            bo += p->b_stride[d];
            if (++counter[d] < p->dims[d])
                break;
            ao -= p->a_stride[d] * p->dims[d];
            bo -= p->b_stride[d] * p->dims[d];
            counter[d] = 0;
        }
    }
    return ALOG_OK;
}

/* ---- unary operators ---------------------------------------------------------------------- */

alog_status alog_unary_prepare(alog_model *m, alog_node *node)
{
    alog_value *x;
    ALOG_TRY(alog_require_arity(m, node, 1, 1, 1, 1));
    ALOG_TRY(alog_require_input(&x, m, node, 0, ALOG_DTYPE_FLOAT32));
    node->in_place = 1; /* every unary op reads x[i] before it writes y[i] */
    return alog_set_output(m, node, 0, x->dtype, x->rank, x->dims);
}

alog_status alog_unary_array_run(alog_model *m, const alog_node *node, alog_unary_array array)
{
    const alog_value *x = alog_input(m, node, 0), *y = alog_output(m, node, 0);
    if (y->data != x->data)
        memcpy(y->data, x->data, y->count * sizeof(float));
    array((float *)y->data, y->count, m->isa);
    return ALOG_OK;
}
