/*
 * verdict.c - JSON lines for verdicts, byte-identical to the Python reference's json.dumps.
 */
#include "verdict.h"
#include "utf8.h"

#include <string.h>

/* ---- sink -------------------------------------------------------------------------------- */

void alog_sink_init(alog_sink *sink, char *buf, size_t cap,
                    int (*flush)(void *ctx, const char *data, size_t len), void *ctx)
{
    sink->buf = buf;
    sink->cap = cap;
    sink->len = 0;
    sink->flush = flush;
    sink->ctx = ctx;
    sink->failed = 0;
}

alog_status alog_sink_flush(alog_sink *sink)
{
    if (sink->len > 0 && !sink->failed && sink->flush(sink->ctx, sink->buf, sink->len) != 0)
        sink->failed = 1;
    sink->len = 0;
    return sink->failed ? ALOG_ERR_IO : ALOG_OK;
}

void alog_sink_write(alog_sink *sink, const char *data, size_t len)
{
    size_t k;
    if (len <= 16 && len < sink->cap - sink->len) {
        /* a verdict is mostly pieces of a few bytes: copied here, without a call */
        char *to = sink->buf + sink->len;
        for (k = 0; k < len; k++)
            to[k] = data[k];
        sink->len += len;
        return;
    }
    while (len > 0) {
        size_t room = sink->cap - sink->len, n = len < room ? len : room;
        memcpy(sink->buf + sink->len, data, n);
        sink->len += n;
        data += n;
        len -= n;
        if (sink->len == sink->cap)
            alog_sink_flush(sink);
    }
}

static void sink_puts(alog_sink *sink, const char *s)
{
    alog_sink_write(sink, s, strlen(s));
}

/* ---- JSON strings ------------------------------------------------------------------------ */

static void write_u16(alog_sink *sink, uint32_t unit)
{
    static const char hex[] = "0123456789abcdef";
    char buf[6];
    buf[0] = '\\';
    buf[1] = 'u';
    buf[2] = hex[(unit >> 12) & 0xF];
    buf[3] = hex[(unit >> 8) & 0xF];
    buf[4] = hex[(unit >> 4) & 0xF];
    buf[5] = hex[unit & 0xF];
    alog_sink_write(sink, buf, sizeof buf);
}

static void write_code_point(alog_sink *sink, uint32_t cp)
{
    if (cp >= 0x10000) {
        cp -= 0x10000;
        write_u16(sink, 0xD800 | (cp >> 10));
        write_u16(sink, 0xDC00 | (cp & 0x3FF));
    } else {
        write_u16(sink, cp);
    }
}

/* Text from raw bytes is decoded as alog_detect.masking.to_text does (surrogateescape): each
 * byte of an invalid sequence becomes the lone surrogate U+DC00 + byte. */
static void write_invalid(alog_sink *sink, const unsigned char *bytes, size_t bad)
{
    size_t i;
    for (i = 0; i < bad; i++)
        write_u16(sink, 0xDC00u + bytes[i]);
}

/* The two-character escapes json.dumps uses; every other byte below 0x20 and 0x7F is \u00XX. */
static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: return NULL;
    }
}

void alog_json_write_string(alog_sink *sink, const char *bytes, size_t len)
{
    const unsigned char *s = (const unsigned char *)bytes;
    size_t i = 0;
    alog_sink_write(sink, "\"", 1);
    while (i < len) {
        size_t run = i;
        uint32_t cp;
        size_t used, bad = 0;
        /* Plain printable ASCII goes out as one block. */
        while (run < len && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\')
            run++;
        alog_sink_write(sink, bytes + i, run - i);
        i = run;
        if (i == len)
            break;
        used = alog_utf8_decode(&cp, &bad, s + i, len - i);
        if (used == 0) {
            write_invalid(sink, s + i, bad);
            i += bad;
        } else if (used == 1 && short_escape(s[i])) {
            sink_puts(sink, short_escape(s[i]));
            i++;
        } else {
            write_code_point(sink, cp);
            i += used;
        }
    }
    alog_sink_write(sink, "\"", 1);
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* Decimal digits by hand: printf's machinery showed up in profiles of the verdict loop. */
static void write_int(alog_sink *sink, long long v)
{
    char buf[24];
    size_t pos = sizeof buf;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        buf[--pos] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[--pos] = '-';
    alog_sink_write(sink, buf + pos, sizeof buf - pos);
}

/* ---- verdicts ---------------------------------------------------------------------------- */

static const char *model_name(alog_model_kind kind)
{
    return kind == ALOG_MODEL_MSCRED ? "mscred" : "deeplog";
}

void alog_verdict_write(alog_sink *sink, const alog_verdict *v)
{
    uint32_t i;
    sink_puts(sink, "{\"model\":\"");
    sink_puts(sink, model_name(v->model));
    sink_puts(sink, "\",\"session\":");
    if (v->session)
        alog_json_write_string(sink, v->session, v->session_len);
    else
        sink_puts(sink, "null");
    sink_puts(sink, ",\"line\":");
    write_int(sink, (long long)v->line);
    sink_puts(sink, ",\"template\":");
    write_int(sink, v->template_index);
    sink_puts(sink, ",\"topk\":[");
    for (i = 0; i < v->topk_len; i++) {
        if (i)
            alog_sink_write(sink, ",", 1);
        write_int(sink, v->topk[i]);
    }
    alog_sink_write(sink, "]", 1);
    sink_puts(sink, ",\"score\":");
    if (v->has_score)
        write_int(sink, (long long)v->score);
    else
        sink_puts(sink, "null");
    sink_puts(sink, v->anomaly ? ",\"anomaly\":true,\"reason\":\"" : ",\"anomaly\":false,\"reason\":\"");
    sink_puts(sink, v->reason);
    sink_puts(sink, "\"}\n");
}
