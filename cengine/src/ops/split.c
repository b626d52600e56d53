/* split.c - Split: cut a tensor along `axis` into parts (given sizes, num_outputs, or equal). */
#include <string.h>

#include "ops.h"

#define SPLIT_MAX_OUTPUTS 64

typedef struct split_params {
    size_t outer, inner;          /* products of dims before / after axis */
    int axis;
    int64_t sizes[SPLIT_MAX_OUTPUTS];  /* (n_outputs) part sizes along axis */
} split_params;

static const char *const attrs[] = {"axis", "num_outputs", "split", NULL};

/* Part sizes from the "split" input/attribute, or ceil(dim / n) with a smaller last part. */
static alog_status part_sizes(alog_model *m, const alog_node *node, int64_t dim, split_params *p)
{
    size_t n = 0, k;
    int64_t total = 0, num_outputs;
    ALOG_TRY(alog_attr_ints(m, node, "split", p->sizes, SPLIT_MAX_OUTPUTS, &n));
    if (n == 0 && alog_input(m, node, 1))
        ALOG_TRY(alog_const_ints(m, node, 1, p->sizes, SPLIT_MAX_OUTPUTS, &n));
    ALOG_TRY(alog_attr_int(m, node, "num_outputs", (int64_t)node->n_outputs, &num_outputs));
    if (n == 0) {
        int64_t part;
        if (num_outputs != node->n_outputs || num_outputs < 1)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "num_outputs disagrees with outputs");
        part = (dim + num_outputs - 1) / num_outputs;
        for (k = 0; k < (size_t)num_outputs; ++k) {
            p->sizes[k] = dim - total < part ? dim - total : part;
            total += p->sizes[k];
        }
        n = (size_t)num_outputs;
    }
    if (n != (size_t)node->n_outputs)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "%lu part sizes for %d outputs",
                              (unsigned long)n, node->n_outputs);
    for (k = 0, total = 0; k < n; ++k) {
        if (p->sizes[k] < 0)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "negative part size");
        if (p->sizes[k] > dim - total) /* total <= dim, so the sum never overflows */
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "parts sum to more than the axis' %lld",
                                  (long long)dim);
        total += p->sizes[k];
    }
    if (total != dim)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "parts sum to %lld, the axis has %lld",
                              (long long)total, (long long)dim);
    return ALOG_OK;
}

static alog_status prepare(alog_model *m, alog_node *node)
{
    split_params *p = (split_params *)node->params;
    alog_value *x;
    int64_t axis, dims[ALOG_MAX_RANK];
    int i;
    ALOG_TRY(alog_require_arity(m, node, 1, 2, 1, SPLIT_MAX_OUTPUTS));
    x = alog_input(m, node, 0);
    if (!x)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input 0 is missing");
    ALOG_TRY(alog_attr_int(m, node, "axis", 0, &axis));
    ALOG_TRY(alog_axis(m, node, axis, x->rank, &p->axis));
    ALOG_TRY(part_sizes(m, node, x->dims[p->axis], p));
    p->outer = alog_dims_product(x->dims, 0, p->axis);
    p->inner = alog_dims_product(x->dims, p->axis + 1, x->rank);
    memcpy(dims, x->dims, sizeof dims);
    for (i = 0; i < node->n_outputs; ++i) {
        dims[p->axis] = p->sizes[i];
        ALOG_TRY(alog_set_output(m, node, i, x->dtype, x->rank, dims));
    }
    return ALOG_OK;
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const split_params *p = (const split_params *)node->params;
    const alog_value *x = alog_input(m, node, 0);
    size_t elem = alog_dtype_size(x->dtype), o, done = 0;
    int i;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < node->n_outputs; ++i) {
            const alog_value *y = alog_output(m, node, i);
            size_t chunk = (size_t)p->sizes[i] * p->inner * elem; /* one outer slice */
            if (y && chunk)
                memcpy((char *)y->data + o * chunk, (const char *)x->data + done, chunk);
            done += chunk;
        }
    }
    return ALOG_OK;
}

const alog_op alog_op_split = {"Split", attrs, sizeof(split_params), prepare, run};
