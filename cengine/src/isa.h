/*
 * isa.h - which vector extensions the fast paths use: the target's baseline, or more when the
 * CPU has it (run-time dispatch).
 *
 * A portable build targets the architecture's baseline (SSE2 on x86-64, NEON on arm64). On
 * x86-64 the hot loops (the panel products of panel.c and the exp/tanh/sigmoid arrays of
 * alog_math.c) are compiled a second time for AVX2, and each model picks a form when it is
 * opened (alog_model_open asks the CPU; alog_model_limit_isa can hold it back). Both forms do
 * the same multiplies and adds in the same order, without fused multiply-add (the target
 * attribute adds AVX2 only, and -ffp-contract=off applies to both): they give the same bits, the
 * wide one four to eight lanes at a time instead of two to four.
 *
 * The choice travels as an argument (m->isa): no global state, no ifunc (which musl lacks).
 */
#ifndef ALOG_ISA_H
#define ALOG_ISA_H

#include "alog.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ALOG_REFERENCE_KERNELS) && \
    !defined(ALOG_NO_ISA_DISPATCH)
#define ALOG_ISA_DISPATCH 1
/* A function compiled for AVX2 (gcc and clang): only called when the model's isa has it. */
#define ALOG_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define ALOG_ISA_DISPATCH 0
#endif

/* A loop body written once and inlined into each form (the baseline and the AVX2 one). */
#if defined(__GNUC__)
#define ALOG_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define ALOG_ALWAYS_INLINE inline
#endif

/* The ALOG_ISA_* bits this CPU and its OS support and this build can use (0 off x86-64). */
unsigned alog_isa_detect(void);

#endif /* ALOG_ISA_H */
