/*
 * signature.h - MSCRED's input, built from the stream: counted events -> buckets -> multi-scale
 * signature matrices -> the last `steps` of them, exactly as alog_detect.mscred_data
 * (Bucketer, SignatureStream) and docs/detection.md ("MSCRED") specify.
 *
 * Counted events are lines whose template has a vocabulary index. Buckets close after every
 * `size` events (lines rule), or when an event's timestamp falls in a later bucket
 * floor(t / size) (seconds rule; the empty buckets of a gap close too, and a gap longer than one
 * model input's span restarts the series). After closed bucket b (0-based since the (re)start),
 * when b >= max(w) - 1 and (b - (max(w) - 1)) % step == 0, one signature is computed: for each
 * scale w, M[i][j] = float(sum of x_i * x_j over the last w buckets) / float(w * norm * norm), the
 * sum in exact integers, the divisor below 2^24 so exact in float (norm scales the cells to [0, 1]:
 * the bucket size under the lines rule, measured on the training data under the seconds rule).
 * Memory comes from the caller.
 */
#ifndef ALOG_DETECT_SIGNATURE_H
#define ALOG_DETECT_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

/* alog_signature_spec (and ALOG_MSCRED_MAX_SCALES) are public: alog.h. */

typedef struct alog_signature_stream {
    alog_signature_spec spec;
    uint32_t history;      /* max(window_sizes) */
    uint32_t span;         /* history + (steps - 1) * step: buckets one model input covers */
    /* the open bucket */
    int64_t *open;         /* (T) counts */
    uint32_t events;       /* lines rule: events in the open bucket */
    int has_bucket;        /* seconds rule: an event with a timestamp has been seen */
    double bucket;         /* seconds rule: the open bucket's id (an integer-valued double) */
    uint64_t last_line;    /* the last counted event's line */
    /* closed buckets and signatures since the (re)start */
    int64_t *recent;       /* (history, T) ring of the last closed buckets */
    uint32_t recent_count;
    uint32_t recent_next;
    int64_t closed;        /* buckets closed since the (re)start */
    float *signatures;     /* (steps, scales, n, n) ring */
    uint32_t signature_count;
    uint32_t signature_next;
} alog_signature_stream;

/* A model input became ready: `line` is the last counted event of the bucket that completed it. */
typedef void (*alog_signature_ready_fn)(void *ctx, const alog_signature_stream *stream,
                                        uint64_t line);

alog_status alog_signature_spec_check(const alog_signature_spec *spec);
size_t alog_signature_stream_size(const alog_signature_spec *spec);
alog_status alog_signature_stream_init(alog_signature_stream *stream, void *mem, size_t mem_len,
                                       const alog_signature_spec *spec);

/* Count one event (index in 0..T-1; has_time/seconds from the line's timestamp); `ready` is called
 * for every model input the buckets this event closed complete, oldest first. */
void alog_signature_add(alog_signature_stream *stream, uint32_t index, uint64_t line,
                        int has_time, double seconds, alog_signature_ready_fn ready, void *ctx);

/* The model input: the last `steps` signatures, oldest first, float (steps, scales, n, n). */
void alog_signature_input(float *out, const alog_signature_stream *stream);

/* The newest signature, float (scales, n, n) (what the model reconstructs). */
const float *alog_signature_last(const alog_signature_stream *stream);

#endif /* ALOG_DETECT_SIGNATURE_H */
