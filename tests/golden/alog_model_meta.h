/*
 * alog_model_meta.h: generated, do not edit.
 * Rendered by alog_detect.codegen 0.1.0 from templates/alog_model_meta.h.j2; `scons` remakes it.
 *
 * Inputs (path relative to the build's top directory, SHA-256 of the file):
 *   models/deeplog.onnx
 *     2ef3af657bd0924793052b163e4c64ecbbcc1249dae2fa431f667bd21da35214
 *   models/deeplog.onnx.meta.json
 *     1a9d4038b1f02a4958dfe913d376ac6a67664485d765ebb94759b57d1d402c29
 *   models/mscred.onnx
 *     c429be678c4b20587067dc64a94e5ec44e8b7cf362e9c892f0d3b191795eadb0
 *   models/mscred.onnx.meta.json
 *     00d422df538f63c35af395ac28cee23c60d28e3340a5a5d62b6ae113713f8dd2
 *   models/vocab.json
 *     526810ad0ff4a55a03d127eeffe15ad480289740586831bdad87e01eaf3d32cb
 */
#ifndef ALOG_MODEL_META_H
#define ALOG_MODEL_META_H

/*
 * What this engine build was made for. At start-up the engine hashes the files of the model
 * directory it is given and refuses, naming the file, any whose SHA-256 differs from the
 * *_FILE_SHA256 below (docs/build.md, "Generated headers").
 */

#include <stddef.h>

#define ALOG_META_FORMAT_VERSION 1
#define ALOG_META_ALOG_VERSION "0.1.0"

/* ---- vocabulary ------------------------------------------------------------------------- */

#define ALOG_META_VOCAB_SIZE 5
/* The canonical hash (docs/formats.md) and the hash of the model directory's vocab.json bytes. */
#define ALOG_META_VOCAB_SHA256 "7d57b4bcd2840ced45300e5c8834c131cb61cfc062573d76fa607562ee42fbca"
#define ALOG_META_VOCAB_FILE_SHA256 "526810ad0ff4a55a03d127eeffe15ad480289740586831bdad87e01eaf3d32cb"

/* ---- deeplog ------------------------------------------------------------------------------- */

#define ALOG_META_HAS_DEEPLOG 1
#define ALOG_META_DEEPLOG_ONNX_FILE "deeplog.onnx"
#define ALOG_META_DEEPLOG_ONNX_SHA256 "2ef3af657bd0924793052b163e4c64ecbbcc1249dae2fa431f667bd21da35214"
#define ALOG_META_DEEPLOG_ONNX_SIZE 121
#define ALOG_META_DEEPLOG_OPSET 17
/* Bytes of every intermediate tensor at batch 1 without reuse: an upper bound for the planner. */
#define ALOG_META_DEEPLOG_ARENA_BOUND 192
#define ALOG_META_DEEPLOG_END_KEY 0
#define ALOG_META_DEEPLOG_END_THRESHOLD 0.0
#define ALOG_META_DEEPLOG_HAS_END_THRESHOLD 0
#define ALOG_META_DEEPLOG_HAS_PROB_THRESHOLD 0
#define ALOG_META_DEEPLOG_NUM_KEYS 6
#define ALOG_META_DEEPLOG_OUTPUTS 5
#define ALOG_META_DEEPLOG_PAD_INDEX 5
#define ALOG_META_DEEPLOG_PROB_THRESHOLD 0.0
#define ALOG_META_DEEPLOG_RULE 0
#define ALOG_META_DEEPLOG_SEQ_LEN 4
#define ALOG_META_DEEPLOG_TOP_K 2
/* The bytes of deeplog.onnx, defined in alog_model_data.c when the model is embedded. */
extern const unsigned char alog_model_deeplog_onnx[];
extern const size_t alog_model_deeplog_onnx_size;

/* ---- mscred -------------------------------------------------------------------------------- */

#define ALOG_META_HAS_MSCRED 1
#define ALOG_META_MSCRED_ONNX_FILE "mscred.onnx"
#define ALOG_META_MSCRED_ONNX_SHA256 "c429be678c4b20587067dc64a94e5ec44e8b7cf362e9c892f0d3b191795eadb0"
#define ALOG_META_MSCRED_ONNX_SIZE 136
#define ALOG_META_MSCRED_OPSET 17
/* Bytes of every intermediate tensor at batch 1 without reuse: an upper bound for the planner. */
#define ALOG_META_MSCRED_ARENA_BOUND 2304
#define ALOG_META_MSCRED_ANOMALY_THRESHOLD 3
#define ALOG_META_MSCRED_BUCKET_SIZE 5
#define ALOG_META_MSCRED_BUCKET_UNIT "lines"
#define ALOG_META_MSCRED_CELL_THRESHOLD 0.25
#define ALOG_META_MSCRED_N 8
#define ALOG_META_MSCRED_NORM 5
#define ALOG_META_MSCRED_SCALES 3
#define ALOG_META_MSCRED_STEP 2
#define ALOG_META_MSCRED_STEPS 3
#define ALOG_META_MSCRED_WINDOW_SIZES {2, 4, 8}
/* The bytes of mscred.onnx, defined in alog_model_data.c when the model is embedded. */
extern const unsigned char alog_model_mscred_onnx[];
extern const size_t alog_model_mscred_onnx_size;

#endif /* ALOG_MODEL_META_H */
