/*
 * alog_math.c - expf, tanhf and the logistic sigmoid after Cephes (S. L. Moshier): a
 * Cody-Waite range reduction and short minimax polynomials, float only, so a Cortex-M4F
 * runs them in hardware and gets the same numbers as the host.
 */
#include <string.h>

#include "alog_math.h"

/* 2^n for n in [-126, 127], built from its bits. */
static float pow2i(int n)
{
    unsigned long bits = (unsigned long)(n + 127) << 23;
    unsigned int u = (unsigned int)bits;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float infinity(void)
{
    const unsigned int bits = 0x7f800000u;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float alog_expf(float x)
{
    float fx, r, z, p;
    int n;
    if (x != x)
        return x;
    if (x > 88.72283905206835f)
        return infinity();
    if (x < -103.97208f)
        return 0.0f;
    /* x = n ln2 + r, |r| <= ln2 / 2, ln2 split in two so n * ln2_hi is exact */
    fx = x * 1.44269504088896341f;
    n = (int)(fx >= 0.0f ? fx + 0.5f : fx - 0.5f);
    r = x - (float)n * 0.693359375f;
    r = r - (float)n * -2.12194440e-4f;
    z = r * r;
    p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
          4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    if (n > 127)
        return p * pow2i(127) * pow2i(n - 127);
    if (n < -126)
        return p * pow2i(n + 64) * pow2i(-64);
    return p * pow2i(n);
}

float alog_tanhf(float x)
{
    float z = x < 0.0f ? -x : x, r;
    if (x != x)
        return x;
    if (z > 9.0f) /* tanh(9) rounds to 1 in float */
        return x < 0.0f ? -1.0f : 1.0f;
    if (z >= 0.625f) {
        r = 1.0f - 2.0f / (alog_expf(2.0f * z) + 1.0f);
        return x < 0.0f ? -r : r;
    }
    z = x * x;
    r = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
          1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
    return r;
}

float alog_sigmoidf(float x)
{
    /* exp(-x) overflows to inf for x < -88.7, giving exactly 0: the right limit */
    return 1.0f / (1.0f + alog_expf(-x));
}
