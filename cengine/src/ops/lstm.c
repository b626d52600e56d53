/*
 * lstm.c - LSTM (ONNX gate order i, o, f, c) with the default activations (Sigmoid, Tanh, Tanh):
 * forward, reverse or bidirectional; optional bias, initial states, peepholes, clip; layout 0
 * (time major) or 1 (batch major). Other activations, input_forget and sequence_lens (an int32
 * tensor, a type the engine does not have) are refused.
 *
 * Two paths, chosen at load: when W, R (and B) are constants, they are packed into row panels in
 * the arena (panel.c) and W x is computed for all time steps before the recurrence, so W is read
 * once per run instead of once per step; otherwise the reference kernel runs step by step. Both
 * sum every gate in the same order, so they give the same bits (-DALOG_REFERENCE_KERNELS forces
 * the reference path; the tests compare the two builds).
 */
#include <string.h>

#include "../math/alog_math.h"
#include "ops.h"

enum { IN_X, IN_W, IN_R, IN_B, IN_SEQ_LENS, IN_H0, IN_C0, IN_P };
enum { DIR_FORWARD, DIR_REVERSE, DIR_BIDIRECTIONAL };

typedef struct lstm_params {
    size_t seq, batch, input, hidden, dirs;
    int direction;                /* DIR_* */
    int layout;                   /* 0: (seq, batch, ...), 1: (batch, seq, ...) */
    float clip;                   /* 0: no clipping */
    float *packed_w;              /* (dirs, W panels), or NULL: the reference path */
    float *packed_r;              /* (dirs, R panels) */
    float *bias;                  /* (dirs, 4H) Wb + Rb, or NULL */
} lstm_params;

static const char *const attrs[] = {"activation_alpha", "activation_beta", "activations",
                                    "clip", "direction", "hidden_size", "input_forget",
                                    "layout", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

/* Weights of one direction. */
typedef struct lstm_weights {
    const float *w;               /* (4H, I) */
    const float *r;               /* (4H, H) */
    const float *wb, *rb;         /* (4H) each, or NULL */
    const float *p;               /* (3H) peepholes i, o, f, or NULL */
} lstm_weights;

static float clip_to(float x, float clip)
{
    if (clip > 0.0f)
        return x > clip ? clip : (x < -clip ? -clip : x);
    return x;
}

/* out[r] = sum over k of w[r * n + k] * v[k] for r < rows, each sum in k order. */
static void matvec_reference(float *out, const float *w, const float *v, size_t rows, size_t n)
{
    size_t r, k;
    for (r = 0; r < rows; ++r) {
        float acc = 0.0f;
        for (k = 0; k < n; ++k)
            acc += w[r * n + k] * v[k];
        out[r] = acc;
    }
}

/*
 * The cell update from the pre-activations. gates: (4H) = (W x) + (R h) + (Wb + Rb); p: (3H)
 * peepholes i, o, f, or NULL; h, c: (H) state, updated in place.
 */
static void lstm_cell(const float *gates, const float *p, float *h, float *c, size_t hidden,
                      float clip)
{
    size_t j;
    for (j = 0; j < hidden; ++j) {
        float gi = gates[j], go = gates[hidden + j], gf = gates[2 * hidden + j];
        float gc = gates[3 * hidden + j];
        if (p) {
            gi += p[j] * c[j];
            gf += p[2 * hidden + j] * c[j];
        }
        gi = alog_sigmoidf(clip_to(gi, clip));
        gf = alog_sigmoidf(clip_to(gf, clip));
        gc = alog_tanhf(clip_to(gc, clip));
        c[j] = gf * c[j] + gi * gc;
        if (p)
            go += p[hidden + j] * c[j];
        go = alog_sigmoidf(clip_to(go, clip));
        h[j] = go * alog_tanhf(c[j]);
    }
}

/*
 * One time step of one sequence. gates, rec: (4H) scratch; h, c: (H) state, updated in place.
 * x: (I). Pre-activation = (W x) + (R h), then + (Wb + Rb), then the peephole term.
 */
static void alog_lstm_step(float *gates, float *rec, float *h, float *c, const float *x,
                           const lstm_weights *lw, size_t in, size_t hidden, float clip)
{
    size_t g;
    matvec_reference(gates, lw->w, x, 4 * hidden, in);
    matvec_reference(rec, lw->r, h, 4 * hidden, hidden);
    for (g = 0; g < 4 * hidden; ++g) {
        gates[g] += rec[g];
        if (lw->wb)
            gates[g] += lw->wb[g] + lw->rb[g];
    }
    lstm_cell(gates, lw->p, h, c, hidden, clip);
}

/* ---- fast path: packed weights ------------------------------------------------------------ */

/* Weights of one direction, packed at load (ops.h: alog_panel_pack). */
typedef struct lstm_packed {
    const float *w;               /* W as panels of (4H, I) */
    const float *r;               /* R as panels of (4H, H) */
    const float *bias;            /* (4H) Wb + Rb, added once at load, or NULL */
    const float *p;               /* (3H) peepholes, or NULL */
} lstm_packed;

/*
 * lstm_cell without peepholes, one activation function over many gates at a time so that the
 * vectorized array functions do the work: the same operations on each element, the same bits.
 * gates: (4H) pre-activations, overwritten.
 */
static void lstm_cell_arrays(float *gates, float *h, float *c, size_t hidden, float clip,
                             unsigned isa)
{
    float *gi = gates, *go = gates + hidden, *gf = gates + 2 * hidden, *gc = gates + 3 * hidden;
    size_t j;
    if (clip > 0.0f)
        for (j = 0; j < 4 * hidden; ++j)
            gates[j] = clip_to(gates[j], clip);
    alog_sigmoidf_array(gates, 3 * hidden, isa); /* i, o, f */
    alog_tanhf_array(gc, hidden, isa);
    for (j = 0; j < hidden; ++j)
        c[j] = gf[j] * c[j] + gi[j] * gc[j];
    memcpy(gi, c, hidden * sizeof(float)); /* i is spent: tanh(c) goes there */
    alog_tanhf_array(gi, hidden, isa);
    for (j = 0; j < hidden; ++j)
        h[j] = go[j] * gi[j];
}

/*
 * The whole sequence of one direction of one batch row. xw: (seq, 4H) scratch, filled with W x_t
 * for every step up front; x_t at x + t * x_stride; y_t (or NULL) at y + t * y_stride; h, c:
 * (H) state. Same sums in the same order as alog_lstm_step.
 */
static void alog_lstm_sequence_packed(float *xw, float *h, float *c, const float *x,
                                      size_t x_stride, float *y, size_t y_stride,
                                      const lstm_packed *pk, size_t seq, int reverse, size_t in,
                                      size_t hidden, float clip, unsigned isa)
{
    size_t rows = 4 * hidden, s;
    alog_panel_matmul(xw, rows, pk->w, rows, in, x, x_stride, seq, isa);
    for (s = 0; s < seq; ++s) {
        size_t t = reverse ? seq - 1 - s : s;
        float *gates = xw + t * rows;
        alog_panel_matvec_add(gates, pk->r, rows, hidden, h, pk->bias, isa);
        if (pk->p)
            lstm_cell(gates, pk->p, h, c, hidden, clip);
        else
            lstm_cell_arrays(gates, h, c, hidden, clip, isa);
        if (y)
            memcpy(y + t * y_stride, h, hidden * sizeof(float));
    }
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status read_direction(alog_model *m, const alog_node *node, int *out_direction)
{
    const uint8_t *s;
    size_t len;
    ALOG_TRY(alog_attr_string(m, node, "direction", &s, &len));
    if (!s || alog_pb_str_eq(s, len, "forward"))
        *out_direction = DIR_FORWARD;
    else if (alog_pb_str_eq(s, len, "reverse"))
        *out_direction = DIR_REVERSE;
    else if (alog_pb_str_eq(s, len, "bidirectional"))
        *out_direction = DIR_BIDIRECTIONAL;
    else
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR, "direction '%.*s' is unknown",
                              (int)len, (const char *)s);
    return ALOG_OK;
}

/* Only the default activations are implemented; naming them explicitly is fine. */
static alog_status check_activations(alog_model *m, const alog_node *node)
{
    static const char *const defaults[3] = {"Sigmoid", "Tanh", "Tanh"};
    alog_attr a;
    alog_pb r;
    int found, alpha, beta;
    size_t k = 0;
    ALOG_TRY(alog_attr_find(m, node, "activation_alpha", &a, &alpha));
    ALOG_TRY(alog_attr_find(m, node, "activation_beta", &a, &beta));
    if (alpha || beta)
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                              "activation_alpha/beta are not supported");
    ALOG_TRY(alog_attr_find(m, node, "activations", &a, &found));
    if (!found)
        return ALOG_OK;
    r = alog_pb_init(a.proto, a.proto_len);
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        ALOG_TRY(alog_pb_next(&r, &f));
        if (f.number != 9) /* AttributeProto.strings */
            continue;
        if (!alog_pb_str_eq(f.data, f.len, defaults[k++ % 3]))
            return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                                  "only the default activations (Sigmoid, Tanh, Tanh) are "
                                  "supported, got '%.*s'", (int)f.len, (const char *)f.data);
    }
    return ALOG_OK;
}

static alog_status check_shape(alog_model *m, const alog_node *node, int i, int64_t d0,
                               int64_t d1, int64_t d2, int rank)
{
    alog_value *v = alog_input(m, node, i);
    const int64_t want[3] = {d0, d1, d2};
    int k;
    if (!v)
        return ALOG_OK;
    ALOG_TRY(alog_require_input(&v, m, node, i, ALOG_DTYPE_FLOAT32));
    if (v->rank != rank)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "input %d has rank %d, expected %d", i,
                              v->rank, rank);
    for (k = 0; k < rank; ++k)
        if (v->dims[k] != want[k])
            return alog_node_fail(m, node, ALOG_ERR_SHAPE,
                                  "input %d axis %d is %lld, expected %lld", i, k,
                                  (long long)v->dims[k], (long long)want[k]);
    return ALOG_OK;
}

static alog_status read_attributes(alog_model *m, const alog_node *node, lstm_params *p,
                                   int64_t *out_hidden)
{
    int64_t layout, input_forget;
    ALOG_TRY(read_direction(m, node, &p->direction));
    ALOG_TRY(check_activations(m, node));
    ALOG_TRY(alog_attr_int(m, node, "hidden_size", 0, out_hidden));
    ALOG_TRY(alog_attr_int(m, node, "layout", 0, &layout));
    ALOG_TRY(alog_attr_int(m, node, "input_forget", 0, &input_forget));
    ALOG_TRY(alog_attr_float(m, node, "clip", 0.0f, &p->clip));
    if (input_forget != 0)
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR, "input_forget is not supported");
    if (layout != 0 && layout != 1)
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR, "layout must be 0 or 1");
    if (p->clip < 0.0f)
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR, "clip must be positive");
    p->layout = (int)layout;
    p->dirs = p->direction == DIR_BIDIRECTIONAL ? 2 : 1;
    return ALOG_OK;
}

static const float *data_or_null(const alog_value *v)
{
    return v ? (const float *)v->data : NULL;
}

static void weights_of(const alog_model *m, const alog_node *node, const lstm_params *p,
                       size_t dir, lstm_weights *lw)
{
    const alog_value *b = alog_input(m, node, IN_B), *pp = alog_input(m, node, IN_P);
    size_t H = p->hidden;
    lw->w = (const float *)alog_input(m, node, IN_W)->data + dir * 4 * H * p->input;
    lw->r = (const float *)alog_input(m, node, IN_R)->data + dir * 4 * H * H;
    lw->wb = b ? data_or_null(b) + dir * 8 * H : NULL;
    lw->rb = b ? lw->wb + 4 * H : NULL;
    lw->p = pp ? data_or_null(pp) + dir * 3 * H : NULL;
}

static int is_constant(const alog_model *m, const alog_node *node, int i)
{
    const alog_value *v = alog_input(m, node, i);
    return v && v->kind == ALOG_VALUE_CONSTANT;
}

/* Packs W and R (and sums the biases) into the arena when they are constants. */
static alog_status pack_weights(alog_model *m, const alog_node *node, lstm_params *p)
{
    const alog_value *b = alog_input(m, node, IN_B);
    size_t H = p->hidden, I = p->input, rows = alog_panel_rows(4 * H), d, g;
    if (!ALOG_PACK_WEIGHTS || !is_constant(m, node, IN_W) || !is_constant(m, node, IN_R) ||
        (b && !is_constant(m, node, IN_B)))
        return ALOG_OK;
    ALOG_TRY(alog_arena_alloc(m, p->dirs * rows * I * sizeof(float), (void **)&p->packed_w));
    ALOG_TRY(alog_arena_alloc(m, p->dirs * rows * H * sizeof(float), (void **)&p->packed_r));
    if (b)
        ALOG_TRY(alog_arena_alloc(m, p->dirs * 4 * H * sizeof(float), (void **)&p->bias));
    for (d = 0; d < p->dirs && !m->measuring; ++d) { /* measuring: the bytes, not their values */
        lstm_weights lw;
        weights_of(m, node, p, d, &lw);
        alog_panel_pack(p->packed_w + d * rows * I, lw.w, 4 * H, I, I, 1);
        alog_panel_pack(p->packed_r + d * rows * H, lw.r, 4 * H, H, H, 1);
        for (g = 0; b && g < 4 * H; ++g)
            p->bias[d * 4 * H + g] = lw.wb[g] + lw.rb[g];
    }
    return ALOG_OK;
}

static alog_status prepare(alog_model *m, alog_node *node)
{
    lstm_params *p = (lstm_params *)node->params;
    alog_value *x, *w;
    int64_t hidden, d, b, s, dims[4];
    ALOG_TRY(alog_require_arity(m, node, 3, 8, 0, 3));
    ALOG_TRY(read_attributes(m, node, p, &hidden));
    ALOG_TRY(alog_require_input(&x, m, node, IN_X, ALOG_DTYPE_FLOAT32));
    ALOG_TRY(alog_require_input(&w, m, node, IN_W, ALOG_DTYPE_FLOAT32));
    if (x->rank != 3 || w->rank != 3)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "X and W must have rank 3");
    if (hidden <= 0)
        hidden = w->dims[1] / 4;
    d = (int64_t)p->dirs;
    s = x->dims[p->layout ? 1 : 0];
    b = x->dims[p->layout ? 0 : 1];
    p->seq = (size_t)s;
    p->batch = (size_t)b;
    p->input = (size_t)x->dims[2];
    p->hidden = (size_t)hidden;
    ALOG_TRY(check_shape(m, node, IN_W, d, 4 * hidden, x->dims[2], 3));
    if (!alog_input(m, node, IN_R))
        return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "input R is missing");
    ALOG_TRY(check_shape(m, node, IN_R, d, 4 * hidden, hidden, 3));
    ALOG_TRY(check_shape(m, node, IN_B, d, 8 * hidden, 0, 2));
    if (alog_input(m, node, IN_SEQ_LENS))
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                              "sequence_lens is not supported (every sequence runs full length)");
    ALOG_TRY(check_shape(m, node, IN_H0, p->layout ? b : d, p->layout ? d : b, hidden, 3));
    ALOG_TRY(check_shape(m, node, IN_C0, p->layout ? b : d, p->layout ? d : b, hidden, 3));
    ALOG_TRY(check_shape(m, node, IN_P, d, 3 * hidden, 0, 2));
    ALOG_TRY(pack_weights(m, node, p));
    /* h, c (H each), then reference: gates, rec (4H each); packed: W x for every step (seq, 4H) */
    node->scratch_size = (2 + (p->packed_w ? p->seq * 4 : 8)) * p->hidden * sizeof(float);
    if (p->layout) {
        dims[0] = b; dims[1] = s; dims[2] = d; dims[3] = hidden;
    } else {
        dims[0] = s; dims[1] = d; dims[2] = b; dims[3] = hidden;
    }
    ALOG_TRY(alog_set_output(m, node, 0, ALOG_DTYPE_FLOAT32, 4, dims));
    dims[0] = p->layout ? b : d;
    dims[1] = p->layout ? d : b;
    dims[2] = hidden;
    ALOG_TRY(alog_set_output(m, node, 1, ALOG_DTYPE_FLOAT32, 3, dims));
    return alog_set_output(m, node, 2, ALOG_DTYPE_FLOAT32, 3, dims);
}

/* Element offset of (t, dir, row) in Y, and of (dir, row) in the states, per layout. */
static size_t y_offset(const lstm_params *p, size_t t, size_t dir, size_t row)
{
    return (p->layout ? (row * p->seq + t) * p->dirs + dir
                      : (t * p->dirs + dir) * p->batch + row) * p->hidden;
}

static size_t state_offset(const lstm_params *p, size_t dir, size_t row)
{
    return (p->layout ? row * p->dirs + dir : dir * p->batch + row) * p->hidden;
}

/* One direction of one batch row. */
static void run_row(const alog_model *m, const alog_node *node, const lstm_params *p, size_t dir,
                    size_t row)
{
    const alog_value *x = alog_input(m, node, IN_X), *y = alog_output(m, node, 0);
    const alog_value *h0 = alog_input(m, node, IN_H0), *c0 = alog_input(m, node, IN_C0);
    const alog_value *yh = alog_output(m, node, 1), *yc = alog_output(m, node, 2);
    size_t H = p->hidden, so = state_offset(p, dir, row);
    float *h = (float *)node->scratch, *c = h + H, *work = c + H;
    int reverse = p->direction == DIR_REVERSE || dir == 1;
    const float *xs = (const float *)x->data + (p->layout ? row * p->seq : row) * p->input;
    size_t x_stride = (p->layout ? 1 : p->batch) * p->input;
    float *ys = y ? (float *)y->data + y_offset(p, 0, dir, row) : NULL;
    size_t y_stride = (p->layout ? 1 : p->batch) * p->dirs * H;
    lstm_weights lw;
    weights_of(m, node, p, dir, &lw);
    memset(h, 0, 2 * H * sizeof(float));
    if (h0)
        memcpy(h, (const float *)h0->data + so, H * sizeof(float));
    if (c0)
        memcpy(c, (const float *)c0->data + so, H * sizeof(float));
    if (ALOG_PACK_WEIGHTS && p->packed_w) { /* a reference build leaves this path out */
        lstm_packed pk;
        pk.w = p->packed_w + dir * alog_panel_rows(4 * H) * p->input;
        pk.r = p->packed_r + dir * alog_panel_rows(4 * H) * H;
        pk.bias = p->bias ? p->bias + dir * 4 * H : NULL;
        pk.p = lw.p;
        alog_lstm_sequence_packed(work, h, c, xs, x_stride, ys, y_stride, &pk, p->seq, reverse,
                                  p->input, H, p->clip, m->isa);
    } else {
        size_t s;
        for (s = 0; s < p->seq; ++s) {
            size_t t = reverse ? p->seq - 1 - s : s;
            alog_lstm_step(work, work + 4 * H, h, c, xs + t * x_stride, &lw, p->input, H,
                           p->clip);
            if (ys)
                memcpy(ys + t * y_stride, h, H * sizeof(float));
        }
    }
    if (yh)
        memcpy((float *)yh->data + so, h, H * sizeof(float));
    if (yc)
        memcpy((float *)yc->data + so, c, H * sizeof(float));
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const lstm_params *p = (const lstm_params *)node->params;
    size_t dir, row;
    for (row = 0; row < p->batch; ++row)
        for (dir = 0; dir < p->dirs; ++dir)
            run_row(m, node, p, dir, row);
    return ALOG_OK;
}

const alog_op alog_op_lstm = {"LSTM", attrs, sizeof(lstm_params), prepare, run};
