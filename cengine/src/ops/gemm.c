/*
 * gemm.c - Gemm: Y = alpha * op(A) op(B) + beta * C, op = optional transpose, C broadcast to (M, N).
 *
 * When B is a constant (a layer's weights) and A is not transposed, B is packed into row panels
 * at load (panel.c) and the products run vectorized, in the reference's order and so with its
 * bits; -DALOG_REFERENCE_KERNELS keeps the reference kernel for every Gemm.
 */
#include <string.h>

#include "ops.h"

typedef struct gemm_params {
    size_t M, N, K;
    int trans_a, trans_b;
    float alpha, beta;
    size_t c_row, c_col;          /* C's strides over (M, N): 0 where broadcast */
    int constant;                 /* B is weights (alog_input_weights), else an activation */
    alog_weights b;               /* B when constant */
    int packed;                   /* the fast path: */
    alog_panels packed_b;         /* op(B)^T as panels of (N, K), float or int8 */
} gemm_params;

static const char *const attrs[] = {"alpha", "beta", "transA", "transB", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

/* y: (M, N); a: (M, K) or (K, M) if ta; b: (K, N) or (N, K) if tb; c: NULL or strided. */
static void alog_gemm_f32(float *y, const float *a, const alog_weights *b, const float *c,
                          size_t M, size_t N, size_t K, int ta, int tb, float alpha, float beta,
                          size_t c_row, size_t c_col)
{
    size_t i, j, k;
    for (i = 0; i < M; ++i) {
        for (j = 0; j < N; ++j) {
            float acc = 0.0f;
            for (k = 0; k < K; ++k)
                acc += (ta ? a[k * M + i] : a[i * K + k]) *
                       alog_weight_at(b, tb ? j * K + k : k * N + j);
            y[i * N + j] = alpha * acc + (c ? beta * c[i * c_row + j * c_col] : 0.0f);
        }
    }
}

/*
 * The same Gemm with op(B)^T packed (N rows of K) and A not transposed: acc from the panels,
 * then the reference's own epilogue expression.
 */
static void alog_gemm_f32_packed(float *y, const float *a, const alog_panels *packed_b,
                                 const float *c,
                                 size_t M, size_t N, size_t K, float alpha, float beta,
                                 size_t c_row, size_t c_col, unsigned isa)
{
    size_t i, j;
    alog_panel_matmul(y, N, packed_b, N, K, a, K, M, isa);
    for (i = 0; i < M; ++i)
        for (j = 0; j < N; ++j)
            y[i * N + j] = alpha * y[i * N + j] + (c ? beta * c[i * c_row + j * c_col] : 0.0f);
}

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status pack_b(alog_model *m, gemm_params *p)
{
    alog_panel_strides at; /* row n of op(B)^T, column k */
    void *mem;
    int int8;
    if (!ALOG_PACK_WEIGHTS || p->trans_a || !p->constant)
        return ALOG_OK;
    at.base = 0;
    at.row_stride = p->trans_b ? p->K : 1;
    at.col_stride = p->trans_b ? 1 : p->N;
    int8 = alog_panel_int8_fits(&p->b, alog_panel_strided, &at, p->N, p->K);
    ALOG_TRY(alog_arena_alloc(m, alog_panel_bytes(p->N, p->K, int8), &mem));
    /* measuring needs the bytes, not what goes in them */
    alog_panel_pack(&p->packed_b, mem, &p->b, alog_panel_strided, &at, p->N, p->K, int8,
                    !m->measuring);
    p->packed = 1;
    return ALOG_OK;
}

static alog_status check_c(alog_model *m, const alog_node *node, const alog_value *c,
                           gemm_params *p)
{
    int64_t cm = c->rank == 2 ? c->dims[0] : 1;
    int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    if (c->rank > 2 || (cm != 1 && cm != (int64_t)p->M) || (cn != 1 && cn != (int64_t)p->N))
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "C does not broadcast to (%lu, %lu)",
                              (unsigned long)p->M, (unsigned long)p->N);
    p->c_row = cm == 1 ? 0 : (size_t)cn;
    p->c_col = cn == 1 ? 0 : 1;
    return ALOG_OK;
}

static alog_status prepare(alog_model *m, alog_node *node)
{
    gemm_params *p = (gemm_params *)node->params;
    alog_value *a, *b, *c;
    int64_t ta, tb, dims[2];
    ALOG_TRY(alog_require_arity(m, node, 2, 3, 1, 1));
    ALOG_TRY(alog_require_input(&a, m, node, 0, ALOG_DTYPE_FLOAT32));
    ALOG_TRY(alog_require_input(&b, m, node, 1, ALOG_DTYPE_FLOAT32));
    ALOG_TRY(alog_attr_int(m, node, "transA", 0, &ta));
    ALOG_TRY(alog_attr_int(m, node, "transB", 0, &tb));
    ALOG_TRY(alog_attr_float(m, node, "alpha", 1.0f, &p->alpha));
    ALOG_TRY(alog_attr_float(m, node, "beta", 1.0f, &p->beta));
    if (a->rank != 2 || b->rank != 2)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "A and B must be matrices");
    p->trans_a = ta != 0;
    p->trans_b = tb != 0;
    p->M = (size_t)a->dims[p->trans_a ? 1 : 0];
    p->K = (size_t)a->dims[p->trans_a ? 0 : 1];
    p->N = (size_t)b->dims[p->trans_b ? 0 : 1];
    if ((size_t)b->dims[p->trans_b ? 1 : 0] != p->K)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "inner dimensions %lu and %lld differ",
                              (unsigned long)p->K, (long long)b->dims[p->trans_b ? 1 : 0]);
    c = alog_input(m, node, 2);
    if (c) {
        ALOG_TRY(alog_require_input(&c, m, node, 2, ALOG_DTYPE_FLOAT32));
        ALOG_TRY(check_c(m, node, c, p));
    }
    ALOG_TRY(alog_input_weights(m, node, 1, &p->b, &p->constant));
    ALOG_TRY(pack_b(m, p));
    dims[0] = (int64_t)p->M;
    dims[1] = (int64_t)p->N;
    return alog_set_output(m, node, 0, ALOG_DTYPE_FLOAT32, 2, dims);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const gemm_params *p = (const gemm_params *)node->params;
    const alog_value *a = alog_input(m, node, 0), *b = alog_input(m, node, 1);
    const alog_value *c = alog_input(m, node, 2), *y = alog_output(m, node, 0);
    const float *cd = c ? (const float *)c->data : NULL;
    alog_weights bw = p->b;
    if (ALOG_PACK_WEIGHTS && p->packed) { /* a reference build leaves this path out */
        alog_gemm_f32_packed((float *)y->data, (const float *)a->data, &p->packed_b, cd, p->M,
                             p->N, p->K, p->alpha, p->beta, p->c_row, p->c_col, m->isa);
        return ALOG_OK;
    }
    if (!p->constant) { /* B is an activation: this run's values */
        memset(&bw, 0, sizeof bw);
        bw.f = (const float *)b->data;
        bw.inner = bw.scales = 1;
    }
    alog_gemm_f32((float *)y->data, (const float *)a->data, &bw, cd, p->M, p->N, p->K,
                  p->trans_a, p->trans_b, p->alpha, p->beta, p->c_row, p->c_col);
    return ALOG_OK;
}

const alog_op alog_op_gemm = {"Gemm", attrs, sizeof(gemm_params), prepare, run};
