/*
 * detector.c - sessions, DeepLog windows and top-k, MSCRED residuals, verdicts.
 */
#include "detect/detector.h"
#include "detect/util.h"

#include <string.h>


static const char REASON_OK[] = "ok";
static const char REASON_NOT_IN_TOPK[] = "not_in_topk";
static const char REASON_RESIDUAL[] = "residual";
static const char REASON_UNSEEN[] = "unseen";

/* ---- memory layout ----------------------------------------------------------------------- */


static uint32_t topk_len(const alog_detector_config *c)
{
    return c->top_k < c->vocab_size ? c->top_k : c->vocab_size;
}

size_t alog_detector_size(const alog_detector_config *c)
{
    size_t total, part;
    if (!c || c->vocab_size == 0 || c->window == 0 || c->top_k == 0 ||
        (!c->has_deeplog && !c->has_mscred))
        return 0;
    total = alog_align8(alog_session_table_size(c->max_sessions, c->window));
    if (total == 0)
        return 0;
    total += alog_align8(alog_topk_cache_size(c->cache_entries, c->window, topk_len(c)));
    total += alog_align8(topk_len(c) * sizeof(int32_t));
    if (c->has_mscred) {
        part = alog_signature_stream_size(&c->signature);
        if (part == 0)
            return 0;
        total += alog_align8(part);
    }
    return total;
}

/* ---- model binding ----------------------------------------------------------------------- */

static alog_status fail(alog_message *message, alog_status status, const char *text)
{
    if (message) {
        strncpy(message->text, text, sizeof message->text - 1);
        message->text[sizeof message->text - 1] = '\0';
    }
    return status;
}

/* The model's single input and output, checked against the shapes the config implies. */
static alog_status bind_io(void **in, const void **out, alog_model *model, alog_dtype in_type,
                           size_t in_count, size_t out_count, alog_message *message,
                           const char *what)
{
    alog_tensor_info ti, to;
    if (alog_model_input_count(model) != 1 || alog_model_output_count(model) != 1)
        return fail(message, ALOG_ERR_SHAPE, what);
    ALOG_DETECT_TRY(alog_model_input(&ti, model, 0));
    ALOG_DETECT_TRY(alog_model_output(&to, model, 0));
    if (ti.dtype != in_type || ti.count != in_count || to.dtype != ALOG_DTYPE_FLOAT32 ||
        to.count != out_count)
        return fail(message, ALOG_ERR_SHAPE, what);
    *in = ti.data;
    *out = to.data;
    return ALOG_OK;
}

static alog_status bind_models(alog_detector *det, alog_model *deeplog, alog_model *mscred,
                               alog_message *message)
{
    const alog_detector_config *c = &det->config;
    void *in;
    const void *out;
    if (c->has_deeplog) {
        if (!deeplog)
            return fail(message, ALOG_ERR_INVALID_ARGUMENT, "DeepLog configured without its model");
        ALOG_DETECT_TRY(bind_io(&in, &out, deeplog, ALOG_DTYPE_INT64, c->window, c->vocab_size, message,
                    "deeplog.onnx: expected one int64 input (1, window) and one float output "
                    "(1, vocab_size) as its metadata says"));
        det->deeplog = deeplog;
        det->keys = in;
        det->logits = out;
    }
    if (!c->has_mscred)
        return ALOG_OK;
    if (!mscred)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT, "MSCRED configured without its model");
    {
        const alog_signature_spec *s = &c->signature;
        size_t matrices = (size_t)s->scales * s->n * s->n;
        ALOG_DETECT_TRY(bind_io(&in, &out, mscred, ALOG_DTYPE_FLOAT32, s->steps * matrices, matrices, message,
                    "mscred.onnx: expected one float input (1, steps, scales, n, n) and one float "
                    "output (1, scales, n, n) as its metadata says"));
    }
    det->mscred = mscred;
    det->mscred_input = in;
    det->recon = out;
    return ALOG_OK;
}

alog_status alog_detector_init(alog_detector *det, void *mem, size_t mem_len,
                               const alog_detector_config *config, alog_model *deeplog,
                               alog_model *mscred, alog_message *message)
{
    size_t need = alog_detector_size(config), part;
    char *p = mem;
    if (!det || !mem || need == 0 || ((uintptr_t)mem & 7))
        return fail(message, ALOG_ERR_INVALID_ARGUMENT, "detector: invalid configuration");
    if (mem_len < need)
        return fail(message, ALOG_ERR_ARENA_TOO_SMALL, "detector: memory too small");
    memset(det, 0, sizeof *det);
    det->config = *config;
    ALOG_DETECT_TRY(bind_models(det, deeplog, mscred, message));
    part = alog_session_table_size(config->max_sessions, config->window);
    ALOG_DETECT_TRY(alog_session_table_init(&det->sessions, p, part, config->max_sessions, config->window,
                                (int32_t)config->vocab_size));
    p += alog_align8(part);
    part = alog_topk_cache_size(config->cache_entries, config->window, topk_len(config));
    ALOG_DETECT_TRY(alog_topk_cache_init(&det->cache, p, part, config->cache_entries, config->window,
                             topk_len(config)));
    p += alog_align8(part);
    det->topk = (int32_t *)(void *)p;
    p += alog_align8(topk_len(config) * sizeof(int32_t));
    if (config->has_mscred)
        ALOG_DETECT_TRY(alog_signature_stream_init(&det->signatures, p,
                                       alog_signature_stream_size(&config->signature),
                                       &config->signature));
    return ALOG_OK;
}

/* ---- DeepLog ----------------------------------------------------------------------------- */

static alog_status run_model(alog_detector *det, alog_model *model)
{
    alog_status status = alog_model_run(model);
    if (status != ALOG_OK && det->failed == ALOG_OK)
        det->failed = status;
    return status;
}

/* The top-k of a window: from the cache, or a model run that then fills it. */
static alog_status window_topk(const int32_t **out, alog_detector *det, const int32_t *window)
{
    uint32_t i;
    const int32_t *hit = alog_topk_cache_get(&det->cache, window);
    if (hit) {
        *out = hit;
        return ALOG_OK;
    }
    for (i = 0; i < det->config.window; i++)
        det->keys[i] = window[i];
    ALOG_DETECT_TRY(run_model(det, det->deeplog));
    alog_topk(det->topk, det->logits, det->config.vocab_size, det->config.top_k);
    alog_topk_cache_put(&det->cache, window, det->topk);
    *out = det->topk;
    return ALOG_OK;
}

static alog_status judge_deeplog(alog_detector *det, const char *session, size_t session_len,
                                 uint64_t line, int32_t index, alog_verdict_fn emit, void *ctx)
{
    const int32_t *top = NULL;
    uint32_t i, k = 0, slot;
    alog_verdict v;
    if (index >= 0) {
        k = topk_len(&det->config);
        ALOG_DETECT_TRY(alog_session_find(&slot, &det->sessions, session, session_len));
        ALOG_DETECT_TRY(window_topk(&top, det, alog_session_window(&det->sessions, slot)));
        alog_session_push(&det->sessions, slot, index);
    }
    memset(&v, 0, sizeof v);
    v.model = ALOG_MODEL_DEEPLOG;
    v.session = session_len ? session : "";
    v.session_len = session_len;
    v.line = line;
    v.template_index = index;
    v.topk = top;
    v.topk_len = k;
    for (i = 0; i < k && top[i] != index; i++)
        ;
    v.anomaly = index < 0 || i == k;
    v.reason = index < 0 ? REASON_UNSEEN : v.anomaly ? REASON_NOT_IN_TOPK : REASON_OK;
    emit(ctx, &v);
    return ALOG_OK;
}

/* ---- MSCRED ------------------------------------------------------------------------------ */

static int64_t residual_cells(const float *recon, const float *last, size_t count, float limit)
{
    int64_t cells = 0;
    size_t i;
    for (i = 0; i < count; i++) {
        float r = recon[i] - last[i];
        if (r < 0)
            r = -r;
        cells += r > limit;
    }
    return cells;
}

static void on_mscred_input(void *ctx, const alog_signature_stream *stream, uint64_t line)
{
    alog_detector *det = ctx;
    const alog_signature_spec *s = &stream->spec;
    size_t matrices = (size_t)s->scales * s->n * s->n;
    alog_verdict v;
    alog_signature_input(det->mscred_input, stream);
    if (run_model(det, det->mscred) != ALOG_OK)
        return;
    memset(&v, 0, sizeof v);
    v.model = ALOG_MODEL_MSCRED;
    v.session = NULL; /* MSCRED judges the whole stream */
    v.line = line;
    v.template_index = -1;
    v.has_score = 1;
    v.score = residual_cells(det->recon, alog_signature_last(stream), matrices,
                             det->config.cell_threshold);
    v.anomaly = v.score > det->config.anomaly_threshold;
    v.reason = v.anomaly ? REASON_RESIDUAL : REASON_OK;
    det->emit(det->emit_ctx, &v);
}

/* ---- events ------------------------------------------------------------------------------ */

static void count_for_mscred(alog_detector *det, int32_t index, uint64_t line, int has_time,
                             double seconds, alog_verdict_fn emit, void *ctx)
{
    det->emit = emit;
    det->emit_ctx = ctx;
    alog_signature_add(&det->signatures, (uint32_t)index, line, has_time, seconds,
                       on_mscred_input, det);
}

alog_status alog_detector_feed_event(alog_detector *det, const char *session, size_t session_len,
                                     uint64_t line, int32_t index, int has_time, double seconds,
                                     alog_verdict_fn emit, void *ctx)
{
    int mscred = 0, closes_first = 0;
    if (!det || !emit || (!session && session_len))
        return ALOG_ERR_INVALID_ARGUMENT;
    if (det->failed != ALOG_OK)
        return det->failed;
    if (index < -1 || index >= (int32_t)det->config.vocab_size)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (det->config.has_mscred && index >= 0) {
        mscred = 1;
        closes_first = det->config.signature.bucket_by_seconds;
    }
    if (mscred && closes_first)
        count_for_mscred(det, index, line, has_time, seconds, emit, ctx);
    if (det->config.has_deeplog && det->failed == ALOG_OK)
        ALOG_DETECT_TRY(judge_deeplog(det, session, session_len, line, index, emit, ctx));
    if (mscred && !closes_first)
        count_for_mscred(det, index, line, has_time, seconds, emit, ctx);
    return det->failed;
}
