/*
 * math_check - the engine's elementary functions over a sweep of float bit patterns.
 *
 *   math_check exp|tanh|sigmoid STRIDE OUT.bin
 *
 * Inputs: every STRIDE-th bit pattern from 0 to 2^32 - 1, then the special values. For each, the
 * scalar function and the array function (alog_*_array, vectorized) must give the same bits, in
 * the baseline form, the AVX2 form and the widest form this CPU runs (isa.h).
 * OUT.bin receives (input, scalar result) float pairs for an accuracy check by the caller.
 * stdout: {"checked": N, "mismatches": M, "isa": I} (I: the ALOG_ISA_* bits also checked). Exit status: 0 when M is 0, 1 otherwise, 2 on usage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "math/alog_math.h"

#define CHUNK 1000 /* not a multiple of the array functions' block: the tail path runs too */

typedef struct function {
    const char *name;
    float (*scalar)(float);
    void (*array)(float *, size_t, unsigned);
} function;

static const function functions[] = {
    {"exp", alog_expf, alog_expf_array},
    {"tanh", alog_tanhf, alog_tanhf_array},
    {"sigmoid", alog_sigmoidf, alog_sigmoidf_array},
};

static const uint32_t specials[] = {
    0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u, 0x7f800001u,
    0x00000001u, 0x80000001u, 0x007fffffu, 0x00800000u, 0x7f7fffffu, 0xff7fffffu, 0x3f800000u,
    0xbf800000u, 0x3f200000u, 0xbf200000u, 0x41100000u, 0xc1100000u, 0x42b17218u, 0x42b17217u,
    0xc2cff1b5u, 0xc2cff1b4u, 0xc2aeac50u, 0x42b00000u, 0xc2b00000u,
};

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Checks n inputs; appends (input, scalar) pairs to out. Returns the number of mismatches. */
static unsigned long check(const function *fn, float *x, size_t n, unsigned isa, FILE *out)
{
    float y[CHUNK], wide[CHUNK], avx2[CHUNK];
    unsigned long bad = 0;
    size_t i;
    memcpy(y, x, n * sizeof(float));
    memcpy(wide, x, n * sizeof(float));
    fn->array(y, n, 0);
    fn->array(wide, n, isa);
    memcpy(avx2, x, n * sizeof(float));
    fn->array(avx2, n, isa & ALOG_ISA_AVX2);
    for (i = 0; i < n; ++i) {
        float s = fn->scalar(x[i]);
        if (memcmp(&s, &y[i], sizeof s) != 0 || memcmp(&s, &wide[i], sizeof s) != 0 ||
            memcmp(&s, &avx2[i], sizeof s) != 0)
            bad++;
        fwrite(&x[i], sizeof(float), 1, out);
        fwrite(&s, sizeof(float), 1, out);
    }
    return bad;
}

int main(int argc, char **argv)
{
    const function *fn = NULL;
    float x[CHUNK];
    unsigned long long u, stride, checked = 0;
    unsigned long bad = 0;
    unsigned isa = alog_isa_detect();
    size_t i, n = 0;
    FILE *out;
    for (i = 0; argc == 4 && i < sizeof functions / sizeof functions[0]; ++i)
        if (strcmp(argv[1], functions[i].name) == 0)
            fn = &functions[i];
    stride = argc == 4 ? strtoull(argv[2], NULL, 10) : 0;
    if (!fn || stride == 0) {
        fputs("usage: math_check exp|tanh|sigmoid STRIDE OUT.bin\n", stderr);
        return 2;
    }
    out = fopen(argv[3], "wb");
    if (!out) {
        fprintf(stderr, "math_check: cannot write %s\n", argv[3]);
        return 2;
    }
    for (u = 0; u < (1ull << 32); u += stride) {
        x[n++] = from_bits((uint32_t)u);
        if (n == CHUNK) {
            bad += check(fn, x, n, isa, out);
            checked += n;
            n = 0;
        }
    }
    bad += check(fn, x, n, isa, out);
    checked += n;
    for (n = 0; n < sizeof specials / sizeof specials[0]; ++n)
        x[n] = from_bits(specials[n]);
    bad += check(fn, x, n, isa, out);
    checked += n;
    fclose(out);
    printf("{\"checked\": %llu, \"mismatches\": %lu, \"isa\": %u}\n", checked, bad, isa);
    return bad != 0;
}
