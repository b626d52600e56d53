/*
 * alog_config.h - the detector's settings for the models a build was made for, every value from
 * the generated headers. Include it after alog_vocab.h and alog_model_meta.h (the two headers
 * codegen writes for the model directory: `scons headers`, a bundle's include/):
 *
 *     #include "alog_model_meta.h"
 *     #define ALOG_VOCAB_IMPLEMENTATION   // in exactly one source file
 *     #include "alog_vocab.h"
 *     #include "alog_config.h"
 *
 *     alog_detector_config config;
 *     alog_config_from_headers(&config, 4096, 1024);   // sessions kept, windows cached
 *
 * The caller chooses the capacities: how many DeepLog sessions are kept at once (the idle-longest
 * is forgotten beyond) and how many windows' top-k are remembered. Everything else is the model
 * directory's: the vocabulary, the line front end's settings (mask rules, session rule, header
 * tokens) and each model's shapes and thresholds, DeepLog's END key and default rule with its
 * calibrated thresholds included (ALOG_META_DEEPLOG_END_KEY, _RULE, _PROB_THRESHOLD,
 * _END_THRESHOLD; headers of an older directory lack them: no END key, the top-k rule, or no
 * END threshold). A session timeout
 * (session_timeout_lines or _seconds) is the caller's to set after this call.
 */
#ifndef ALOG_CONFIG_H
#define ALOG_CONFIG_H

#include <math.h> /* NAN: a macro, no libm */
#include <stdint.h>
#include <string.h>

#include "alog.h"

#if !defined(ALOG_VOCAB_SIZE) || !defined(ALOG_META_VOCAB_SIZE)
#error "include alog_vocab.h and alog_model_meta.h before alog_config.h"
#endif

static inline void alog_config_from_headers(alog_detector_config *c, uint32_t max_sessions,
                                            uint32_t cache_entries)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = ALOG_VOCAB_SIZE;
    c->templates = alog_vocab_templates;
    c->template_lengths = alog_vocab_template_lengths;
    c->mask_rules = ALOG_FRONTEND_MASK_RULES;
    c->session_rule = ALOG_FRONTEND_SESSION_RULE;
    c->header_tokens = ALOG_FRONTEND_HEADER_TOKENS;
    c->log_format = ALOG_FRONTEND_LOG_FORMAT;
    c->timestamp = ALOG_FRONTEND_TIMESTAMP;
    c->timestamp_format = ALOG_FRONTEND_TIMESTAMP_FORMAT;
#if ALOG_META_HAS_DEEPLOG
    c->has_deeplog = 1;
    c->window = ALOG_META_DEEPLOG_SEQ_LEN;
    c->top_k = ALOG_META_DEEPLOG_TOP_K;
    c->max_sessions = max_sessions;
    c->cache_entries = cache_entries;
#ifdef ALOG_META_DEEPLOG_END_KEY /* headers of a metadata format 2 directory */
    c->end_key = ALOG_META_DEEPLOG_END_KEY;
    c->rule = ALOG_META_DEEPLOG_RULE ? ALOG_RULE_PROBABILITY : ALOG_RULE_TOPK;
    /* no calibrated threshold: NaN, which the detector refuses under the probability rule */
    c->prob_threshold = ALOG_META_DEEPLOG_HAS_PROB_THRESHOLD ? ALOG_META_DEEPLOG_PROB_THRESHOLD : NAN;
#ifdef ALOG_META_DEEPLOG_HAS_END_THRESHOLD
    c->end_threshold = ALOG_META_DEEPLOG_HAS_END_THRESHOLD ? ALOG_META_DEEPLOG_END_THRESHOLD : NAN;
#else /* headers written before END had its own threshold */
    c->end_threshold = NAN;
#endif
#endif
#else
    (void)max_sessions;
    (void)cache_entries;
#endif
#if ALOG_META_HAS_MSCRED
    {
        static const uint32_t window_sizes[] = ALOG_META_MSCRED_WINDOW_SIZES;
        size_t i;
        c->has_mscred = 1;
        c->signature.num_templates = ALOG_VOCAB_SIZE;
        c->signature.n = ALOG_META_MSCRED_N;
        c->signature.scales = ALOG_META_MSCRED_SCALES;
        for (i = 0; i < sizeof window_sizes / sizeof window_sizes[0] && i < ALOG_MSCRED_MAX_SCALES;
             i++)
            c->signature.window_sizes[i] = window_sizes[i];
        c->signature.step = ALOG_META_MSCRED_STEP;
        c->signature.steps = ALOG_META_MSCRED_STEPS;
        c->signature.bucket_by_seconds = strcmp(ALOG_META_MSCRED_BUCKET_UNIT, "seconds") == 0;
        c->signature.bucket_size = ALOG_META_MSCRED_BUCKET_SIZE;
        c->signature.norm = ALOG_META_MSCRED_NORM;
        c->cell_threshold = (float)ALOG_META_MSCRED_CELL_THRESHOLD;
        c->anomaly_threshold = ALOG_META_MSCRED_ANOMALY_THRESHOLD;
    }
#endif
}

#endif /* ALOG_CONFIG_H */
