/*
 * verdict.h - one verdict, and its JSON line exactly as the Python reference writes it.
 *
 * The reference prints json.dumps(obj, separators=(",", ":")) with the default ensure_ascii,
 * keys in the order model, session, line, template, topk, score, anomaly, reason. Session names
 * are bytes from the log: they are decoded as alog_detect.masking.to_text decodes them (UTF-8,
 * invalid bytes as lone surrogates) and every non-ASCII character is escaped as \uXXXX
 * (astral characters as a surrogate pair), byte for byte what json.dumps produces.
 *
 * Output goes through a sink: a caller buffer that is handed to a flush callback when full, so a
 * session name of any length is written without a buffer of its size.
 */
#ifndef ALOG_DETECT_VERDICT_H
#define ALOG_DETECT_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

typedef enum alog_model_kind { ALOG_MODEL_DEEPLOG = 0, ALOG_MODEL_MSCRED = 1 } alog_model_kind;

typedef struct alog_verdict {
    alog_model_kind model;
    const char *session;   /* (session_len) bytes, not terminated; NULL: JSON null (MSCRED) */
    size_t session_len;
    uint64_t line;         /* 1-based input line number */
    int32_t template_index; /* -1: not in the vocabulary */
    const int32_t *topk;   /* (topk_len) indices, largest logit first (none: []) */
    uint32_t topk_len;
    int has_score;         /* 0: JSON null */
    int64_t score;         /* MSCRED: residual cells over the cell threshold */
    int anomaly;
    const char *reason;    /* a plain ASCII word */
} alog_verdict;

typedef struct alog_sink {
    char *buf;   /* (cap) */
    size_t cap;
    size_t len;
    /* Takes buf[0..len) away; returns nonzero on failure (kept in `failed`). */
    int (*flush)(void *ctx, const char *data, size_t len);
    void *ctx;
    int failed;
} alog_sink;

void alog_sink_init(alog_sink *sink, char *buf, size_t cap,
                    int (*flush)(void *ctx, const char *data, size_t len), void *ctx);
void alog_sink_write(alog_sink *sink, const char *data, size_t len);
/* Hand whatever is buffered to the flush callback; ALOG_ERR_IO when any flush failed. */
alog_status alog_sink_flush(alog_sink *sink);

/* Append the verdict as one JSON line (with its '\n'). */
void alog_verdict_write(alog_sink *sink, const alog_verdict *verdict);

/* Append bytes as a JSON string literal (with its quotes), as json.dumps would write the str
 * Python decodes them to. */
void alog_json_write_string(alog_sink *sink, const char *bytes, size_t len);

#endif /* ALOG_DETECT_VERDICT_H */
