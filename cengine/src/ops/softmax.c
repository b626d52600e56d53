/*
 * softmax.c - Softmax: exp(x - max) / sum over one axis (opset >= 13), or over all axes from
 * `axis` on, the tensor seen as 2-D (opset < 13).
 */
#include "../math/alog_math.h"
#include "ops.h"

typedef struct softmax_params {
    size_t outer, n, inner;       /* x seen as (outer, n, inner); softmax over n */
} softmax_params;

static const char *const attrs[] = {"axis", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

static void alog_softmax_f32(float *y, const float *x, size_t outer, size_t n, size_t inner)
{
    size_t o, i, k;
    for (o = 0; o < outer; ++o) {
        for (k = 0; k < inner; ++k) {
            const float *xs = x + o * n * inner + k;
            float *ys = y + o * n * inner + k;
            float max = xs[0], sum = 0.0f;
            for (i = 1; i < n; ++i)
                if (xs[i * inner] > max)
                    max = xs[i * inner];
            for (i = 0; i < n; ++i) {
                ys[i * inner] = alog_expf(xs[i * inner] - max);
                sum += ys[i * inner];
            }
            for (i = 0; i < n; ++i)
                ys[i * inner] /= sum;
        }
    }
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status prepare(alog_model *m, alog_node *node)
{
    softmax_params *p = (softmax_params *)node->params;
    alog_value *x;
    int64_t axis;
    int a;
    int legacy = m->opset < 13;
    ALOG_TRY(alog_require_arity(m, node, 1, 1, 1, 1));
    ALOG_TRY(alog_require_input(&x, m, node, 0, ALOG_DTYPE_FLOAT32));
    ALOG_TRY(alog_attr_int(m, node, "axis", legacy ? 1 : -1, &axis));
    if (x->rank == 0)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "input must have rank >= 1");
    ALOG_TRY(alog_axis(m, node, axis, x->rank, &a));
    p->outer = alog_dims_product(x->dims, 0, a);
    p->n = legacy ? alog_dims_product(x->dims, a, x->rank) : (size_t)x->dims[a];
    p->inner = legacy ? 1 : alog_dims_product(x->dims, a + 1, x->rank);
    return alog_unary_prepare(m, node);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const softmax_params *p = (const softmax_params *)node->params;
    const alog_value *x = alog_input(m, node, 0), *y = alog_output(m, node, 0);
    if (p->n)
        alog_softmax_f32((float *)y->data, (const float *)x->data, p->outer, p->n, p->inner);
    return ALOG_OK;
}

const alog_op alog_op_softmax = {"Softmax", attrs, sizeof(softmax_params), prepare, run};
