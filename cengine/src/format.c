/*
 * format.c - the engine's messages without stdio.
 *
 * The library needs no printf: on a microcontroller the C library's printf brings malloc and
 * an OS interface with it (newlib's does), and the engine promises neither. The formats are
 * checked against their arguments by the compiler (the printf format attribute in format.h and
 * engine.h); cengine/tests/test_format.c holds the bytes to snprintf's.
 */
#include "format.h"

typedef struct text {
    char *buf; /* (cap) */
    size_t cap;
    size_t len; /* bytes written: at most cap - 1, the terminator's place kept */
} text;

static void put(text *t, char c)
{
    if (t->len + 1 < t->cap)
        t->buf[t->len++] = c;
}

/* At most `max` bytes of s, stopping at its terminator. */
static void put_string(text *t, const char *s, size_t max)
{
    size_t i;
    for (i = 0; i < max && s[i]; i++)
        put(t, s[i]);
}

static void put_decimal(text *t, unsigned long long magnitude, int negative)
{
    char digits[20]; /* 2^64 - 1 has 20 */
    int n = 0;
    if (negative)
        put(t, '-');
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    while (n)
        put(t, digits[--n]);
}

size_t alog_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
    text t;
    if (cap == 0)
        return 0;
    t.buf = buf;
    t.cap = cap;
    t.len = 0;
    for (; *fmt; fmt++) {
        size_t precision = (size_t)-1;
        int longs = 0;
        if (*fmt != '%') {
            put(&t, *fmt);
            continue;
        }
        fmt++;
        if (fmt[0] == '.' && fmt[1] == '*') {
            int p = va_arg(ap, int);
            precision = p < 0 ? (size_t)-1 : (size_t)p; /* negative: as if none was given */
            fmt += 2;
        }
        for (; *fmt == 'l' && longs < 2; fmt++)
            longs++;
        if (*fmt == 's') {
            put_string(&t, va_arg(ap, const char *), precision);
        } else if (*fmt == 'd') {
            long long v = longs == 0 ? va_arg(ap, int)
                        : longs == 1 ? va_arg(ap, long) : va_arg(ap, long long);
            /* The magnitude in unsigned arithmetic, which also holds LLONG_MIN's. */
            put_decimal(&t, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, v < 0);
        } else if (*fmt == 'u') {
            put_decimal(&t, longs == 0 ? va_arg(ap, unsigned)
                          : longs == 1 ? va_arg(ap, unsigned long)
                                       : va_arg(ap, unsigned long long), 0);
        } else if (*fmt == '%') {
            put(&t, '%');
        } else {
            put(&t, '%');
            put(&t, '?');
            if (!*fmt)
                break;
        }
    }
    buf[t.len] = '\0';
    return t.len;
}

size_t alog_format(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t n;
    va_start(ap, fmt);
    n = alog_vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}
