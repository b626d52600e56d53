/*
 * isa.h - which vector extensions the fast paths use: the target's baseline, or more when the
 * CPU has it (run-time dispatch).
 *
 * A portable build targets the architecture's baseline (SSE2 on x86-64, NEON on arm64). On
 * x86-64 the hot loops (the panel products of panel.c and the exp/tanh/sigmoid arrays of
 * alog_math.c) are compiled twice more, for AVX2 and for AVX-512F, and each model picks the
 * widest form the CPU runs when it is opened (alog_model_open asks the CPU; alog_model_limit_isa
 * can hold it back). All forms do the same multiplies and adds in the same order, without fused
 * multiply-add (the target attributes add neither FMA nor contraction, and -ffp-contract=off
 * applies to all): they give the same bits, 4, 8 or 16 lanes at a time.
 *
 * The choice travels as an argument (m->isa): no global state, no ifunc (which musl lacks).
 */
#ifndef ALOG_ISA_H
#define ALOG_ISA_H

#include "alog.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ALOG_REFERENCE_KERNELS) && \
    !defined(ALOG_NO_ISA_DISPATCH)
#define ALOG_ISA_DISPATCH 1
/* Functions compiled for AVX2 or AVX-512F (gcc and clang): only called when the model's isa
 * has the bit. */
#define ALOG_TARGET_AVX2 __attribute__((target("avx2")))
#define ALOG_TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define ALOG_ISA_DISPATCH 0
#endif

/* AArch64: the explicit NEON forms (ALOG_ISA_NEON) beside the portable ones. Advanced SIMD is
 * part of every AArch64 Linux CPU and computes IEEE floats (subnormals included), so its forms
 * give the reference's bits. Not on 32-bit Arm: ARMv7's Advanced SIMD flushes subnormals to
 * zero, which would change the bits, so armv7 keeps its VFP code with or without NEON. */
#if defined(__aarch64__) && defined(__GNUC__) && !defined(ALOG_REFERENCE_KERNELS)
#define ALOG_ISA_NEON_FORMS 1
#else
#define ALOG_ISA_NEON_FORMS 0
#endif

/* A loop body written once and inlined into each form (the baseline and the wider ones). */
#if defined(__GNUC__)
#define ALOG_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define ALOG_ALWAYS_INLINE inline
#endif

/* The ALOG_ISA_* bits this CPU and its OS support and this build can use (0 where the build
 * has only the portable forms). */
unsigned alog_isa_detect(void);

#endif /* ALOG_ISA_H */
