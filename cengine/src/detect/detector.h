/*
 * detector.h - raw lines (or template indices) in, verdicts out: the rules of
 * docs/detection.md, the same as the Python reference's `alog-detect detect`.
 *
 * DeepLog: every event of a session is judged with the session's window (its last `window`
 * known keys, left-padded with PAD = vocab_size): anomaly when its key is not among the top-k
 * of the model's logits. A line whose template is unseen is an anomaly without a model run and
 * touches no session.
 * MSCRED: the whole stream's counted events make signature matrices (signature.h); each time a
 * model input is complete the model reconstructs the newest signature and the residual decides.
 *
 * The detector works in caller memory (alog_detector_size) and on models the caller opened;
 * it never allocates.
 */
#ifndef ALOG_DETECT_DETECTOR_H
#define ALOG_DETECT_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"
#include "detect/session.h"
#include "detect/signature.h"
#include "detect/topk.h"
#include "detect/verdict.h"

typedef struct alog_detector_config {
    uint32_t vocab_size;      /* V: template indices 0..V-1; PAD = V */
    uint32_t window;          /* DeepLog keys per prediction */
    uint32_t top_k;
    uint32_t max_sessions;    /* the session table's capacity (idle-longest evicted beyond) */
    uint32_t cache_entries;   /* windows whose top-k is remembered (0: none) */
    int has_deeplog;
    int has_mscred;
    alog_signature_spec signature;
    float cell_threshold;     /* a residual cell counts when |recon - x| > this (float32) */
    int64_t anomaly_threshold; /* an input is an anomaly when its cell count is > this */
} alog_detector_config;

typedef void (*alog_verdict_fn)(void *ctx, const alog_verdict *verdict);

typedef struct alog_detector {
    alog_detector_config config;
    alog_session_table sessions;
    alog_topk_cache cache;
    int32_t *topk;              /* (min(top_k, V)) the current event's top-k */
    alog_model *deeplog;        /* NULL without DeepLog */
    int64_t *keys;              /* (1, window) the DeepLog input tensor */
    const float *logits;        /* (1, V) the DeepLog output tensor */
    alog_model *mscred;         /* NULL without MSCRED */
    alog_signature_stream signatures;
    float *mscred_input;        /* (1, steps, scales, n, n) the MSCRED input tensor */
    const float *recon;         /* (1, scales, n, n) the MSCRED output tensor */
    alog_status failed;         /* the first model run that failed (sticky) */
    /* the verdict callback of the event being fed (MSCRED verdicts come from inside it) */
    alog_verdict_fn emit;
    void *emit_ctx;
} alog_detector;

/* Bytes of caller memory alog_detector_init needs beside the models' own arenas. */
size_t alog_detector_size(const alog_detector_config *config);

/* Checks the config against the models' input and output shapes; a model the config does not
 * use may be NULL. */
alog_status alog_detector_init(alog_detector *det, void *mem, size_t mem_len,
                               const alog_detector_config *config, alog_model *deeplog,
                               alog_model *mscred, alog_message *message);

/* One event (a line with at least one token): its session, its 1-based line number, its
 * template index (-1: unseen) and its timestamp (used by the seconds bucket rule only).
 * Verdicts go to emit in the reference's order: under the seconds rule the MSCRED verdicts of
 * the buckets this event closes come first (they closed before it), under the lines rule after
 * DeepLog's (the event completed them). */
alog_status alog_detector_feed_event(alog_detector *det, const char *session, size_t session_len,
                                     uint64_t line, int32_t index, int has_time, double seconds,
                                     alog_verdict_fn emit, void *ctx);

#endif /* ALOG_DETECT_DETECTOR_H */
