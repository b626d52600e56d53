/* reduce_sum.c - ReduceSum over the given axes (input since opset 13, attribute before). */
#include <string.h>

#include "ops.h"

typedef struct reduce_params {
    int rank;
    int64_t dims[ALOG_MAX_RANK];      /* (rank) input dims */
    int64_t y_stride[ALOG_MAX_RANK];  /* (rank) output stride per input axis, 0 where reduced */
} reduce_params;

static const char *const attrs[] = {"axes", "keepdims", "noop_with_empty_axes", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

/* y[out(i)] += x[i] for every input element, out() dropping the reduced axes. */
static void alog_reduce_sum_f32(float *y, size_t y_count, const float *x, size_t x_count,
                                const reduce_params *p)
{
    int64_t counter[ALOG_MAX_RANK] = {0}, offset = 0;
    size_t i;
    int d;
    memset(y, 0, y_count * sizeof *y);
    for (i = 0; i < x_count; ++i) {
        y[offset] += x[i];
        for (d = p->rank - 1; d >= 0; --d) {
            offset += p->y_stride[d];
            if (++counter[d] < p->dims[d])
                break;
            offset -= p->y_stride[d] * p->dims[d];
            counter[d] = 0;
        }
    }
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status prepare(alog_model *m, alog_node *node)
{
    reduce_params *p = (reduce_params *)node->params;
    alog_value *x;
    int64_t axes[ALOG_MAX_RANK], dims[ALOG_MAX_RANK], keepdims, noop, s = 1;
    size_t n;
    unsigned mask;
    int present, d, rank = 0;
    ALOG_TRY(alog_require_arity(m, node, 1, 2, 1, 1));
    ALOG_TRY(alog_require_input(&x, m, node, 0, ALOG_DTYPE_FLOAT32));
    ALOG_TRY(alog_attr_int(m, node, "keepdims", 1, &keepdims));
    ALOG_TRY(alog_attr_int(m, node, "noop_with_empty_axes", 0, &noop));
    ALOG_TRY(alog_read_axes(m, node, 1, axes, &n, &present));
    ALOG_TRY(alog_axes_mask(m, node, axes, n, x->rank, &mask));
    if (n == 0)
        mask = noop ? 0u : (1u << x->rank) - 1u; /* no axes: all of them, or none */
    p->rank = x->rank;
    for (d = x->rank - 1; d >= 0; --d) {
        int reduced = (mask >> d) & 1;
        p->dims[d] = x->dims[d];
        p->y_stride[d] = reduced ? 0 : s;
        if (!reduced)
            s *= x->dims[d];
    }
    for (d = 0; d < x->rank; ++d) {
        if (!((mask >> d) & 1))
            dims[rank++] = x->dims[d];
        else if (keepdims)
            dims[rank++] = 1;
    }
    return alog_set_output(m, node, 0, x->dtype, rank, dims);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const alog_value *x = alog_input(m, node, 0), *y = alog_output(m, node, 0);
    alog_reduce_sum_f32((float *)y->data, y->count, (const float *)x->data, x->count,
                        (const reduce_params *)node->params);
    return ALOG_OK;
}

const alog_op alog_op_reduce_sum = {"ReduceSum", attrs, sizeof(reduce_params), prepare, run};
