/* selu.c - Selu: gamma * (x > 0 ? x : alpha * (exp(x) - 1)). */
#include "../math/alog_math.h"
#include "ops.h"

typedef struct selu_params {
    float alpha, gamma;
} selu_params;

static const char *const attrs[] = {"alpha", "gamma", NULL};

/* ---- reference kernel --------------------------------------------------------------------- */

static void alog_selu_f32(float *y, const float *x, size_t n, float alpha, float gamma)
{
    size_t i;
    for (i = 0; i < n; ++i)
        y[i] = x[i] > 0.0f ? gamma * x[i] : gamma * (alpha * (alog_expf(x[i]) - 1.0f));
}

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
    alog_selu_f32((float *)y->data, (const float *)x->data, y->count, p->alpha, p->gamma);
    return ALOG_OK;
}

const alog_op alog_op_selu = {"Selu", attrs, sizeof(selu_params), prepare, run};
