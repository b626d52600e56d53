/* attr.c - reading a node's attributes straight from its NodeProto bytes. */
#include <string.h>

#include "engine.h"

enum { NODE_ATTRIBUTE = 5 };
enum {
    ATTR_NAME = 1,
    ATTR_F = 2,
    ATTR_I = 3,
    ATTR_S = 4,
    ATTR_T = 5,
    ATTR_FLOATS = 7,
    ATTR_INTS = 8,
    ATTR_TYPE = 20
};

/* Fills out_attr from one AttributeProto when it is called `name`. */
static alog_status match_attribute(const alog_pb_field *f, const char *name, alog_attr *out_attr,
                                   int *out_found)
{
    alog_pb r = alog_pb_sub(f);
    int named = 0;
    memset(out_attr, 0, sizeof *out_attr);
    out_attr->proto = f->data;
    out_attr->proto_len = f->len;
    while (alog_pb_more(&r)) {
        alog_pb_field g;
        ALOG_TRY(alog_pb_next(&r, &g));
        switch (g.number) {
        case ATTR_NAME:
            named = g.wire == ALOG_PB_BYTES && alog_pb_str_eq(g.data, g.len, name);
            break;
        case ATTR_TYPE:
            out_attr->type = (int)g.varint;
            break;
        case ATTR_F:
        case ATTR_I:
        case ATTR_S:
        case ATTR_T:
            out_attr->value = g;
            break;
        default:
            break;
        }
    }
    *out_found = named;
    return ALOG_OK;
}

alog_status alog_attr_find(alog_model *m, const alog_node *node, const char *name,
                           alog_attr *out_attr, int *out_found)
{
    alog_pb r = alog_pb_init(node->proto, node->proto_len);
    *out_found = 0;
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        alog_status st = alog_pb_next(&r, &f);
        if (st == ALOG_OK && f.number == NODE_ATTRIBUTE && f.wire == ALOG_PB_BYTES)
            st = match_attribute(&f, name, out_attr, out_found);
        if (st != ALOG_OK)
            return alog_node_fail(m, node, st, "attribute '%s' cannot be read", name);
        if (*out_found)
            return ALOG_OK;
    }
    return ALOG_OK;
}

static alog_status wrong_type(alog_model *m, const alog_node *node, const char *name)
{
    return alog_node_fail(m, node, ALOG_ERR_MALFORMED, "attribute '%s' has the wrong type", name);
}

alog_status alog_attr_int(alog_model *m, const alog_node *node, const char *name, int64_t dflt,
                          int64_t *out_value)
{
    alog_attr a;
    int found;
    ALOG_TRY(alog_attr_find(m, node, name, &a, &found));
    *out_value = dflt;
    if (!found)
        return ALOG_OK;
    if (a.type != ALOG_ATTR_INT || a.value.number != ATTR_I || a.value.wire != ALOG_PB_VARINT)
        return wrong_type(m, node, name);
    *out_value = (int64_t)a.value.varint;
    return ALOG_OK;
}

alog_status alog_attr_float(alog_model *m, const alog_node *node, const char *name, float dflt,
                            float *out_value)
{
    alog_attr a;
    int found;
    ALOG_TRY(alog_attr_find(m, node, name, &a, &found));
    *out_value = dflt;
    if (!found)
        return ALOG_OK;
    if (a.type != ALOG_ATTR_FLOAT || a.value.number != ATTR_F || a.value.wire != ALOG_PB_FIXED32)
        return wrong_type(m, node, name);
    *out_value = alog_pb_f32(a.value.data);
    return ALOG_OK;
}

/* Visits every `number` field of the attribute (repeated, packed or not). */
static alog_status read_repeated(alog_model *m, const alog_node *node, const char *name,
                                 uint32_t number, int64_t *ints, float *floats, size_t cap,
                                 size_t *out_count)
{
    alog_attr a;
    alog_pb r;
    int found;
    size_t count = 0;
    ALOG_TRY(alog_attr_find(m, node, name, &a, &found));
    *out_count = 0;
    if (!found)
        return ALOG_OK;
    if (a.type != (number == ATTR_INTS ? ALOG_ATTR_INTS : ALOG_ATTR_FLOATS))
        return wrong_type(m, node, name);
    r = alog_pb_init(a.proto, a.proto_len);
    while (alog_pb_more(&r)) {
        alog_pb_field f;
        alog_status st;
        ALOG_TRY(alog_pb_next(&r, &f));
        if (f.number != number)
            continue;
        st = ints ? alog_pb_repeated_varints(&f, ints, cap, &count)
                  : alog_pb_repeated_floats(&f, floats, cap, &count);
        if (st != ALOG_OK)
            return wrong_type(m, node, name);
    }
    if (count > cap)
        return alog_node_fail(m, node, ALOG_ERR_LIMIT, "attribute '%s' has %lu values (at most %lu)",
                              name, (unsigned long)count, (unsigned long)cap);
    *out_count = count;
    return ALOG_OK;
}

alog_status alog_attr_ints(alog_model *m, const alog_node *node, const char *name, int64_t *out,
                           size_t cap, size_t *out_count)
{
    return read_repeated(m, node, name, ATTR_INTS, out, NULL, cap, out_count);
}

alog_status alog_attr_floats(alog_model *m, const alog_node *node, const char *name, float *out,
                             size_t cap, size_t *out_count)
{
    return read_repeated(m, node, name, ATTR_FLOATS, NULL, out, cap, out_count);
}

alog_status alog_attr_string(alog_model *m, const alog_node *node, const char *name,
                             const uint8_t **out_str, size_t *out_len)
{
    alog_attr a;
    int found;
    ALOG_TRY(alog_attr_find(m, node, name, &a, &found));
    *out_str = NULL;
    *out_len = 0;
    if (!found)
        return ALOG_OK;
    if (a.type != ALOG_ATTR_STRING || a.value.number != ATTR_S || a.value.wire != ALOG_PB_BYTES)
        return wrong_type(m, node, name);
    *out_str = a.value.data;
    *out_len = a.value.len;
    return ALOG_OK;
}
