/* concat.c - Concat: join tensors of equal shape except along `axis`. */
#include <string.h>

#include "ops.h"

typedef struct concat_params {
    size_t outer;                 /* product of dims before axis */
    size_t inner;                 /* product of dims after axis */
    int axis;
} concat_params;

static const char *const attrs[] = {"axis", NULL};

static alog_status prepare(alog_model *m, alog_node *node)
{
    concat_params *p = (concat_params *)node->params;
    alog_value *first, *x;
    int64_t axis, dims[ALOG_MAX_RANK];
    int a, i, k;
    ALOG_TRY(alog_require_arity(m, node, 1, 1 << 20, 1, 1));
    first = alog_input(m, node, 0);
    if (!first)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input 0 is missing");
    ALOG_TRY(alog_attr_int(m, node, "axis", 0, &axis));
    ALOG_TRY(alog_axis(m, node, axis, first->rank, &a));
    memcpy(dims, first->dims, sizeof dims);
    dims[a] = 0;
    for (i = 0; i < node->n_inputs; ++i) {
        ALOG_TRY(alog_require_input(&x, m, node, i, first->dtype));
        if (x->rank != first->rank)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "input %d has rank %d, expected %d", i,
                                  x->rank, first->rank);
        for (k = 0; k < x->rank; ++k)
            if (k != a && x->dims[k] != first->dims[k])
                return alog_node_fail(m, node, ALOG_ERR_SHAPE,
                                      "input %d differs from input 0 at axis %d", i, k);
        if (x->dims[a] > INT64_MAX - dims[a])
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "the inputs' sizes along axis %d overflow",
                                  a);
        dims[a] += x->dims[a];
    }
    p->axis = a;
    p->outer = alog_dims_product(dims, 0, a);
    p->inner = alog_dims_product(dims, a + 1, first->rank);
    return alog_set_output(m, node, 0, first->dtype, first->rank, dims);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const concat_params *p = (const concat_params *)node->params;
    const alog_value *y = alog_output(m, node, 0);
    size_t elem = alog_dtype_size(y->dtype), o, done = 0;
    int i;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < node->n_inputs; ++i) {
            const alog_value *x = alog_input(m, node, i);
            size_t chunk = (size_t)x->dims[p->axis] * p->inner * elem; /* one outer slice */
            if (chunk)
                memcpy((char *)y->data + done, (const char *)x->data + o * chunk, chunk);
            done += chunk;
        }
    }
    return ALOG_OK;
}

const alog_op alog_op_concat = {"Concat", attrs, sizeof(concat_params), prepare, run};
