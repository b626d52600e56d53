/* api.c - the public entry points of alog.h: open, plan, bind, run. */
#include <string.h>

#include "model.h"

/* ---- status ------------------------------------------------------------------------------- */

const char *alog_status_str(alog_status status)
{
    switch (status) {
    case ALOG_OK:
        return "ok";
    case ALOG_ERR_INVALID_ARGUMENT:
        return "invalid argument";
    case ALOG_ERR_IO:
        return "input/output error";
    case ALOG_ERR_MALFORMED:
        return "malformed model";
    case ALOG_ERR_UNSUPPORTED_OP:
        return "unsupported operator";
    case ALOG_ERR_UNSUPPORTED_ATTR:
        return "unsupported attribute or data type";
    case ALOG_ERR_SHAPE:
        return "shape mismatch";
    case ALOG_ERR_ARENA_TOO_SMALL:
        return "arena too small";
    case ALOG_ERR_LIMIT:
        return "capacity exceeded";
    case ALOG_ERR_MISMATCH:
        return "model or vocabulary mismatch";
    case ALOG_STATUS_COUNT:
        break;
    }
    return "unknown status";
}

/* ---- arena -------------------------------------------------------------------------------- */

static size_t align_up(size_t n)
{
    return (n + ALOG_ALIGN - 1) / ALOG_ALIGN * ALOG_ALIGN;
}

/* Bytes from `arena` to its first ALOG_ALIGN boundary (at most ALOG_ARENA_SLACK). */
static size_t arena_pad(const void *arena)
{
    return (ALOG_ALIGN - (uintptr_t)arena % ALOG_ALIGN) % ALOG_ALIGN;
}

alog_status alog_arena_alloc(alog_model *m, size_t bytes, void **out_ptr)
{
    size_t size;
    if (bytes > SIZE_MAX / 2)
        return ALOG_ERR_LIMIT;
    size = align_up(bytes);
    if (size > m->arena_len - m->used)
        return ALOG_ERR_ARENA_TOO_SMALL;
    *out_ptr = m->arena + m->used;
    memset(*out_ptr, 0, size);
    m->used += size;
    return ALOG_OK;
}

/* ---- loading ------------------------------------------------------------------------------ */

/*
 * Metadata the loader can need for a scanned model, whatever the weights' alignment: the
 * arrays, the names, the largest op parameters per node, the weights decoded (int64 varints
 * can grow eightfold), the planner's temporary tables, and alignment padding for each block.
 */
static size_t metadata_bound(const alog_graph_scan *s, size_t onnx_len)
{
    size_t values = s->initializers + s->inputs + s->node_outputs;
    size_t blocks = 16 + values + 2 * s->nodes + s->inputs + s->outputs;
    return align_up(sizeof(alog_model)) + values * sizeof(alog_value) +
           s->nodes * (sizeof(alog_node) + 1024) +
           (s->node_inputs + s->node_outputs + 2 * (s->inputs + s->outputs)) * sizeof(void *) +
           8 * onnx_len + (values + s->nodes) * 64 + blocks * ALOG_ALIGN;
}

static void report(alog_message *message, const char *text)
{
    if (!message)
        return;
    strncpy(message->text, text, sizeof message->text - 1);
    message->text[sizeof message->text - 1] = '\0';
}

/* Binds inputs, activations and scratch to the activation region. */
static void bind(alog_model *m)
{
    int i;
    m->activations = m->arena + m->used;
    m->used += m->activation_size;
    for (i = 0; i < m->n_values; ++i) {
        alog_value *v = &m->values[i];
        if ((v->kind == ALOG_VALUE_INPUT || v->kind == ALOG_VALUE_ACTIVATION) && !v->folded)
            v->data = m->activations + v->offset;
    }
    for (i = 0; i < m->n_nodes; ++i)
        if (m->nodes[i].scratch_size)
            m->nodes[i].scratch = m->activations + m->nodes[i].scratch_offset;
}

static alog_status parse_and_plan(alog_model *m, const void *onnx, size_t onnx_len,
                                  alog_graph_scan *scan)
{
    ALOG_TRY(alog_model_scan(m, (const uint8_t *)onnx, onnx_len, scan));
    ALOG_TRY(alog_model_build(m, scan));
    ALOG_TRY(alog_plan(m));
    return alog_model_check_outputs(m, scan);
}

/*
 * Loads into `arena`. measure: only the metadata must fit, and *out_need is the full size
 * (or, when even the metadata did not fit, a size with which it does).
 *
 * The budget is arena_len - ALOG_ARENA_SLACK wherever the arena starts (the model header then
 * sits on the first ALOG_ALIGN boundary, at most ALOG_ARENA_SLACK bytes in): so the size one
 * call reports is exactly the size every later open needs, whatever either buffer's address.
 */
static alog_status load(alog_model **out_model, void *arena, size_t arena_len, const void *onnx,
                        size_t onnx_len, int64_t batch, alog_message *message, int measure,
                        size_t *out_need)
{
    size_t header = align_up(sizeof(alog_model)), peak;
    alog_graph_scan scan;
    alog_model *m;
    alog_status st;
    report(message, "");
    *out_need = 0;
    if (!onnx || onnx_len == 0 || batch < 1) {
        report(message, "no model bytes, or a batch size below 1");
        return ALOG_ERR_INVALID_ARGUMENT;
    }
    if (!arena || arena_len < ALOG_ARENA_SLACK + header) {
        alog_model scratch_model;
        memset(&scratch_model, 0, sizeof scratch_model);
        st = alog_model_scan(&scratch_model, (const uint8_t *)onnx, onnx_len, &scan);
        report(message, st == ALOG_OK ? "the arena cannot even hold the model header"
                                      : scratch_model.error);
        if (st != ALOG_OK)
            return st;
        *out_need = ALOG_ARENA_SLACK + metadata_bound(&scan, onnx_len);
        return ALOG_ERR_ARENA_TOO_SMALL;
    }
    m = (alog_model *)(void *)((uint8_t *)arena + arena_pad(arena));
    memset(m, 0, sizeof *m);
    m->arena = (uint8_t *)m;
    m->arena_len = arena_len - ALOG_ARENA_SLACK;
    m->used = header;
    m->batch = batch;
    m->measuring = measure;
    st = parse_and_plan(m, onnx, onnx_len, &scan);
    if (st == ALOG_ERR_ARENA_TOO_SMALL) {
        /* the metadata did not fit: the scan succeeded, so the bound is known */
        *out_need = ALOG_ARENA_SLACK + metadata_bound(&scan, onnx_len);
        report(message, "the arena is too small for the model's metadata");
        return st;
    }
    if (st != ALOG_OK) {
        report(message, m->error[0] ? m->error : alog_status_str(st));
        return st;
    }
    /* the planner's temporary tables sat where the activations go: need room for the larger */
    peak = m->used + m->activation_size > m->planning_peak ? m->used + m->activation_size
                                                           : m->planning_peak;
    *out_need = ALOG_ARENA_SLACK + peak;
    if (!measure) {
        if (peak > m->arena_len) {
            report(message, "the arena is too small for the model's activations");
            return ALOG_ERR_ARENA_TOO_SMALL;
        }
        bind(m);
        m->isa = alog_isa_detect();
        *out_model = m;
    }
    return ALOG_OK;
}

alog_status alog_model_arena_size(size_t *out_size, void *work, size_t work_len,
                                  const void *onnx, size_t onnx_len, int64_t batch,
                                  alog_message *message)
{
    if (!out_size)
        return ALOG_ERR_INVALID_ARGUMENT;
    return load(NULL, work, work_len, onnx, onnx_len, batch, message, 1, out_size);
}

alog_status alog_model_open(alog_model **out_model, void *arena, size_t arena_len,
                            const void *onnx, size_t onnx_len, int64_t batch,
                            alog_message *message)
{
    size_t need;
    if (!out_model)
        return ALOG_ERR_INVALID_ARGUMENT;
    *out_model = NULL;
    return load(out_model, arena, arena_len, onnx, onnx_len, batch, message, 0, &need);
}

unsigned alog_model_isa(const alog_model *model)
{
    return model ? model->isa : 0;
}

unsigned alog_model_limit_isa(alog_model *model, unsigned allowed)
{
    if (!model)
        return 0;
    model->isa &= allowed;
    return model->isa;
}

/* ---- inputs and outputs ------------------------------------------------------------------- */

size_t alog_model_arena_used(const alog_model *model)
{
    return model ? (size_t)(model->arena - (const uint8_t *)model) + model->used : 0;
}

size_t alog_model_input_count(const alog_model *model)
{
    return model ? (size_t)model->n_graph_inputs : 0;
}

size_t alog_model_output_count(const alog_model *model)
{
    return model ? (size_t)model->n_graph_outputs : 0;
}

static void describe(alog_tensor_info *info, const alog_value *v, const char *name)
{
    memset(info, 0, sizeof *info);
    info->name = name;
    info->dtype = v->dtype;
    info->rank = v->rank;
    memcpy(info->dims, v->dims, sizeof info->dims);
    info->count = v->count;
    info->bytes = v->count * alog_dtype_size(v->dtype);
    info->data = v->data;
}

alog_status alog_model_input(alog_tensor_info *out_info, const alog_model *model, size_t index)
{
    if (!out_info || !model || index >= (size_t)model->n_graph_inputs)
        return ALOG_ERR_INVALID_ARGUMENT;
    describe(out_info, &model->values[model->graph_inputs[index]], model->input_names[index]);
    return ALOG_OK;
}

alog_status alog_model_output(alog_tensor_info *out_info, const alog_model *model, size_t index)
{
    if (!out_info || !model || index >= (size_t)model->n_graph_outputs)
        return ALOG_ERR_INVALID_ARGUMENT;
    describe(out_info, &model->values[model->graph_outputs[index]], model->output_names[index]);
    return ALOG_OK;
}

alog_status alog_model_find_input(size_t *out_index, const alog_model *model, const char *name)
{
    int i;
    if (!out_index || !model || !name)
        return ALOG_ERR_INVALID_ARGUMENT;
    for (i = 0; i < model->n_graph_inputs; ++i) {
        if (strcmp(model->input_names[i], name) == 0) {
            *out_index = (size_t)i;
            return ALOG_OK;
        }
    }
    return ALOG_ERR_INVALID_ARGUMENT;
}

alog_status alog_model_set_input(alog_model *model, size_t index, const void *data, size_t bytes)
{
    alog_tensor_info info;
    ALOG_TRY(alog_model_input(&info, model, index));
    if (!data || bytes != info.bytes)
        return ALOG_ERR_INVALID_ARGUMENT;
    memcpy(info.data, data, bytes);
    return ALOG_OK;
}

/* ---- running ------------------------------------------------------------------------------ */

alog_status alog_model_run(alog_model *model)
{
    int i;
    if (!model)
        return ALOG_ERR_INVALID_ARGUMENT;
    model->error[0] = '\0';
    for (i = 0; i < model->n_nodes; ++i) {
        const alog_node *node = &model->nodes[i];
        ALOG_TRY(node->op->run(model, node));
    }
    return ALOG_OK;
}

const char *alog_model_error(const alog_model *model)
{
    return model ? model->error : "";
}
