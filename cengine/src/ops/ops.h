/*
 * ops.h - the operator registry rows and the helpers several operators share.
 *
 * Each operator file holds a pure reference kernel on plain pointers and sizes, a prepare()
 * that checks types, shapes and attributes, a run() adapter, and one registry row.
 */
#ifndef ALOG_OPS_H
#define ALOG_OPS_H

#include "../engine.h"

extern const alog_op alog_op_add, alog_op_concat, alog_op_constant, alog_op_conv,
    alog_op_conv_transpose, alog_op_dequantize_linear, alog_op_div, alog_op_gather, alog_op_gemm, alog_op_lstm,
    alog_op_matmul, alog_op_mul, alog_op_reduce_sum, alog_op_relu, alog_op_reshape, alog_op_selu,
    alog_op_sigmoid, alog_op_slice, alog_op_softmax, alog_op_split, alog_op_squeeze, alog_op_sub,
    alog_op_tanh, alog_op_transpose, alog_op_unsqueeze;

/* ---- packed weights (panel.c) ------------------------------------------------------------- */

/*
 * A weight matrix packed into row panels at load, (alog_panel_rows(rows) / ALOG_PANEL, cols,
 * ALOG_PANEL), the rows past `rows` zero: float, or int8 with one scale per row (the weights of
 * a DequantizeLinear, a quarter of the bytes). Every product form reads either.
 */
typedef struct alog_panels {
    const float *f;               /* float panels, or NULL */
    const int8_t *q;              /* int8 panels (f NULL): weight (r, k) is (float)q * scale[r] */
    const float *scale;           /* (alog_panel_rows(rows)) with q */
} alog_panels;

/* ---- element-wise (elementwise.c) --------------------------------------------------------- */

/* Two operands broadcast numpy-style, adjacent dims merged where both stay contiguous. */
typedef struct alog_broadcast {
    int rank;                       /* >= 1 */
    int64_t dims[ALOG_MAX_RANK];    /* (rank) output dims after merging */
    int64_t a_stride[ALOG_MAX_RANK];/* (rank) element strides, 0 where a is broadcast */
    int64_t b_stride[ALOG_MAX_RANK];
} alog_broadcast;

/* y[i] = a[i * a_step] op b[i * b_step] for i < n (steps are 0 or 1). */
typedef void (*alog_binary_f32)(float *y, const float *a, size_t a_step, const float *b,
                                size_t b_step, size_t n);
typedef void (*alog_binary_i64)(int64_t *y, const int64_t *a, size_t a_step, const int64_t *b,
                                size_t b_step, size_t n);

/* Numpy broadcasting of two shapes. */
alog_status alog_broadcast_shapes(alog_model *m, const alog_node *node, const alog_value *a,
                                  const alog_value *b, int *out_rank, int64_t *out_dims);

/* Prepare for Add/Sub/Mul/Div: params is an alog_broadcast. int64 allowed when allow_i64. */
alog_status alog_binary_prepare(alog_model *m, alog_node *node, int allow_i64);
alog_status alog_binary_run(alog_model *m, const alog_node *node, alog_binary_f32 f32,
                            alog_binary_i64 i64);

/* Prepare for a float32 unary op: one input, one output of the same shape. */
alog_status alog_unary_prepare(alog_model *m, alog_node *node);

/* In-place array form of an elementwise function (alog_math.h: the scalar function's bits for
 * every element, vectorized in the form isa picks). */
typedef void (*alog_unary_array)(float *v, size_t n, unsigned isa);

/* Run for such an op: y = x, then the array function on y (works when y is x). */
alog_status alog_unary_array_run(alog_model *m, const alog_node *node, alog_unary_array array);

/* ---- layout-only ops (reshape.c) ---------------------------------------------------------- */

/* Run for Reshape/Squeeze/Unsqueeze: the bytes do not move, only the shape changes. */
alog_status alog_copy_run(alog_model *m, const alog_node *node);

/* ---- axes lists (axes.c) ----------------------------------------------------------------- */

/*
 * Reads a list of axes given either as the "axes" attribute (older opsets) or as constant input
 * `input` (newer ones). *out_present is 0 when neither is given.
 */
alog_status alog_read_axes(alog_model *m, const alog_node *node, int input, int64_t *out,
                           size_t *out_count, int *out_present);

/* Normalises axes against rank; fails on an axis out of range or repeated. bitmask out. */
alog_status alog_axes_mask(alog_model *m, const alog_node *node, const int64_t *axes, size_t n,
                           int rank, unsigned *out_mask);

/* ---- convolutions (conv.c) ---------------------------------------------------------------- */

#define ALOG_CONV_MAX_SPATIAL 3

/* Geometry of a 1-, 2- or 3-D (transposed) convolution, padded to 3-D with unit dims. */
typedef struct alog_conv_geom {
    int spatial;                                    /* 1..3 as in the graph */
    int64_t batch, in_channels, out_channels, group;
    int64_t in[ALOG_CONV_MAX_SPATIAL];              /* (d, h, w) input sizes */
    int64_t out[ALOG_CONV_MAX_SPATIAL];             /* (d, h, w) output sizes */
    int64_t kernel[ALOG_CONV_MAX_SPATIAL];
    int64_t stride[ALOG_CONV_MAX_SPATIAL];
    int64_t dilation[ALOG_CONV_MAX_SPATIAL];
    int64_t pad_begin[ALOG_CONV_MAX_SPATIAL];
    int has_bias;
    int transposed;                                 /* ConvTranspose: W is (C, M/group, k...) */
    int constant;                                   /* W is weights (alog_input_weights) */
    alog_weights weights;                           /* W when constant */
    const alog_panels *packed;                      /* W as panels (conv_packed.c), or NULL */
} alog_conv_geom;

/* Reads kernel_shape, strides, dilations, pads (explicit) and group into g (3-D padded). */
alog_status alog_conv_read_attrs(alog_model *m, const alog_node *node, const alog_value *x,
                                 const alog_value *w, alog_conv_geom *g, int64_t *pads_end);

/* auto_pad as 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID. */
alog_status alog_conv_auto_pad(alog_model *m, const alog_node *node, int *out_mode);

/* Checks X, W (laid out for Conv, or for ConvTranspose when transposed) and B; reads the
 * attributes. The caller then computes g->out and calls alog_conv_set_output_and_pack(). */
alog_status alog_conv_prepare(alog_model *m, alog_node *node, int transposed, alog_conv_geom *g,
                              int64_t *pads_end, int *out_mode);
/* Sets the output's shape from g, then alog_conv_pack: the end of both operators' prepare. */
alog_status alog_conv_set_output_and_pack(alog_model *m, alog_node *node, alog_conv_geom *g);

/* y, x, w, bias (or NULL), geometry: a reference kernel of Conv or ConvTranspose. */
typedef void (*alog_conv_kernel)(float *y, const float *x, const alog_weights *w,
                                 const float *bias, const alog_conv_geom *g);
/* The packed path when it gives the reference's bits (alog_conv_packed_exact), else kernel. */
alog_status alog_conv_run(alog_model *m, const alog_node *node, alog_conv_kernel kernel);

/* ---- convolutions over packed weights (conv_packed.c) ------------------------------------- */

/*
 * Once g is complete: when W is constant weights of finite numbers (float, or int8 with finite
 * scales), sets g->packed (shared with an earlier node of the same op over the same W) and the
 * node's scratch; otherwise leaves the reference kernel in charge. -DALOG_REFERENCE_KERNELS
 * never packs.
 */
alog_status alog_conv_pack(alog_model *m, alog_node *node, alog_conv_geom *g);

/*
 * Whether alog_conv_packed_f32 gives the reference kernel's bits for this bias (B or NULL):
 * always for Conv; for ConvTranspose, whose sums start at the bias, unless a bias is -0.
 */
int alog_conv_packed_exact(const alog_conv_geom *g, const float *bias);

/* The reference kernel's result over g->packed; scratch: the node's scratch; isa: m->isa. */
void alog_conv_packed_f32(float *y, const float *x, const float *bias, const alog_conv_geom *g,
                          void *scratch, unsigned isa);

/* ---- packed weights (panel.c) ------------------------------------------------------------- */

/*
 * Whether operators pack constant weights into panels at load. -DALOG_REFERENCE_KERNELS turns
 * it off: every operator then runs its reference kernel on the weights in place (the tests
 * compare the two builds bit for bit; a target short of RAM saves the packed copies).
 */
#ifdef ALOG_REFERENCE_KERNELS
#define ALOG_PACK_WEIGHTS 0
#else
#define ALOG_PACK_WEIGHTS 1
#endif

/* Rows per panel: two AVX-512 vectors, four AVX ones, eight SSE or NEON ones. */
#define ALOG_PANEL 32

/* rows rounded up to whole panels: a packed matrix holds alog_panel_rows(rows) * cols weights. */
size_t alog_panel_rows(size_t rows);

/* Where element (r, k) of the matrix lies in its weights (an index for alog_weight_at). */
typedef size_t (*alog_panel_index)(const void *ctx, size_t r, size_t k);

/* The common layout: base + r * row_stride + k * col_stride (alog_panel_strided's ctx). */
typedef struct alog_panel_strides {
    size_t base, row_stride, col_stride;
} alog_panel_strides;
size_t alog_panel_strided(const void *ctx, size_t r, size_t k);

/* Whether the matrix packs as int8: quantized weights with one scale along each row. Otherwise
 * it packs as floats (quantized weights then dequantized at load, the same floats). */
int alog_panel_int8_fits(const alog_weights *w, alog_panel_index index, const void *ctx,
                         size_t rows, size_t cols);

/* Bytes of a packed matrix (alog_arena_alloc'd, so aligned for any vector load). */
size_t alog_panel_bytes(size_t rows, size_t cols, int int8);

/*
 * Sets *out to the panels in mem (alog_panel_bytes bytes) and, when `write`, packs the matrix
 * there: as int8 when int8 (alog_panel_int8_fits), else as floats (alog_weight_at). A model
 * being measured (m->measuring) passes write 0: the bytes count, their values do not.
 */
void alog_panel_pack(alog_panels *out, void *mem, const alog_weights *w, alog_panel_index index,
                     const void *ctx, size_t rows, size_t cols, int int8, int write);

/*
 * y[s * y_stride + r] = sum over k of w(r, k) * x[s * x_stride + k], each sum from 0 in k order
 * (the reference kernels' order, so their exact bits), for r < rows and s < n. isa: the
 * model's (m->isa), which picks the form (isa.h): the same bits.
 */
void alog_panel_matmul(float *y, size_t y_stride, const alog_panels *w, size_t rows, size_t cols,
                       const float *x, size_t x_stride, size_t n, unsigned isa);

/*
 * The same with each sum starting from init[r] (NULL: 0) and stored at
 * y[r * y_row_stride + s * y_vec_stride]: a product that lands channel-major.
 */
void alog_panel_matmul_strided(float *y, size_t y_row_stride, size_t y_vec_stride,
                               const alog_panels *w, size_t rows, size_t cols, const float *init,
                               const float *x, size_t x_stride, size_t n, unsigned isa);

/*
 * y[r] = (y[r] + sum over k of w(r, k) * x[k]) + bias[r] for r < rows, bias optional: a second
 * product added to a first, then a bias, in the reference kernels' order.
 */
void alog_panel_matvec_add(float *y, const alog_panels *w, size_t rows, size_t cols,
                           const float *x, const float *bias, unsigned isa);

#endif /* ALOG_OPS_H */
