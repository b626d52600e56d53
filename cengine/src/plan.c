/*
 * plan.c - shapes and memory at load time.
 *
 * Every node's prepare() runs once, in graph order, so each shape is known before it is used;
 * then each activation (and each node's scratch) gets an offset in one region, reusing the bytes
 * of tensors whose lifetimes do not overlap: greedy first-fit, largest first. An element-wise
 * node or a reshape writes its output over its input's bytes when nothing reads the input later.
 */
#include <string.h>

#include "model.h"

/* ---- prepare ------------------------------------------------------------------------------ */

enum { ATTR_NAME = 1, ATTR_REF_ATTR_NAME = 21 };
enum { NODE_ATTRIBUTE = 5 };

static int op_knows_attr(const alog_op *op, const uint8_t *name, size_t len)
{
    const char *const *a;
    for (a = op->attrs; a && *a; ++a)
        if (alog_pb_str_eq(name, len, *a))
            return 1;
    return 0;
}

/* An attribute the op does not implement must be an error, never silently ignored. */
static alog_status check_attributes(alog_model *m, const alog_node *node)
{
    alog_pb r = alog_pb_init(node->proto, node->proto_len);
    while (alog_pb_more(&r)) {
        alog_pb_field f, g;
        alog_pb a;
        const uint8_t *name = NULL;
        size_t name_len = 0;
        ALOG_TRY(alog_pb_next(&r, &f));
        if (f.number != NODE_ATTRIBUTE)
            continue;
        if (f.wire != ALOG_PB_BYTES)
            return ALOG_ERR_MALFORMED;
        a = alog_pb_sub(&f);
        while (alog_pb_more(&a)) {
            ALOG_TRY(alog_pb_next(&a, &g));
            if (g.number == ATTR_NAME && g.wire == ALOG_PB_BYTES) {
                name = g.data;
                name_len = g.len;
            } else if (g.number == ATTR_REF_ATTR_NAME) {
                return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                                      "attributes referring to a function's are not supported");
            }
        }
        if (!op_knows_attr(node->op, name, name_len))
            return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                                  "attribute '%.*s' is not supported", (int)name_len,
                                  (const char *)name);
    }
    return ALOG_OK;
}

static alog_status prepare_node(alog_model *m, int index)
{
    alog_node *node = &m->nodes[index];
    int i;
    ALOG_TRY(check_attributes(m, node));
    if (node->op->params_size)
        ALOG_TRY(alog_arena_alloc(m, node->op->params_size, &node->params));
    ALOG_TRY(node->op->prepare(m, node));
    for (i = 0; i < node->n_outputs; ++i) {
        const alog_value *v = alog_output(m, node, i);
        if (v && alog_dtype_size(v->dtype) == 0)
            return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                                  "output %d is not produced by this engine", i);
    }
    return ALOG_OK;
}

/* ---- lifetimes ---------------------------------------------------------------------------- */

static int needs_memory(const alog_value *v)
{
    return (v->kind == ALOG_VALUE_INPUT || v->kind == ALOG_VALUE_ACTIVATION) && !v->folded;
}

/* A quantized value (a DequantizeLinear of constants) that every reader claimed, and that is no
 * graph output, is folded: nothing reads its float form, so it gets no memory and its
 * DequantizeLinear does not run. */
static void fold_quantized(alog_model *m)
{
    int n, i;
    for (i = 0; i < m->n_values; ++i)
        m->values[i].folded = m->values[i].quantized != NULL;
    for (n = 0; n < m->n_nodes; ++n) {
        const alog_node *node = &m->nodes[n];
        for (i = 0; i < node->n_inputs; ++i) {
            alog_value *v = alog_input(m, node, i);
            if (v && v->quantized && (i >= 32 || !((node->claimed >> i) & 1u)))
                v->folded = 0;
        }
    }
    for (i = 0; i < m->n_graph_outputs; ++i)
        m->values[m->graph_outputs[i]].folded = 0;
}

static void compute_lifetimes(alog_model *m)
{
    int n, i;
    for (i = 0; i < m->n_values; ++i)
        if (m->values[i].kind == ALOG_VALUE_ACTIVATION)
            m->values[i].last = m->values[i].first; /* even unread outputs are written */
    for (n = 0; n < m->n_nodes; ++n) {
        const alog_node *node = &m->nodes[n];
        for (i = 0; i < node->n_inputs; ++i) {
            alog_value *v = alog_input(m, node, i);
            if (v && v->last < n)
                v->last = n;
        }
    }
    /* inputs stay intact across runs (a caller may set them once and run again); outputs
     * stay readable after the run */
    for (i = 0; i < m->n_graph_inputs; ++i)
        m->values[m->graph_inputs[i]].last = m->n_nodes;
    for (i = 0; i < m->n_graph_outputs; ++i)
        m->values[m->graph_outputs[i]].last = m->n_nodes;
}

/* The value whose planned bytes v uses: v, or the first of its chain of in-place takeovers. */
static alog_value *owner(alog_model *m, alog_value *v)
{
    while (v->in_place_of)
        v = &m->values[v->in_place_of - 1];
    return v;
}

/*
 * In place: a node that allows it (node->in_place) writes output 0 into the bytes of that input
 * when the input is an activation of the same byte size that no later node reads. The two then
 * share one planned item, whose lifetime is extended to the output's (chains too: Add, then
 * Sigmoid, then Reshape may all use one buffer). A smaller peak without a copy.
 */
static void plan_in_place(alog_model *m)
{
    int n;
    for (n = 0; n < m->n_nodes; ++n) {
        const alog_node *node = &m->nodes[n];
        alog_value *in, *out, *own;
        if (!node->in_place || node->n_outputs < 1)
            continue;
        in = alog_input(m, node, node->in_place - 1);
        out = alog_output(m, node, 0);
        if (!in || !out || in->kind != ALOG_VALUE_ACTIVATION || !needs_memory(in) ||
            out->kind != ALOG_VALUE_ACTIVATION || !needs_memory(out) || in->last != n ||
            in->count * alog_dtype_size(in->dtype) != out->count * alog_dtype_size(out->dtype))
            continue;
        out->in_place_of = (int)(in - m->values) + 1;
        own = owner(m, in);
        if (out->last > own->last)
            own->last = out->last;
    }
}

/* ---- offsets: greedy first fit, largest first --------------------------------------------- */

typedef struct plan_item {
    size_t size;              /* bytes, rounded up to ALOG_ALIGN */
    int first, last;          /* node indices, inclusive */
    size_t *offset;           /* where the result goes */
} plan_item;

static size_t round_up(size_t n)
{
    return (n + ALOG_ALIGN - 1) / ALOG_ALIGN * ALOG_ALIGN;
}

static int overlaps(const plan_item *a, const plan_item *b)
{
    return a->first <= b->last && b->first <= a->last;
}

static void sort_by_size_desc(plan_item *items, size_t n)
{
    size_t i, j;
    for (i = 1; i < n; ++i) {
        plan_item x = items[i];
        for (j = i; j > 0 && items[j - 1].size < x.size; --j)
            items[j] = items[j - 1];
        items[j] = x;
    }
}

/* Lowest offset where `item` fits between the placed items that are alive at the same time. */
static size_t first_fit(const plan_item *item, const plan_item *placed, size_t n_placed,
                        const plan_item **busy)
{
    size_t n_busy = 0, i, j, offset = 0;
    for (i = 0; i < n_placed; ++i) {
        if (!overlaps(item, &placed[i]))
            continue;
        for (j = n_busy; j > 0 && *busy[j - 1]->offset > *placed[i].offset; --j)
            busy[j] = busy[j - 1];
        busy[j] = &placed[i];
        n_busy++;
    }
    for (i = 0; i < n_busy; ++i) {
        size_t start = *busy[i]->offset, end = start + busy[i]->size;
        if (offset + item->size <= start)
            break;
        if (end > offset)
            offset = end;
    }
    return offset;
}

static alog_status collect_items(alog_model *m, plan_item *items, size_t *out_n)
{
    size_t n = 0;
    int i;
    for (i = 0; i < m->n_values; ++i) {
        alog_value *v = &m->values[i];
        if (!needs_memory(v) || v->in_place_of) /* in place: the owner's item is its */
            continue;
        items[n].size = round_up(v->count * alog_dtype_size(v->dtype));
        items[n].first = v->first;
        items[n].last = v->last;
        items[n].offset = &v->offset;
        n++;
    }
    for (i = 0; i < m->n_nodes; ++i) {
        alog_node *node = &m->nodes[i];
        if (!node->scratch_size)
            continue;
        if (node->scratch_size > SIZE_MAX / 2)
            return ALOG_ERR_LIMIT;
        items[n].size = round_up(node->scratch_size);
        items[n].first = i;
        items[n].last = i;
        items[n].offset = &node->scratch_offset;
        n++;
    }
    *out_n = n;
    return ALOG_OK;
}

static alog_status assign_offsets(alog_model *m)
{
    size_t mark = m->used, n_items, i, total = 0;
    plan_item *items;
    const plan_item **busy;
    ALOG_TRY(alog_arena_alloc(m, ((size_t)m->n_values + (size_t)m->n_nodes) * sizeof *items,
                              (void **)&items));
    ALOG_TRY(alog_arena_alloc(m, ((size_t)m->n_values + (size_t)m->n_nodes) * sizeof *busy,
                              (void **)&busy));
    ALOG_TRY(collect_items(m, items, &n_items));
    sort_by_size_desc(items, n_items);
    for (i = 0; i < n_items; ++i) {
        *items[i].offset = first_fit(&items[i], items, i, busy);
        if (*items[i].offset > SIZE_MAX / 2 - items[i].size)
            return ALOG_ERR_LIMIT;
        if (*items[i].offset + items[i].size > total)
            total = *items[i].offset + items[i].size;
    }
    for (i = 0; i < (size_t)m->n_values; ++i) /* in place: the bytes of the chain's first value */
        if (m->values[i].in_place_of)
            m->values[i].offset = owner(m, &m->values[i])->offset;
    m->planning_peak = m->used;
    m->used = mark; /* the planning tables were temporary */
    m->activation_size = total;
    return ALOG_OK;
}

alog_status alog_plan(alog_model *m)
{
    int i;
    for (i = 0; i < m->n_nodes; ++i)
        ALOG_TRY(prepare_node(m, i));
    fold_quantized(m);
    compute_lifetimes(m);
    plan_in_place(m);
    return assign_offsets(m);
}
