/*
 * alog_ops_config.h: generated, do not edit.
 * Rendered by alog_detect.codegen 0.1.0 from templates/alog_ops_config.h.j2; `scons` remakes it.
 *
 * Inputs (path relative to the build's top directory, SHA-256 of the file):
 *   models/deeplog.onnx
 *     2ef3af657bd0924793052b163e4c64ecbbcc1249dae2fa431f667bd21da35214
 *   models/frontend.json
 *     92097d1c8f4b3940a479bd726591884c2475d7da956783528d6086f6441aec24
 *   models/mscred.onnx
 *     c429be678c4b20587067dc64a94e5ec44e8b7cf362e9c892f0d3b191795eadb0
 */
#ifndef ALOG_OPS_CONFIG_H
#define ALOG_OPS_CONFIG_H

/*
 * The engine's operators a build for these models keeps: 1 for each operator a model uses, 0 for
 * the rest. cengine/src/ops/registry.c reads this file when the engine is compiled with
 * -DALOG_OPS_CONFIG and this directory on its include path; an operator set to 0 is left out of
 * the image, and a model that needs it fails to load (ALOG_ERR_UNSUPPORTED_OP, naming it).
 */

#define ALOG_OP_ADD 0
#define ALOG_OP_CONCAT 0
#define ALOG_OP_CONSTANT 0
#define ALOG_OP_CONV 0
#define ALOG_OP_CONVTRANSPOSE 0
#define ALOG_OP_DEQUANTIZELINEAR 0
#define ALOG_OP_DIV 0
#define ALOG_OP_GATHER 0
#define ALOG_OP_GEMM 0
#define ALOG_OP_LSTM 0
#define ALOG_OP_MATMUL 0
#define ALOG_OP_MUL 0
#define ALOG_OP_REDUCESUM 0
#define ALOG_OP_RELU 1
#define ALOG_OP_RESHAPE 0
#define ALOG_OP_SELU 0
#define ALOG_OP_SIGMOID 1
#define ALOG_OP_SLICE 0
#define ALOG_OP_SOFTMAX 0
#define ALOG_OP_SPLIT 0
#define ALOG_OP_SQUEEZE 0
#define ALOG_OP_SUB 0
#define ALOG_OP_TANH 0
#define ALOG_OP_TRANSPOSE 0
#define ALOG_OP_UNSQUEEZE 0

/*
 * 1 when the models' frontend.json has a log format or a field timestamp, else 0: match.c and
 * timestamp.c, compiled with -DALOG_OPS_CONFIG, then leave out the log-format and field-timestamp
 * code, and the detector refuses front-end settings that ask for them (cengine/src/match/match.h).
 */
#define ALOG_WITH_LOG_FORMAT 0

/*
 * 0: a device judges one DeepLog window at a time; detector.c, compiled with -DALOG_OPS_CONFIG,
 * leaves out the holding of verdicts behind a batch, and refuses a config with batch > 1
 * (cengine/src/detect/detector.h).
 */
#define ALOG_WITH_BATCH 0

#endif /* ALOG_OPS_CONFIG_H */
