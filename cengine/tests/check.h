/*
 * check.h - what the C tests share: CHECK and TRY, a seeded xorshift, and verdicts captured as
 * JSON lines to compare with the expected text. Included by a test's .c file, which sits beside
 * it (a quoted include needs no include path in any of the builds that compile the tests).
 */
#ifndef ALOG_TESTS_CHECK_H
#define ALOG_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

#include "alog.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                \
        }                                                                            \
    } while (0)

#define TRY(expr)            \
    do {                     \
        if ((expr) != 0)     \
            return 1;        \
    } while (0)

/* A number below n from the xorshift state (seeded by the caller). */
static inline unsigned xorshift_below(unsigned long long *state, unsigned n)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (unsigned)(*state % n);
}

/* The verdicts, as JSON lines through a 7-byte sink (so session names span flushes). */
typedef struct output {
    alog_sink sink;
    char buf[7];
    char text[1 << 16];
    size_t len;
} output;

static inline int output_keep(void *ctx, const char *data, size_t len)
{
    output *o = (output *)ctx;
    if (len > sizeof o->text - 1 - o->len)
        return 1;
    memcpy(o->text + o->len, data, len);
    o->len += len;
    o->text[o->len] = '\0';
    return 0;
}

static inline void output_init(output *o)
{
    o->len = 0;
    o->text[0] = '\0';
    alog_sink_init(&o->sink, o->buf, sizeof o->buf, output_keep, o);
}

/* An alog_verdict_fn: the verdict's JSON line into the output `ctx`. */
static inline void on_verdict(void *ctx, const alog_verdict *verdict)
{
    alog_verdict_write(&((output *)ctx)->sink, verdict);
}

/* The verdicts written since the last call equal `expected`. */
static inline int expect(output *o, const char *expected)
{
    CHECK(alog_sink_flush(&o->sink) == ALOG_OK);
    if (strcmp(o->text, expected) != 0) {
        fprintf(stderr, "verdicts:\n%s\nexpected:\n%s\n", o->text, expected);
        return 1;
    }
    output_init(o);
    return 0;
}

#endif
