/*
 * modeldir.c - vocab.json and <kind>.onnx.meta.json into the detector's configuration.
 */
#include "detect/modeldir.h"
#include "detect/util.h"

#include <math.h>
#include <string.h>

static alog_status fail(alog_message *message, alog_status status, const char *text)
{
    if (message) {
        strncpy(message->text, text, sizeof message->text - 1);
        message->text[sizeof message->text - 1] = '\0';
    }
    return status;
}

/* ---- vocab.json -------------------------------------------------------------------------- */

size_t alog_vocab_memory(size_t len)
{
    /* Tokens; decoded templates are never longer than their JSON text; a table row per
     * template, and there are fewer templates than bytes. */
    size_t tokens = alog_json_token_bound(len);
    return alog_align8(tokens * sizeof(alog_json_token)) + alog_align8(len) +
           alog_align8(len * sizeof(const char *)) + alog_align8(len * sizeof(size_t)) + 32;
}

/* A key "0".."V-1" written canonically (no sign, no leading zero): its value, or -1. */
static int64_t index_key(const alog_json_doc *doc, uint32_t tok, uint32_t size)
{
    const alog_json_token *t = &doc->tokens[tok];
    const char *s = doc->text + t->start + 1, *end = doc->text + t->end - 1;
    int64_t v = 0;
    if (s == end || (*s == '0' && end - s > 1))
        return -1;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v >= size)
            return -1;
    }
    return v;
}

alog_status alog_vocab_parse(alog_vocab *vocab, void *mem, size_t mem_len, const char *text,
                             size_t len, alog_message *message)
{
    alog_json_doc doc;
    alog_json_token *tokens;
    char *pool, *p = mem;
    size_t pool_used = 0, ntok = alog_json_token_bound(len);
    uint32_t size, i, k;
    if (!vocab || !mem || !text || ((uintptr_t)mem & 7))
        return ALOG_ERR_INVALID_ARGUMENT;
    if (mem_len < alog_vocab_memory(len) || ntok > UINT32_MAX)
        return ALOG_ERR_ARENA_TOO_SMALL;
    tokens = (alog_json_token *)(void *)p;
    p += alog_align8(ntok * sizeof(alog_json_token));
    pool = p;
    p += alog_align8(len);
    vocab->templates = (const char **)(void *)p;
    p += alog_align8(len * sizeof(const char *));
    vocab->lengths = (size_t *)(void *)p;
    if (alog_json_parse(&doc, tokens, (uint32_t)ntok, text, len) != ALOG_OK)
        return fail(message, ALOG_ERR_MALFORMED, "not a JSON vocabulary");
    if (tokens[0].type != ALOG_JSON_OBJECT || tokens[0].count == 0)
        return fail(message, ALOG_ERR_MALFORMED, "a vocabulary must be a non-empty JSON object");
    size = tokens[0].count;
    for (i = 0; i < size; i++)
        vocab->templates[i] = NULL;
    for (i = 0, k = 1; i < size; i++) {
        uint32_t v = tokens[k].next;
        int64_t index = index_key(&doc, k, size);
        size_t n;
        if (index < 0 || tokens[v].type != ALOG_JSON_STRING)
            return fail(message, ALOG_ERR_MALFORMED,
                        "engine vocabulary must map decimal indices to template strings");
        if (vocab->templates[index])
            return fail(message, ALOG_ERR_MALFORMED, "vocabulary indices must be exactly 0..V-1 "
                                                     "without gaps or repeats");
        ALOG_TRY(alog_json_string(pool + pool_used, len - pool_used, &n, &doc, v));
        vocab->templates[index] = pool + pool_used;
        vocab->lengths[index] = n;
        pool_used += n;
        k = tokens[v].next;
    }
    vocab->size = size;
    return ALOG_OK;
}

/* json.dumps with ensure_ascii=False escapes only '"', '\\' and control characters. */
static void write_raw_json_string(alog_sink *sink, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;
    alog_sink_write(sink, "\"", 1);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        alog_sink_write(sink, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        alog_sink_write(sink, esc, n);
    }
    alog_sink_write(sink, s + run, len - run);
    alog_sink_write(sink, "\"", 1);
}

void alog_vocab_write_canonical(alog_sink *sink, const alog_vocab *vocab)
{
    uint32_t i;
    alog_sink_write(sink, "[", 1);
    for (i = 0; i < vocab->size; i++) {
        if (i)
            alog_sink_write(sink, ",", 1);
        write_raw_json_string(sink, vocab->templates[i], vocab->lengths[i]);
    }
    alog_sink_write(sink, "]", 1);
}

/* ---- <kind>.onnx.meta.json --------------------------------------------------------------- */

static alog_status get_sha256(char out[65], const alog_json_doc *doc, uint32_t obj,
                              const char *key)
{
    uint32_t v;
    size_t n;
    ALOG_TRY(alog_json_get(&v, doc, obj, key));
    if (alog_json_string(out, 64, &n, doc, v) != ALOG_OK || n != 64)
        return ALOG_ERR_MALFORMED;
    out[64] = '\0';
    return ALOG_OK;
}

static alog_status get_u32(uint32_t *out, const alog_json_doc *doc, uint32_t obj, const char *key,
                           int64_t lo, int64_t hi)
{
    int64_t v;
    ALOG_TRY(alog_json_get_int(&v, doc, obj, key, lo, hi));
    *out = (uint32_t)v;
    return ALOG_OK;
}

/* A threshold: a finite number, or null (or, unless `required`, absent): NaN. */
static alog_status parse_threshold(double *out, const alog_json_doc *doc, uint32_t sec,
                                   const char *key, int required)
{
    uint32_t v;
    *out = NAN;
    if (alog_json_get(&v, doc, sec, key) != ALOG_OK)
        return required ? ALOG_ERR_MALFORMED : ALOG_OK;
    if (doc->tokens[v].type == ALOG_JSON_NULL)
        return ALOG_OK;
    ALOG_TRY(alog_json_double(out, doc, v));
    return isfinite(*out) ? ALOG_OK : ALOG_ERR_MALFORMED;
}

/* Version 2's decision fields (docs/detection.md 2.2, 2.3). */
static alog_status parse_deeplog_rule(alog_detector_config *c, const alog_json_doc *doc,
                                      uint32_t sec)
{
    uint32_t v, outputs;
    ALOG_TRY(alog_json_get(&v, doc, sec, "end_key"));
    ALOG_TRY(alog_json_bool(&c->end_key, doc, v));
    ALOG_TRY(get_u32(&outputs, doc, sec, "outputs", 1, (1 << 24) + 1));
    if (outputs != c->vocab_size + (c->end_key ? 1u : 0u))
        return ALOG_ERR_MALFORMED;
    ALOG_TRY(alog_json_get(&v, doc, sec, "rule"));
    if (alog_json_string_equals(doc, v, "topk", 4))
        c->rule = ALOG_RULE_TOPK;
    else if (alog_json_string_equals(doc, v, "probability", 11))
        c->rule = ALOG_RULE_PROBABILITY;
    else
        return ALOG_ERR_MALFORMED;
    ALOG_TRY(parse_threshold(&c->prob_threshold, doc, sec, "prob_threshold", 1));
    /* end_threshold came later in format 2: a file without it reads as null. */
    ALOG_TRY(parse_threshold(&c->end_threshold, doc, sec, "end_threshold", 0));
    /* No calibrated threshold: a model that names the probability rule cannot run. */
    if (c->rule == ALOG_RULE_PROBABILITY &&
        (isnan(c->prob_threshold) || (c->end_key && isnan(c->end_threshold))))
        return ALOG_ERR_MALFORMED;
    return ALOG_OK;
}

static alog_status parse_deeplog(alog_detector_config *c, const alog_json_doc *doc, uint32_t sec,
                                 int64_t version)
{
    ALOG_TRY(get_u32(&c->window, doc, sec, "seq_len", 1, 4096));
    ALOG_TRY(get_u32(&c->top_k, doc, sec, "top_k", 1, 1 << 20));
    ALOG_TRY(get_u32(&c->vocab_size, doc, sec, "vocab_size", 1, 1 << 24));
    c->end_key = 0;
    c->rule = ALOG_RULE_TOPK;
    c->prob_threshold = NAN;
    c->end_threshold = NAN;
    if (version >= 2)
        ALOG_TRY(parse_deeplog_rule(c, doc, sec));
    c->has_deeplog = 1;
    return ALOG_OK;
}

static alog_status parse_mscred(alog_detector_config *c, const alog_json_doc *doc, uint32_t sec,
                                int64_t version)
{
    alog_signature_spec *s = &c->signature;
    uint32_t sizes, bucket, unit, i;
    double cell;
    memset(s, 0, sizeof *s);
    ALOG_TRY(get_u32(&s->num_templates, doc, sec, "num_templates", 1, 1 << 24));
    ALOG_TRY(get_u32(&s->n, doc, sec, "n", 8, 4096));
    ALOG_TRY(get_u32(&s->step, doc, sec, "step", 1, 1 << 20));
    ALOG_TRY(get_u32(&s->steps, doc, sec, "steps", 1, 1024));
    ALOG_TRY(alog_json_get(&sizes, doc, sec, "window_sizes"));
    if (doc->tokens[sizes].type != ALOG_JSON_ARRAY || doc->tokens[sizes].count == 0 ||
        doc->tokens[sizes].count > ALOG_MSCRED_MAX_SCALES)
        return ALOG_ERR_MALFORMED;
    s->scales = doc->tokens[sizes].count;
    for (i = 0; i < s->scales; i++) {
        int64_t w;
        ALOG_TRY(alog_json_int(&w, doc, sizes + 1 + i, 1, 1 << 20));
        s->window_sizes[i] = (uint32_t)w;
    }
    ALOG_TRY(alog_json_get(&bucket, doc, sec, "bucket"));
    ALOG_TRY(alog_json_get(&unit, doc, bucket, "unit"));
    if (alog_json_string_equals(doc, unit, "seconds", 7))
        s->bucket_by_seconds = 1;
    else if (!alog_json_string_equals(doc, unit, "lines", 5))
        return ALOG_ERR_MALFORMED;
    ALOG_TRY(get_u32(&s->bucket_size, doc, bucket, "size", 1, INT32_MAX));
    ALOG_TRY(alog_json_get_double(&cell, doc, sec, "cell_threshold"));
    c->cell_threshold = (float)cell; /* the calibration stores a float32 value */
    ALOG_TRY(alog_json_get_int(&c->anomaly_threshold, doc, sec, "anomaly_threshold", INT64_MIN,
                          INT64_MAX));
    ALOG_TRY(get_u32(&s->norm, doc, sec, "norm", 1, 1 << 24));
    /* Under the lines rule no bucket holds more than its size, and that is the norm. */
    if (!s->bucket_by_seconds && s->norm != s->bucket_size)
        return ALOG_ERR_MALFORMED;
    ALOG_TRY(alog_signature_spec_check(s));
    (void)version; /* version 2 changed nothing of MSCRED's */
    c->has_mscred = 1;
    return ALOG_OK;
}

alog_status alog_meta_parse(alog_meta_hashes *hashes, alog_detector_config *config,
                            alog_json_token *tokens, uint32_t ntokens, const char *kind,
                            const char *text, size_t len, alog_message *message)
{
    alog_json_doc doc;
    uint32_t v, vocab, section;
    int64_t version;
    int is_deeplog = strcmp(kind, "deeplog") == 0;
    if (alog_json_parse(&doc, tokens, ntokens, text, len) != ALOG_OK ||
        tokens[0].type != ALOG_JSON_OBJECT)
        return fail(message, ALOG_ERR_MALFORMED, "not a model metadata file");
    if (alog_json_get(&v, &doc, 0, "kind") != ALOG_OK ||
        !alog_json_string_equals(&doc, v, kind, strlen(kind)) ||
        alog_json_get(&section, &doc, 0, kind) != ALOG_OK ||
        tokens[section].type != ALOG_JSON_OBJECT)
        return fail(message, ALOG_ERR_MALFORMED, is_deeplog ? "not deeplog metadata"
                                                            : "not mscred metadata");
    if (alog_json_get_int(&version, &doc, 0, "format_version", INT64_MIN, INT64_MAX) != ALOG_OK)
        return fail(message, ALOG_ERR_MALFORMED, "metadata lacks an integer format_version");
    if (version < 1 || version > ALOG_META_FORMAT) {
        /* "metadata format_version <n> is not 1 or 2 (...)": the version named */
        static const char head[] = "metadata format_version ";
        static const char tail[] = " is not 1 or 2 (this engine reads both)";
        char text[ALOG_MESSAGE_LEN], digits[24];
        size_t n = sizeof digits, used = sizeof head - 1;
        uint64_t u = version < 0 ? 0 - (uint64_t)version : (uint64_t)version;
        do {
            digits[--n] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (version < 0)
            digits[--n] = '-';
        memcpy(text, head, used);
        memcpy(text + used, digits + n, sizeof digits - n);
        used += sizeof digits - n;
        memcpy(text + used, tail, sizeof tail);
        return fail(message, ALOG_ERR_MALFORMED, text);
    }
    if (get_sha256(hashes->onnx_sha256, &doc, 0, "sha256") != ALOG_OK ||
        alog_json_get(&vocab, &doc, 0, "vocab") != ALOG_OK ||
        get_sha256(hashes->vocab_sha256, &doc, vocab, "sha256") != ALOG_OK)
        return fail(message, ALOG_ERR_MALFORMED, "metadata lacks sha256 or vocab.sha256");
    if ((is_deeplog ? parse_deeplog : parse_mscred)(config, &doc, section, version) != ALOG_OK)
        return fail(message, ALOG_ERR_MALFORMED, is_deeplog ? "malformed deeplog metadata"
                                                            : "malformed mscred metadata");
    return ALOG_OK;
}

/* ---- frontend.json ------------------------------------------------------------------------ */

static const char *const frontend_keys_v1[] = {"format_version", "kind", "mask_rules",
                                               "session_rule", "header_tokens"};
static const char *const frontend_keys_v2[] = {"format_version", "kind", "log_format",
                                               "log_format_source", "mask_rules", "session_rule",
                                               "header_tokens", "timestamp", "timestamp_format"};

/* The rule names, checked, joined by commas into out (as alog_detector_config takes them). */
static alog_status parse_mask_rules(char *out, size_t cap, const alog_json_doc *doc, uint32_t list)
{
    uint32_t i, tok;
    size_t used = 0;
    out[0] = '\0';
    if (doc->tokens[list].type != ALOG_JSON_ARRAY)
        return ALOG_ERR_MALFORMED;
    for (i = 0, tok = list + 1; i < doc->tokens[list].count; i++, tok = doc->tokens[tok].next) {
        char name[16];
        size_t n;
        if (doc->tokens[tok].type != ALOG_JSON_STRING ||
            alog_json_string(name, sizeof name, &n, doc, tok) != ALOG_OK ||
            alog_mask_rule_bit(name, n) == 0 || used + n + 2 > cap)
            return ALOG_ERR_MALFORMED;
        if (used)
            out[used++] = ',';
        memcpy(out + used, name, n);
        used += n;
        out[used] = '\0';
    }
    return ALOG_OK;
}

/* The string under key, NUL-terminated into out[0..cap) (at most cap - 1 bytes, no NUL byte). */
static alog_status get_text(char *out, size_t cap, const alog_json_doc *doc, const char *key)
{
    uint32_t v;
    size_t n;
    if (alog_json_get(&v, doc, 0, key) != ALOG_OK || doc->tokens[v].type != ALOG_JSON_STRING ||
        alog_json_string(out, cap - 1, &n, doc, v) != ALOG_OK || memchr(out, 0, n) != NULL)
        return ALOG_ERR_MALFORMED;
    out[n] = '\0';
    return ALOG_OK;
}

alog_status alog_frontend_parse(alog_frontend_text *frontend, alog_json_token *tokens,
                                uint32_t ntokens, const char *text, size_t len,
                                alog_message *message)
{
    alog_json_doc doc;
    alog_frontend fe;
    const char *const *keys;
    const char *why = NULL;
    uint32_t v, i, nkeys;
    int64_t number;
    if (alog_json_parse(&doc, tokens, ntokens, text, len) != ALOG_OK ||
        tokens[0].type != ALOG_JSON_OBJECT)
        return fail(message, ALOG_ERR_MALFORMED, "not a front-end settings file");
    if (alog_json_get(&v, &doc, 0, "kind") != ALOG_OK ||
        !alog_json_string_equals(&doc, v, ALOG_FRONTEND_KIND, strlen(ALOG_FRONTEND_KIND)))
        return fail(message, ALOG_ERR_MALFORMED, "not front-end settings (kind \"frontend\" expected)");
    if (alog_json_get_int(&number, &doc, 0, "format_version", INT64_MIN, INT64_MAX) != ALOG_OK ||
        (number != 1 && number != ALOG_FRONTEND_FORMAT_VERSION))
        return fail(message, ALOG_ERR_MALFORMED,
                    "front-end settings format_version is not 1 or 2 (this engine reads both)");
    keys = number == 1 ? frontend_keys_v1 : frontend_keys_v2;
    nkeys = number == 1 ? 5 : 9;
    /* Exactly these keys: a setting this reader skipped would silently change matching. */
    for (i = 0; i < nkeys; i++)
        if (alog_json_get(&v, &doc, 0, keys[i]) != ALOG_OK)
            return fail(message, ALOG_ERR_MALFORMED, "front-end settings lack a required field");
    if (tokens[0].count != nkeys)
        return fail(message, ALOG_ERR_MALFORMED, "front-end settings have an unknown field");
    if (alog_json_get(&v, &doc, 0, "mask_rules") != ALOG_OK ||
        parse_mask_rules(frontend->mask_rules, sizeof frontend->mask_rules, &doc, v) != ALOG_OK)
        return fail(message, ALOG_ERR_MALFORMED,
                    "mask_rules must list names from uuid, ip, hex, num, path");
    if (get_text(frontend->session_rule, sizeof frontend->session_rule, &doc, "session_rule") !=
            ALOG_OK ||
        alog_session_rule_check(frontend->session_rule) != ALOG_OK)
        return fail(message, ALOG_ERR_MALFORMED,
                    "session_rule must be 'none', 'prefix:<p>' or 'field:<Name>'");
    if (alog_json_get_int(&number, &doc, 0, "header_tokens", 0, UINT32_MAX) != ALOG_OK)
        return fail(message, ALOG_ERR_MALFORMED, "header_tokens must be an integer 0..4294967295");
    frontend->header_tokens = (uint32_t)number;
    if (nkeys == 5) {
        strcpy(frontend->log_format, "");
        strcpy(frontend->log_format_source, "none");
        strcpy(frontend->timestamp, "line-start");
        strcpy(frontend->timestamp_format, "");
    } else if (get_text(frontend->log_format, sizeof frontend->log_format, &doc, "log_format") !=
                   ALOG_OK ||
               get_text(frontend->log_format_source, sizeof frontend->log_format_source, &doc,
                        "log_format_source") != ALOG_OK ||
               get_text(frontend->timestamp, sizeof frontend->timestamp, &doc, "timestamp") !=
                   ALOG_OK ||
               get_text(frontend->timestamp_format, sizeof frontend->timestamp_format, &doc,
                        "timestamp_format") != ALOG_OK) {
        return fail(message, ALOG_ERR_MALFORMED,
                    "log_format, log_format_source, timestamp and timestamp_format must be strings "
                    "(at most 512, 64, 128 and 64 bytes)");
    }
    if (alog_frontend_init(&fe, ALOG_MASK_ALL, frontend->session_rule, frontend->header_tokens,
                           frontend->log_format, frontend->timestamp, frontend->timestamp_format,
                           &why) != ALOG_OK) {
        char reason[ALOG_MESSAGE_LEN];
        size_t n = strlen("front-end settings: ");
        memcpy(reason, "front-end settings: ", n);
        strncpy(reason + n, why ? why : "they do not fit together", sizeof reason - n - 1);
        reason[sizeof reason - 1] = '\0';
        return fail(message, ALOG_ERR_MALFORMED, reason);
    }
    return ALOG_OK;
}
