/* matmul.c - MatMul: numpy matmul (1-D operands promoted, batch dims broadcast). */

#include "ops.h"

typedef struct matmul_params {
    size_t M, K, N;
    int batch_rank;
    int64_t batch[ALOG_MAX_RANK];     /* (batch_rank) output batch dims */
    int64_t a_stride[ALOG_MAX_RANK];  /* (batch_rank) A's matrix stride per batch dim, 0: broadcast */
    int64_t b_stride[ALOG_MAX_RANK];
} matmul_params;

/* ---- reference kernel --------------------------------------------------------------------- */

/* y: (M, N) = a: (M, K) x b: (K, N), summed in k order. */
static void alog_matmul_f32(float *y, const float *a, const float *b, size_t M, size_t K,
                            size_t N)
{
    size_t i, j, k;
    for (i = 0; i < M; ++i) {
        for (j = 0; j < N; ++j) {
            float acc = 0.0f;
            for (k = 0; k < K; ++k)
                acc += a[i * K + k] * b[k * N + j];
            y[i * N + j] = acc;
        }
    }
}

/* ---- adapter ------------------------------------------------------------------------------ */

/* A matrix operand seen as (batch..., rows, cols), a 1-D one promoted per numpy. */
typedef struct operand {
    int batch_rank;
    const int64_t *batch;
    int64_t rows, cols;
} operand;

static operand as_matrix(const alog_value *v, int is_a)
{
    operand o;
    o.batch = v->dims;
    if (v->rank == 1) {
        o.batch_rank = 0;
        o.rows = is_a ? 1 : v->dims[0];
        o.cols = is_a ? v->dims[0] : 1;
    } else {
        o.batch_rank = v->rank - 2;
        o.rows = v->dims[v->rank - 2];
        o.cols = v->dims[v->rank - 1];
    }
    return o;
}

static void batch_strides(const operand *o, const matmul_params *p, int64_t *strides)
{
    int64_t s = o->rows * o->cols;
    int i;
    for (i = p->batch_rank - 1; i >= 0; --i) {
        int io = i - (p->batch_rank - o->batch_rank);
        int64_t d = io >= 0 ? o->batch[io] : 1;
        strides[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

static alog_status prepare(alog_model *m, alog_node *node)
{
    matmul_params *p = (matmul_params *)node->params;
    alog_value *a, *b;
    operand oa, ob;
    int64_t dims[ALOG_MAX_RANK];
    int i, rank = 0;
    ALOG_TRY(alog_require_arity(m, node, 2, 2, 1, 1));
    ALOG_TRY(alog_require_input(&a, m, node, 0, ALOG_DTYPE_FLOAT32));
    ALOG_TRY(alog_require_input(&b, m, node, 1, ALOG_DTYPE_FLOAT32));
    if (a->rank < 1 || b->rank < 1)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "operands must have rank >= 1");
    oa = as_matrix(a, 1);
    ob = as_matrix(b, 0);
    if (oa.cols != ob.rows)
        return alog_node_fail(m, node, ALOG_ERR_SHAPE, "inner dimensions %lld and %lld differ",
                              (long long)oa.cols, (long long)ob.rows);
    p->batch_rank = oa.batch_rank > ob.batch_rank ? oa.batch_rank : ob.batch_rank;
    for (i = 0; i < p->batch_rank; ++i) {
        int ia = i - (p->batch_rank - oa.batch_rank), ib = i - (p->batch_rank - ob.batch_rank);
        int64_t da = ia >= 0 ? oa.batch[ia] : 1, db = ib >= 0 ? ob.batch[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return alog_node_fail(m, node, ALOG_ERR_SHAPE, "batch dims %lld and %lld differ",
                                  (long long)da, (long long)db);
        p->batch[i] = da == 1 ? db : da;
        dims[rank++] = p->batch[i];
    }
    batch_strides(&oa, p, p->a_stride);
    batch_strides(&ob, p, p->b_stride);
    p->M = (size_t)oa.rows;
    p->K = (size_t)oa.cols;
    p->N = (size_t)ob.cols;
    if (a->rank > 1)
        dims[rank++] = oa.rows;
    if (b->rank > 1)
        dims[rank++] = ob.cols;
    return alog_set_output(m, node, 0, ALOG_DTYPE_FLOAT32, rank, dims);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const matmul_params *p = (const matmul_params *)node->params;
    const float *a = (const float *)alog_input(m, node, 0)->data;
    const float *b = (const float *)alog_input(m, node, 1)->data;
    const alog_value *y = alog_output(m, node, 0);
    size_t batches = alog_dims_product(p->batch, 0, p->batch_rank), n;
    int64_t counter[ALOG_MAX_RANK] = {0}, ao = 0, bo = 0;
    int d;
    for (n = 0; n < batches; ++n) {
        alog_matmul_f32((float *)y->data + n * p->M * p->N, a + ao, b + bo, p->M, p->K, p->N);
        for (d = p->batch_rank - 1; d >= 0; --d) {
            ao += p->a_stride[d];
            bo += p->b_stride[d];
            if (++counter[d] < p->batch[d])
                break;
            ao -= p->a_stride[d] * p->batch[d];
            bo -= p->b_stride[d] * p->batch[d];
            counter[d] = 0;
        }
    }
    return ALOG_OK;
}

const alog_op alog_op_matmul = {"MatMul", NULL, sizeof(matmul_params), prepare, run};
