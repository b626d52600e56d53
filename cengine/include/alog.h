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
 *     alog_model_arena_size(&need, work, work_len, onnx, onnx_len, 1, &msg);  // or a build-time constant
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
 * How many arena bytes alog_model_open() needs for this model with its dynamic (batch) input
 * dimension set to `batch`. The model is parsed and planned inside `work`, which needs only the
 * model's metadata, not its activations; on ALOG_ERR_ARENA_TOO_SMALL, *out_size is a work size
 * with which a second call succeeds. `message` may be NULL.
 */
alog_status alog_model_arena_size(size_t *out_size, void *work, size_t work_len,
                                  const void *onnx, size_t onnx_len, int64_t batch,
                                  alog_message *message);

/*
 * Parses an ONNX ModelProto, checks every operator, resolves every shape for `batch` and plans
 * the activations inside `arena` (any alignment). On success *out_model points into the arena;
 * the model lives until the arena or the model bytes are reused (there is nothing to close).
 * `message` may be NULL; on failure it receives the reason.
 */
alog_status alog_model_open(alog_model **out_model, void *arena, size_t arena_len,
                            const void *onnx, size_t onnx_len, int64_t batch,
                            alog_message *message);

/* Arena bytes the open model really uses (metadata + activations). */
size_t alog_model_arena_used(const alog_model *model);

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

#ifdef __cplusplus
}
#endif

#endif /* ALOG_H */
