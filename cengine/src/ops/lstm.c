/*
 * lstm.c - LSTM (ONNX gate order i, o, f, c) with the default activations (Sigmoid, Tanh, Tanh):
 * forward, reverse or bidirectional; optional bias, initial states, peepholes, clip; layout 0
 * (time major) or 1 (batch major). Other activations, input_forget and sequence_lens (an int32
 * tensor, a type the engine does not have) are refused.
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
 * Fast path of matvec_reference: four rows at a time, so four independent sums keep the FPU
 * busy. Each sum still runs in k order: the result is bit-identical (tests build the engine
 * with -DALOG_REFERENCE_KERNELS and compare).
 */
static void matvec_rows4(float *out, const float *w, const float *v, size_t rows, size_t n)
{
    size_t r = 0, k;
    for (; r + 4 <= rows; r += 4) {
        const float *w0 = w + r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (k = 0; k < n; ++k) {
            a0 += w0[k] * v[k];
            a1 += w1[k] * v[k];
            a2 += w2[k] * v[k];
            a3 += w3[k] * v[k];
        }
        out[r] = a0;
        out[r + 1] = a1;
        out[r + 2] = a2;
        out[r + 3] = a3;
    }
    matvec_reference(out + r, w + r * n, v, rows - r, n);
}

/* -DALOG_REFERENCE_KERNELS selects the reference (the tests compare the two builds). */
static void lstm_matvec(float *out, const float *w, const float *v, size_t rows, size_t n)
{
#ifdef ALOG_REFERENCE_KERNELS
    const int fast = 0;
#else
    const int fast = 1;
#endif
    if (fast)
        matvec_rows4(out, w, v, rows, n);
    else
        matvec_reference(out, w, v, rows, n);
}

/*
 * One time step of one sequence. gates, rec: (4H) scratch; h, c: (H) state, updated in place.
 * x: (I). Pre-activation = (W x) + (R h), then + (Wb + Rb), then the peephole term.
 */
static void alog_lstm_step(float *gates, float *rec, float *h, float *c, const float *x,
                           const lstm_weights *lw, size_t in, size_t hidden, float clip)
{
    size_t g, j;
    lstm_matvec(gates, lw->w, x, 4 * hidden, in);
    lstm_matvec(rec, lw->r, h, 4 * hidden, hidden);
    for (g = 0; g < 4 * hidden; ++g) {
        gates[g] += rec[g];
        if (lw->wb)
            gates[g] += lw->wb[g] + lw->rb[g];
    }
    for (j = 0; j < hidden; ++j) {
        float gi = gates[j], go = gates[hidden + j], gf = gates[2 * hidden + j];
        float gc = gates[3 * hidden + j];
        if (lw->p) {
            gi += lw->p[j] * c[j];
            gf += lw->p[2 * hidden + j] * c[j];
        }
        gi = alog_sigmoidf(clip_to(gi, clip));
        gf = alog_sigmoidf(clip_to(gf, clip));
        gc = alog_tanhf(clip_to(gc, clip));
        c[j] = gf * c[j] + gi * gc;
        if (lw->p)
            go += lw->p[hidden + j] * c[j];
        go = alog_sigmoidf(clip_to(go, clip));
        h[j] = go * alog_tanhf(c[j]);
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
    node->scratch_size = 10 * p->hidden * sizeof(float); /* gates, rec (4H each), h, c (H) */
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

/* One direction of one batch row. */
static void run_row(const alog_model *m, const alog_node *node, const lstm_params *p, size_t dir,
                    size_t row)
{
    const alog_value *x = alog_input(m, node, IN_X), *y = alog_output(m, node, 0);
    const alog_value *h0 = alog_input(m, node, IN_H0), *c0 = alog_input(m, node, IN_C0);
    const alog_value *yh = alog_output(m, node, 1), *yc = alog_output(m, node, 2);
    size_t H = p->hidden, s, so = state_offset(p, dir, row);
    float *gates = (float *)node->scratch, *rec = gates + 4 * H, *h = rec + 4 * H, *c = h + H;
    int reverse = p->direction == DIR_REVERSE || dir == 1;
    lstm_weights lw;
    weights_of(m, node, p, dir, &lw);
    memset(h, 0, 2 * H * sizeof(float));
    if (h0)
        memcpy(h, (const float *)h0->data + so, H * sizeof(float));
    if (c0)
        memcpy(c, (const float *)c0->data + so, H * sizeof(float));
    for (s = 0; s < p->seq; ++s) {
        size_t t = reverse ? p->seq - 1 - s : s;
        const float *xt = (const float *)x->data +
                          (p->layout ? row * p->seq + t : t * p->batch + row) * p->input;
        alog_lstm_step(gates, rec, h, c, xt, &lw, p->input, H, p->clip);
        if (y)
            memcpy((float *)y->data + y_offset(p, t, dir, row), h, H * sizeof(float));
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
