/* squeeze.c - Squeeze: drop axes of size 1 (the listed ones, or all of them). */
#include "ops.h"

static const char *const attrs[] = {"axes", NULL};

static alog_status prepare(alog_model *m, alog_node *node)
{
    alog_value *x;
    int64_t axes[ALOG_MAX_RANK], dims[ALOG_MAX_RANK];
    size_t n;
    unsigned mask = 0;
    int present, i, rank = 0;
    ALOG_TRY(alog_require_arity(m, node, 1, 2, 1, 1));
    x = alog_input(m, node, 0);
    if (!x)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input 0 is missing");
    ALOG_TRY(alog_read_axes(m, node, 1, axes, &n, &present));
    ALOG_TRY(alog_axes_mask(m, node, axes, n, x->rank, &mask));
    for (i = 0; i < x->rank; ++i) {
        int squeezed = present ? (int)((mask >> i) & 1) : x->dims[i] == 1;
        if (squeezed && x->dims[i] != 1)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "axis %d has size %lld, not 1", i,
                                  (long long)x->dims[i]);
        if (!squeezed)
            dims[rank++] = x->dims[i];
    }
    node->in_place = 1; /* the same bytes under another shape */
    return alog_set_output(m, node, 0, x->dtype, rank, dims);
}

const alog_op alog_op_squeeze = {"Squeeze", attrs, 0, prepare, alog_copy_run};
