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
    int constant;                 /* W and R are weights (alog_input_weights), else activations */
    alog_weights w, r;            /* W (dirs, 4H, I) and R (dirs, 4H, H) when constant */
    int packed;                   /* the fast path: W and R packed, per direction */
    alog_panels packed_w[2];      /* W of each direction as panels (float or int8) */
    alog_panels packed_r[2];      /* R likewise */
    float *bias;                  /* (dirs, 4H) Wb + Rb, or NULL */
} lstm_params;

static const char *const attrs[] = {"activation_alpha", "activation_beta", "activations",
                                    "clip", "direction", "hidden_size", "input_forget",
                                    "layout", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

/* Weights of one direction. */
typedef struct lstm_weights {
    const alog_weights *w;        /* W: this direction's (4H, I) from element w_base */
    const alog_weights *r;        /* R: (4H, H) from element r_base */
    size_t w_base, r_base;
    const float *wb, *rb;         /* (4H) each, or NULL */
    const float *p;               /* (3H) peepholes i, o, f, or NULL */
} lstm_weights;

static float clip_to(float x, float clip)
{
    if (clip > 0.0f)
        return x > clip ? clip : (x < -clip ? -clip : x);
    return x;
}

/* out[r] = sum over k of w(base + r * n + k) * v[k] for r < rows, each sum in k order. */
static void matvec_reference(float *out, const alog_weights *w, size_t base, const float *v,
                             size_t rows, size_t n)
{
    size_t r, k;
    if (w->f) { /* float weights: read in place (the firmware's path: no test per element) */
        const float *f = w->f + base;
        for (r = 0; r < rows; ++r) {
            float acc = 0.0f;
            for (k = 0; k < n; ++k)
                acc += f[r * n + k] * v[k];
            out[r] = acc;
        }
        return;
    }
    for (r = 0; r < rows; ++r) {
        float acc = 0.0f;
        for (k = 0; k < n; ++k)
            acc += alog_weight_at(w, base + r * n + k) * v[k];
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
    matvec_reference(gates, lw->w, lw->w_base, x, 4 * hidden, in);
    matvec_reference(rec, lw->r, lw->r_base, h, 4 * hidden, hidden);
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
    const alog_panels *w;         /* W as panels of (4H, I), float or int8 */
    const alog_panels *r;         /* R as panels of (4H, H) */
    const float *bias;            /* (4H) Wb + Rb, added once at load, or NULL */
    const float *p;               /* (3H) peepholes, or NULL */
} lstm_packed;

/*
 * Element-wise loops over the gates, in blocks of a fixed length so that gcc's -O2 vectorizes
 * them (its cheapest cost model takes only loops whose vector form replaces every iteration):
 * each element gets the same operations in the same order as the scalar loop, so the same bits.
 */
#define BLOCK 16

/* y[j] += a[j] */
static void add_to(float *restrict y, const float *restrict a, size_t n)
{
    size_t j;
    for (; n >= BLOCK; n -= BLOCK, y += BLOCK, a += BLOCK)
        for (j = 0; j < BLOCK; ++j)
            y[j] += a[j];
    for (j = 0; j < n; ++j)
        y[j] += a[j];
}

/* c[j] = f[j] * c[j] + i[j] * g[j] */
static void cell_state(float *restrict c, const float *restrict f, const float *restrict i,
                       const float *restrict g, size_t n)
{
    size_t j;
    for (; n >= BLOCK; n -= BLOCK, c += BLOCK, f += BLOCK, i += BLOCK, g += BLOCK)
        for (j = 0; j < BLOCK; ++j)
            c[j] = f[j] * c[j] + i[j] * g[j];
    for (j = 0; j < n; ++j)
        c[j] = f[j] * c[j] + i[j] * g[j];
}

/* h[j] = o[j] * t[j] */
static void multiply_to(float *restrict h, const float *restrict o, const float *restrict t,
                        size_t n)
{
    size_t j;
    for (; n >= BLOCK; n -= BLOCK, h += BLOCK, o += BLOCK, t += BLOCK)
        for (j = 0; j < BLOCK; ++j)
            h[j] = o[j] * t[j];
    for (j = 0; j < n; ++j)
        h[j] = o[j] * t[j];
}

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
    cell_state(c, gf, gi, gc, hidden);
    memcpy(gi, c, hidden * sizeof(float)); /* i is spent: tanh(c) goes there */
    alog_tanhf_array(gi, hidden, isa);
    multiply_to(h, go, gi, hidden);
}

/* Where the batch rows' steps lie: step t of row b is input vector b * row_step + t * t_step,
 * and its output at element b * y_row + t * y_t of y. */
typedef struct lstm_rows {
    size_t batch;
    size_t row_step, t_step;      /* vectors of X (and of the W x scratch) */
    size_t y_row, y_t;            /* floats of Y */
} lstm_rows;

/*
 * The whole sequence of one direction for every batch row at once, step by step, so that each
 * step's R is read once for all rows (a batch of windows). x: (seq * batch vectors of I), y: the
 * direction's first output or NULL, both placed by `rows`; h, c: (batch, H) state. xw:
 * (seq * batch, 4H) scratch, W x for every vector up front; rec: (batch, 4H) scratch. Per row,
 * the same sums in the same order as alog_lstm_step.
 */
static void alog_lstm_sequence_packed(float *xw, float *rec, float *h, float *c, const float *x,
                                      float *y, const lstm_packed *pk,
                                      const lstm_rows *rows, size_t seq, int reverse, size_t in,
                                      size_t hidden, float clip, unsigned isa)
{
    size_t g4 = 4 * hidden, s, b;
    alog_panel_matmul(xw, g4, pk->w, g4, in, x, in, seq * rows->batch, isa);
    for (s = 0; s < seq; ++s) {
        size_t t = reverse ? seq - 1 - s : s;
        if (rows->batch > 1) /* R h for every row at once: each weight read serves them all */
            alog_panel_matmul(rec, g4, pk->r, g4, hidden, h, hidden, rows->batch, isa);
        for (b = 0; b < rows->batch; ++b) {
            size_t vector = b * rows->row_step + t * rows->t_step;
            float *gates = xw + vector * g4, *hb = h + b * hidden, *cb = c + b * hidden;
            const float *rb = rec + b * g4;
            if (rows->batch == 1) { /* (W x + R h) + (Wb + Rb), the product added as it ends */
                alog_panel_matvec_add(gates, pk->r, g4, hidden, h, pk->bias, isa);
            } else {
                add_to(gates, rb, g4);
                if (pk->bias)
                    add_to(gates, pk->bias, g4);
            }
            if (pk->p)
                lstm_cell(gates, pk->p, hb, cb, hidden, clip);
            else
                lstm_cell_arrays(gates, hb, cb, hidden, clip, isa);
            if (y)
                memcpy(y + b * rows->y_row + t * rows->y_t, hb, hidden * sizeof(float));
        }
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

/* W and R as weights: the constant ones read at load, or (activations) the run's values. */
static void weights_of(const alog_model *m, const alog_node *node, const lstm_params *p,
                       size_t dir, alog_weights *w_now, alog_weights *r_now, lstm_weights *lw)
{
    const alog_value *b = alog_input(m, node, IN_B), *pp = alog_input(m, node, IN_P);
    size_t H = p->hidden;
    if (p->constant) {
        *w_now = p->w;
        *r_now = p->r;
    } else {
        memset(w_now, 0, sizeof *w_now);
        memset(r_now, 0, sizeof *r_now);
        w_now->f = (const float *)alog_input(m, node, IN_W)->data;
        r_now->f = (const float *)alog_input(m, node, IN_R)->data;
        w_now->inner = w_now->scales = r_now->inner = r_now->scales = 1;
    }
    lw->w = w_now;
    lw->r = r_now;
    lw->w_base = dir * 4 * H * p->input;
    lw->r_base = dir * 4 * H * H;
    lw->wb = b ? data_or_null(b) + dir * 8 * H : NULL;
    lw->rb = b ? lw->wb + 4 * H : NULL;
    lw->p = pp ? data_or_null(pp) + dir * 3 * H : NULL;
}

/* W and R as weights (claiming them when quantized), or neither. */
static alog_status read_weights(alog_model *m, alog_node *node, lstm_params *p)
{
    int w_found, r_found;
    ALOG_TRY(alog_input_weights(m, node, IN_W, &p->w, &w_found));
    ALOG_TRY(alog_input_weights(m, node, IN_R, &p->r, &r_found));
    if (w_found != r_found && (p->w.q || p->r.q))
        return alog_node_fail(m, node, ALOG_ERR_UNSUPPORTED_ATTR,
                              "W and R must both be constants when either is quantized");
    p->constant = w_found && r_found;
    return ALOG_OK;
}

/* One direction's matrix (rows 4H, `cols` columns) packed into the arena. */
static alog_status pack_matrix(alog_model *m, alog_panels *out, const alog_weights *w,
                               size_t base, size_t rows, size_t cols)
{
    alog_panel_strides at;
    void *mem;
    int int8;
    at.base = base;
    at.row_stride = cols;
    at.col_stride = 1;
    int8 = alog_panel_int8_fits(w, alog_panel_strided, &at, rows, cols);
    ALOG_TRY(alog_arena_alloc(m, alog_panel_bytes(rows, cols, int8), &mem));
    /* measuring: the bytes, not their values */
    alog_panel_pack(out, mem, w, alog_panel_strided, &at, rows, cols, int8, !m->measuring);
    return ALOG_OK;
}

/* Packs W and R (and sums the biases) into the arena when they are constants. */
static alog_status pack_weights(alog_model *m, const alog_node *node, lstm_params *p)
{
    const alog_value *b = alog_input(m, node, IN_B);
    size_t H = p->hidden, I = p->input, d, g;
    if (!ALOG_PACK_WEIGHTS || !p->constant || (b && b->kind != ALOG_VALUE_CONSTANT))
        return ALOG_OK;
    for (d = 0; d < p->dirs; ++d) {
        ALOG_TRY(pack_matrix(m, &p->packed_w[d], &p->w, d * 4 * H * I, 4 * H, I));
        ALOG_TRY(pack_matrix(m, &p->packed_r[d], &p->r, d * 4 * H * H, 4 * H, H));
    }
    if (b)
        ALOG_TRY(alog_arena_alloc(m, p->dirs * 4 * H * sizeof(float), (void **)&p->bias));
    for (d = 0; b && d < p->dirs && !m->measuring; ++d) {
        const float *wb = (const float *)b->data + d * 8 * H, *rb = wb + 4 * H;
        for (g = 0; g < 4 * H; ++g)
            p->bias[d * 4 * H + g] = wb[g] + rb[g];
    }
    p->packed = 1;
    return ALOG_OK;
}

/* Reference, one row at a time: h, c (H each), gates, rec (4H each). Packed, every row at once:
 * h, c (batch, H) each, W x for every step (seq, batch, 4H), R h (batch, 4H). */
static alog_status scratch_size(alog_model *m, alog_node *node, const lstm_params *p)
{
    const size_t limit = SIZE_MAX / 64;
    size_t floats = 10;
    if (p->packed) {
        if (p->seq > limit || (p->batch && 6 + 4 * p->seq > limit / p->batch))
            return alog_node_fail(m, node, ALOG_ERR_LIMIT, "the sequence is too long");
        floats = p->batch * (6 + 4 * p->seq);
    }
    if (p->hidden && floats > limit / p->hidden)
        return alog_node_fail(m, node, ALOG_ERR_LIMIT, "hidden_size is too large");
    node->scratch_size = floats * p->hidden * sizeof(float);
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
    if (hidden > INT32_MAX)
        return alog_node_fail(m, node, ALOG_ERR_LIMIT, "hidden_size is too large");
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
    ALOG_TRY(read_weights(m, node, p));
    ALOG_TRY(pack_weights(m, node, p));
    ALOG_TRY(scratch_size(m, node, p));
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

/* The initial state of one direction of one batch row into h, c (H each). */
static void initial_state(const alog_model *m, const alog_node *node, const lstm_params *p,
                          size_t dir, size_t row, float *h, float *c)
{
    const alog_value *h0 = alog_input(m, node, IN_H0), *c0 = alog_input(m, node, IN_C0);
    size_t H = p->hidden, so = state_offset(p, dir, row);
    memset(h, 0, H * sizeof(float));
    memset(c, 0, H * sizeof(float));
    if (h0)
        memcpy(h, (const float *)h0->data + so, H * sizeof(float));
    if (c0)
        memcpy(c, (const float *)c0->data + so, H * sizeof(float));
}

/* The final state of one direction of one batch row from h, c (H each). */
static void final_state(const alog_model *m, const alog_node *node, const lstm_params *p,
                        size_t dir, size_t row, const float *h, const float *c)
{
    const alog_value *yh = alog_output(m, node, 1), *yc = alog_output(m, node, 2);
    size_t H = p->hidden, so = state_offset(p, dir, row);
    if (yh)
        memcpy((float *)yh->data + so, h, H * sizeof(float));
    if (yc)
        memcpy((float *)yc->data + so, c, H * sizeof(float));
}

/* One direction of one batch row: the reference path. */
static void run_row(const alog_model *m, const alog_node *node, const lstm_params *p, size_t dir,
                    size_t row)
{
    const alog_value *x = alog_input(m, node, IN_X), *y = alog_output(m, node, 0);
    size_t H = p->hidden, s;
    float *h = (float *)node->scratch, *c = h + H, *work = c + H;
    int reverse = p->direction == DIR_REVERSE || dir == 1;
    const float *xs = (const float *)x->data + (p->layout ? row * p->seq : row) * p->input;
    size_t x_stride = (p->layout ? 1 : p->batch) * p->input;
    float *ys = y ? (float *)y->data + y_offset(p, 0, dir, row) : NULL;
    size_t y_stride = (p->layout ? 1 : p->batch) * p->dirs * H;
    alog_weights w_now, r_now;
    lstm_weights lw;
    weights_of(m, node, p, dir, &w_now, &r_now, &lw);
    initial_state(m, node, p, dir, row, h, c);
    for (s = 0; s < p->seq; ++s) {
        size_t t = reverse ? p->seq - 1 - s : s;
        alog_lstm_step(work, work + 4 * H, h, c, xs + t * x_stride, &lw, p->input, H, p->clip);
        if (ys)
            memcpy(ys + t * y_stride, h, H * sizeof(float));
    }
    final_state(m, node, p, dir, row, h, c);
}

/* One direction of every batch row: the packed path. */
static void run_packed(const alog_model *m, const alog_node *node, const lstm_params *p,
                       size_t dir)
{
    const alog_value *x = alog_input(m, node, IN_X), *y = alog_output(m, node, 0);
    const alog_value *pp = alog_input(m, node, IN_P);
    size_t H = p->hidden, B = p->batch, b;
    float *h = (float *)node->scratch, *c = h + B * H, *xw = c + B * H;
    float *rec = xw + p->seq * B * 4 * H;
    int reverse = p->direction == DIR_REVERSE || dir == 1;
    lstm_packed pk;
    lstm_rows rows;
    /* layout 0: X (seq, batch, I), Y (seq, dirs, batch, H); 1: X (batch, seq, I), Y (batch,
     * seq, dirs, H) */
    rows.batch = B;
    rows.row_step = p->layout ? p->seq : 1;
    rows.t_step = p->layout ? 1 : B;
    rows.y_row = p->layout ? p->seq * p->dirs * H : H;
    rows.y_t = p->layout ? p->dirs * H : p->dirs * B * H;
    pk.w = &p->packed_w[dir];
    pk.r = &p->packed_r[dir];
    pk.bias = p->bias ? p->bias + dir * 4 * H : NULL;
    pk.p = pp ? data_or_null(pp) + dir * 3 * H : NULL;
    for (b = 0; b < B; ++b)
        initial_state(m, node, p, dir, b, h + b * H, c + b * H);
    alog_lstm_sequence_packed(xw, rec, h, c, (const float *)x->data,
                              y ? (float *)y->data + y_offset(p, 0, dir, 0) : NULL, &pk, &rows,
                              p->seq, reverse, p->input, H, p->clip, m->isa);
    for (b = 0; b < B; ++b)
        final_state(m, node, p, dir, b, h + b * H, c + b * H);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const lstm_params *p = (const lstm_params *)node->params;
    size_t dir, row;
    if (ALOG_PACK_WEIGHTS && p->packed) { /* a reference build leaves this path out */
        for (dir = 0; dir < p->dirs; ++dir)
            run_packed(m, node, p, dir);
        return ALOG_OK;
    }
    for (row = 0; row < p->batch; ++row)
        for (dir = 0; dir < p->dirs; ++dir)
            run_row(m, node, p, dir, row);
    return ALOG_OK;
}

const alog_op alog_op_lstm = {"LSTM", attrs, sizeof(lstm_params), prepare, run};
