/* selu.c - Selu: gamma * (x > 0 ? x : alpha * (exp(x) - 1)). */
#include <string.h>

#include "../math/alog_math.h"
#include "ops.h"

typedef struct selu_params {
    float alpha, gamma;
} selu_params;

static const char *const attrs[] = {"alpha", "gamma", NULL};

/* ---- reference kernel (the build with -DALOG_REFERENCE_KERNELS runs it) ------------------- */

#ifdef ALOG_REFERENCE_KERNELS
static void alog_selu_f32(float *y, const float *x, size_t n, float alpha, float gamma)
{
    size_t i;
    for (i = 0; i < n; ++i)
        y[i] = x[i] > 0.0f ? gamma * x[i] : gamma * (alpha * (alog_expf(x[i]) - 1.0f));
}
#endif

/* ---- fast path (every other build) ------------------------------------------------------- */

#ifndef ALOG_REFERENCE_KERNELS
/* The same expression, with exp taken a block at a time by the vectorized array function (the
 * same bits as alog_expf) for every element, used or not. Reads x[i] before writing y[i]: works
 * in place. */
#define SELU_BLOCK 64

static void selu_f32_blocks(float *y, const float *x, size_t n, float alpha, float gamma,
                            unsigned isa)
{
    float e[SELU_BLOCK];
    size_t i0, j, m;
    for (i0 = 0; i0 < n; i0 += m) {
        m = n - i0 < SELU_BLOCK ? n - i0 : SELU_BLOCK;
        memcpy(e, x + i0, m * sizeof(float));
        alog_expf_array(e, m, isa);
        for (j = 0; j < m; ++j)
            y[i0 + j] = x[i0 + j] > 0.0f ? gamma * x[i0 + j] : gamma * (alpha * (e[j] - 1.0f));
    }
}
#endif

/* ---- adapter ------------------------------------------------------------------------------ */

static alog_status prepare(alog_model *m, alog_node *node)
{
    selu_params *p = (selu_params *)node->params;
    ALOG_TRY(alog_attr_float(m, node, "alpha", 1.67326319217681884765625f, &p->alpha));
    ALOG_TRY(alog_attr_float(m, node, "gamma", 1.05070102214813232421875f, &p->gamma));
    return alog_unary_prepare(m, node);
}

static alog_status run(alog_model *m, const alog_node *node)
{
    const selu_params *p = (const selu_params *)node->params;
    const alog_value *x = alog_input(m, node, 0), *y = alog_output(m, node, 0);
#ifndef ALOG_REFERENCE_KERNELS
    selu_f32_blocks((float *)y->data, (const float *)x->data, y->count, p->alpha, p->gamma, m->isa);
#else
    alog_selu_f32((float *)y->data, (const float *)x->data, y->count, p->alpha, p->gamma);
#endif
    return ALOG_OK;
}

const alog_op alog_op_selu = {"Selu", attrs, sizeof(selu_params), prepare, run};
