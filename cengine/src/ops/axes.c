/* axes.c - the axes lists of Squeeze, Unsqueeze and ReduceSum (attribute or constant input). */
#include "ops.h"

alog_status alog_read_axes(alog_model *m, const alog_node *node, int input, int64_t *out,
                           size_t *out_count, int *out_present)
{
    ALOG_TRY(alog_attr_ints(m, node, "axes", out, ALOG_MAX_RANK, out_count));
    *out_present = *out_count > 0;
    if (*out_present)
        return ALOG_OK;
    if (alog_input(m, node, input)) {
        ALOG_TRY(alog_const_ints(m, node, input, out, ALOG_MAX_RANK, out_count));
        *out_present = 1;
    }
    return ALOG_OK;
}

alog_status alog_axes_mask(alog_model *m, const alog_node *node, const int64_t *axes, size_t n,
                           int rank, unsigned *out_mask)
{
    size_t i;
    unsigned mask = 0;
    for (i = 0; i < n; ++i) {
        int a;
        ALOG_TRY(alog_axis(m, node, axes[i], rank, &a));
        if (mask & (1u << a))
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "axis %d is repeated", a);
        mask |= 1u << a;
    }
    *out_mask = mask;
    return ALOG_OK;
}
