/*
 * timestamp.c - timestamps from a log format's fields: a template such as "<Date> <Time>" gives a
 * text, a strftime-style pattern reads it (docs/matching.md 6.1; alog_detect.sessions does the
 * same in Python).
 */
#include <string.h>

#include "match.h"
#include "try.h"

#define LITERAL_PART 0xFFu

static const char *const MONTHS[12] = {"january", "february", "march",     "april",
                                       "may",     "june",     "july",      "august",
                                       "september", "october", "november", "december"};
static const char *const WEEKDAYS[7] = {"monday", "tuesday", "wednesday", "thursday",
                                        "friday", "saturday", "sunday"};

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

static int is_name_start(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static int is_name_byte(unsigned char ch) { return is_name_start(ch) || is_digit(ch); }

/* ---- compiling ----------------------------------------------------------------------------- */

static alog_status refuse(const char **why, const char *text)
{
    if (why != NULL) *why = text;
    return ALOG_ERR_INVALID_ARGUMENT;
}

static int equals(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(s, word, len) == 0;
}

static alog_status compile_template(alog_timestamp_rule *rule, const unsigned char *s, size_t len,
                                    const alog_log_format *format, const char **why)
{
    size_t i = 0, k;
    int fields = 0;
    if (len > ALOG_TIMESTAMP_MAX_TEMPLATE)
        return refuse(why, "the timestamp template is longer than 128 bytes");
    while (i < len) {
        uint8_t field = LITERAL_PART;
        unsigned char byte = 0;
        if (s[i] == '\\') {
            if (i + 1 >= len) return refuse(why, "the timestamp template ends with a lone backslash");
            byte = s[i + 1];
            i += 2;
        } else if (s[i] == '<') {
            int32_t index;
            for (k = i + 1; k < len && s[k] != '>'; k++)
                ;
            if (k >= len || k == i + 1 || k - i - 1 > 32 || !is_name_start(s[i + 1]))
                return refuse(why, "a '<' of the timestamp template must start a field such as <Date>");
            for (index = 0; (size_t)index < k - i - 1; index++)
                if (!is_name_byte(s[i + 1 + (size_t)index]))
                    return refuse(why, "a '<' of the timestamp template must start a field such as "
                                       "<Date>");
            index = format ? alog_log_format_field(format, (const char *)s + i + 1, k - i - 1) : -1;
            if (index < 0)
                return refuse(why, "the timestamp template names a field the log format does not have");
            field = (uint8_t)index;
            fields++;
            i = k + 1;
        } else if (s[i] == '>') {
            return refuse(why, "a '>' of the timestamp template closes no '<'");
        } else if (s[i] == ' ' || s[i] == '\t') {
            while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
            byte = ' ';
        } else {
            byte = s[i++];
        }
        rule->part_field[rule->parts] = field;
        rule->part_byte[rule->parts] = byte;
        rule->parts++;
    }
    if (fields == 0) return refuse(why, "the timestamp template names no field");
    return ALOG_OK;
}

/* The letters a pattern may read; '%T' is H, M and S. */
static int directive_known(unsigned char d) { return d != 0 && strchr("YymdbBHMSfsaA", d) != NULL; }

static alog_status add_directive(alog_timestamp_rule *rule, unsigned char d, unsigned char byte,
                                 const char **why)
{
    /* Never full: a pattern of at most 64 bytes reads at most one %T (5 directives of 2 bytes). */
    if (rule->directives >= sizeof rule->directive)
        return refuse(why, "the timestamp format is longer than 64 bytes");
    rule->directive[rule->directives] = d;
    rule->directive_byte[rule->directives] = byte;
    rule->directives++;
    return ALOG_OK;
}

static alog_status compile_pattern(alog_timestamp_rule *rule, const unsigned char *s, size_t len,
                                   const char **why)
{
    size_t i = 0;
    unsigned seen = 0; /* bit per letter of "YymdbBHMSfsaA" */
    static const char letters[] = "YymdbBHMSfsaA";
#define BIT(ch) (1u << (unsigned)(strchr(letters, (ch)) - letters))
    if (len > ALOG_TIMESTAMP_MAX_FORMAT) return refuse(why, "the timestamp format is longer than 64 bytes");
    while (i < len) {
        if (s[i] == '%') {
            unsigned char d = i + 1 < len ? s[i + 1] : 0;
            i += 2;
            if (d == '%') {
                ALOG_TRY(add_directive(rule, 'L', '%', why));
                continue;
            }
            if (d == 'T') {
                if (seen & (BIT('H') | BIT('M') | BIT('S')))
                    return refuse(why, "the timestamp format reads a field twice");
                seen |= BIT('H') | BIT('M') | BIT('S');
                ALOG_TRY(add_directive(rule, 'H', 0, why));
                ALOG_TRY(add_directive(rule, 'L', ':', why));
                ALOG_TRY(add_directive(rule, 'M', 0, why));
                ALOG_TRY(add_directive(rule, 'L', ':', why));
                ALOG_TRY(add_directive(rule, 'S', 0, why));
                continue;
            }
            if (d == 'e') d = 'd';
            if (d == 'h') d = 'b';
            if (!directive_known(d))
                return refuse(why, "unknown directive in the timestamp format (use %Y %y %m %d %e %b %B "
                                   "%a %A %H %M %S %T %f %s %%)");
            if ((seen & BIT(d)) ||
                ((d == 'b' || d == 'B') && (seen & (BIT('b') | BIT('B') | BIT('m')))) ||
                (d == 'm' && (seen & (BIT('b') | BIT('B')))) ||
                ((d == 'a' || d == 'A') && (seen & (BIT('a') | BIT('A')))))
                return refuse(why, "the timestamp format reads a field twice");
            seen |= BIT(d);
            ALOG_TRY(add_directive(rule, d, 0, why));
        } else if (s[i] == ' ' || s[i] == '\t') {
            while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
            ALOG_TRY(add_directive(rule, ' ', 0, why));
        } else {
            ALOG_TRY(add_directive(rule, 'L', s[i], why));
            i++;
        }
    }
    if (seen == 0) return refuse(why, "the timestamp format has no directive");
    if ((seen & BIT('s')) &&
        (seen & (BIT('Y') | BIT('y') | BIT('m') | BIT('d') | BIT('b') | BIT('B') | BIT('H') |
                 BIT('M') | BIT('S') | BIT('a') | BIT('A'))))
        return refuse(why, "%s in a timestamp format cannot be mixed with date, time or weekday "
                           "directives");
#undef BIT
    return ALOG_OK;
}

alog_status alog_timestamp_rule_parse(alog_timestamp_rule *rule, const char *template_text,
                                      size_t template_len, const char *pattern, size_t pattern_len,
                                      const alog_log_format *format, const char **why)
{
    if (rule == NULL || (template_text == NULL && template_len > 0) ||
        (pattern == NULL && pattern_len > 0))
        return ALOG_ERR_INVALID_ARGUMENT;
    memset(rule, 0, sizeof *rule);
    if (why != NULL) *why = NULL;
    if (equals(template_text, template_len, "line-start") || equals(template_text, template_len, "none")) {
        rule->kind = template_text[0] == 'l' ? ALOG_TIMESTAMP_LINE_START : ALOG_TIMESTAMP_NONE;
        if (pattern_len > 0) return refuse(why, "the timestamps line-start and none take no format");
        return ALOG_OK;
    }
    if (!ALOG_WITH_LOG_FORMAT) return refuse(why, ALOG_FRONTEND_LEFT_OUT);
    rule->kind = ALOG_TIMESTAMP_FIELDS;
    ALOG_TRY(compile_template(rule, (const unsigned char *)template_text, template_len, format, why));
    if (pattern_len == 0) return refuse(why, "a field timestamp needs a timestamp format");
    return compile_pattern(rule, (const unsigned char *)pattern, pattern_len, why);
}

/* ---- reading ------------------------------------------------------------------------------- */

typedef struct civil {
    long year, month, day, hour, minute, second;
} civil;

static int days_in_month(long year, long month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return month == 2 && leap ? 29 : days[month - 1];
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int alog_civil_seconds(int64_t *out, long y, long mo, long d, long h, long mi, long s)
{
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 59)
        return 0;
    *out = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + s;
    return 1;
}

/* Whole seconds of a date and time (negative before 1970): 1 and *out when it is valid, else 0. */
static int civil_seconds(int64_t *out, const civil *c)
{
    return alog_civil_seconds(out, c->year, c->month, c->day, c->hour, c->minute, c->second);
}

/* The index (0..) of the English name at t[pos..) (abbreviated: its first 3 letters; ASCII case
 * ignored), the first in the list that fits, and *end after it; -1 when none. */
static int name_at(size_t *end, const unsigned char *t, size_t n, size_t pos,
                   const char *const *names, int count, int abbreviated)
{
    int k;
    for (k = 0; k < count; k++) {
        size_t want = abbreviated ? 3 : strlen(names[k]), j;
        if (n - pos < want) continue;
        for (j = 0; j < want && lower(t[pos + j]) == (unsigned char)names[k][j]; j++)
            ;
        if (j == want) {
            *end = pos + want;
            return k;
        }
    }
    return -1;
}

static int read_pattern(double *seconds, const alog_timestamp_rule *rule, const unsigned char *t,
                        size_t n)
{
    civil c = {2000, 1, 1, 0, 0, 0};
    int64_t epoch = 0, whole = 0;
    int has_epoch = 0;
    uint32_t frac = 0, scale = 1;
    size_t pos = 0, end, w;
    uint8_t k;
    for (k = 0; k < rule->directives; k++) {
        unsigned char d = rule->directive[k];
        size_t lo = 1, hi = 2;
        int64_t value = 0;
        if (d == 'L') {
            if (pos >= n || t[pos] != rule->directive_byte[k]) return 0;
            pos++;
            continue;
        }
        if (d == ' ') {
            end = pos;
            while (end < n && (w = alog_whitespace_len(t + end, t + n)) > 0) end += w;
            if (end == pos) return 0;
            pos = end;
            continue;
        }
        if (d == 'b' || d == 'B' || d == 'a' || d == 'A') {
            int month = d == 'b' || d == 'B';
            int got = name_at(&end, t, n, pos, month ? MONTHS : WEEKDAYS, month ? 12 : 7,
                              d == 'b' || d == 'a');
            if (got < 0) return 0;
            if (month) c.month = got + 1;
            pos = end;
            continue;
        }
        if (d == 'Y') lo = hi = 4;
        else if (d == 'y') lo = hi = 2;
        else if (d == 's') hi = 12;
        else if (d == 'f') hi = (size_t)-1;
        for (end = pos; end < n && end - pos < hi && is_digit(t[end]); end++) {
            if (d == 'f') {
                if (end - pos < 9) {
                    frac = frac * 10 + (uint32_t)(t[end] - '0');
                    scale *= 10;
                }
            } else {
                value = value * 10 + (t[end] - '0');
            }
        }
        if (end - pos < lo) return 0;
        pos = end;
        switch (d) {
        case 'Y': c.year = (long)value; break;
        case 'y': c.year = value < 69 ? 2000 + (long)value : 1900 + (long)value; break;
        case 'm': c.month = (long)value; break;
        case 'd': c.day = (long)value; break;
        case 'H': c.hour = (long)value; break;
        case 'M': c.minute = (long)value; break;
        case 'S': c.second = (long)value; break;
        case 's': epoch = value; has_epoch = 1; break;
        default: break; /* 'f': kept in frac */
        }
    }
    if (pos != n) return 0;
    if (has_epoch) whole = epoch;
    else if (!civil_seconds(&whole, &c)) return 0;
    *seconds = scale > 1 ? (double)whole + (double)frac / (double)scale : (double)whole;
    return 1;
}

int alog_line_timestamp_rule(double *seconds, const alog_timestamp_rule *rule, const void *line,
                             size_t len, size_t view_len, const alog_line_fields *fields)
{
    unsigned char text[ALOG_TIMESTAMP_MAX_TEXT];
    const unsigned char *s = (const unsigned char *)line;
    size_t used = 0;
    uint8_t k;
    if (rule == NULL || seconds == NULL) return 0;
    if (rule->kind == ALOG_TIMESTAMP_LINE_START) return alog_line_timestamp(seconds, line, len);
    if (!ALOG_WITH_LOG_FORMAT || rule->kind == ALOG_TIMESTAMP_NONE || fields == NULL || s == NULL)
        return 0;
    for (k = 0; k < rule->parts; k++) {
        uint8_t f = rule->part_field[k];
        if (f == LITERAL_PART) {
            if (used >= sizeof text) return 0;
            text[used++] = rule->part_byte[k];
            continue;
        }
        if (!fields->present[f] || fields->start[f] + (size_t)fields->length[f] > view_len ||
            fields->length[f] > sizeof text - used)
            return 0;
        memcpy(text + used, s + fields->start[f], fields->length[f]);
        used += fields->length[f];
    }
    return read_pattern(seconds, rule, text, used);
}
