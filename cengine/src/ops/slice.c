/* slice.c - Slice: starts/ends/axes/steps (constant inputs, or attributes before opset 10). */
#include "ops.h"

typedef struct slice_params {
    int rank;
    int64_t in_dims[ALOG_MAX_RANK];   /* (rank) */
    int64_t out_dims[ALOG_MAX_RANK];  /* (rank) */
    int64_t start[ALOG_MAX_RANK];     /* (rank) first input index taken per axis */
    int64_t step[ALOG_MAX_RANK];      /* (rank) */
} slice_params;

static const char *const attrs[] = {"axes", "ends", "starts", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

static void alog_slice(void *y, const void *x, size_t elem, const slice_params *p, size_t count)
{
    int64_t stride[ALOG_MAX_RANK], counter[ALOG_MAX_RANK] = {0}, offset = 0, s = 1;
    size_t o;
    int d;
    for (d = p->rank - 1; d >= 0; --d) {
        stride[d] = s;
        s *= p->in_dims[d];
    }
    for (d = 0; d < p->rank; ++d)
        offset += p->start[d] * stride[d];
    for (o = 0; o < count; ++o) {
        if (elem == 4)
            ((uint32_t *)y)[o] = ((const uint32_t *)x)[offset];
        else
            ((uint64_t *)y)[o] = ((const uint64_t *)x)[offset];
        for (d = p->rank - 1; d >= 0; --d) {
            offset += p->step[d] * stride[d];
            if (++counter[d] < p->out_dims[d])
                break;
            offset -= p->step[d] * stride[d] * p->out_dims[d];
            counter[d] = 0;
        }
    }
}

/* ---- adapter ------------------------------------------------------------------------------ */

typedef struct slice_spec {
    int64_t starts[ALOG_MAX_RANK], ends[ALOG_MAX_RANK], axes[ALOG_MAX_RANK], steps[ALOG_MAX_RANK];
    size_t n_starts, n_ends, n_axes, n_steps;
} slice_spec;

static alog_status read_spec(alog_model *m, const alog_node *node, int rank, slice_spec *s)
{
    size_t i;
    ALOG_TRY(alog_attr_ints(m, node, "starts", s->starts, ALOG_MAX_RANK, &s->n_starts));
    ALOG_TRY(alog_attr_ints(m, node, "ends", s->ends, ALOG_MAX_RANK, &s->n_ends));
    ALOG_TRY(alog_attr_ints(m, node, "axes", s->axes, ALOG_MAX_RANK, &s->n_axes));
    s->n_steps = 0;
    if (node->n_inputs > 1) {
        ALOG_TRY(alog_const_ints(m, node, 1, s->starts, ALOG_MAX_RANK, &s->n_starts));
        ALOG_TRY(alog_const_ints(m, node, 2, s->ends, ALOG_MAX_RANK, &s->n_ends));
        if (alog_input(m, node, 3))
            ALOG_TRY(alog_const_ints(m, node, 3, s->axes, ALOG_MAX_RANK, &s->n_axes));
        if (alog_input(m, node, 4))
            ALOG_TRY(alog_const_ints(m, node, 4, s->steps, ALOG_MAX_RANK, &s->n_steps));
    }
    if (s->n_axes == 0) {
        for (i = 0; i < s->n_starts && i < ALOG_MAX_RANK; ++i)
            s->axes[i] = (int64_t)i;
        s->n_axes = s->n_starts;
    }
    if (s->n_steps == 0) {
        for (i = 0; i < s->n_starts; ++i)
            s->steps[i] = 1;
        s->n_steps = s->n_starts;
    }
    if (s->n_ends != s->n_starts || s->n_axes != s->n_starts || s->n_steps != s->n_starts ||
        s->n_starts > (size_t)rank)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "starts, ends, axes, steps disagree");
    return ALOG_OK;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Start index and length along one axis, numpy's rules for negative and out-of-range bounds. */
static void slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *out_start,
                       int64_t *out_len)
{
    int64_t len;
    if (dim == 0) {
        *out_start = 0;
        *out_len = 0;
        return;
    }
    if (start < 0)
        start += dim;
    if (end < 0)
        end += dim;
    if (step > 0) {
        start = clamp(start, 0, dim);
        end = clamp(end, 0, dim);
        len = end > start ? (end - start + step - 1) / step : 0;
    } else {
        start = clamp(start, 0, dim - 1);
        end = clamp(end, -1, dim - 1);
        len = start > end ? (start - end - step - 1) / -step : 0;
    }
    *out_start = start;
    *out_len = len;
}

static alog_status prepare(alog_model *m, alog_node *node)
{
    slice_params *p = (slice_params *)node->params;
    slice_spec s;
    alog_value *x;
    unsigned mask;
    size_t i;
    int d;
    ALOG_TRY(alog_require_arity(m, node, 1, 5, 1, 1));
    x = alog_input(m, node, 0);
    if (!x)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input 0 is missing");
    ALOG_TRY(read_spec(m, node, x->rank, &s));
    ALOG_TRY(alog_axes_mask(m, node, s.axes, s.n_axes, x->rank, &mask));
    p->rank = x->rank;
    for (d = 0; d < x->rank; ++d) {
        p->in_dims[d] = p->out_dims[d] = x->dims[d];
        p->start[d] = 0;
        p->step[d] = 1;
    }
    for (i = 0; i < s.n_axes; ++i) {
        int a = (int)(s.axes[i] < 0 ? s.axes[i] + x->rank : s.axes[i]);
        if (s.steps[i] == 0)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "step 0 on axis %d", a);
        p->step[a] = s.steps[i];
        slice_axis(x->dims[a], s.starts[i], s.ends[i], s.steps[i], &p->start[a], &p->out_dims[a]);
    }
    return alog_set_output(m, node, 0, x->dtype, x->rank, p->out_dims);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const slice_params *p = (const slice_params *)node->params;
    const alog_value *x = alog_input(m, node, 0), *y = alog_output(m, node, 0);
    alog_slice(y->data, x->data, alog_dtype_size(x->dtype), p, y->count);
    return ALOG_OK;
}

const alog_op alog_op_slice = {"Slice", attrs, sizeof(slice_params), prepare, run};
