/*
 * alog_math.h - the engine's own elementary functions, in portable C99 float arithmetic.
 *
 * Every target computes the same bits (no libm, whose implementations differ): build with
 * -ffp-contract=off so no compiler fuses a multiply and an add on one target but not another.
 * Accuracy: within 2 ulp of the correctly rounded result over the whole float range.
 */
#ifndef ALOG_MATH_H
#define ALOG_MATH_H

#include <stddef.h>

float alog_expf(float x);
float alog_tanhf(float x);
float alog_sigmoidf(float x);

/* e^x in double precision, within 1 ulp (fdlibm's method): DeepLog's probability rule. */
double alog_exp(double x);

/* v[i] = f(v[i]) for i < n, the same bits as the scalar functions; vectorized by the compiler,
 * in the form isa picks (ALOG_ISA_* bits, a model's alog_model_isa(); 0: the baseline). */
void alog_expf_array(float *v, size_t n, unsigned isa);
void alog_tanhf_array(float *v, size_t n, unsigned isa);
void alog_sigmoidf_array(float *v, size_t n, unsigned isa);

#endif /* ALOG_MATH_H */
