/*
 * signature.c - buckets and signature matrices for MSCRED (see signature.h for the rules).
 */
#include "signature.h"
#include "detect/util.h"

#include <string.h>

/* ---- sizing ------------------------------------------------------------------------------ */


static size_t matrix_floats(const alog_signature_spec *spec)
{
    return (size_t)spec->scales * spec->n * spec->n;
}

static uint32_t history_of(const alog_signature_spec *spec)
{
    uint32_t s, h = 0;
    for (s = 0; s < spec->scales; s++)
        if (spec->window_sizes[s] > h)
            h = spec->window_sizes[s];
    return h;
}

alog_status alog_signature_spec_check(const alog_signature_spec *spec)
{
    uint32_t s, t;
    if (!spec || spec->num_templates == 0 || spec->scales == 0 ||
        spec->scales > ALOG_MSCRED_MAX_SCALES || spec->step == 0 || spec->steps == 0 ||
        spec->bucket_size == 0)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (spec->num_templates > 4096 || spec->steps > 1024 || spec->step > 1u << 20)
        return ALOG_ERR_LIMIT;
    /* The divisor w * norm * norm must be exact in float: below 2^24. */
    if (spec->norm == 0 || spec->norm >= 4096 ||
        (uint64_t)history_of(spec) * spec->norm * spec->norm >= 1u << 24)
        return ALOG_ERR_INVALID_ARGUMENT;
    /* The export may widen the matrix (--feature-dim): rows past T stay zero. */
    if (spec->n < spec->num_templates || spec->n % 8 || spec->n > 4096)
        return ALOG_ERR_SHAPE;
    for (s = 0; s < spec->scales; s++) {
        if (spec->window_sizes[s] == 0 || spec->window_sizes[s] > 1u << 20)
            return ALOG_ERR_INVALID_ARGUMENT;
        for (t = 0; t < s; t++)
            if (spec->window_sizes[t] == spec->window_sizes[s])
                return ALOG_ERR_INVALID_ARGUMENT;
    }
    return ALOG_OK;
}

size_t alog_signature_stream_size(const alog_signature_spec *spec)
{
    if (alog_signature_spec_check(spec) != ALOG_OK)
        return 0;
    return alog_align8(spec->num_templates * sizeof(int64_t)) +
           alog_align8((size_t)history_of(spec) * spec->num_templates * sizeof(int64_t)) +
           alog_align8((size_t)spec->steps * matrix_floats(spec) * sizeof(float));
}

static void restart(alog_signature_stream *st)
{
    st->recent_count = 0;
    st->recent_next = 0;
    st->closed = 0;
    st->signature_count = 0;
    st->signature_next = 0;
}

alog_status alog_signature_stream_init(alog_signature_stream *st, void *mem, size_t mem_len,
                                       const alog_signature_spec *spec)
{
    size_t need = alog_signature_stream_size(spec);
    char *p = mem;
    if (!st || !mem || need == 0 || ((uintptr_t)mem & 7))
        return ALOG_ERR_INVALID_ARGUMENT;
    if (mem_len < need)
        return ALOG_ERR_ARENA_TOO_SMALL;
    memset(st, 0, sizeof *st);
    st->spec = *spec;
    st->history = history_of(spec);
    st->span = st->history + (spec->steps - 1) * spec->step;
    st->open = (int64_t *)(void *)p;
    memset(st->open, 0, spec->num_templates * sizeof(int64_t));
    p += alog_align8(spec->num_templates * sizeof(int64_t));
    st->recent = (int64_t *)(void *)p;
    p += alog_align8((size_t)st->history * spec->num_templates * sizeof(int64_t));
    st->signatures = (float *)(void *)p;
    restart(st);
    return ALOG_OK;
}

/* ---- signatures -------------------------------------------------------------------------- */

/* Row `back` buckets before the newest closed one (0 = the newest). */
static const int64_t *recent_row(const alog_signature_stream *st, uint32_t back)
{
    uint32_t slot = (st->recent_next + st->history - 1 - back) % st->history;
    return st->recent + (size_t)slot * st->spec.num_templates;
}

static void compute_signature(alog_signature_stream *st, float *out /* (scales, n, n) */)
{
    const alog_signature_spec *spec = &st->spec;
    uint32_t s, i, j, b, t = spec->num_templates, n = spec->n;
    memset(out, 0, matrix_floats(spec) * sizeof *out);
    for (s = 0; s < spec->scales; s++) {
        uint32_t w = spec->window_sizes[s];
        float divisor = (float)((uint64_t)w * spec->norm * spec->norm); /* exact: below 2^24 */
        float *m = out + (size_t)s * n * n;
        for (i = 0; i < t; i++) {
            for (j = 0; j < t; j++) {
                /* Unsigned arithmetic wraps as numpy's int64 matmul does, without UB. */
                uint64_t sum = 0;
                for (b = 0; b < w; b++) {
                    const int64_t *row = recent_row(st, b);
                    sum += (uint64_t)row[i] * (uint64_t)row[j];
                }
                /* One rounding to float, one float division: what numpy does. */
                m[(size_t)i * n + j] = (float)(int64_t)sum / divisor;
            }
        }
    }
}

static void push_bucket(alog_signature_stream *st, const int64_t *counts, uint64_t line,
                        alog_signature_ready_fn ready, void *ctx)
{
    uint32_t first = st->history - 1;
    float *slot;
    memcpy(st->recent + (size_t)st->recent_next * st->spec.num_templates, counts,
           st->spec.num_templates * sizeof *counts);
    st->recent_next = (st->recent_next + 1) % st->history;
    if (st->recent_count < st->history)
        st->recent_count++;
    st->closed++;
    if (st->closed - 1 < first || (st->closed - 1 - first) % st->spec.step)
        return;
    slot = st->signatures + (size_t)st->signature_next * matrix_floats(&st->spec);
    compute_signature(st, slot);
    st->signature_next = (st->signature_next + 1) % st->spec.steps;
    if (st->signature_count < st->spec.steps)
        st->signature_count++;
    if (st->signature_count == st->spec.steps && ready)
        ready(ctx, st, line);
}

static void close_open_bucket(alog_signature_stream *st, alog_signature_ready_fn ready, void *ctx)
{
    push_bucket(st, st->open, st->last_line, ready, ctx);
    memset(st->open, 0, st->spec.num_templates * sizeof *st->open);
}

/* The empty buckets of a gap close after the open one, or the series restarts. */
static void close_until(alog_signature_stream *st, double bucket, alog_signature_ready_fn ready,
                        void *ctx)
{
    double gap = bucket - st->bucket, i;
    close_open_bucket(st, ready, ctx);
    if (gap > (double)st->span) {
        restart(st);
    } else {
        for (i = 1; i < gap; i++)
            close_open_bucket(st, ready, ctx); /* the open bucket is all zeros now */
    }
    st->bucket = bucket;
}

/* floor() for the bucket id, without libm: values past 2^52 are already integers. */
static double floor_double(double x)
{
    double t;
    if (x >= 4503599627370496.0 || x <= -4503599627370496.0)
        return x;
    t = (double)(int64_t)x;
    return t > x ? t - 1 : t;
}

void alog_signature_add(alog_signature_stream *st, uint32_t index, uint64_t line, int has_time,
                        double seconds, alog_signature_ready_fn ready, void *ctx)
{
    if (index >= st->spec.num_templates)
        return;
    if (!st->spec.bucket_by_seconds) {
        st->open[index]++;
        st->last_line = line;
        if (++st->events == st->spec.bucket_size) {
            st->events = 0;
            close_open_bucket(st, ready, ctx);
        }
        return;
    }
    /* isfinite without libm: NaN fails the first test, infinities the second. */
    if (has_time && seconds == seconds && seconds - seconds == 0) {
        double bucket = floor_double(seconds / (double)st->spec.bucket_size);
        if (!st->has_bucket) {
            st->has_bucket = 1;
            st->bucket = bucket;
        } else if (bucket > st->bucket) {
            close_until(st, bucket, ready, ctx);
        }
    }
    if (!st->has_bucket)
        return;
    st->open[index]++;
    st->last_line = line;
}

void alog_signature_input(float *out, const alog_signature_stream *st)
{
    size_t m = matrix_floats(&st->spec), k;
    /* Once full, the ring's oldest signature sits at signature_next. */
    for (k = 0; k < st->spec.steps; k++) {
        size_t slot = (st->signature_next + k) % st->spec.steps;
        memcpy(out + k * m, st->signatures + slot * m, m * sizeof *out);
    }
}

const float *alog_signature_last(const alog_signature_stream *st)
{
    size_t slot = (st->signature_next + st->spec.steps - 1) % st->spec.steps;
    return st->signatures + slot * matrix_floats(&st->spec);
}
