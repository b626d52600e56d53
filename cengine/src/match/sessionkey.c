/*
 * sessionkey.c - the session key rule and the timestamp rule (docs/matching.md, sections 5, 6).
 */
#include <string.h>

#include "match.h"

/* ---- session keys ------------------------------------------------------------------------ */

/* Key bytes: printable ASCII (0x21..0x7E) except the delimiters " ' ( ) , . / : ; < = > [ \ ] { | },
 * so a key needs no escaping anywhere. As a bit set over the 128 ASCII bytes (bit c of word
 * c / 64): one test per byte of a key (tests/test_match_parity.py holds it to the reference). */
static int is_key_byte(unsigned char c)
{
    static const uint64_t key_bytes[2] = {0x83ff2c7a00000000u, 0x47ffffffc7ffffffu};
    return c < 128 && (key_bytes[c >> 6] >> (c & 63) & 1u);
}

static int is_name_start(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

/* "field:<Name>" or "field:<<Name>>": the name, checked as a log format field name. */
static alog_status parse_field_rule(alog_session_rule *rule, const char *text, size_t len)
{
    size_t i;
    if (len >= 2 && text[0] == '<' && text[len - 1] == '>') {
        text++;
        len -= 2;
    }
    if (len == 0 || len > ALOG_FORMAT_MAX_NAME || !is_name_start((unsigned char)text[0]))
        return ALOG_ERR_INVALID_ARGUMENT;
    for (i = 1; i < len; i++)
        if (!is_name_start((unsigned char)text[i]) && !(text[i] >= '0' && text[i] <= '9'))
            return ALOG_ERR_INVALID_ARGUMENT;
    rule->field = text;
    rule->field_len = len;
    return ALOG_OK;
}

alog_status alog_session_rule_parse(alog_session_rule *rule, const char *text, size_t len)
{
    static const char none[] = "none", prefix[] = "prefix:", field[] = "field:";
    size_t i, plen = sizeof prefix - 1;
    if (rule == NULL || (text == NULL && len > 0)) return ALOG_ERR_INVALID_ARGUMENT;
    rule->prefix = NULL;
    rule->prefix_len = 0;
    rule->field = NULL;
    rule->field_len = 0;
    rule->field_index = -1;
    if (len == sizeof none - 1 && memcmp(text, none, len) == 0) return ALOG_OK;
    if (len >= sizeof field - 1 && memcmp(text, field, sizeof field - 1) == 0)
        return parse_field_rule(rule, text + sizeof field - 1, len - (sizeof field - 1));
    if (len <= plen || memcmp(text, prefix, plen) != 0) return ALOG_ERR_INVALID_ARGUMENT;
    for (i = plen; i < len; i++)
        if (!is_key_byte((unsigned char)text[i])) return ALOG_ERR_INVALID_ARGUMENT;
    rule->prefix = text + plen;
    rule->prefix_len = len - plen;
    return ALOG_OK;
}

void alog_line_session(const char **key, size_t *key_len, const alog_session_rule *rule,
                       const void *line, size_t len)
{
    alog_line_session_fields(key, key_len, rule, line, len, NULL);
}

void alog_line_session_fields(const char **key, size_t *key_len, const alog_session_rule *rule,
                              const void *line, size_t len, const alog_line_fields *fields)
{
    const unsigned char *s = (const unsigned char *)line;
    size_t i = 0, end, p = rule->prefix_len;
    if (rule->field != NULL) {
        int32_t f = rule->field_index;
        if (fields != NULL && f >= 0 && f < ALOG_FORMAT_MAX_FIELDS && fields->present[f] &&
            fields->length[f] > 0 && (size_t)fields->start[f] + fields->length[f] <= len) {
            *key = (const char *)s + fields->start[f];
            *key_len = fields->length[f];
        } else {
            *key = ALOG_SESSION_NO_KEY;
            *key_len = sizeof ALOG_SESSION_NO_KEY - 1;
        }
        return;
    }
    if (len > ALOG_LINE_HEAD)
        len = ALOG_LINE_HEAD; /* the key rule reads only a line's head (docs/matching.md, 0) */
    if (rule->prefix == NULL) {
        *key = ALOG_SESSION_ALL;
        *key_len = sizeof ALOG_SESSION_ALL - 1;
        return;
    }
    /* The key is the first maximal run of key bytes that starts with the prefix and is longer
     * than it. Such a run starts where the prefix occurs after a byte that is not a key byte (or
     * at the line's start): memchr finds the candidates for its first byte, in order, and the run
     * is measured from there (a prefix with other bytes, which only a rule not made by
     * alog_session_rule_parse can have, never fits in a run: no line has a key). */
    while (i + p < len) {
        const unsigned char *hit = memchr(s + i, (unsigned char)rule->prefix[0], len - p - i);
        if (hit == NULL)
            break;
        i = (size_t)(hit - s);
        if ((i == 0 || !is_key_byte(s[i - 1])) && memcmp(s + i, rule->prefix, p) == 0) {
            end = i;
            while (end < len && is_key_byte(s[end])) end++;
            if (end - i > p) {
                *key = (const char *)s + i;
                *key_len = end - i;
                return;
            }
        }
        i++;
    }
    *key = ALOG_SESSION_NO_KEY;
    *key_len = sizeof ALOG_SESSION_NO_KEY - 1;
}

/* ---- timestamps -------------------------------------------------------------------------- */

typedef struct cursor {
    const unsigned char *s;
    size_t len;
} cursor;

static int digit_at(cursor c, size_t i) { return i < c.len && c.s[i] >= '0' && c.s[i] <= '9'; }

/* Exactly `count` digits at i, as a number; -1 when they are not there. */
static long digits(cursor c, size_t i, size_t count)
{
    long v = 0;
    size_t k;
    for (k = 0; k < count; k++) {
        if (!digit_at(c, i + k)) return -1;
        v = v * 10 + (c.s[i + k] - '0');
    }
    return v;
}

static int byte_at(cursor c, size_t i, unsigned char b) { return i < c.len && c.s[i] == b; }

/* alog_civil_seconds as a double; a field that was not there (-1) is not valid. */
static int civil_seconds(double *out, long y, long mo, long d, long h, long mi, long s)
{
    int64_t whole;
    if (!alog_civil_seconds(&whole, y, mo, d, h, mi, s)) return 0;
    *out = (double)whole;
    return 1;
}

/* YYYY-MM-DD[ T]HH:MM:SS[(.|,)digits] */
static int iso(double *out, cursor c)
{
    double whole;
    long frac = 0, scale = 1;
    size_t i = 20, k;
    if (!byte_at(c, 4, '-') || !byte_at(c, 7, '-') || !(byte_at(c, 10, ' ') || byte_at(c, 10, 'T')) ||
        !byte_at(c, 13, ':') || !byte_at(c, 16, ':'))
        return 0;
    if (!civil_seconds(&whole, digits(c, 0, 4), digits(c, 5, 2), digits(c, 8, 2), digits(c, 11, 2),
                       digits(c, 14, 2), digits(c, 17, 2)))
        return 0;
    if ((byte_at(c, 19, '.') || byte_at(c, 19, ',')) && digit_at(c, 20)) {
        for (k = 0; digit_at(c, i); i++, k++) {
            if (k < 9) {
                frac = frac * 10 + (c.s[i] - '0');
                scale *= 10;
            }
        }
        *out = whole + (double)frac / (double)scale;
        return 1;
    }
    if (digit_at(c, 19)) return 0;
    *out = whole;
    return 1;
}

/* yymmdd HHMMSS */
static int hdfs(double *out, cursor c)
{
    long date = digits(c, 0, 6), time = digits(c, 7, 6);
    double whole;
    if (date < 0 || time < 0 || !byte_at(c, 6, ' ') || digit_at(c, 13)) return 0;
    if (!civil_seconds(&whole, 2000 + date / 10000, date / 100 % 100, date % 100, time / 10000,
                       time / 100 % 100, time % 100))
        return 0;
    *out = whole;
    return 1;
}

/* Mmm dd HH:MM:SS (day as two digits or a space and one digit), in ALOG_SYSLOG_YEAR */
static int syslog_time(double *out, cursor c)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    long month = 0, day, m;
    double whole;
    for (m = 0; m < 12 && month == 0; m++)
        if (c.len >= 3 && memcmp(c.s, months + 3 * m, 3) == 0) month = m + 1;
    if (month == 0 || !byte_at(c, 3, ' ')) return 0;
    day = digits(c, 4, 2);
    if (day < 0 && byte_at(c, 4, ' ')) day = digits(c, 5, 1);
    if (day < 0 || !byte_at(c, 6, ' ') || !byte_at(c, 9, ':') || !byte_at(c, 12, ':') ||
        digit_at(c, 15))
        return 0;
    if (!civil_seconds(&whole, ALOG_SYSLOG_YEAR, month, day, digits(c, 7, 2), digits(c, 10, 2),
                       digits(c, 13, 2)))
        return 0;
    *out = whole;
    return 1;
}

int alog_line_timestamp(double *seconds, const void *line, size_t len)
{
    cursor c;
    c.s = (const unsigned char *)line;
    c.len = line == NULL ? 0 : (len > ALOG_LINE_HEAD ? ALOG_LINE_HEAD : len); /* the head only */
    return iso(seconds, c) || hdfs(seconds, c) || syslog_time(seconds, c);
}
