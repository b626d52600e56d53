/*
 * json.c - a bounded recursive-descent JSON tokenizer (RFC 8259) and typed accessors.
 */
#include "json.h"
#include "detect/util.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>


/* ---- tokenizer --------------------------------------------------------------------------- */

typedef struct parser {
    const char *text;
    size_t len;
    size_t pos;
    alog_json_token *tokens;
    uint32_t cap;
    uint32_t count;
} parser;

static void skip_space(parser *p)
{
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int peek(const parser *p)
{
    return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

static alog_status new_token(uint32_t *index, parser *p, alog_json_type type)
{
    if (p->count >= p->cap)
        return ALOG_ERR_LIMIT;
    *index = p->count++;
    p->tokens[*index].type = (uint32_t)type;
    p->tokens[*index].start = (uint32_t)p->pos;
    p->tokens[*index].end = (uint32_t)p->pos;
    p->tokens[*index].count = 0;
    p->tokens[*index].next = 0;
    return ALOG_OK;
}

static int is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static alog_status scan_string(parser *p)
{
    p->pos++; /* opening quote */
    while (p->pos < p->len) {
        unsigned char c = (unsigned char)p->text[p->pos++];
        if (c == '"')
            return ALOG_OK;
        if (c < 0x20)
            return ALOG_ERR_MALFORMED;
        if (c >= 0x80) {
            /* Python reads these files with a strict UTF-8 decode. */
            uint32_t cp;
            size_t bad, used = alog_utf8_decode(&cp, &bad, (const unsigned char *)p->text + p->pos - 1,
                                                p->len - p->pos + 1);
            if (used == 0)
                return ALOG_ERR_MALFORMED;
            p->pos += used - 1;
            continue;
        }
        if (c != '\\')
            continue;
        if (p->pos >= p->len)
            return ALOG_ERR_MALFORMED;
        c = (unsigned char)p->text[p->pos++];
        if (c == 'u') {
            int i;
            for (i = 0; i < 4; i++, p->pos++)
                if (p->pos >= p->len || !is_hex((unsigned char)p->text[p->pos]))
                    return ALOG_ERR_MALFORMED;
        } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
            return ALOG_ERR_MALFORMED;
        }
    }
    return ALOG_ERR_MALFORMED;
}

static void scan_digits(parser *p)
{
    while (is_digit(peek(p)))
        p->pos++;
}

static alog_status scan_number(parser *p)
{
    if (peek(p) == '-')
        p->pos++;
    if (peek(p) == '0')
        p->pos++;
    else if (is_digit(peek(p)))
        scan_digits(p);
    else
        return ALOG_ERR_MALFORMED;
    if (peek(p) == '.') {
        p->pos++;
        if (!is_digit(peek(p)))
            return ALOG_ERR_MALFORMED;
        scan_digits(p);
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        if (!is_digit(peek(p)))
            return ALOG_ERR_MALFORMED;
        scan_digits(p);
    }
    return ALOG_OK;
}

static alog_status scan_literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return ALOG_ERR_MALFORMED;
    p->pos += n;
    return ALOG_OK;
}

static alog_status parse_value(parser *p, int depth);

/* Elements of an array, or members of an object when is_object (key, ':', value). */
static alog_status parse_container(parser *p, uint32_t tok, int is_object, int depth)
{
    char close = is_object ? '}' : ']';
    p->pos++; /* opening bracket */
    skip_space(p);
    if (peek(p) == close) {
        p->pos++;
        return ALOG_OK;
    }
    for (;;) {
        skip_space(p);
        if (is_object) {
            if (peek(p) != '"')
                return ALOG_ERR_MALFORMED;
            ALOG_TRY(parse_value(p, depth + 1));
            skip_space(p);
            if (peek(p) != ':')
                return ALOG_ERR_MALFORMED;
            p->pos++;
            skip_space(p);
        }
        ALOG_TRY(parse_value(p, depth + 1));
        p->tokens[tok].count++;
        skip_space(p);
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) != close)
            return ALOG_ERR_MALFORMED;
        p->pos++;
        return ALOG_OK;
    }
}

static alog_status parse_value(parser *p, int depth)
{
    uint32_t tok;
    alog_status status;
    int c = peek(p);
    if (depth > ALOG_JSON_MAX_DEPTH)
        return ALOG_ERR_LIMIT;
    switch (c) {
    case '{':
        ALOG_TRY(new_token(&tok, p, ALOG_JSON_OBJECT));
        status = parse_container(p, tok, 1, depth);
        break;
    case '[':
        ALOG_TRY(new_token(&tok, p, ALOG_JSON_ARRAY));
        status = parse_container(p, tok, 0, depth);
        break;
    case '"':
        ALOG_TRY(new_token(&tok, p, ALOG_JSON_STRING));
        status = scan_string(p);
        break;
    case 't':
        ALOG_TRY(new_token(&tok, p, ALOG_JSON_TRUE));
        status = scan_literal(p, "true");
        break;
    case 'f':
        ALOG_TRY(new_token(&tok, p, ALOG_JSON_FALSE));
        status = scan_literal(p, "false");
        break;
    case 'n':
        ALOG_TRY(new_token(&tok, p, ALOG_JSON_NULL));
        status = scan_literal(p, "null");
        break;
    default:
        ALOG_TRY(new_token(&tok, p, ALOG_JSON_NUMBER));
        status = scan_number(p);
        break;
    }
    p->tokens[tok].end = (uint32_t)p->pos;
    p->tokens[tok].next = p->count;
    return status;
}

size_t alog_json_token_bound(size_t len)
{
    return len + 1;
}

alog_status alog_json_parse(alog_json_doc *doc, alog_json_token *tokens, uint32_t cap,
                            const char *text, size_t len)
{
    parser p;
    if (!doc || !tokens || !text || cap == 0)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (len >= UINT32_MAX)
        return ALOG_ERR_LIMIT;
    memset(doc, 0, sizeof *doc);
    p.text = text;
    p.len = len;
    p.pos = 0;
    p.tokens = tokens;
    p.cap = cap;
    p.count = 0;
    skip_space(&p);
    ALOG_TRY(parse_value(&p, 0));
    skip_space(&p);
    if (p.pos != len)
        return ALOG_ERR_MALFORMED;
    doc->text = text;
    doc->len = len;
    doc->tokens = tokens;
    doc->ntokens = p.count;
    return ALOG_OK;
}

/* ---- string decoding --------------------------------------------------------------------- */

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        int c = (unsigned char)s[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode one escape at s (just after the backslash) into out[0..4); returns the bytes written
 * and advances *consumed over the escape's characters. The text was validated by the scanner. */
static size_t decode_escape(char *out, const char *s, const char *end, size_t *consumed)
{
    uint32_t cp;
    switch (s[0]) {
    case 'b': *out = '\b'; *consumed = 1; return 1;
    case 'f': *out = '\f'; *consumed = 1; return 1;
    case 'n': *out = '\n'; *consumed = 1; return 1;
    case 'r': *out = '\r'; *consumed = 1; return 1;
    case 't': *out = '\t'; *consumed = 1; return 1;
    case 'u': break;
    default: *out = s[0]; *consumed = 1; return 1;
    }
    cp = hex4(s + 1);
    *consumed = 5;
    if (cp >= 0xD800 && cp < 0xDC00 && end - s >= 11 && s[5] == '\\' && s[6] == 'u') {
        uint32_t low = hex4(s + 7);
        if (low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            *consumed = 11;
        }
    }
    if (cp >= 0xDC80 && cp <= 0xDCFF) {
        /* A lone low surrogate stands for the raw byte a surrogateescape decode replaced
         * (alog_detect.masking.to_bytes turns it back the same way). */
        *out = (char)(cp - 0xDC00);
        return 1;
    }
    return utf8_put(out, cp);
}

/* Walk the string token, writing decoded bytes to out when out is not NULL. */
static alog_status decode_string(char *out, size_t cap, size_t *len, const alog_json_doc *doc,
                                 uint32_t tok)
{
    const alog_json_token *t;
    const char *s, *end;
    size_t n = 0;
    if (!doc || !len || tok >= doc->ntokens)
        return ALOG_ERR_INVALID_ARGUMENT;
    t = &doc->tokens[tok];
    if (t->type != ALOG_JSON_STRING)
        return ALOG_ERR_MALFORMED;
    s = doc->text + t->start + 1;
    end = doc->text + t->end - 1;
    while (s < end) {
        char buf[4];
        size_t k = 1, consumed = 1;
        if (*s == '\\')
            k = decode_escape(buf, s + 1, end, &consumed), consumed++;
        else
            buf[0] = *s;
        if (out) {
            if (cap - n < k)
                return ALOG_ERR_LIMIT;
            memcpy(out + n, buf, k);
        }
        n += k;
        s += consumed;
    }
    *len = n;
    return ALOG_OK;
}

alog_status alog_json_string(char *out, size_t cap, size_t *len, const alog_json_doc *doc,
                             uint32_t tok)
{
    if (!out)
        return ALOG_ERR_INVALID_ARGUMENT;
    return decode_string(out, cap, len, doc, tok);
}

alog_status alog_json_string_len(size_t *len, const alog_json_doc *doc, uint32_t tok)
{
    return decode_string(NULL, 0, len, doc, tok);
}

int alog_json_string_equals(const alog_json_doc *doc, uint32_t tok, const char *key,
                            size_t key_len)
{
    const alog_json_token *t;
    if (!doc || tok >= doc->ntokens)
        return 0;
    t = &doc->tokens[tok];
    if (t->type != ALOG_JSON_STRING)
        return 0;
    /* Keys we look up are plain ASCII: compare the raw text when it has no escapes. */
    if (!memchr(doc->text + t->start + 1, '\\', t->end - t->start - 2))
        return t->end - t->start - 2 == key_len &&
               memcmp(doc->text + t->start + 1, key, key_len) == 0;
    {
        char buf[256];
        size_t n;
        if (key_len > sizeof buf || decode_string(buf, sizeof buf, &n, doc, tok) != ALOG_OK)
            return 0;
        return n == key_len && memcmp(buf, key, n) == 0;
    }
}

/* ---- lookups and scalars ----------------------------------------------------------------- */

alog_status alog_json_get(uint32_t *value, const alog_json_doc *doc, uint32_t obj, const char *key)
{
    uint32_t i, k;
    size_t key_len;
    if (!value || !doc || !key || obj >= doc->ntokens)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (doc->tokens[obj].type != ALOG_JSON_OBJECT)
        return ALOG_ERR_MALFORMED;
    key_len = strlen(key);
    k = obj + 1;
    for (i = 0; i < doc->tokens[obj].count; i++) {
        uint32_t v = doc->tokens[k].next;
        if (alog_json_string_equals(doc, k, key, key_len)) {
            *value = v;
            return ALOG_OK;
        }
        k = doc->tokens[v].next;
    }
    return ALOG_ERR_MALFORMED;
}

alog_status alog_json_double(double *value, const alog_json_doc *doc, uint32_t tok)
{
    char buf[64];
    size_t n;
    char *end;
    if (!value || !doc || tok >= doc->ntokens)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (doc->tokens[tok].type != ALOG_JSON_NUMBER)
        return ALOG_ERR_MALFORMED;
    n = doc->tokens[tok].end - doc->tokens[tok].start;
    if (n >= sizeof buf)
        return ALOG_ERR_LIMIT;
    /* strtod needs a terminated string and must not see the bytes after the token. */
    memcpy(buf, doc->text + doc->tokens[tok].start, n);
    buf[n] = '\0';
    *value = strtod(buf, &end);
    return end == buf + n ? ALOG_OK : ALOG_ERR_MALFORMED;
}

alog_status alog_json_int(int64_t *value, const alog_json_doc *doc, uint32_t tok, int64_t lo,
                          int64_t hi)
{
    const char *s, *end;
    int negative;
    uint64_t v = 0;
    if (!value || !doc || tok >= doc->ntokens)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (doc->tokens[tok].type != ALOG_JSON_NUMBER)
        return ALOG_ERR_MALFORMED;
    s = doc->text + doc->tokens[tok].start;
    end = doc->text + doc->tokens[tok].end;
    negative = *s == '-';
    s += negative;
    for (; s < end; s++) {
        if (!is_digit((unsigned char)*s))
            return ALOG_ERR_MALFORMED; /* a fraction or an exponent */
        if (v > (UINT64_MAX - 9) / 10)
            return ALOG_ERR_LIMIT;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return ALOG_ERR_LIMIT;
    *value = negative ? -(int64_t)v : (int64_t)v;
    return *value >= lo && *value <= hi ? ALOG_OK : ALOG_ERR_LIMIT;
}

alog_status alog_json_bool(int *value, const alog_json_doc *doc, uint32_t tok)
{
    if (!value || !doc || tok >= doc->ntokens)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (doc->tokens[tok].type == ALOG_JSON_TRUE)
        *value = 1;
    else if (doc->tokens[tok].type == ALOG_JSON_FALSE)
        *value = 0;
    else
        return ALOG_ERR_MALFORMED;
    return ALOG_OK;
}

alog_status alog_json_get_int(int64_t *value, const alog_json_doc *doc, uint32_t obj,
                              const char *key, int64_t lo, int64_t hi)
{
    uint32_t v;
    ALOG_TRY(alog_json_get(&v, doc, obj, key));
    return alog_json_int(value, doc, v, lo, hi);
}

alog_status alog_json_get_double(double *value, const alog_json_doc *doc, uint32_t obj,
                                 const char *key)
{
    uint32_t v;
    ALOG_TRY(alog_json_get(&v, doc, obj, key));
    return alog_json_double(value, doc, v);
}
