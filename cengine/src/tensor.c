/* tensor.c - TensorProto -> value: weights used in place where possible, else decoded into the arena. */
#include <string.h>

#include "engine.h"

/* ONNX TensorProto field numbers */
enum {
    TENSOR_DIMS = 1,
    TENSOR_DATA_TYPE = 2,
    TENSOR_SEGMENT = 3,
    TENSOR_FLOAT_DATA = 4,
    TENSOR_INT64_DATA = 7,
    TENSOR_NAME = 8,
    TENSOR_RAW_DATA = 9,
    TENSOR_EXTERNAL_DATA = 13,
    TENSOR_DATA_LOCATION = 14
};

size_t alog_dtype_size(alog_dtype dtype)
{
    switch (dtype) {
    case ALOG_DTYPE_FLOAT32:
        return 4;
    case ALOG_DTYPE_INT8:
        return 1;
    case ALOG_DTYPE_INT64:
        return 8;
    }
    return 0;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Where the element data of a TensorProto sits, gathered in one pass. */
typedef struct tensor_fields {
    uint64_t data_type;
    int has_data_type;
    const uint8_t *raw;           /* raw_data payload */
    size_t raw_len;
    int has_raw;
    size_t float_fields;          /* float_data fields seen (packed: usually one) */
    alog_pb_field first_float;    /* the first float_data field */
    size_t n_floats;              /* elements across all float_data fields */
    size_t n_int64s;              /* elements across all int64_data fields */
    int external;
} tensor_fields;

static alog_status scan_tensor(const uint8_t *proto, size_t len, alog_value *v,
                               tensor_fields *tf)
{
    alog_pb r = alog_pb_init(proto, len);
    size_t n_dims = 0;
    memset(tf, 0, sizeof *tf);
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        ALOG_TRY(alog_pb_next(&r, &f));
        switch (f.number) {
        case TENSOR_DIMS:
            ALOG_TRY(alog_pb_repeated_varints(&f, v->dims, ALOG_MAX_RANK, &n_dims));
            break;
        case TENSOR_DATA_TYPE:
            if (f.wire != ALOG_PB_VARINT)
                return ALOG_ERR_MALFORMED;
            tf->data_type = f.varint;
            tf->has_data_type = 1;
            break;
        case TENSOR_SEGMENT:
            return ALOG_ERR_UNSUPPORTED_ATTR;
        case TENSOR_FLOAT_DATA:
            if (tf->float_fields++ == 0)
                tf->first_float = f;
            ALOG_TRY(alog_pb_repeated_floats(&f, NULL, 0, &tf->n_floats));
            break;
        case TENSOR_INT64_DATA:
            ALOG_TRY(alog_pb_repeated_varints(&f, NULL, 0, &tf->n_int64s));
            break;
        case TENSOR_NAME:
            if (f.wire != ALOG_PB_BYTES)
                return ALOG_ERR_MALFORMED;
            v->name = f.data;
            v->name_len = f.len;
            break;
        case TENSOR_RAW_DATA:
            if (f.wire != ALOG_PB_BYTES)
                return ALOG_ERR_MALFORMED;
            tf->raw = f.data;
            tf->raw_len = f.len;
            tf->has_raw = 1;
            break;
        case TENSOR_EXTERNAL_DATA:
            tf->external = 1;
            break;
        case TENSOR_DATA_LOCATION:
            if (f.wire == ALOG_PB_VARINT && f.varint == 1)
                tf->external = 1;
            break;
        default:
            break; /* doc_string, other typed arrays (for types rejected below) */
        }
    }
    if (n_dims > ALOG_MAX_RANK)
        return ALOG_ERR_LIMIT;
    v->rank = (int)n_dims;
    return ALOG_OK;
}

static alog_status element_count(const alog_value *v, size_t elem, size_t *out_count)
{
    size_t count = 1;
    int i;
    for (i = 0; i < v->rank; ++i) {
        if (v->dims[i] < 0)
            return ALOG_ERR_MALFORMED;
        if (v->dims[i] != 0 && count > (SIZE_MAX / elem) / (size_t)v->dims[i])
            return ALOG_ERR_LIMIT;
        count *= (size_t)v->dims[i];
    }
    *out_count = count;
    return ALOG_OK;
}

/* Little-endian bytes in place when aligned for `elem` on a little-endian host; else a copy. */
static alog_status use_le_bytes(alog_model *m, const uint8_t *bytes, size_t elem, alog_value *v)
{
    size_t n = v->count, i, k;
    uint8_t *copy;
    if (elem == 1 || (host_is_little_endian() && (uintptr_t)bytes % elem == 0)) {
        v->data = (void *)(uintptr_t)bytes; /* read only: constants are never written */
        return ALOG_OK;
    }
    ALOG_TRY(alog_arena_alloc(m, n * elem, (void **)&copy));
    for (i = 0; i < n; ++i) {
        if (elem == 4) {
            float x = alog_pb_f32(bytes + 4 * i);
            memcpy(copy + 4 * i, &x, 4);
        } else {
            uint64_t x = 0;
            for (k = 0; k < 8; ++k)
                x |= (uint64_t)bytes[8 * i + k] << (8 * k);
            memcpy(copy + 8 * i, &x, 8);
        }
    }
    v->data = copy;
    return ALOG_OK;
}

static alog_status decode_floats(alog_model *m, const uint8_t *proto, size_t len, alog_value *v)
{
    alog_pb r = alog_pb_init(proto, len);
    size_t n = 0;
    float *out;
    ALOG_TRY(alog_arena_alloc(m, v->count * sizeof(float), (void **)&out));
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        ALOG_TRY(alog_pb_next(&r, &f));
        if (f.number == TENSOR_FLOAT_DATA)
            ALOG_TRY(alog_pb_repeated_floats(&f, out, v->count, &n));
    }
    v->data = out;
    return ALOG_OK;
}

static alog_status decode_int64s(alog_model *m, const uint8_t *proto, size_t len, alog_value *v)
{
    alog_pb r = alog_pb_init(proto, len);
    size_t n = 0;
    int64_t *out;
    ALOG_TRY(alog_arena_alloc(m, v->count * sizeof(int64_t), (void **)&out));
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        ALOG_TRY(alog_pb_next(&r, &f));
        if (f.number == TENSOR_INT64_DATA)
            ALOG_TRY(alog_pb_repeated_varints(&f, out, v->count, &n));
    }
    v->data = out;
    return ALOG_OK;
}

alog_status alog_tensor_decode(alog_model *m, const uint8_t *proto, size_t len, alog_value *v)
{
    tensor_fields tf;
    size_t elem;
    ALOG_TRY(scan_tensor(proto, len, v, &tf));
    if (tf.external || !tf.has_data_type)
        return tf.external ? ALOG_ERR_UNSUPPORTED_ATTR : ALOG_ERR_MALFORMED;
    if (tf.data_type != ALOG_DTYPE_FLOAT32 && tf.data_type != ALOG_DTYPE_INT64 &&
        tf.data_type != ALOG_DTYPE_INT8)
        return ALOG_ERR_UNSUPPORTED_ATTR;
    v->dtype = (alog_dtype)tf.data_type;
    v->kind = ALOG_VALUE_CONSTANT;
    elem = alog_dtype_size(v->dtype);
    ALOG_TRY(element_count(v, elem, &v->count));

    if (tf.has_raw) {
        if (tf.raw_len != v->count * elem)
            return ALOG_ERR_MALFORMED;
        return use_le_bytes(m, tf.raw, elem, v);
    }
    if (v->dtype == ALOG_DTYPE_INT8) /* int32_data, one varint per byte: not what exporters write */
        return ALOG_ERR_UNSUPPORTED_ATTR;
    if (v->dtype == ALOG_DTYPE_FLOAT32) {
        if (tf.n_floats != v->count || tf.n_int64s)
            return ALOG_ERR_MALFORMED;
        if (tf.float_fields == 1 && tf.first_float.wire == ALOG_PB_BYTES)
            return use_le_bytes(m, tf.first_float.data, elem, v);
        return decode_floats(m, proto, len, v);
    }
    if (tf.n_int64s != v->count || tf.n_floats)
        return ALOG_ERR_MALFORMED;
    return decode_int64s(m, proto, len, v);
}
