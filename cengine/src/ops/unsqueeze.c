/* unsqueeze.c - Unsqueeze: insert axes of size 1 at the listed output positions. */
#include "ops.h"

static const char *const attrs[] = {"axes", NULL};

static alog_status prepare(alog_model *m, alog_node *node)
{
    alog_value *x;
    int64_t axes[ALOG_MAX_RANK], dims[ALOG_MAX_RANK];
    size_t n;
    unsigned mask;
    int present, i, k = 0, rank;
    ALOG_TRY(alog_require_arity(m, node, 1, 2, 1, 1));
    x = alog_input(m, node, 0);
    if (!x)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input 0 is missing");
    ALOG_TRY(alog_read_axes(m, node, 1, axes, &n, &present));
    if (!present)
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "axes are missing");
    rank = x->rank + (int)n;
    if (rank > ALOG_MAX_RANK)
        return alog_node_fail(m, node, ALOG_ERR_LIMIT, "output rank %d exceeds %d", rank,
                              ALOG_MAX_RANK);
    ALOG_TRY(alog_axes_mask(m, node, axes, n, rank, &mask));
    for (i = 0; i < rank; ++i)
        dims[i] = (mask >> i) & 1 ? 1 : x->dims[k++];
    node->in_place = 1; /* the same bytes under another shape */
    return alog_set_output(m, node, 0, x->dtype, rank, dims);
}

const alog_op alog_op_unsqueeze = {"Unsqueeze", attrs, 0, prepare, alog_copy_run};
