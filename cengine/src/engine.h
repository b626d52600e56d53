/*
 * engine.h - the engine's internal model: values, nodes, the operator interface and the helpers
 * operators use to read attributes, check inputs and report errors.
 *
 * Everything here lives in the caller's arena; names and weights point into the model bytes.
 */
#ifndef ALOG_ENGINE_H
#define ALOG_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"
#include "isa.h"
#include "pb.h"
#include "try.h"


/* Every arena block starts on this boundary (wide enough for any vector load). */
#define ALOG_ALIGN ALOG_ARENA_ALIGN

/* ---- weights ----------------------------------------------------------------------------- */

/*
 * A constant weight tensor as the operators that multiply by one (LSTM, Gemm, Conv,
 * ConvTranspose) read it: float32 values, or int8 ones with float scales along one axis (the
 * output of a DequantizeLinear of constants, dequantize.c). Element i is then
 * (float)q[i] * scale[(i / inner) % scales], the very float DequantizeLinear computes, so a kernel
 * that reads the int8 form gives the bits it would give on the dequantized tensor.
 */
typedef struct alog_weights {
    const float *f;               /* float32 elements, or NULL: the int8 form */
    const int8_t *q;              /* int8 elements (when f is NULL) */
    const float *scale;           /* (scales) each finite and > 0 */
    size_t inner;                 /* elements per step along the scale's axis (>= 1) */
    size_t scales;                /* 1: one scale for the whole tensor */
} alog_weights;

/* Element i as a float (see above). */
static inline float alog_weight_at(const alog_weights *w, size_t i)
{
    if (w->f)
        return w->f[i];
    return (float)w->q[i] * w->scale[w->scales == 1 ? 0 : (i / w->inner) % w->scales];
}

/* ---- values (tensors) -------------------------------------------------------------------- */

typedef enum alog_value_kind {
    ALOG_VALUE_UNDEFINED = 0, /* named by a node input before anything defined it */
    ALOG_VALUE_CONSTANT,      /* an initializer or a Constant's output: data fixed at load */
    ALOG_VALUE_INPUT,         /* a graph input: written by the caller before each run */
    ALOG_VALUE_ACTIVATION     /* a node output: planned into the activation region */
} alog_value_kind;

typedef struct alog_value {
    const uint8_t *name;          /* into the model bytes, not NUL-terminated */
    size_t name_len;
    alog_value_kind kind;
    alog_dtype dtype;
    int rank;
    int64_t dims[ALOG_MAX_RANK];  /* (rank) */
    size_t count;                 /* elements */
    void *data;                   /* constants from load on; the others once the arena is bound */
    int first;                    /* node index that defines it (-1: before the first node) */
    int last;                     /* last node index that reads it (n_nodes: a graph output) */
    size_t offset;                /* planned offset in the activation region */
    /* A DequantizeLinear of constants: its int8 form (else NULL). An operator that reads the
     * weights through it (alog_input_weights) claims that input; when every reader has, the
     * float tensor is never made (folded: no memory, the DequantizeLinear does not run). */
    const alog_weights *quantized;
    int folded;
    int in_place_of;              /* 1 + the value whose bytes this one takes over (its last
                                     reader writes this one in place, plan.c), or 0 */
} alog_value;

/* ---- nodes --------------------------------------------------------------------------------- */

struct alog_op;

typedef struct alog_node {
    const struct alog_op *op;
    const uint8_t *proto;         /* the NodeProto bytes: attributes are read from here */
    size_t proto_len;
    const uint8_t *name;          /* node name for messages (may be empty) */
    size_t name_len;
    int32_t *inputs;              /* (n_inputs) value indices, -1 for an omitted optional input */
    int n_inputs;
    int32_t *outputs;             /* (n_outputs) value indices, -1 for an omitted output */
    int n_outputs;
    void *params;                 /* op->params_size bytes, filled by op->prepare */
    size_t scratch_size;          /* bytes of working memory op->run needs, set by prepare */
    size_t scratch_offset;        /* planned offset in the activation region */
    void *scratch;
    uint32_t claimed;             /* bit i: input i is read only as weights (alog_input_weights) */
    int in_place;                 /* 1 + the input whose bytes output 0 may take when nothing
                                     reads that input later: the same byte size, and op->run
                                     gives the same result when they are the same bytes (set by
                                     prepare), or 0 */
} alog_node;

/* ---- the model ----------------------------------------------------------------------------- */

struct alog_model {
    alog_value *values;           /* (n_values) */
    int n_values;
    alog_node *nodes;             /* (n_nodes), in graph (topological) order */
    int n_nodes;
    int32_t *graph_inputs;        /* (n_graph_inputs) value indices */
    char **input_names;           /* (n_graph_inputs) NUL-terminated copies */
    int n_graph_inputs;
    int32_t *graph_outputs;       /* (n_graph_outputs) */
    char **output_names;          /* (n_graph_outputs) */
    int n_graph_outputs;
    int64_t batch;                /* replaces the graph inputs' symbolic first dimension */
    int64_t opset;                /* version of the default ("ai.onnx") operator set */
    uint8_t *arena;               /* the caller's arena */
    size_t arena_len;
    size_t used;                  /* bump pointer: metadata, then the activation region */
    size_t planning_peak;         /* bump pointer at its highest, with the planner's tables */
    uint8_t *activations;         /* (activation_size) bytes */
    size_t activation_size;
    unsigned isa;                 /* ALOG_ISA_* bits the fast paths use (isa.h) */
    int measuring;                /* alog_model_arena_size: sizes count, packed weights unwritten */
    char error[ALOG_MESSAGE_LEN];
};

/* ---- operators ----------------------------------------------------------------------------- */

typedef struct alog_op {
    const char *type;             /* ONNX op_type */
    const char *const *attrs;     /* NULL-terminated list of the attributes it understands */
    size_t params_size;
    /* Checks types, shapes and attributes, sets the outputs' dtype and shape, fills params. */
    alog_status (*prepare)(alog_model *m, alog_node *node);
    /* Computes the outputs; data pointers are bound, shapes are those prepare set. */
    alog_status (*run)(alog_model *m, const alog_node *node);
} alog_op;

/* The registry row for an op_type, or NULL (not implemented, or left out of this build). */
const alog_op *alog_op_find(const uint8_t *type, size_t type_len);
/* 1 when the engine implements op_type but this build left it out (ALOG_OPS_CONFIG, registry.c). */
int alog_op_left_out(const uint8_t *type, size_t type_len);

/* ---- arena --------------------------------------------------------------------------------- */

/* ALOG_ALIGN-aligned bytes from the arena's bump pointer (zeroed). */
alog_status alog_arena_alloc(alog_model *m, size_t bytes, void **out_ptr);

/* ---- helpers for operators ----------------------------------------------------------------- */

/* Records "<op> node '<name>': <message>" in m->error and returns `status`. */
alog_status alog_node_fail(alog_model *m, const alog_node *node, alog_status status,
                           const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Input or output `i` of the node, NULL when absent or omitted. */
alog_value *alog_input(const alog_model *m, const alog_node *node, int i);
alog_value *alog_output(const alog_model *m, const alog_node *node, int i);

/* Input i, which must be present and have this dtype. */
alog_status alog_require_input(alog_value **out, alog_model *m, const alog_node *node, int i,
                               alog_dtype dtype);

/* Checks the number of inputs (present or omitted) and outputs. */
alog_status alog_require_arity(alog_model *m, const alog_node *node, int min_in, int max_in,
                               int min_out, int max_out);

/* Sets an output's dtype and shape and computes its element count (checking overflow). */
alog_status alog_set_output(alog_model *m, const alog_node *node, int i, alog_dtype dtype,
                            int rank, const int64_t *dims);

/*
 * Input i as constant weights (float32 constant or quantized, see alog_weights): *out_found is
 * 0 when it is neither (an activation), and *out is then zeroed. A quantized input is claimed:
 * the caller promises never to read its data, only *out.
 */
alog_status alog_input_weights(alog_model *m, alog_node *node, int i, alog_weights *out,
                               int *out_found);

/* Copies a constant int64 input (a shape, axes, starts...) into out (at most cap values). */
alog_status alog_const_ints(alog_model *m, const alog_node *node, int i, int64_t *out,
                            size_t cap, size_t *out_count);

/* Normalises a possibly negative axis against rank into [0, rank). */
alog_status alog_axis(alog_model *m, const alog_node *node, int64_t axis, int rank,
                      int *out_axis);

/* Product of dims[begin..end). */
size_t alog_dims_product(const int64_t *dims, int begin, int end);

/* ---- attributes ---------------------------------------------------------------------------- */

typedef struct alog_attr {
    int type;                     /* ONNX AttributeProto.AttributeType */
    alog_pb_field value;          /* the field holding the value (for i, f, s, t) */
    const uint8_t *proto;         /* the whole AttributeProto (for ints and floats) */
    size_t proto_len;
} alog_attr;

enum {
    ALOG_ATTR_FLOAT = 1,
    ALOG_ATTR_INT = 2,
    ALOG_ATTR_STRING = 3,
    ALOG_ATTR_TENSOR = 4,
    ALOG_ATTR_FLOATS = 6,
    ALOG_ATTR_INTS = 7,
    ALOG_ATTR_STRINGS = 8
};

/* Finds attribute `name`: *out_found is 0 when the node does not carry it. */
alog_status alog_attr_find(alog_model *m, const alog_node *node, const char *name,
                           alog_attr *out_attr, int *out_found);

alog_status alog_attr_int(alog_model *m, const alog_node *node, const char *name, int64_t dflt,
                          int64_t *out_value);
alog_status alog_attr_float(alog_model *m, const alog_node *node, const char *name, float dflt,
                            float *out_value);
/* *out_count is 0 and nothing is stored when the attribute is absent. */
alog_status alog_attr_ints(alog_model *m, const alog_node *node, const char *name, int64_t *out,
                           size_t cap, size_t *out_count);
alog_status alog_attr_floats(alog_model *m, const alog_node *node, const char *name, float *out,
                             size_t cap, size_t *out_count);
/* *out_str is NULL when absent. */
alog_status alog_attr_string(alog_model *m, const alog_node *node, const char *name,
                             const uint8_t **out_str, size_t *out_len);

/* ---- tensors in protobuf ------------------------------------------------------------------- */

/*
 * Decodes a TensorProto into v (dtype, shape, data). Data is used in place when it is raw or
 * packed little-endian with the alignment its type needs on this host; otherwise it is copied
 * into the arena. Other element types are ALOG_ERR_UNSUPPORTED_ATTR.
 */
alog_status alog_tensor_decode(alog_model *m, const uint8_t *proto, size_t len, alog_value *v);

#endif /* ALOG_ENGINE_H */
