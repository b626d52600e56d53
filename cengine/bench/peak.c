/*
 * peak - one core's float32 multiply-add throughput on x86-64: the ceiling for any kernel.
 *
 *   peak [SECONDS]
 *
 * Runs register-only loops of independent multiply-add chains (no memory traffic), enough
 * chains to cover the latency, in the forms the engine could use: separate multiply and add
 * (what the engine does, for the same bits on every target) with SSE (baseline x86-64), AVX2 and
 * AVX-512 vectors, and fused multiply-add (which the engine does not use) with AVX2+FMA and
 * AVX-512.
 * Then the read bandwidth from a 128 KiB buffer, read over and over with the widest loads the
 * CPU has: bigger than a core's L1 data cache and smaller than its L2 (on current x86-64), it
 * is what a matrix-vector product streaming 128 KiB of weights per call can get.
 * stdout: one JSON object {"form": G multiply-adds per second, ..., "read_128k_gb_s": G bytes
 * per second}; forms this CPU lacks are left out. A benchmark tool, not part of the engine
 * (which has no intrinsics).
 */
#define _ISOC11_SOURCE
#define _POSIX_C_SOURCE 199309L

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define CHAINS 12
#define STEPS 100000L

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Each form: STEPS rounds of CHAINS independent acc = f(acc) (acc * m + a, fused or not), the
 * chains in named variables so that they live in registers; returns the sum of the lanes so that
 * nothing is optimised away. */
#define STEP(op) a0 = op(a0); a1 = op(a1); a2 = op(a2); a3 = op(a3); a4 = op(a4); a5 = op(a5); \
                 a6 = op(a6); a7 = op(a7); a8 = op(a8); a9 = op(a9); a10 = op(a10); a11 = op(a11)
#define FORM(name, isa, vec, set1, op, store, lanes)                                            \
    __attribute__((target(isa))) static float name(float seed, long steps)                     \
    {                                                                                          \
        vec m = set1(0.999999f), a = set1(1e-7f);                                              \
        vec a0 = set1(seed), a1 = set1(seed + 1), a2 = set1(seed + 2), a3 = set1(seed + 3);    \
        vec a4 = set1(seed + 4), a5 = set1(seed + 5), a6 = set1(seed + 6), a7 = set1(seed + 7); \
        vec a8 = set1(seed + 8), a9 = set1(seed + 9), a10 = set1(seed + 10);                   \
        vec a11 = set1(seed + 11);                                                             \
        float out[lanes], total = 0.0f;                                                        \
        long s;                                                                                \
        int l;                                                                                 \
        for (s = 0; s < steps; ++s) {                                                          \
            STEP(op);                                                                          \
        }                                                                                      \
        a0 = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;                     \
        store(out, a0);                                                                        \
        for (l = 0; l < lanes; ++l)                                                            \
            total += out[l];                                                                   \
        return total;                                                                          \
    }

#define SSE_MUL_ADD(x) _mm_add_ps(_mm_mul_ps(x, m), a)
#define AVX_MUL_ADD(x) _mm256_add_ps(_mm256_mul_ps(x, m), a)
#define AVX_FMA(x) _mm256_fmadd_ps(x, m, a)
#define AVX512_MUL_ADD(x) _mm512_add_ps(_mm512_mul_ps(x, m), a)
#define AVX512_FMA(x) _mm512_fmadd_ps(x, m, a)

FORM(sse_mul_add, "sse2", __m128, _mm_set1_ps, SSE_MUL_ADD, _mm_storeu_ps, 4)
FORM(avx2_mul_add, "avx2", __m256, _mm256_set1_ps, AVX_MUL_ADD, _mm256_storeu_ps, 8)
FORM(avx2_fma, "avx2,fma", __m256, _mm256_set1_ps, AVX_FMA, _mm256_storeu_ps, 8)
FORM(avx512_mul_add, "avx512f", __m512, _mm512_set1_ps, AVX512_MUL_ADD, _mm512_storeu_ps, 16)
FORM(avx512_fma, "avx512f", __m512, _mm512_set1_ps, AVX512_FMA, _mm512_storeu_ps, 16)
/* Sums a buffer of n floats (n a multiple of 128) reps times, eight vectors per step. */
#define READ(name, isa, vec, load, add, zero, store, lanes)                                     \
    __attribute__((target(isa))) static float name(const float *buf, size_t n, long reps)      \
    {                                                                                          \
        vec a0 = zero(), a1 = zero(), a2 = zero(), a3 = zero();                                \
        vec a4 = zero(), a5 = zero(), a6 = zero(), a7 = zero();                                \
        float out[lanes], total = 0.0f;                                                        \
        long r;                                                                                \
        size_t i;                                                                              \
        int l;                                                                                 \
        for (r = 0; r < reps; ++r)                                                             \
            for (i = 0; i < n; i += 8 * (lanes)) {                                             \
                a0 = add(a0, load(buf + i));                                                   \
                a1 = add(a1, load(buf + i + (lanes)));                                         \
                a2 = add(a2, load(buf + i + 2 * (lanes)));                                     \
                a3 = add(a3, load(buf + i + 3 * (lanes)));                                     \
                a4 = add(a4, load(buf + i + 4 * (lanes)));                                     \
                a5 = add(a5, load(buf + i + 5 * (lanes)));                                     \
                a6 = add(a6, load(buf + i + 6 * (lanes)));                                     \
                a7 = add(a7, load(buf + i + 7 * (lanes)));                                     \
            }                                                                                  \
        a0 = add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7)));                \
        store(out, a0);                                                                        \
        for (l = 0; l < lanes; ++l)                                                            \
            total += out[l];                                                                   \
        return total;                                                                          \
    }

READ(read_avx2, "avx2", __m256, _mm256_load_ps, _mm256_add_ps, _mm256_setzero_ps, _mm256_storeu_ps, 8)
READ(read_avx512, "avx512f", __m512, _mm512_load_ps, _mm512_add_ps, _mm512_setzero_ps, _mm512_storeu_ps,
     16)

/* G bytes per second reading a 128 KiB buffer (the best of 5 timed rounds); 0 without AVX2. */
static double read_bandwidth(void)
{
    const size_t n = 128 * 1024 / sizeof(float);
    float *buf = aligned_alloc(64, n * sizeof(float)), sink = 0.0f;
    float (*read)(const float *, size_t, long);
    double best = 0.0, t;
    long reps = 20000;
    size_t i;
    int r;
    if (!buf || !__builtin_cpu_supports("avx2")) {
        free(buf);
        return 0.0;
    }
    read = __builtin_cpu_supports("avx512f") ? read_avx512 : read_avx2;
    for (i = 0; i < n; ++i)
        buf[i] = (float)(i % 7);
    for (r = 0; r < 6; ++r) { /* round 0 warms up */
        t = now();
        sink += read(buf, n, reps);
        t = now() - t;
        if (r > 0 && (double)n * sizeof(float) * (double)reps / t / 1e9 > best)
            best = (double)n * sizeof(float) * (double)reps / t / 1e9;
    }
    free(buf);
    return sink == 12345.0f ? 0.0 : best;
}

typedef struct form {
    const char *name;
    const char *feature;
    float (*run)(float, long);
    int lanes;
} form;

static const form forms[] = {
    {"sse_mul_add", "sse2", sse_mul_add, 4},
    {"avx2_mul_add", "avx2", avx2_mul_add, 8},
    {"avx2_fma", "fma", avx2_fma, 8},
    {"avx512_mul_add", "avx512f", avx512_mul_add, 16},
    {"avx512_fma", "avx512f", avx512_fma, 16},
};

static int has(const char *feature)
{
    __builtin_cpu_init();
    if (feature[0] == 's') return __builtin_cpu_supports("sse2");
    if (feature[0] == 'f') return __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
    if (feature[1] == 'v' && feature[3] == '2') return __builtin_cpu_supports("avx2");
    return __builtin_cpu_supports("avx512f");
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5, best, t, g;
    float sink = 0.0f;
    size_t i;
    int first = 1;
    long steps;
    printf("{");
    for (i = 0; i < sizeof forms / sizeof forms[0]; ++i) {
        if (!has(forms[i].feature))
            continue;
        best = 0.0;
        for (steps = STEPS; ; steps *= 2) { /* long enough to time, then the best of 3 */
            t = now();
            sink += forms[i].run(1.0f, steps);
            t = now() - t;
            if (t > seconds / 4) break;
        }
        for (int r = 0; r < 3; ++r) {
            t = now();
            sink += forms[i].run((float)r, steps);
            t = now() - t;
            g = (double)steps * CHAINS * forms[i].lanes / t / 1e9;
            if (g > best) best = g;
        }
        printf("%s\"%s\": %.1f", first ? "" : ", ", forms[i].name, best);
        first = 0;
    }
    g = read_bandwidth();
    if (g > 0.0)
        printf("%s\"read_128k_gb_s\": %.1f", first ? "" : ", ", g);
    printf("}\n");
    return sink == 12345.0f; /* keeps the results live */
}
#else
int main(void)
{
    puts("{}");
    return 0;
}
#endif
