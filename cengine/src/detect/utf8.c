/*
 * utf8.c - UTF-8 decoding with CPython's maximal-subpart error ranges.
 */
#include "utf8.h"

size_t alog_utf8_decode(uint32_t *cp, size_t *bad, const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need, i;
    unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xC2 || c > 0xF4) {
        *bad = 1;
        return 0;
    }
    if (c < 0xE0) {
        need = 2;
        *cp = c & 0x1F;
    } else if (c < 0xF0) {
        need = 3;
        *cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else {
        need = 4;
        *cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    }
    for (i = 1; i < need; i++) {
        unsigned char first_lo = i == 1 ? lo : 0x80, first_hi = i == 1 ? hi : 0xBF;
        if (i >= n || s[i] < first_lo || s[i] > first_hi) {
            *bad = i; /* the valid prefix so far is one maximal subpart */
            return 0;
        }
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    return need;
}
