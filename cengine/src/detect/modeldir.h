/*
 * modeldir.h - the model directory's JSON files (docs/formats.md) read into caller memory:
 * vocab.json ({"0": "<template>", ...}) and <kind>.onnx.meta.json, with the checks the Python
 * reference (alog_detect.detect.load_models) makes, and the vocabulary's canonical hash text.
 */
#ifndef ALOG_DETECT_MODELDIR_H
#define ALOG_DETECT_MODELDIR_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"
#include "detect/detector.h"
#include "detect/json.h"
#include "detect/verdict.h"
#include "match/match.h"

#define ALOG_META_FORMAT 2 /* version 1 (no END key, top-k rule, no threshold) still reads */

typedef struct alog_vocab {
    uint32_t size;
    const char **templates;  /* (size) template bytes (as masking.to_bytes gives them) */
    size_t *lengths;         /* (size) */
} alog_vocab;

/* Bytes of caller memory alog_vocab_parse needs for a vocab.json of `len` bytes (tokens, the
 * decoded templates and their tables). */
size_t alog_vocab_memory(size_t len);

/* Parse an engine vocabulary: a non-empty object whose keys are the decimal indices 0..V-1
 * (each once, no leading zeros) and whose values are strings. */
alog_status alog_vocab_parse(alog_vocab *vocab, void *mem, size_t mem_len, const char *text,
                             size_t len, alog_message *message);

/* The text whose SHA-256 is the vocabulary's canonical hash (alog_detect.vocab.vocab_sha256):
 * json.dumps(templates, ensure_ascii=False, separators=(",", ":")). */
void alog_vocab_write_canonical(alog_sink *sink, const alog_vocab *vocab);

/* What a meta file says about its graph: the hashes it records. */
typedef struct alog_meta_hashes {
    char onnx_sha256[65];
    char vocab_sha256[65];
} alog_meta_hashes;

/* Parse <kind>.onnx.meta.json (kind "deeplog" or "mscred") with `tokens` as scratch: checks
 * format_version (1 or 2) and kind, fills the hashes and the kind's part of the detector config.
 * DeepLog's version 2 adds end_key, outputs (vocab_size, + 1 with the END key), rule ("topk" or
 * "probability"), prob_threshold and end_threshold (each a number, or null: NaN; an absent
 * end_threshold reads as null; the probability rule needs prob_threshold, and end_threshold
 * with the END key); version 1 reads as no END key, rule topk, no thresholds. */
alog_status alog_meta_parse(alog_meta_hashes *hashes, alog_detector_config *config,
                            alog_json_token *tokens, uint32_t ntokens, const char *kind,
                            const char *text, size_t len, alog_message *message);

/* frontend.json's settings as the text alog_detector_config takes (mask rules comma-separated). */
typedef struct alog_frontend_text {
    char mask_rules[64];     /* e.g. "uuid,ip,hex,num,path" */
    char session_rule[256];  /* "none", "prefix:<p>" or "field:<Name>" */
    uint32_t header_tokens;
    char log_format[ALOG_FORMAT_MAX_BYTES + 1];          /* "" without one */
    char log_format_source[65];                          /* "none", "given", "auto:<shape>" */
    char timestamp[ALOG_TIMESTAMP_MAX_TEMPLATE + 1];     /* "line-start", "none" or fields */
    char timestamp_format[ALOG_TIMESTAMP_MAX_FORMAT + 1];
} alog_frontend_text;

/* Parse frontend.json (docs/formats.md, alog_detect.frontend) with `tokens` as scratch: version
 * 2's keys format_version, kind, log_format, log_format_source, mask_rules, session_rule,
 * header_tokens, timestamp, timestamp_format (version 1: the five without log format and
 * timestamp, read as "", "none", "line-start", ""), exactly, each checked as the Python reader
 * checks it (alog_frontend_init for the settings together). */
alog_status alog_frontend_parse(alog_frontend_text *frontend, alog_json_token *tokens,
                                uint32_t ntokens, const char *text, size_t len,
                                alog_message *message);

#endif /* ALOG_DETECT_MODELDIR_H */
