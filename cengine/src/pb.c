/* pb.c - the protobuf wire-format reader (see pb.h). */
#include "pb.h"

#include <string.h>

alog_pb alog_pb_init(const void *data, size_t len)
{
    alog_pb r;
    r.p = (const uint8_t *)data;
    r.end = data ? r.p + len : r.p; /* NULL + 0 is undefined behaviour in C */
    return r;
}

int alog_pb_more(const alog_pb *r)
{
    return r->p < r->end;
}

alog_status alog_pb_varint(alog_pb *r, uint64_t *out_value)
{
    uint64_t value = 0;
    int shift;
    for (shift = 0; shift < 64; shift += 7) {
        uint8_t byte;
        if (r->p >= r->end)
            return ALOG_ERR_MALFORMED;
        byte = *r->p++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out_value = value;
            return ALOG_OK;
        }
    }
    return ALOG_ERR_MALFORMED; /* more than 10 bytes */
}

static alog_status take(alog_pb *r, size_t len, alog_pb_field *f)
{
    if ((size_t)(r->end - r->p) < len)
        return ALOG_ERR_MALFORMED;
    f->data = r->p;
    f->len = len;
    r->p += len;
    return ALOG_OK;
}

alog_status alog_pb_next(alog_pb *r, alog_pb_field *f)
{
    uint64_t key;
    alog_status st = alog_pb_varint(r, &key);
    if (st != ALOG_OK)
        return st;
    if ((key >> 3) == 0 || (key >> 3) > 0x1fffffffu)
        return ALOG_ERR_MALFORMED;
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    f->varint = 0;
    f->data = NULL;
    f->len = 0;
    switch (f->wire) {
    case ALOG_PB_VARINT:
        return alog_pb_varint(r, &f->varint);
    case ALOG_PB_FIXED64:
        return take(r, 8, f);
    case ALOG_PB_FIXED32:
        return take(r, 4, f);
    case ALOG_PB_BYTES: {
        uint64_t len;
        st = alog_pb_varint(r, &len);
        if (st != ALOG_OK)
            return st;
        if (len > (uint64_t)(r->end - r->p))
            return ALOG_ERR_MALFORMED;
        return take(r, (size_t)len, f);
    }
    default: /* groups (3, 4) are not used by ONNX; 6 and 7 do not exist */
        return ALOG_ERR_MALFORMED;
    }
}

alog_pb alog_pb_sub(const alog_pb_field *f)
{
    return alog_pb_init(f->data, f->len);
}

float alog_pb_f32(const uint8_t *p)
{
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                    (uint32_t)p[3] << 24;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

int alog_pb_str_eq(const uint8_t *s, size_t len, const char *z)
{
    return strlen(z) == len && (len == 0 || memcmp(s, z, len) == 0);
}

static void store_int(int64_t *out_values, size_t cap, size_t *io_count, uint64_t v)
{
    if (out_values && *io_count < cap)
        out_values[*io_count] = (int64_t)v;
    ++*io_count;
}

alog_status alog_pb_repeated_varints(const alog_pb_field *f, int64_t *out_values, size_t cap,
                                     size_t *io_count)
{
    if (f->wire == ALOG_PB_VARINT) {
        store_int(out_values, cap, io_count, f->varint);
        return ALOG_OK;
    }
    if (f->wire == ALOG_PB_BYTES) {
        alog_pb r = alog_pb_sub(f);
        while (alog_pb_more(&r)) {
            uint64_t v;
            alog_status st = alog_pb_varint(&r, &v);
            if (st != ALOG_OK)
                return st;
            store_int(out_values, cap, io_count, v);
        }
        return ALOG_OK;
    }
    return ALOG_ERR_MALFORMED;
}

alog_status alog_pb_repeated_floats(const alog_pb_field *f, float *out_values, size_t cap,
                                    size_t *io_count)
{
    size_t i, n;
    if (f->wire != ALOG_PB_FIXED32 && f->wire != ALOG_PB_BYTES)
        return ALOG_ERR_MALFORMED;
    if (f->len % 4)
        return ALOG_ERR_MALFORMED;
    n = f->len / 4;
    for (i = 0; i < n; ++i) {
        if (out_values && *io_count < cap)
            out_values[*io_count] = alog_pb_f32(f->data + 4 * i);
        ++*io_count;
    }
    return ALOG_OK;
}
