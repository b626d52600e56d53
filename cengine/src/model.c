/*
 * model.c - ONNX ModelProto -> the engine's graph (values and nodes in the arena).
 *
 * Two passes over the bytes: the first counts (nodes, edges, values) so the arrays can be
 * allocated exactly; the second fills them. Names and weights stay in the model bytes.
 */
#include <string.h>

#include "engine.h"
#include "model.h"

/* ---- ONNX field numbers ------------------------------------------------------------------- */

enum { MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8, MODEL_FUNCTIONS = 25 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum {
    GRAPH_NODE = 1,
    GRAPH_INITIALIZER = 5,
    GRAPH_INPUT = 11,
    GRAPH_OUTPUT = 12,
    GRAPH_SPARSE_INITIALIZER = 15
};
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_DOMAIN = 7 };
enum { VALUE_INFO_NAME = 1, VALUE_INFO_TYPE = 2 };
enum { TYPE_TENSOR = 1 };
enum { TENSOR_TYPE_ELEM = 1, TENSOR_TYPE_SHAPE = 2 };
enum { SHAPE_DIM = 1 };
enum { DIM_VALUE = 1, DIM_PARAM = 2 };

/* The default operator set is "" or its alias "ai.onnx"; anything else is a custom domain. */
static int is_default_domain(const uint8_t *s, size_t len)
{
    return len == 0 || alog_pb_str_eq(s, len, "ai.onnx");
}

static alog_status fail(alog_model *m, alog_status status, const char *text)
{
    return alog_node_fail(m, NULL, status, "%s", text);
}

static alog_status expect_bytes(alog_model *m, const alog_pb_field *f, const char *what)
{
    if (f->wire == ALOG_PB_BYTES)
        return ALOG_OK;
    return alog_node_fail(m, NULL, ALOG_ERR_MALFORMED, "%s has the wrong wire type", what);
}

/* ---- pass 1: find the graph, the opset, and count ----------------------------------------- */

static alog_status read_opset(alog_model *m, const alog_pb_field *f, alog_graph_scan *scan)
{
    alog_pb r = alog_pb_sub(f);
    const uint8_t *domain = NULL;
    size_t domain_len = 0;
    int64_t version = 0;
    while (alog_pb_more(&r)) {
        alog_pb_field g;
        ALOG_TRY(alog_pb_next(&r, &g));
        if (g.number == OPSET_DOMAIN && g.wire == ALOG_PB_BYTES) {
            domain = g.data;
            domain_len = g.len;
        } else if (g.number == OPSET_VERSION && g.wire == ALOG_PB_VARINT) {
            version = (int64_t)g.varint;
        }
    }
    if (is_default_domain(domain, domain_len))
        scan->opset = version;
    (void)m;
    return ALOG_OK;
}

static alog_status count_node(alog_model *m, const alog_pb_field *f, alog_graph_scan *scan)
{
    alog_pb r = alog_pb_sub(f);
    ALOG_TRY(expect_bytes(m, f, "a node"));
    while (alog_pb_more(&r)) {
        alog_pb_field g;
        ALOG_TRY(alog_pb_next(&r, &g));
        if (g.number == NODE_INPUT)
            scan->node_inputs++;
        else if (g.number == NODE_OUTPUT)
            scan->node_outputs++;
    }
    scan->nodes++;
    return ALOG_OK;
}

static alog_status count_graph(alog_model *m, alog_graph_scan *scan)
{
    alog_pb r = alog_pb_init(scan->graph, scan->graph_len);
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        ALOG_TRY(alog_pb_next(&r, &f));
        switch (f.number) {
        case GRAPH_NODE:
            ALOG_TRY(count_node(m, &f, scan));
            break;
        case GRAPH_INITIALIZER:
            scan->initializers++;
            break;
        case GRAPH_INPUT:
            scan->inputs++;
            break;
        case GRAPH_OUTPUT:
            scan->outputs++;
            break;
        case GRAPH_SPARSE_INITIALIZER:
            return fail(m, ALOG_ERR_UNSUPPORTED_ATTR, "sparse initializers are not supported");
        default:
            break;
        }
    }
    return ALOG_OK;
}

alog_status alog_model_scan(alog_model *m, const uint8_t *onnx, size_t len, alog_graph_scan *scan)
{
    alog_pb r = alog_pb_init(onnx, len);
    int has_graph = 0;
    memset(scan, 0, sizeof *scan);
    scan->opset = -1;
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        ALOG_TRY(alog_pb_next(&r, &f));
        if (f.number == MODEL_GRAPH) {
            ALOG_TRY(expect_bytes(m, &f, "the graph"));
            scan->graph = f.data;
            scan->graph_len = f.len;
            has_graph = 1;
        } else if (f.number == MODEL_OPSET_IMPORT) {
            ALOG_TRY(expect_bytes(m, &f, "an opset import"));
            ALOG_TRY(read_opset(m, &f, scan));
        }
    }
    if (!has_graph)
        return fail(m, ALOG_ERR_MALFORMED, "the model has no graph");
    if (scan->opset < 1)
        return fail(m, ALOG_ERR_MALFORMED, "the model imports no default (ai.onnx) opset");
    ALOG_TRY(count_graph(m, scan));
    if (scan->nodes > INT32_MAX / 2 || scan->node_inputs > INT32_MAX / 2 ||
        scan->node_outputs + scan->initializers + scan->inputs > INT32_MAX / 2)
        return fail(m, ALOG_ERR_LIMIT, "the graph is too large");
    return ALOG_OK;
}

/* ---- pass 2: values ----------------------------------------------------------------------- */

/* The value called name, or -1. Linear: graphs are small and this runs once, at load. */
static int32_t find_value(const alog_model *m, const uint8_t *name, size_t len)
{
    int32_t i;
    for (i = 0; i < m->n_values; ++i) {
        const alog_value *v = &m->values[i];
        if (v->name_len == len && (len == 0 || memcmp(v->name, name, len) == 0)) /* no memcmp on NULL */
            return i;
    }
    return -1;
}

static alog_status new_value(alog_model *m, const uint8_t *name, size_t len, int32_t *out_index)
{
    alog_value *v;
    if (find_value(m, name, len) >= 0)
        return alog_node_fail(m, NULL, ALOG_ERR_MALFORMED, "value '%.*s' is defined twice",
                              (int)len, (const char *)name);
    v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->name_len = len;
    v->first = -1;
    v->last = -1;
    *out_index = m->n_values++;
    return ALOG_OK;
}

static alog_status add_initializer(alog_model *m, const alog_pb_field *f)
{
    alog_value tmp;
    alog_status st;
    int32_t index;
    ALOG_TRY(expect_bytes(m, f, "an initializer"));
    memset(&tmp, 0, sizeof tmp);
    st = alog_tensor_decode(m, f->data, f->len, &tmp);
    if (st != ALOG_OK)
        return alog_node_fail(m, NULL, st, "initializer '%.*s' cannot be read: %s",
                              (int)tmp.name_len, (const char *)tmp.name, alog_status_str(st));
    ALOG_TRY(new_value(m, tmp.name, tmp.name_len, &index));
    tmp.first = -1;
    tmp.last = -1;
    m->values[index] = tmp;
    return ALOG_OK;
}

/* The name and (for inputs) dtype and shape of a ValueInfoProto. */
typedef struct value_info {
    const uint8_t *name;
    size_t name_len;
    int has_type;
    uint64_t elem_type;
    int rank;                 /* -1: no shape given */
    int64_t dims[ALOG_MAX_RANK];   /* (rank); -1 where symbolic or unknown */
} value_info;

static alog_status read_shape(const alog_pb_field *f, value_info *info)
{
    alog_pb r = alog_pb_sub(f);
    info->rank = 0;
    while (alog_pb_more(&r)) {
        alog_pb_field d;
        alog_pb dr;
        int64_t dim = -1;
        ALOG_TRY(alog_pb_next(&r, &d));
        if (d.number != SHAPE_DIM)
            continue;
        if (d.wire != ALOG_PB_BYTES)
            return ALOG_ERR_MALFORMED;
        if (info->rank >= ALOG_MAX_RANK)
            return ALOG_ERR_LIMIT;
        dr = alog_pb_sub(&d);
        while (alog_pb_more(&dr)) {
            alog_pb_field g;
            ALOG_TRY(alog_pb_next(&dr, &g));
            if (g.number == DIM_VALUE && g.wire == ALOG_PB_VARINT)
                dim = (int64_t)g.varint;
        }
        info->dims[info->rank++] = dim < 0 ? -1 : dim;
    }
    return ALOG_OK;
}

static alog_status read_tensor_type(const alog_pb_field *f, value_info *info)
{
    alog_pb r = alog_pb_sub(f);
    while (alog_pb_more(&r)) {
        alog_pb_field g;
        ALOG_TRY(alog_pb_next(&r, &g));
        if (g.number == TENSOR_TYPE_ELEM && g.wire == ALOG_PB_VARINT) {
            info->elem_type = g.varint;
            info->has_type = 1;
        } else if (g.number == TENSOR_TYPE_SHAPE && g.wire == ALOG_PB_BYTES) {
            ALOG_TRY(read_shape(&g, info));
        }
    }
    return ALOG_OK;
}

static alog_status read_value_info(const uint8_t *proto, size_t len, value_info *info)
{
    alog_pb r = alog_pb_init(proto, len);
    memset(info, 0, sizeof *info);
    info->rank = -1;
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        ALOG_TRY(alog_pb_next(&r, &f));
        if (f.number == VALUE_INFO_NAME && f.wire == ALOG_PB_BYTES) {
            info->name = f.data;
            info->name_len = f.len;
        } else if (f.number == VALUE_INFO_TYPE && f.wire == ALOG_PB_BYTES) {
            alog_pb t = alog_pb_sub(&f);
            while (alog_pb_more(&t)) {
                alog_pb_field g;
                ALOG_TRY(alog_pb_next(&t, &g));
                if (g.number == TYPE_TENSOR && g.wire == ALOG_PB_BYTES)
                    ALOG_TRY(read_tensor_type(&g, info));
            }
        }
    }
    return ALOG_OK;
}

static alog_status copy_name(alog_model *m, const alog_value *v, char **out_name)
{
    char *s;
    ALOG_TRY(alog_arena_alloc(m, v->name_len + 1, (void **)&s));
    if (v->name_len > 0) /* an empty name may have no bytes behind it: memcpy(s, NULL, 0) is UB */
        memcpy(s, v->name, v->name_len);
    s[v->name_len] = '\0';
    *out_name = s;
    return ALOG_OK;
}

/* A graph input: its shape with the symbolic first dimension replaced by the batch. */
static alog_status add_graph_input(alog_model *m, const alog_pb_field *f)
{
    value_info info;
    alog_value *v;
    int32_t index;
    int i;
    ALOG_TRY(expect_bytes(m, f, "a graph input"));
    ALOG_TRY(read_value_info(f->data, f->len, &info));
    if (find_value(m, info.name, info.name_len) >= 0)
        return ALOG_OK; /* IR < 4 lists initializers as inputs too: the initializer wins */
    ALOG_TRY(new_value(m, info.name, info.name_len, &index));
    v = &m->values[index];
    v->kind = ALOG_VALUE_INPUT;
    if (!info.has_type || (info.elem_type != ALOG_DTYPE_FLOAT32 &&
                           info.elem_type != ALOG_DTYPE_INT64))
        return alog_node_fail(m, NULL, ALOG_ERR_UNSUPPORTED_ATTR,
                              "graph input '%.*s' has element type %d (supported: float32, int64)",
                              (int)info.name_len, (const char *)info.name, (int)info.elem_type);
    if (info.rank < 0)
        return alog_node_fail(m, NULL, ALOG_ERR_SHAPE, "graph input '%.*s' has no shape",
                              (int)info.name_len, (const char *)info.name);
    v->dtype = (alog_dtype)info.elem_type;
    v->rank = info.rank;
    v->count = 1;
    for (i = 0; i < info.rank; ++i) {
        if (info.dims[i] >= 0)
            v->dims[i] = info.dims[i];
        else if (i == 0)
            v->dims[i] = m->batch;
        else
            return alog_node_fail(m, NULL, ALOG_ERR_SHAPE,
                                  "graph input '%.*s' has a symbolic dimension at axis %d "
                                  "(only the first, the batch, may be symbolic)",
                                  (int)info.name_len, (const char *)info.name, i);
        if (v->dims[i] && v->count > (SIZE_MAX / 16) / (size_t)v->dims[i])
            return alog_node_fail(m, NULL, ALOG_ERR_LIMIT, "graph input '%.*s' is too large",
                                  (int)info.name_len, (const char *)info.name);
        v->count *= (size_t)v->dims[i];
    }
    m->graph_inputs[m->n_graph_inputs] = index;
    return copy_name(m, v, &m->input_names[m->n_graph_inputs++]);
}

/* ---- pass 2: nodes ------------------------------------------------------------------------ */

typedef struct node_fields {
    const uint8_t *op_type, *domain;
    size_t op_type_len, domain_len;
} node_fields;

static alog_status resolve_input(alog_model *m, alog_node *node, const alog_pb_field *f)
{
    int32_t index = -1;
    if (f->wire != ALOG_PB_BYTES)
        return fail(m, ALOG_ERR_MALFORMED, "a node input has the wrong wire type");
    if (f->len > 0) {
        index = find_value(m, f->data, f->len);
        if (index < 0)
            return alog_node_fail(m, node, ALOG_ERR_MALFORMED,
                                  "input '%.*s' is not defined before the node (the graph must be "
                                  "topologically sorted)", (int)f->len, (const char *)f->data);
    }
    node->inputs[node->n_inputs++] = index;
    return ALOG_OK;
}

static alog_status define_output(alog_model *m, alog_node *node, const alog_pb_field *f)
{
    int32_t index = -1;
    if (f->wire != ALOG_PB_BYTES)
        return fail(m, ALOG_ERR_MALFORMED, "a node output has the wrong wire type");
    if (f->len > 0) {
        ALOG_TRY(new_value(m, f->data, f->len, &index));
        m->values[index].kind = ALOG_VALUE_ACTIVATION;
        m->values[index].first = m->n_nodes;
    }
    node->outputs[node->n_outputs++] = index;
    return ALOG_OK;
}

static alog_status add_node(alog_model *m, const alog_pb_field *f, int32_t **io_edges)
{
    alog_node *node = &m->nodes[m->n_nodes];
    node_fields nf;
    alog_pb r = alog_pb_sub(f);
    memset(&nf, 0, sizeof nf);
    memset(node, 0, sizeof *node);
    node->proto = f->data;
    node->proto_len = f->len;
    /* inputs first, into the shared edge array; outputs follow them */
    node->inputs = *io_edges;
    while (alog_pb_more(&r)) {
        alog_pb_field g;
        ALOG_TRY(alog_pb_next(&r, &g));
        if (g.number == NODE_INPUT) {
            ALOG_TRY(resolve_input(m, node, &g));
        } else if (g.number == NODE_OP_TYPE && g.wire == ALOG_PB_BYTES) {
            nf.op_type = g.data;
            nf.op_type_len = g.len;
        } else if (g.number == NODE_DOMAIN && g.wire == ALOG_PB_BYTES) {
            nf.domain = g.data;
            nf.domain_len = g.len;
        } else if (g.number == NODE_NAME && g.wire == ALOG_PB_BYTES) {
            node->name = g.data;
            node->name_len = g.len;
        }
    }
    node->outputs = node->inputs + node->n_inputs;
    r = alog_pb_sub(f);
    while (alog_pb_more(&r)) {
        alog_pb_field g;
        ALOG_TRY(alog_pb_next(&r, &g));
        if (g.number == NODE_OUTPUT)
            ALOG_TRY(define_output(m, node, &g));
    }
    *io_edges = node->outputs + node->n_outputs;
    if (!is_default_domain(nf.domain, nf.domain_len))
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_OP,
                              "operator %.*s of domain '%.*s' is not supported (only the default "
                              "ai.onnx domain)", (int)nf.op_type_len, (const char *)nf.op_type,
                              (int)nf.domain_len, (const char *)nf.domain);
    node->op = alog_op_find(nf.op_type, nf.op_type_len);
    if (!node->op)
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_OP,
                              alog_op_left_out(nf.op_type, nf.op_type_len)
                                  ? "operator '%.*s' was left out of this build, made for other "
                                    "models (fix: regenerate alog_ops_config.h from this model's "
                                    "directory and rebuild the engine)"
                                  : "operator '%.*s' is not supported by this engine",
                              (int)nf.op_type_len, (const char *)nf.op_type);
    m->n_nodes++;
    return ALOG_OK;
}

static alog_status add_graph_output(alog_model *m, const alog_pb_field *f)
{
    value_info info;
    int32_t index;
    ALOG_TRY(expect_bytes(m, f, "a graph output"));
    ALOG_TRY(read_value_info(f->data, f->len, &info));
    index = find_value(m, info.name, info.name_len);
    if (index < 0)
        return alog_node_fail(m, NULL, ALOG_ERR_MALFORMED,
                              "graph output '%.*s' is not produced by the graph",
                              (int)info.name_len, (const char *)info.name);
    m->graph_outputs[m->n_graph_outputs] = index;
    return copy_name(m, &m->values[index], &m->output_names[m->n_graph_outputs++]);
}

/* One pass per kind keeps the order ONNX requires: initializers and inputs before the nodes. */
static alog_status fill_fields(alog_model *m, const alog_graph_scan *scan, uint32_t number,
                               int32_t **io_edges)
{
    alog_pb r = alog_pb_init(scan->graph, scan->graph_len);
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        ALOG_TRY(alog_pb_next(&r, &f));
        if (f.number != number)
            continue;
        if (number == GRAPH_INITIALIZER)
            ALOG_TRY(add_initializer(m, &f));
        else if (number == GRAPH_INPUT)
            ALOG_TRY(add_graph_input(m, &f));
        else if (number == GRAPH_NODE)
            ALOG_TRY(add_node(m, &f, io_edges));
        else
            ALOG_TRY(add_graph_output(m, &f));
    }
    return ALOG_OK;
}

alog_status alog_model_build(alog_model *m, const alog_graph_scan *scan)
{
    size_t n_values = scan->initializers + scan->inputs + scan->node_outputs;
    int32_t *edges;
    m->opset = scan->opset;
    ALOG_TRY(alog_arena_alloc(m, n_values * sizeof(alog_value), (void **)&m->values));
    ALOG_TRY(alog_arena_alloc(m, scan->nodes * sizeof(alog_node), (void **)&m->nodes));
    ALOG_TRY(alog_arena_alloc(m, (scan->node_inputs + scan->node_outputs) * sizeof(int32_t),
                              (void **)&edges));
    ALOG_TRY(alog_arena_alloc(m, scan->inputs * sizeof(int32_t), (void **)&m->graph_inputs));
    ALOG_TRY(alog_arena_alloc(m, scan->inputs * sizeof(char *), (void **)&m->input_names));
    ALOG_TRY(alog_arena_alloc(m, scan->outputs * sizeof(int32_t), (void **)&m->graph_outputs));
    ALOG_TRY(alog_arena_alloc(m, scan->outputs * sizeof(char *), (void **)&m->output_names));
    ALOG_TRY(fill_fields(m, scan, GRAPH_INITIALIZER, &edges));
    ALOG_TRY(fill_fields(m, scan, GRAPH_INPUT, &edges));
    ALOG_TRY(fill_fields(m, scan, GRAPH_NODE, &edges));
    ALOG_TRY(fill_fields(m, scan, GRAPH_OUTPUT, &edges));
    if (m->n_graph_outputs == 0)
        return fail(m, ALOG_ERR_MALFORMED, "the graph has no outputs");
    return ALOG_OK;
}

/* Checks each graph output against the dtype and static dims the file declares for it. */
alog_status alog_model_check_outputs(alog_model *m, const alog_graph_scan *scan)
{
    alog_pb r = alog_pb_init(scan->graph, scan->graph_len);
    int k = 0, i;
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        value_info info;
        const alog_value *v;
        ALOG_TRY(alog_pb_next(&r, &f));
        if (f.number != GRAPH_OUTPUT)
            continue;
        ALOG_TRY(read_value_info(f.data, f.len, &info));
        v = &m->values[m->graph_outputs[k++]];
        if (info.has_type && info.elem_type != (uint64_t)v->dtype)
            return alog_node_fail(m, NULL, ALOG_ERR_SHAPE,
                                  "graph output '%s' is declared with element type %d, computed %d",
                                  m->output_names[k - 1], (int)info.elem_type, (int)v->dtype);
        if (info.rank < 0)
            continue;
        if (info.rank != v->rank)
            return alog_node_fail(m, NULL, ALOG_ERR_SHAPE,
                                  "graph output '%s' is declared with rank %d, computed %d",
                                  m->output_names[k - 1], info.rank, v->rank);
        for (i = 0; i < v->rank; ++i)
            if (info.dims[i] >= 0 && info.dims[i] != v->dims[i])
                return alog_node_fail(m, NULL, ALOG_ERR_SHAPE,
                                      "graph output '%s' axis %d is declared %lld, computed %lld",
                                      m->output_names[k - 1], i, (long long)info.dims[i],
                                      (long long)v->dims[i]);
    }
    return ALOG_OK;
}
