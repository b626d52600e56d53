/* model.h - loading stages: scan and build the graph (model.c), plan it (plan.c). */
#ifndef ALOG_MODEL_H
#define ALOG_MODEL_H

#include "engine.h"

/* What the first pass over the bytes finds. */
typedef struct alog_graph_scan {
    const uint8_t *graph;     /* the GraphProto bytes */
    size_t graph_len;
    int64_t opset;            /* default-domain opset version */
    size_t nodes, node_inputs, node_outputs;
    size_t initializers, inputs, outputs;
} alog_graph_scan;

alog_status alog_model_scan(alog_model *m, const uint8_t *onnx, size_t len, alog_graph_scan *scan);
alog_status alog_model_build(alog_model *m, const alog_graph_scan *scan);
alog_status alog_model_check_outputs(alog_model *m, const alog_graph_scan *scan);

/* Prepares every node (shapes, attributes) and plans the activation region's offsets. */
alog_status alog_plan(alog_model *m);

#endif /* ALOG_MODEL_H */
