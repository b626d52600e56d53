/*
 * detector.c - alog.h's detector: config checks and memory layout, sessions, DeepLog windows and
 * top-k, MSCRED residuals, verdicts; raw lines through the matcher, or template indices.
 */
#include "detect/detector.h"
#include "detect/util.h"
#include "math/alog_math.h"

#include <math.h>
#include <string.h>

static const char REASON_OK[] = "ok";
static const char REASON_NOT_IN_TOPK[] = "not_in_topk";
static const char REASON_LOW_PROBABILITY[] = "low_probability";
static const char REASON_EARLY_END[] = "early_end";
static const char REASON_RESIDUAL[] = "residual";
static const char REASON_UNSEEN[] = "unseen";

/* alog.h states the line limit for callers; the matcher enforces its own: they must agree. */
typedef char alog_max_line_agrees[ALOG_MAX_LINE == ALOG_MATCH_MAX_LINE ? 1 : -1];

#define MAX_CACHE_ENTRIES (1u << 24)

/* ---- config ------------------------------------------------------------------------------ */

static alog_status fail(alog_message *message, alog_status status, const char *text)
{
    if (message) {
        strncpy(message->text, text, sizeof message->text - 1);
        message->text[sizeof message->text - 1] = '\0';
    }
    return status;
}

/* "uuid,ip,..." (frontend.json's names, comma-separated) -> ALOG_MASK_* bits; NULL: all. */
static alog_status parse_mask_rules(unsigned *out, const char *names)
{
    const char *p = names;
    *out = names ? 0 : ALOG_MASK_ALL;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        unsigned bit = alog_mask_rule_bit(p, n);
        if (!bit)
            return ALOG_ERR_INVALID_ARGUMENT;
        *out |= bit;
        p += n;
        if (*p == ',' && *++p == '\0')
            return ALOG_ERR_INVALID_ARGUMENT; /* a trailing comma names nothing */
    }
    return ALOG_OK;
}

alog_status alog_session_rule_check(const char *rule)
{
    alog_session_rule parsed;
    return rule ? alog_session_rule_parse(&parsed, rule, strlen(rule)) : ALOG_ERR_INVALID_ARGUMENT;
}

/* "detector: " + the reason, into message. */
static alog_status fail_why(alog_message *message, const char *why)
{
    if (message) {
        size_t n = strlen("detector: ");
        memcpy(message->text, "detector: ", n);
        strncpy(message->text + n, why ? why : "invalid front-end settings",
                sizeof message->text - n - 1);
        message->text[sizeof message->text - 1] = '\0';
    }
    return ALOG_ERR_INVALID_ARGUMENT;
}

static alog_status read_frontend(alog_frontend *fe, const alog_detector_config *c,
                                 alog_message *message)
{
    unsigned rules;
    const char *why = NULL;
    if (parse_mask_rules(&rules, c->mask_rules) != ALOG_OK)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT,
                    "detector: mask_rules must name rules from uuid, ip, hex, num, path, "
                    "separated by commas");
    if (alog_frontend_init(fe, rules, c->session_rule, c->header_tokens, c->log_format,
                           c->timestamp, c->timestamp_format, &why) != ALOG_OK)
        return fail_why(message, why);
    return ALOG_OK;
}

alog_status alog_frontend_check(const char *log_format, const char *session_rule,
                                uint32_t header_tokens, const char *timestamp,
                                const char *timestamp_format, alog_message *message)
{
    alog_frontend fe;
    const char *why = NULL;
    if (alog_frontend_init(&fe, ALOG_MASK_ALL, session_rule, header_tokens, log_format, timestamp,
                           timestamp_format, &why) != ALOG_OK)
        return fail_why(message, why);
    return ALOG_OK;
}

static alog_status check_config(alog_frontend *fe, const alog_detector_config *c,
                                alog_message *message)
{
    if (!c || c->vocab_size == 0 || c->vocab_size > INT32_MAX)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT, "detector: no config, or no vocabulary");
    if (!c->has_deeplog && !c->has_mscred)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT, "detector: neither DeepLog nor MSCRED");
    if (c->has_deeplog && (c->window == 0 || c->top_k == 0 || c->max_sessions == 0 ||
                           c->cache_entries > MAX_CACHE_ENTRIES))
        return fail(message, ALOG_ERR_INVALID_ARGUMENT,
                    "detector: DeepLog needs a window, a top_k and max_sessions above 0 (and at "
                    "most 2^24 cache entries)");
    if (c->has_deeplog && c->rule != ALOG_RULE_TOPK && c->rule != ALOG_RULE_PROBABILITY)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT,
                    "detector: rule must be ALOG_RULE_TOPK or ALOG_RULE_PROBABILITY");
    if (c->has_deeplog && c->rule == ALOG_RULE_PROBABILITY &&
        (!isfinite(c->prob_threshold) || (c->end_key && !isfinite(c->end_threshold))))
        return fail(message, ALOG_ERR_INVALID_ARGUMENT,
                    "detector: the probability rule needs a finite prob_threshold, and with the "
                    "END key a finite end_threshold (the model metadata's calibrated ones)");
    if (c->has_deeplog && c->batch > ALOG_MAX_BATCH)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT,
                    "detector: batch is at most ALOG_MAX_BATCH (4096)");
    if (!ALOG_WITH_BATCH && c->has_deeplog && c->batch > 1)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT,
                    "detector: batching was left out of this build (ALOG_WITH_BATCH 0, a firmware "
                    "build): use batch 0 or 1");
    if (!(c->session_timeout_seconds >= 0) || isinf(c->session_timeout_seconds) ||
        (c->session_timeout_seconds > 0 && c->session_timeout_lines > 0))
        return fail(message, ALOG_ERR_INVALID_ARGUMENT,
                    "detector: a session timeout is in lines or in seconds (finite, above 0), "
                    "not both");
    if (c->has_mscred && alog_signature_spec_check(&c->signature) != ALOG_OK)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT, "detector: invalid MSCRED signature spec");
    if (c->has_mscred && c->signature.num_templates != c->vocab_size)
        return fail(message, ALOG_ERR_MISMATCH,
                    "detector: MSCRED counts another number of templates than the vocabulary has");
    ALOG_TRY(read_frontend(fe, c, message));
    if (c->session_timeout_seconds > 0 && fe->timestamp.kind == ALOG_TIMESTAMP_NONE)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT,
                    "detector: a session timeout in seconds, but the front end reads no "
                    "timestamps (timestamp rule none); give a line count");
    return ALOG_OK;
}

/* ---- memory layout ----------------------------------------------------------------------- */

/* Where each part sits, from the first 8-byte boundary of the caller's memory. */
typedef struct part {
    size_t offset, size;
} part;

typedef struct layout {
    part matcher, sessions, cache, topk, bits, signatures;
    part held, held_topk, names, batch_windows, batch_topk, batch_bits;
    size_t end;
} layout;

/* DeepLog's logits: V, or V + 1 with the END key. */
static uint32_t outputs_of(const alog_detector_config *c)
{
    return c->vocab_size + (c->end_key ? 1u : 0u);
}

static uint32_t topk_len(const alog_detector_config *c)
{
    return c->top_k < outputs_of(c) ? c->top_k : outputs_of(c);
}

/* 32-bit words of verdict bits per window: one bit per output under the probability rule. */
static uint32_t bit_words(const alog_detector_config *c)
{
    return c->rule == ALOG_RULE_PROBABILITY ? (outputs_of(c) + 31) / 32 : 0;
}

/* Rows of the DeepLog model: 1 unless the config batches. */
static uint32_t batch_of(const alog_detector_config *c)
{
    return ALOG_WITH_BATCH && c->has_deeplog && c->batch > 1 ? c->batch : 1;
}

/* Verdicts held at most: the batch's windows and the verdicts between them. Most windows hit the
 * top-k cache (on HDFS 97 in 100), so a batch of N misses spans about 30 N verdicts: a smaller
 * cap flushes batches mostly padded. */
static uint32_t held_cap_of(const alog_detector_config *c)
{
    return 32 * batch_of(c) + 16;
}

#define NAME_BYTES_PER_HELD 64u /* the names' room: a longer run of names flushes sooner */

/* A verdict held back behind a window the model has not run on yet. */
struct alog_held {
    alog_verdict v;
    int32_t key;            /* DeepLog: the key judged */
    uint32_t row;           /* the held window's row, or NO_ROW: v is decided */
    const char *anomalous;  /* the reason if the key is an anomaly */
};
#define NO_ROW UINT32_MAX

/* Adds a part of `size` bytes at the end (a size function's 0 means it overflowed). */
static int append(layout *l, part *p, size_t size)
{
    p->offset = l->end;
    p->size = size;
    if (size == 0 || size > SIZE_MAX / 2 - l->end)
        return 0;
    l->end += alog_align8(size);
    return 1;
}

static alog_status plan_layout(layout *l, const alog_detector_config *c, alog_message *message)
{
    int ok = 1;
    memset(l, 0, sizeof *l);
    l->end = alog_align8(sizeof(alog_detector));
    if (c->templates)
        ok &= append(l, &l->matcher, alog_matcher_size(c->templates, c->template_lengths, c->vocab_size));
    if (c->has_deeplog) {
        ok &= append(l, &l->sessions, alog_session_table_size(c->max_sessions, c->window));
        if (c->cache_entries > 0)
            ok &= append(l, &l->cache, alog_topk_cache_size(c->cache_entries, c->window,
                                                            topk_len(c), bit_words(c)));
        ok &= append(l, &l->topk, topk_len(c) * sizeof(int32_t));
        if (bit_words(c) > 0)
            ok &= append(l, &l->bits, bit_words(c) * sizeof(uint32_t));
        if (batch_of(c) > 1) {
            size_t b = batch_of(c), h = held_cap_of(c);
            ok &= append(l, &l->held, h * sizeof(struct alog_held));
            ok &= append(l, &l->held_topk, h * topk_len(c) * sizeof(int32_t));
            ok &= append(l, &l->names, h * NAME_BYTES_PER_HELD);
            ok &= append(l, &l->batch_windows, b * c->window * sizeof(int32_t));
            ok &= append(l, &l->batch_topk, b * topk_len(c) * sizeof(int32_t));
            if (bit_words(c) > 0)
                ok &= append(l, &l->batch_bits, b * bit_words(c) * sizeof(uint32_t));
        }
    }
    if (c->has_mscred)
        ok &= append(l, &l->signatures, alog_signature_stream_size(&c->signature));
    return ok ? ALOG_OK
              : fail(message, ALOG_ERR_LIMIT, "detector: the tables of this config are too large");
}

/* The checked config's front end and memory layout; *out_size counts the 7 bytes the start may
 * move to its 8-byte boundary, always (as ALOG_ARENA_SLACK for models). */
static alog_status prepare(alog_frontend *fe, layout *l, size_t *out_size,
                           const alog_detector_config *config, alog_message *message)
{
    ALOG_TRY(check_config(fe, config, message));
    ALOG_TRY(plan_layout(l, config, message));
    *out_size = 7 + l->end;
    return ALOG_OK;
}

alog_status alog_detector_size(size_t *out_size, const alog_detector_config *config,
                               alog_message *message)
{
    alog_frontend fe;
    layout l;
    if (!out_size)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT, "detector: no size to fill");
    *out_size = 0;
    return prepare(&fe, &l, out_size, config, message);
}

/* ---- model binding ----------------------------------------------------------------------- */

/* The model's single input and output, checked against the shapes the config implies. */
static alog_status bind_io(void **in, const void **out, alog_model *model, alog_dtype in_type,
                           size_t in_count, size_t out_count, alog_message *message,
                           const char *what)
{
    alog_tensor_info ti, to;
    if (alog_model_input_count(model) != 1 || alog_model_output_count(model) != 1)
        return fail(message, ALOG_ERR_SHAPE, what);
    ALOG_TRY(alog_model_input(&ti, model, 0));
    ALOG_TRY(alog_model_output(&to, model, 0));
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
        ALOG_TRY(bind_io(&in, &out, deeplog, ALOG_DTYPE_INT64, (size_t)batch_of(c) * c->window,
                                (size_t)batch_of(c) * outputs_of(c),
                                message, "deeplog.onnx: expected one int64 input (1, window) and "
                                "one float output (1, outputs) as its metadata says (outputs: "
                                "vocab_size, + 1 with the END key), opened with batch 1 (with the "
                                "config's batch when above 1)"));
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
        ALOG_TRY(bind_io(&in, &out, mscred, ALOG_DTYPE_FLOAT32, s->steps * matrices,
                                matrices, message, "mscred.onnx: expected one float input (1, "
                                "steps, scales, n, n) and one float output (1, scales, n, n) as "
                                "its metadata says"));
    }
    det->mscred = mscred;
    det->mscred_input = in;
    det->recon = out;
    return ALOG_OK;
}

/* ---- opening ----------------------------------------------------------------------------- */

static alog_status init_tables(alog_detector *det, char *base, const layout *l,
                               const alog_frontend *fe)
{
    const alog_detector_config *c = &det->config;
    if (c->templates)
        ALOG_TRY(alog_matcher_init_frontend(&det->matcher, base + l->matcher.offset,
                                                   l->matcher.size, c->templates,
                                                   c->template_lengths, c->vocab_size, fe));
    if (c->has_deeplog) {
        ALOG_TRY(alog_session_table_init(&det->sessions, base + l->sessions.offset,
                                                l->sessions.size, c->max_sessions, c->window,
                                                (int32_t)c->vocab_size));
        ALOG_TRY(alog_topk_cache_init(&det->cache, base + l->cache.offset, l->cache.size,
                                             c->cache_entries, c->window, topk_len(c),
                                             bit_words(c)));
        det->outputs = outputs_of(c);
        det->topk = (int32_t *)(void *)(base + l->topk.offset);
        det->bits = bit_words(c) ? (uint32_t *)(void *)(base + l->bits.offset) : NULL;
        det->batch = batch_of(c);
        if (det->batch > 1) {
            det->held_cap = held_cap_of(c);
            det->held_v = (struct alog_held *)(void *)(base + l->held.offset);
            det->held_topk = (int32_t *)(void *)(base + l->held_topk.offset);
            det->names = base + l->names.offset;
            det->names_cap = l->names.size;
            det->batch_windows = (int32_t *)(void *)(base + l->batch_windows.offset);
            det->batch_topk = (int32_t *)(void *)(base + l->batch_topk.offset);
            det->batch_bits = bit_words(c) ? (uint32_t *)(void *)(base + l->batch_bits.offset)
                                           : NULL;
        }
    }
    if (c->has_mscred)
        ALOG_TRY(alog_signature_stream_init(&det->signatures, base + l->signatures.offset,
                                                   l->signatures.size, &c->signature));
    return ALOG_OK;
}

alog_status alog_detector_open(alog_detector **out_detector, void *mem, size_t mem_len,
                               const alog_detector_config *config, alog_model *deeplog,
                               alog_model *mscred, alog_message *message)
{
    alog_frontend fe;
    alog_detector *det;
    alog_status status;
    char *base;
    size_t need;
    layout l;
    if (!out_detector || !mem)
        return fail(message, ALOG_ERR_INVALID_ARGUMENT, "detector: no memory given");
    *out_detector = NULL;
    ALOG_TRY(prepare(&fe, &l, &need, config, message));
    if (mem_len < need)
        return fail(message, ALOG_ERR_ARENA_TOO_SMALL,
                    "detector: the memory is smaller than alog_detector_size() says");
    base = (char *)mem + (8 - (uintptr_t)mem % 8) % 8;
    det = (alog_detector *)(void *)base;
    memset(det, 0, sizeof *det);
    det->config = *config;
    det->frontend = fe;
    ALOG_TRY(bind_models(det, deeplog, mscred, message));
    status = init_tables(det, base, &l, &det->frontend);
    if (status != ALOG_OK)
        return fail(message, status, "detector: cannot build its tables");
    *out_detector = det;
    return ALOG_OK;
}

const char *alog_detector_error(const alog_detector *det)
{
    if (!det || det->failed == ALOG_OK)
        return "";
    if (det->deeplog && alog_model_error(det->deeplog)[0])
        return alog_model_error(det->deeplog);
    return det->mscred ? alog_model_error(det->mscred) : "";
}

/* ---- DeepLog ----------------------------------------------------------------------------- */

static alog_status run_model(alog_detector *det, alog_model *model)
{
    alog_status status = alog_model_run(model);
    if (status != ALOG_OK && det->failed == ALOG_OK)
        det->failed = status;
    return status;
}

/* The probability rule's verdict bits of the logits (docs/detection.md 2.3): bit i set when
 * p_i >= threshold (i == end, the END key: p_i >= end_threshold; end UINT32_MAX without END),
 * p the softmax in float64 with the sum taken in index order (NaN anywhere
 * makes every p NaN, which is not below the threshold: no anomaly, as numpy decides). exp is the
 * engine's own (alog_exp, no libm): the same bits on every target, within 1 ulp of the C
 * library's that the Python reference calls. */
static void probability_bits(uint32_t *bits, const float *logits, uint32_t n, double threshold,
                             uint32_t end, double end_threshold)
{
    double m = -INFINITY, sum = 0;
    uint32_t i;
    for (i = 0; i < n; i++) {
        double l = logits[i];
        if (l != l || m != m)
            m = NAN;
        else if (l > m)
            m = l;
    }
    for (i = 0; i < n; i++)
        sum += alog_exp((double)logits[i] - m);
    memset(bits, 0, ((n + 31) / 32) * sizeof *bits);
    for (i = 0; i < n; i++)
        if (!(alog_exp((double)logits[i] - m) / sum < (i == end ? end_threshold : threshold)))
            bits[i / 32] |= 1u << (i % 32);
}

/* A window's top-k and (probability rule) verdict bits from row `row` of the logits. */
static void row_topk(alog_detector *det, int32_t *topk, uint32_t *bits, uint32_t row)
{
    const float *logits = det->logits + (size_t)row * det->outputs;
    alog_topk(topk, logits, det->outputs, det->config.top_k);
    if (bits)
        probability_bits(bits, logits, det->outputs, det->config.prob_threshold,
                         det->config.end_key ? det->config.vocab_size : UINT32_MAX,
                         det->config.end_threshold);
}

/* Key `key`'s verdict from a window's top-k and bits: anomaly and reason (`anomalous`: the
 * reason of an anomaly). */
static void decide(alog_verdict *v, const alog_detector *det, const int32_t *top,
                   const uint32_t *bits, int32_t key, const char *anomalous)
{
    uint32_t i, k = topk_len(&det->config);
    v->topk = top;
    v->topk_len = k;
    if (det->config.rule == ALOG_RULE_PROBABILITY) {
        v->anomaly = !(bits[(uint32_t)key / 32] >> ((uint32_t)key % 32) & 1u);
        anomalous = key == (int32_t)det->config.vocab_size ? anomalous : REASON_LOW_PROBABILITY;
    } else {
        for (i = 0; i < k && top[i] != key; i++)
            ;
        v->anomaly = i == k;
    }
    v->reason = v->anomaly ? anomalous : REASON_OK;
}

/* Key `key`'s verdict for a window into h: from the cache, or a model run that then fills it;
 * when batching, a missing window is held back instead (h->row, decided at the flush). */
static alog_status judge_key(struct alog_held *h, alog_detector *det, const int32_t *window,
                             int32_t key, const char *anomalous)
{
    uint32_t i, w = det->config.window;
    const uint32_t *bits = NULL;
    const int32_t *hit = alog_topk_cache_get(&det->cache, window, &bits);
    h->key = key;
    h->anomalous = anomalous;
    h->row = NO_ROW;
    if (hit) {
        decide(&h->v, det, hit, bits, key, anomalous);
        return ALOG_OK;
    }
    if (ALOG_WITH_BATCH && det->batch > 1) {
        h->row = det->pending++;
        memcpy(det->batch_windows + (size_t)h->row * w, window, w * sizeof *window);
        return ALOG_OK;
    }
    for (i = 0; i < w; i++)
        det->keys[i] = window[i];
    ALOG_TRY(run_model(det, det->deeplog));
    row_topk(det, det->topk, det->bits, 0);
    alog_topk_cache_put(&det->cache, window, det->topk, det->bits);
    decide(&h->v, det, det->topk, det->bits, key, anomalous);
    return ALOG_OK;
}

/* Runs the held windows (one model run, the rows past them padded), then gives every held
 * verdict to emit in order. */
static alog_status flush_held(alog_detector *det, alog_verdict_fn emit, void *ctx)
{
    const alog_detector_config *c = &det->config;
    uint32_t i, k = topk_len(c), words = bit_words(c), w = c->window;
    alog_status status = ALOG_OK;
    if (!ALOG_WITH_BATCH || det->held == 0)
        return ALOG_OK;
    if (det->pending > 0) {
        size_t n = (size_t)det->pending * w;
        for (i = 0; i < n; i++)
            det->keys[i] = det->batch_windows[i];
        for (; i < (size_t)det->batch * w; i++)
            det->keys[i] = (int64_t)c->vocab_size; /* PAD: rows no window needs */
        status = run_model(det, det->deeplog);
        for (i = 0; status == ALOG_OK && i < det->pending; i++) {
            uint32_t *bits = words ? det->batch_bits + (size_t)i * words : NULL;
            row_topk(det, det->batch_topk + (size_t)i * k, bits, i);
            alog_topk_cache_put(&det->cache, det->batch_windows + (size_t)i * w,
                                det->batch_topk + (size_t)i * k, bits);
        }
    }
    for (i = 0; status == ALOG_OK && i < det->held; i++) {
        struct alog_held *h = &det->held_v[i];
        if (h->row != NO_ROW)
            decide(&h->v, det, det->batch_topk + (size_t)h->row * k,
                   words ? det->batch_bits + (size_t)h->row * words : NULL, h->key, h->anomalous);
        emit(ctx, &h->v);
    }
    det->held = det->pending = 0;
    det->names_len = 0;
    det->must_flush = 0;
    return status;
}

/* A verdict in the reference's order: out at once while nothing is held, else held behind the
 * held ones (its name and top-k copied), then everything runs when the batch, the held verdicts
 * or the names' room is full. */
static alog_status deliver(alog_detector *det, const struct alog_held *h, alog_verdict_fn emit,
                           void *ctx)
{
    struct alog_held *to;
    uint32_t k = topk_len(&det->config);
    if (!ALOG_WITH_BATCH || (h->row == NO_ROW && det->held == 0)) {
        emit(ctx, &h->v);
        return ALOG_OK;
    }
    to = &det->held_v[det->held];
    *to = *h;
    if (h->row == NO_ROW && h->v.topk) {
        memcpy(det->held_topk + (size_t)det->held * k, h->v.topk, k * sizeof(int32_t));
        to->v.topk = det->held_topk + (size_t)det->held * k;
    }
    if (h->v.session && h->v.session_len <= det->names_cap - det->names_len) {
        memcpy(det->names + det->names_len, h->v.session, h->v.session_len);
        to->v.session = det->names + det->names_len;
        det->names_len += h->v.session_len;
    } else if (h->v.session) {
        det->must_flush = 1; /* the caller's name is only good during this call */
    }
    det->held++;
    if (det->must_flush || det->held == det->held_cap || det->pending == det->batch)
        return flush_held(det, emit, ctx);
    return ALOG_OK;
}

/* Closes the session in `slot` (docs/detection.md 2.2): its END verdict when the model has the
 * END key, then its window is forgotten. */
static alog_status close_slot(alog_detector *det, uint32_t slot, alog_verdict_fn emit, void *ctx)
{
    const alog_session *s = &det->sessions.slots[slot];
    if (det->config.end_key) {
        struct alog_held h;
        alog_verdict *v = &h.v;
        memset(&h, 0, sizeof h);
        v->model = ALOG_MODEL_DEEPLOG;
        v->session = s->prefix;
        v->session_len = s->name_len < ALOG_SESSION_NAME_PREFIX ? s->name_len
                                                               : ALOG_SESSION_NAME_PREFIX;
        v->line = s->last_line;
        v->template_index = (int32_t)det->config.vocab_size;
        ALOG_TRY(judge_key(&h, det, alog_session_window(&det->sessions, slot),
                           v->template_index, REASON_EARLY_END));
        ALOG_TRY(deliver(det, &h, emit, ctx));
    }
    alog_session_remove(&det->sessions, slot);
    return ALOG_OK;
}

/* The stamp a session's timeout in seconds counts from. */
static double stamp_of(const alog_detector *det, const alog_session *s)
{
    return s->has_stamp ? s->stamp : det->first_clock;
}

/* The timeouts (docs/detection.md 2.2): sessions idle past the limit close, idle longest first
 * (the LRU order is the order of their last lines and stamps, so the scan stops at the first
 * that stays). Lines: at the start of line `line`; seconds: after the clock moved. */
static alog_status close_idle(alog_detector *det, uint64_t line, int seconds,
                              alog_verdict_fn emit, void *ctx)
{
    const alog_detector_config *c = &det->config;
    alog_session_table *t = &det->sessions;
    while (t->oldest != ALOG_SESSION_NONE && det->failed == ALOG_OK) {
        const alog_session *s = &t->slots[t->oldest];
        int stale = seconds ? det->clock - stamp_of(det, s) > c->session_timeout_seconds
                            : line - s->last_line > c->session_timeout_lines;
        if (!stale)
            break;
        ALOG_TRY(close_slot(det, t->oldest, emit, ctx));
    }
    return det->failed;
}

/* A line's timestamp moves the clock (the largest read so far), then the seconds timeout. */
static alog_status tick(alog_detector *det, int has_time, double seconds, alog_verdict_fn emit,
                        void *ctx)
{
    if (!det->config.has_deeplog || !(det->config.session_timeout_seconds > 0) || !has_time ||
        seconds != seconds)
        return ALOG_OK;
    if (!det->has_clock) {
        det->has_clock = 1;
        det->clock = det->first_clock = seconds;
    } else if (seconds > det->clock) {
        det->clock = seconds;
    }
    return close_idle(det, 0, 1, emit, ctx);
}

static alog_status judge_deeplog(alog_detector *det, const char *session, size_t session_len,
                                 uint64_t line, int32_t index, alog_verdict_fn emit, void *ctx)
{
    struct alog_held h;
    alog_verdict *v = &h.v;
    memset(&h, 0, sizeof h);
    h.row = NO_ROW;
    v->model = ALOG_MODEL_DEEPLOG;
    v->session = session;
    v->session_len = session_len;
    v->line = line;
    v->template_index = index;
    if (index >= 0) {
        alog_session_table *t = &det->sessions;
        alog_session *s;
        uint32_t slot = alog_session_lookup(t, session, session_len);
        if (slot != ALOG_SESSION_NONE) {
            alog_session_touch(t, slot);
        } else {
            /* An eviction closes the idle-longest session first: its END verdict comes before
             * this event's. */
            if (alog_session_table_full(t))
                ALOG_TRY(close_slot(det, t->oldest, emit, ctx));
            ALOG_TRY(alog_session_find(&slot, t, session, session_len));
        }
        ALOG_TRY(judge_key(&h, det, alog_session_window(t, slot), index, REASON_NOT_IN_TOPK));
        alog_session_push(t, slot, index);
        s = &t->slots[slot];
        s->last_line = line;
        s->has_stamp = (uint32_t)det->has_clock;
        s->stamp = det->clock;
    } else {
        v->anomaly = 1;
        v->reason = REASON_UNSEEN;
    }
    return deliver(det, &h, emit, ctx);
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
    struct alog_held h;
    alog_verdict *v = &h.v;
    alog_signature_input(det->mscred_input, stream);
    if (run_model(det, det->mscred) != ALOG_OK)
        return;
    memset(&h, 0, sizeof h);
    h.row = NO_ROW;
    v->model = ALOG_MODEL_MSCRED;
    v->session = NULL; /* MSCRED judges the whole stream */
    v->line = line;
    v->template_index = -1;
    v->has_score = 1;
    v->score = residual_cells(det->recon, alog_signature_last(stream), matrices,
                              det->config.cell_threshold);
    v->anomaly = v->score > det->config.anomaly_threshold;
    v->reason = v->anomaly ? REASON_RESIDUAL : REASON_OK;
    deliver(det, &h, det->emit, det->emit_ctx); /* a failed run is det->failed */
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

/* One event (index checked by the caller): verdicts in the reference's order. Under the seconds
 * rule the MSCRED verdicts of the buckets this event closes come first (they closed before it),
 * under the lines rule after DeepLog's (the event completed them). */
static alog_status judge(alog_detector *det, const char *session, size_t session_len,
                         uint64_t line, int32_t index, int has_time, double seconds,
                         alog_verdict_fn emit, void *ctx)
{
    int mscred = det->config.has_mscred && index >= 0;
    int closes_first = mscred && det->config.signature.bucket_by_seconds;
    ALOG_TRY(tick(det, has_time, seconds, emit, ctx));
    if (closes_first)
        count_for_mscred(det, index, line, has_time, seconds, emit, ctx);
    if (det->config.has_deeplog && det->failed == ALOG_OK)
        ALOG_TRY(judge_deeplog(det, session, session_len, line, index, emit, ctx));
    if (mscred && !closes_first)
        count_for_mscred(det, index, line, has_time, seconds, emit, ctx);
    return det->failed;
}

/* The start of line (or event) `number`: the timeout in lines closes what it passed. */
static alog_status start_line(alog_detector *det, uint64_t number, alog_verdict_fn emit,
                              void *ctx)
{
    if (!det->config.has_deeplog || det->config.session_timeout_lines == 0)
        return ALOG_OK;
    return close_idle(det, number, 0, emit, ctx);
}

/* A raw line (or the head of an overlong one, `whole` 0: unseen without matching). */
static alog_status feed_text(alog_detector *det, const char *line, size_t len, int whole,
                             alog_verdict_fn emit, void *ctx)
{
    const unsigned char *tok;
    size_t tok_len, pos = 0;
    alog_line_result r;
    uint64_t number;
    if (!det || !emit || (!line && len) || (whole && !det->matcher))
        return ALOG_ERR_INVALID_ARGUMENT;
    if (det->failed != ALOG_OK)
        return det->failed;
    number = ++det->lines;
    ALOG_TRY(start_line(det, number, emit, ctx));
    if (!line)
        line = "";
    /* blank (counted, no event) when the line's head holds no token (docs/matching.md, 0) */
    if (!alog_next_token(&tok, &tok_len, (const unsigned char *)line,
                         len < ALOG_LINE_HEAD ? len : ALOG_LINE_HEAD, &pos))
        return ALOG_OK;
    ALOG_TRY(alog_frontend_line(&r, &det->frontend, whole ? det->matcher : NULL, line, len,
                                (det->config.has_mscred && det->config.signature.bucket_by_seconds) ||
                                    (det->config.has_deeplog &&
                                     det->config.session_timeout_seconds > 0)));
    return judge(det, r.session, r.session_len, number, r.index, r.has_time, r.seconds, emit, ctx);
}

alog_status alog_detector_feed_line(alog_detector *detector, const char *line, size_t len,
                                    alog_verdict_fn emit, void *ctx)
{
    return feed_text(detector, line, len, 1, emit, ctx);
}

alog_status alog_detector_feed_line_head(alog_detector *detector, const char *head, size_t len,
                                         alog_verdict_fn emit, void *ctx)
{
    return feed_text(detector, head, len, 0, emit, ctx);
}

alog_status alog_detector_feed_event(alog_detector *detector, const alog_event *event,
                                     alog_verdict_fn emit, void *ctx)
{
    const char *session;
    size_t session_len;
    if (!detector || !event || !emit || (!event->session && event->session_len) ||
        event->template_index < -1 ||
        event->template_index >= (int32_t)detector->config.vocab_size)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (detector->failed != ALOG_OK)
        return detector->failed;
    session = event->session ? event->session : ALOG_SESSION_ALL;
    session_len = event->session ? event->session_len : sizeof ALOG_SESSION_ALL - 1;
    ALOG_TRY(start_line(detector, ++detector->lines, emit, ctx));
    return judge(detector, session, session_len, detector->lines, event->template_index,
                 event->has_time, event->seconds, emit, ctx);
}

alog_status alog_detector_close_session(alog_detector *detector, const char *session,
                                        size_t session_len, alog_verdict_fn emit, void *ctx)
{
    uint32_t slot;
    if (!detector || !emit || (!session && session_len))
        return ALOG_ERR_INVALID_ARGUMENT;
    if (detector->failed != ALOG_OK)
        return detector->failed;
    if (!detector->config.has_deeplog)
        return ALOG_OK;
    if (!session) {
        session = ALOG_SESSION_ALL;
        session_len = sizeof ALOG_SESSION_ALL - 1;
    }
    slot = alog_session_lookup(&detector->sessions, session, session_len);
    return slot == ALOG_SESSION_NONE ? ALOG_OK : close_slot(detector, slot, emit, ctx);
}

alog_status alog_detector_finish(alog_detector *detector, alog_verdict_fn emit, void *ctx)
{
    if (!detector || !emit)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (detector->failed != ALOG_OK)
        return detector->failed;
    if (!detector->config.has_deeplog)
        return ALOG_OK;
    while (detector->sessions.oldest != ALOG_SESSION_NONE)
        ALOG_TRY(close_slot(detector, detector->sessions.oldest, emit, ctx));
    return flush_held(detector, emit, ctx);
}

alog_status alog_detector_flush(alog_detector *detector, alog_verdict_fn emit, void *ctx)
{
    if (!detector || !emit)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (detector->failed != ALOG_OK)
        return detector->failed;
    return flush_held(detector, emit, ctx);
}
