/*
 * pb.h - a small, bounds-checked protobuf wire-format reader.
 *
 * It never copies and never reads outside [p, end): every length is checked against what is
 * left before it is used, so a truncated or corrupted buffer is ALOG_ERR_MALFORMED, not a crash.
 */
#ifndef ALOG_PB_H
#define ALOG_PB_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

enum {
    ALOG_PB_VARINT = 0,
    ALOG_PB_FIXED64 = 1,
    ALOG_PB_BYTES = 2,
    ALOG_PB_FIXED32 = 5
};

typedef struct alog_pb {
    const uint8_t *p;   /* next unread byte */
    const uint8_t *end; /* one past the last byte of this message */
} alog_pb;

typedef struct alog_pb_field {
    uint32_t number;
    int wire;             /* ALOG_PB_* */
    uint64_t varint;      /* ALOG_PB_VARINT: the value */
    const uint8_t *data;  /* ALOG_PB_BYTES / FIXED32 / FIXED64: the payload */
    size_t len;           /* its length in bytes */
} alog_pb_field;

alog_pb alog_pb_init(const void *data, size_t len);

/* Non-zero while fields remain. */
int alog_pb_more(const alog_pb *r);

/* Reads the next field (key and payload). */
alog_status alog_pb_next(alog_pb *r, alog_pb_field *out_field);

/* A reader over a length-delimited field's payload (an embedded message or a packed array). */
alog_pb alog_pb_sub(const alog_pb_field *f);

/* Reads one varint from a packed array. */
alog_status alog_pb_varint(alog_pb *r, uint64_t *out_value);

/* The little-endian 4-byte float at p (any alignment). */
float alog_pb_f32(const uint8_t *p);

/* Compares a length-delimited string with a NUL-terminated one. */
int alog_pb_str_eq(const uint8_t *s, size_t len, const char *z);

/*
 * Visits the elements of a repeated int64/int32 field whether it was written packed (one
 * BYTES field) or unpacked (one VARINT field per element). Call once per matching field.
 * out_values may be NULL to count only; *io_count is advanced; values past `cap` are counted
 * but not stored.
 */
alog_status alog_pb_repeated_varints(const alog_pb_field *f, int64_t *out_values, size_t cap,
                                     size_t *io_count);

/* The same for a repeated float field (packed BYTES or one FIXED32 per element). */
alog_status alog_pb_repeated_floats(const alog_pb_field *f, float *out_values, size_t cap,
                                    size_t *io_count);

#endif /* ALOG_PB_H */
