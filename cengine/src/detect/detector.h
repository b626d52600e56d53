/*
 * detector.h - the detector behind alog.h's alog_detector_*: raw lines (or template indices) in,
 * verdicts out, by the rules of docs/detection.md, the same as the Python reference's
 * `alog-detect detect`.
 *
 * DeepLog: every event of a session is judged with the session's window (its last `window`
 * known keys, left-padded with PAD = vocab_size): anomaly when its key is not among the top-k
 * of the model's logits (or, under the probability rule, when its softmax probability is below
 * the threshold). A line whose template is unseen is an anomaly without a model run and
 * touches no session. A session closes on a timeout, on eviction, on request and at the end of
 * input; with the END key (index V of the model's V + 1 outputs) the close is judged too.
 * MSCRED: the whole stream's counted events make signature matrices (signature.h); each time a
 * model input is complete the model reconstructs the newest signature and the residual decides.
 *
 * The detector lives in caller memory (alog_detector_size) and runs models the caller opened;
 * it never allocates. The config (alog_detector_config) is public: alog.h.
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
#include "match/match.h"

/* The batching switch (alog_detector_config.batch). A firmware build compiles detector.c with
 * -DALOG_OPS_CONFIG and the generated alog_ops_config.h (included by match.h), which sets it to 0:
 * a device judges one window at a time, the holding of verdicts is left out of the image, and a
 * config with batch > 1 is refused. Everywhere else it is 1. */
#ifndef ALOG_WITH_BATCH
#define ALOG_WITH_BATCH 1
#endif

struct alog_detector {
    alog_detector_config config;  /* as given, with the unused DeepLog part set to 1s */
    alog_matcher *matcher;        /* NULL without templates: events only */
    alog_frontend frontend;       /* the config's front-end settings, parsed (the session rule
                                     points into the config's string) */
    uint64_t lines;               /* lines and events fed so far: the next one's number - 1 */
    alog_session_table sessions;
    alog_topk_cache cache;
    uint32_t outputs;             /* DeepLog's logits: V, or V + 1 with the END key */
    int32_t *topk;                /* (min(top_k, outputs)) the current event's top-k */
    uint32_t *bits;               /* probability rule: the current window's verdict bits (bit i:
                                     p_i >= prob_threshold, END's bit p_V >= end_threshold);
                                     NULL under the top-k rule */
    int has_clock;                /* the seconds timeout's clock: the largest timestamp read */
    double clock;
    double first_clock;           /* its first value: the stamp of sessions fed before it */
    alog_model *deeplog;          /* NULL without DeepLog */
    int64_t *keys;                /* (1, window) the DeepLog input tensor */
    const float *logits;          /* (1, V) the DeepLog output tensor */
    alog_model *mscred;           /* NULL without MSCRED */
    alog_signature_stream signatures;
    float *mscred_input;          /* (1, steps, scales, n, n) the MSCRED input tensor */
    const float *recon;           /* (1, scales, n, n) the MSCRED output tensor */
    alog_status failed;           /* the first model run that failed (sticky) */
    /* batch > 1: the windows held back and the verdicts held behind the first of them */
    uint32_t batch;               /* rows of the DeepLog model (1: nothing is held) */
    uint32_t pending;             /* windows held: rows 0..pending-1 of keys */
    uint32_t held, held_cap;      /* verdicts held, in emission order */
    struct alog_held *held_v;     /* (held_cap) */
    int32_t *held_topk;           /* (held_cap * topk_len) the top-k of held cache hits */
    char *names;                  /* (names_cap) the session names of held verdicts */
    size_t names_len, names_cap;
    int must_flush;               /* a held verdict's name is the caller's: run before returning */
    int32_t *batch_windows;       /* (batch * window) the held windows */
    int32_t *batch_topk;          /* (batch * topk_len) the top-k of each row after a run */
    uint32_t *batch_bits;         /* (batch * bit words) the probability rule's bits of each row */
    /* the verdict callback of the event being fed (MSCRED verdicts come from inside it) */
    alog_verdict_fn emit;
    void *emit_ctx;
};

#endif /* ALOG_DETECT_DETECTOR_H */
