/*
 * alog.h - the public API of the alog-detect inference engine.
 *
 * C99, no dependency beyond libc. No global mutable state: every function works on objects the
 * caller owns. The core never allocates: memory comes from a caller-provided arena. All public
 * symbols carry the alog_ prefix; functions return an alog_status, output argument first.
 *
 * Running a model:
 *
 *     size_t need;
 *     alog_model_arena_size(&need, work, work_len, onnx, onnx_len, 1, &msg);  // exactly enough
 *     alog_model *m;
 *     alog_model_open(&m, arena, need, onnx, onnx_len, 1, &msg);
 *     alog_model_set_input(m, 0, keys, sizeof keys);   // or write into alog_model_input(...).data
 *     alog_model_run(m);
 *     alog_tensor_info out; alog_model_output(&out, m, 0);   // out.data holds the logits
 *
 * The model bytes must stay alive and unchanged while the model is open: weights are used in
 * place wherever their alignment allows (a const array in flash, or the buffer a file was read
 * into), never copied.
 */
#ifndef ALOG_H
#define ALOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ALOG_VERSION_STRING "0.1.0"

/* ---- status codes ------------------------------------------------------------------------ */

typedef enum alog_status {
    ALOG_OK = 0,
    ALOG_ERR_INVALID_ARGUMENT, /* a NULL pointer, a zero size, an out-of-range index */
    ALOG_ERR_IO,               /* a file could not be opened or read (front end only) */
    ALOG_ERR_MALFORMED,        /* the model bytes are not a well-formed ONNX ModelProto */
    ALOG_ERR_UNSUPPORTED_OP,   /* an operator the engine does not implement */
    ALOG_ERR_UNSUPPORTED_ATTR, /* an attribute value or data type the engine does not implement */
    ALOG_ERR_SHAPE,            /* shapes that do not fit together, or a shape the model cannot take */
    ALOG_ERR_ARENA_TOO_SMALL,  /* the caller's arena is smaller than the model needs */
    ALOG_ERR_LIMIT,            /* a fixed capacity (nodes, tensors, sessions, line length) exceeded */
    ALOG_ERR_MISMATCH,         /* a model or vocabulary whose hash differs from the one expected */
    ALOG_STATUS_COUNT
} alog_status;

/* A static, human-readable description of a status code (never NULL). */
const char *alog_status_str(alog_status status);

/* ---- tensors ------------------------------------------------------------------------------ */

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum alog_dtype {
    ALOG_DTYPE_FLOAT32 = 1,
    ALOG_DTYPE_INT8 = 3,          /* constants only: quantized weights (DequantizeLinear's input) */
    ALOG_DTYPE_INT64 = 7
} alog_dtype;

#define ALOG_MAX_RANK 8

/* Size in bytes of one element of `dtype` (0 for a type the engine does not know). */
size_t alog_dtype_size(alog_dtype dtype);

/* One graph input or output of an open model. */
typedef struct alog_tensor_info {
    const char *name;             /* NUL-terminated, stored in the arena */
    alog_dtype dtype;
    int rank;
    int64_t dims[ALOG_MAX_RANK];  /* (rank), the batch already substituted */
    size_t count;                 /* elements: the product of dims */
    size_t bytes;                 /* count * alog_dtype_size(dtype) */
    void *data;                   /* the tensor's storage in the arena: write inputs, read outputs */
} alog_tensor_info;

/* ---- diagnostics -------------------------------------------------------------------------- */

#define ALOG_MESSAGE_LEN 192

/* Optional one-line reason for a failed load, filled by the functions that take one. */
typedef struct alog_message {
    char text[ALOG_MESSAGE_LEN];
} alog_message;

/* ---- models ------------------------------------------------------------------------------- */

typedef struct alog_model alog_model;

/*
 * Arena alignment. The arena may start at any address: the engine skips to the next
 * ALOG_ARENA_ALIGN boundary itself, and every size it reports includes ALOG_ARENA_SLACK bytes
 * for that. alog_model_open() asks for the whole reported size wherever the arena starts, so a
 * size that works once works at every address (a linker placing a static arena elsewhere changes
 * nothing), and one byte less fails at every address with ALOG_ERR_ARENA_TOO_SMALL.
 */
#define ALOG_ARENA_ALIGN 32
#define ALOG_ARENA_SLACK (ALOG_ARENA_ALIGN - 1)

/*
 * How many arena bytes alog_model_open() needs for this model with its dynamic (batch) input
 * dimension set to `batch`: exactly enough, the loader's own peak (its planning tables) and
 * ALOG_ARENA_SLACK included. The model is parsed and planned inside `work` (any address), which
 * needs only the model's metadata, not its activations; `work` may be NULL with work_len 0, and
 * may be the very memory later passed as the arena. On ALOG_ERR_ARENA_TOO_SMALL, *out_size is a
 * work size with which a second call succeeds. `message` may be NULL.
 *
 * Weights whose bytes are not aligned for their type are copied into the arena, so measure with
 * the model bytes at the address (modulo 8) they will have when the model is opened: a generated
 * model array, or the buffer a file is read into, always has the same alignment.
 */
alog_status alog_model_arena_size(size_t *out_size, void *work, size_t work_len,
                                  const void *onnx, size_t onnx_len, int64_t batch,
                                  alog_message *message);

/*
 * Parses an ONNX ModelProto, checks every operator, resolves every shape for `batch` and plans
 * the activations inside `arena` (any address; see ALOG_ARENA_ALIGN). On success *out_model
 * points into the arena; the model lives until the arena or the model bytes are reused (there is
 * nothing to close). `message` may be NULL; on failure it receives the reason.
 */
alog_status alog_model_open(alog_model **out_model, void *arena, size_t arena_len,
                            const void *onnx, size_t onnx_len, int64_t batch,
                            alog_message *message);

/* Arena bytes the open model really uses (metadata + activations). */
size_t alog_model_arena_used(const alog_model *model);

/*
 * Vector extensions the fast paths use (bits). alog_model_open() takes all that the CPU has and
 * the build can use (ALOG_ISA_AVX2 and ALOG_ISA_AVX512 on x86-64 builds by gcc or clang,
 * ALOG_ISA_NEON on AArch64 builds by gcc or clang, 0 elsewhere: the target's baseline, what the
 * compiler makes of portable C) and runs the widest. Every choice computes the same bits; a wider
 * one is faster. alog_model_limit_isa() keeps only the `allowed` bits (0: the
 * baseline), for tests and benchmarks that compare them, and returns what the model now uses.
 */
#define ALOG_ISA_AVX2 1u
#define ALOG_ISA_AVX512 2u /* AVX-512F */
#define ALOG_ISA_NEON 4u   /* AArch64: the explicit Advanced SIMD forms */
unsigned alog_model_isa(const alog_model *model);
unsigned alog_model_limit_isa(alog_model *model, unsigned allowed);

size_t alog_model_input_count(const alog_model *model);
size_t alog_model_output_count(const alog_model *model);
alog_status alog_model_input(alog_tensor_info *out_info, const alog_model *model, size_t index);
alog_status alog_model_output(alog_tensor_info *out_info, const alog_model *model, size_t index);

/* Index of the graph input called `name` (ALOG_ERR_INVALID_ARGUMENT when there is none). */
alog_status alog_model_find_input(size_t *out_index, const alog_model *model, const char *name);

/* Copies `bytes` bytes (exactly the input's size) into input `index`. */
alog_status alog_model_set_input(alog_model *model, size_t index, const void *data, size_t bytes);

/* Runs the graph once on the current inputs. Outputs stay valid until the next run. */
alog_status alog_model_run(alog_model *model);

/* The reason for the last failed alog_model_run() ("" when there was none). */
const char *alog_model_error(const alog_model *model);

/* ---- verdicts ----------------------------------------------------------------------------- */

typedef enum alog_model_kind { ALOG_MODEL_DEEPLOG = 0, ALOG_MODEL_MSCRED = 1 } alog_model_kind;

/* One verdict (docs/detection.md). Its pointers are valid during the callback that receives it. */
typedef struct alog_verdict {
    alog_model_kind model;
    const char *session;    /* (session_len) bytes, not terminated; NULL for MSCRED (the stream) */
    size_t session_len;
    uint64_t line;          /* 1-based number of the line (or event) among all those fed */
    int32_t template_index; /* -1: unseen (no template matches) */
    const int32_t *topk;    /* (topk_len) DeepLog's top-k indices, largest logit first */
    uint32_t topk_len;
    int has_score;          /* MSCRED: 1 and score set */
    int64_t score;          /* MSCRED: residual cells over the cell threshold */
    int anomaly;
    const char *reason;     /* "ok", "not_in_topk", "low_probability", "unseen", "early_end"
                               (a closed session's END verdict: template_index is V) or
                               "residual" */
} alog_verdict;

typedef void (*alog_verdict_fn)(void *ctx, const alog_verdict *verdict);

/*
 * Verdicts as JSON lines, byte for byte what `alog-detect detect` prints. A sink is a caller
 * buffer handed to `flush` whenever it fills (and by alog_sink_flush()), so any session name fits
 * whatever the buffer's size (at least 1 byte).
 */
typedef struct alog_sink {
    char *buf;              /* (cap) */
    size_t cap;
    size_t len;
    int (*flush)(void *ctx, const char *data, size_t len); /* nonzero: failed (kept in `failed`) */
    void *ctx;
    int failed;
} alog_sink;

void alog_sink_init(alog_sink *sink, char *buf, size_t cap,
                    int (*flush)(void *ctx, const char *data, size_t len), void *ctx);
/* Hands whatever is buffered to the flush callback; ALOG_ERR_IO when any flush has failed. */
alog_status alog_sink_flush(alog_sink *sink);
/* Appends the verdict as one JSON line (with its '\n'). */
void alog_verdict_write(alog_sink *sink, const alog_verdict *verdict);

/* ---- integrity ---------------------------------------------------------------------------- */

/*
 * SHA-256 (FIPS 180-4) of data[0..len) as 64 lowercase hex digits and a NUL: the form the model
 * metadata and the generated headers record (ALOG_META_<M>_ONNX_SHA256), so a program can check
 * that the model bytes it runs are the ones its headers were generated for.
 */
void alog_sha256_hex(char out[65], const void *data, size_t len);

/* ---- detector: raw lines or template indices in, verdicts out ------------------------------ */

/*
 * The rules of docs/detection.md on a stream, the same as `alog-detect detect`: DeepLog judges
 * each event with its session's window, MSCRED the whole stream's signature matrices. Everything
 * lives in caller memory sized by alog_detector_size() (any address; nothing to close), on models
 * the caller opened. Verdicts are decided as events arrive and handed to the callback before the
 * feed call returns: nothing waits for later input (a partly filled MSCRED bucket is never closed,
 * as in the reference), so the only thing to flush is the caller's own output (alog_sink_flush);
 * unless the config batches DeepLog (batch > 1): then verdicts wait behind held windows until
 * alog_detector_flush(), _finish() or a full batch.
 *
 *     alog_detector_config c = {0};      // from alog_vocab.h / alog_model_meta.h, or the JSON files
 *     size_t need; alog_detector *det;
 *     alog_detector_size(&need, &c, &msg);
 *     alog_detector_open(&det, mem, need, &c, deeplog, mscred, &msg);
 *     alog_detector_feed_line(det, line, len, on_verdict, ctx);        // a raw log line
 *     alog_event e = {"blk_1", 5, 3, 0, 0}; alog_detector_feed_event(det, &e, on_verdict, ctx);
 *     alog_detector_finish(det, on_verdict, ctx);                       // at the end of input
 *
 * Sessions close (docs/detection.md 2.2) when idle past a timeout, when evicted, by
 * alog_detector_close_session() and at alog_detector_finish(); with a model that has the END key,
 * each close is judged as one more verdict.
 */

#define ALOG_MAX_BATCH 4096u           /* the largest config batch (DeepLog windows run at once) */
#define ALOG_MAX_LINE ((size_t)1 << 20) /* longer lines are unseen (bytes, without the line end) */
#define ALOG_MSCRED_MAX_SCALES 8

/* MSCRED's signature matrices (mscred.onnx.meta.json, section "mscred"; docs/detection.md 3). */
typedef struct alog_signature_spec {
    uint32_t num_templates;                          /* T: counted template indices 0..T-1 */
    uint32_t n;                                      /* matrix side: a multiple of 8, >= T */
    uint32_t scales;
    uint32_t window_sizes[ALOG_MSCRED_MAX_SCALES];   /* (scales) buckets per scale */
    uint32_t step;                                   /* buckets between signatures */
    uint32_t steps;                                  /* signatures per model input */
    int bucket_by_seconds;                           /* 0: every bucket_size counted lines */
    uint32_t bucket_size;
    uint32_t norm;                                   /* cells are divided by w * norm * norm */
} alog_signature_spec;

/*
 * What the detector runs with. The strings and tables are used in place (not copied): keep them
 * alive while the detector is. A generated build takes every value from alog_vocab.h (the
 * vocabulary and ALOG_FRONTEND_*) and alog_model_meta.h (ALOG_META_*); alog-engine reads them
 * from the model directory's JSON files.
 */
/* DeepLog's decision rule (docs/detection.md 2.3). */
typedef enum alog_rule {
    ALOG_RULE_TOPK = 0,        /* anomaly: the key is not among the top_k largest logits */
    ALOG_RULE_PROBABILITY = 1  /* anomaly: the key's softmax probability < prob_threshold
                                  (END's < end_threshold) */
} alog_rule;

typedef struct alog_detector_config {
    /* the vocabulary */
    uint32_t vocab_size;             /* V: template indices 0..V-1 (DeepLog's PAD key is V) */
    const char *const *templates;    /* (vocab_size) or NULL: events only, no raw lines */
    const size_t *template_lengths;  /* (vocab_size) bytes each, or NULL: NUL-terminated */
    /* the line front end the templates were mined with (frontend.json, docs/matching.md) */
    const char *mask_rules;          /* names from uuid, ip, hex, num, path, comma-separated
                                        (ALOG_FRONTEND_MASK_RULES); NULL: all of them */
    const char *session_rule;        /* "none" (or NULL): one session, "all"; "prefix:<p>";
                                        "field:<Name>", a field of log_format */
    uint32_t header_tokens;          /* leading tokens of a line that are not matched */
    const char *log_format;          /* NULL or "": none; else "<Date> <Time> ... <Content>" */
    const char *timestamp;           /* NULL: "line-start"; "none"; fields such as "<Date> <Time>" */
    const char *timestamp_format;    /* NULL: ""; the pattern of field timestamps ("%Y-%m-%d ...") */
    /* DeepLog (deeplog.onnx.meta.json) */
    int has_deeplog;
    uint32_t window;                 /* keys per prediction (seq_len) */
    uint32_t top_k;
    uint32_t max_sessions;           /* sessions kept at once: the idle-longest is forgotten */
    uint32_t cache_entries;          /* windows whose top-k is remembered (0: none) */
    uint32_t batch;                  /* 0 or 1: each window missing the cache runs the model at
                                        once; N > 1 (at most ALOG_MAX_BATCH): up to N such windows
                                        (of any sessions) are held back and run together by a
                                        DeepLog model opened with batch N, the verdicts from the
                                        first held one on held too (same order and values);
                                        alog_detector_flush() and _finish() run what is held */
    int end_key;                     /* 1: the model has V+1 outputs, index V the END key that a
                                        closing session is judged with (docs/detection.md 2.2);
                                        0: V outputs, closing only forgets the window */
    alog_rule rule;
    double prob_threshold;           /* ALOG_RULE_PROBABILITY: a finite threshold for events */
    double end_threshold;            /* ... and for END (end_key 1); NaN: none (the probability
                                        rule then needs end_key 0) */
    /* When an idle session closes (at most one of the two; 0: never, only by eviction, by
     * alog_detector_close_session() and alog_detector_finish()). */
    uint64_t session_timeout_lines;  /* closes when more lines than this passed since its last
                                        known event */
    double session_timeout_seconds;  /* closes when the clock (the largest timestamp read) is more
                                        than this past its last known event; needs timestamps
                                        (timestamp rule not "none") */
    /* MSCRED (mscred.onnx.meta.json) */
    int has_mscred;
    alog_signature_spec signature;
    float cell_threshold;            /* a residual cell counts when |recon - x| > this */
    int64_t anomaly_threshold;       /* an input is an anomaly when its cell count is > this */
} alog_detector_config;

typedef struct alog_detector alog_detector;

/* One structured event, for firmware that logs template indices instead of text. */
typedef struct alog_event {
    const char *session;             /* (session_len) bytes; NULL: the one session "all" */
    size_t session_len;
    int32_t template_index;          /* 0..V-1, or -1 for an event outside the vocabulary */
    int has_time;                    /* MSCRED's seconds buckets need the time; else ignored */
    double seconds;                  /* since 1970-01-01 UTC */
} alog_event;

/* Checks a session rule as the config takes it: "none", "prefix:<p>" (p: printable ASCII, no
 * space) or "field:<Name>" (whether the log format has the field: alog_frontend_check). */
alog_status alog_session_rule_check(const char *rule);

/* Checks the front-end settings of a config together (docs/formats.md, frontend.json): the log
 * format, the session rule (a field of the log format), header tokens (not with a log format),
 * the timestamp rule and pattern; says what is wrong in `message` (may be NULL). */
alog_status alog_frontend_check(const char *log_format, const char *session_rule,
                                uint32_t header_tokens, const char *timestamp,
                                const char *timestamp_format, alog_message *message);

/* Bytes of caller memory alog_detector_open() needs for this config (alignment slack included);
 * checks the config and says what is wrong in `message` (may be NULL). With has_deeplog 0,
 * window, top_k, max_sessions and cache_entries are not used. */
alog_status alog_detector_size(size_t *out_size, const alog_detector_config *config,
                               alog_message *message);

/* Builds the detector in mem[0..mem_len) and checks the models' input and output shapes against
 * the config: DeepLog int64 (1, window) -> float (1, V) (V + 1 with end_key), MSCRED float (1, steps, scales, n, n) ->
 * float (1, scales, n, n), both opened with batch 1 (DeepLog with the config's batch when above 1); a model the config does not use may be NULL. */
alog_status alog_detector_open(alog_detector **out_detector, void *mem, size_t mem_len,
                               const alog_detector_config *config, alog_model *deeplog,
                               alog_model *mscred, alog_message *message);

/*
 * One raw line (a trailing LF, then CR, are not part of it; any bytes, any length). Every call is
 * the next line number; a line without a token (blank) gives no verdict. Needs the config's
 * templates. A line over ALOG_MAX_LINE bytes is unseen, its session key taken from its head: a
 * reader that holds at most ALOG_MAX_LINE + 1 bytes of a line passes the head of a longer one to
 * alog_detector_feed_line_head(), which judges it so. After a model run fails, this and every
 * later feed return its status (alog_detector_error() says why).
 */
alog_status alog_detector_feed_line(alog_detector *detector, const char *line, size_t len,
                                    alog_verdict_fn emit, void *ctx);
alog_status alog_detector_feed_line_head(alog_detector *detector, const char *head, size_t len,
                                         alog_verdict_fn emit, void *ctx);

/* One event whose template index is known: the next line number, judged as a matched line. */
alog_status alog_detector_feed_event(alog_detector *detector, const alog_event *event,
                                     alog_verdict_fn emit, void *ctx);

/*
 * Closes one session (docs/detection.md 2.2): what a firmware calls when it knows a session ended.
 * With the END key the session's END verdict goes to `emit` (reason "early_end" or "ok", the line
 * of its last known event); then its window is forgotten. A session not kept (never fed, or
 * already closed) gives nothing. session NULL with session_len 0: the one session "all".
 */
alog_status alog_detector_close_session(alog_detector *detector, const char *session,
                                        size_t session_len, alog_verdict_fn emit, void *ctx);

/* The end of the input: closes every kept session, idle longest first, as
 * alog_detector_close_session() does. Feeding may go on afterwards (a new stream of sessions). */
alog_status alog_detector_finish(alog_detector *detector, alog_verdict_fn emit, void *ctx);

/* With config batch > 1: runs the windows held back and gives every verdict held behind them to
 * `emit`, in order (finish does it too). A reader of a live stream calls it before it waits for
 * input, so no verdict stays held longer than that. Batch 0 or 1: nothing is ever held. */
alog_status alog_detector_flush(alog_detector *detector, alog_verdict_fn emit, void *ctx);

/* The failed model run's reason ("" while none has failed). */
const char *alog_detector_error(const alog_detector *detector);

#ifdef __cplusplus
}
#endif

#endif /* ALOG_H */
