/*
 * mask.c - tokens and masks of docs/matching.md, sections 2 and 1: a byte scanner, no regexes.
 *
 * Every read is guarded by the token's length; runs are scanned once per position where a mask
 * may start, and a run of path bytes that failed to be a path is not scanned again from its later
 * slashes, so a token costs time linear in its length.
 */
#include <string.h>

#include "match.h"

/* ---- byte classes ------------------------------------------------------------------------ */

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int is_hex_letter(unsigned char c) { return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static int is_hex(unsigned char c) { return is_digit(c) || is_hex_letter(c); }

/* Word bytes: ASCII letters and digits and every byte >= 0x80 (so a mask never starts or ends
 * inside a run of non-ASCII text). */
static int is_word(unsigned char c) { return is_digit(c) || is_alpha(c) || c >= 0x80; }

static int is_path_byte(unsigned char c)
{
    return is_word(c) || c == '_' || c == '.' || c == '~' || c == '+' || c == '%' || c == '/' ||
           c == '-';
}

/* A mask may end before tok[i]: the token ends there or tok[i] is not a word byte. */
static int ends_at(const unsigned char *tok, size_t len, size_t i)
{
    return i >= len || !is_word(tok[i]);
}

static size_t digit_run(const unsigned char *tok, size_t len, size_t i)
{
    size_t j = i;
    while (j < len && is_digit(tok[j])) j++;
    return j - i;
}

static size_t hex_run(const unsigned char *tok, size_t len, size_t i)
{
    size_t j = i;
    while (j < len && is_hex(tok[j])) j++;
    return j - i;
}

/* ---- whitespace and tokens --------------------------------------------------------------- */

size_t alog_whitespace_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned char c = p[0];
    if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
    if (c == 0xc2 && avail >= 2 && (p[1] == 0x85 || p[1] == 0xa0)) return 2;
    if (avail < 3) return 0;
    if (c == 0xe1 && p[1] == 0x9a && p[2] == 0x80) return 3;
    if (c == 0xe2 && p[1] == 0x80 &&
        ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
        return 3;
    if (c == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) return 3;
    if (c == 0xe3 && p[1] == 0x80 && p[2] == 0x80) return 3;
    return 0;
}

/* Byte classes for the tokenizer: 1 ASCII whitespace (one byte), 2 the lead byte of a possible
 * multi-byte whitespace sequence (U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000: lead bytes 0xC2, 0xE1, 0xE2, 0xE3), 0 a byte that never starts whitespace. */
static const unsigned char WS_CLASS[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, /* 0x09..0x0D */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, /* 0x1C..0x1F */
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* ' ' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xC2 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xE1..0xE3 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The whitespace length at p (as alog_whitespace_len), from the class table first. */
static size_t ws_at(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = WS_CLASS[p[0]];
    return c < 2 ? c : alog_whitespace_len(p, end);
}

/* Whether none of the 8 bytes at p can start whitespace: all of them printable ASCII other than
 * the space (0x21..0x7E; 0x7F too, which is no whitespace either). A byte below 0x21 sets the top
 * bit of its lane in w - 0x21... (the lanes below it borrow nothing, as they are >= 0x21), a
 * byte from 0x80 up sets it in w: either way the test fails and the caller goes byte by byte. */
static int printable8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return (((w - 0x21 * ones) | w) & high) == 0;
}

int alog_next_token(const unsigned char **tok, size_t *tok_len, const unsigned char *s, size_t len,
                    size_t *pos)
{
    const unsigned char *end = s + len;
    size_t i = *pos, start, ws = 0;
    while (i < len && (ws = ws_at(s + i, end)) > 0) i += ws;
    if (i >= len) {
        *pos = len;
        return 0;
    }
    start = i;
    for (;;) {
        while (len - i >= 8 && printable8(s + i)) i += 8; /* the bulk of a token, 8 bytes a step */
        while (i < len && WS_CLASS[s[i]] == 0) i++;        /* then a byte at a time */
        if (i >= len || ws_at(s + i, end) > 0) break;
        i++; /* a lead byte not followed by a whitespace sequence */
    }
    *tok = s + start;
    *tok_len = i - start;
    *pos = i;
    return 1;
}

void alog_line_content(const unsigned char **content, size_t *content_len, const void *line,
                       size_t len, uint32_t header_tokens)
{
    const unsigned char *s = (const unsigned char *)line, *tok;
    size_t pos = 0, tok_len;
    uint32_t n;
    /* A token ends where a whitespace sequence starts, so the rest of the line after the last
     * header token splits into exactly the line's remaining tokens. */
    for (n = 0; n < header_tokens && alog_next_token(&tok, &tok_len, s, len, &pos); n++) {}
    *content = s + pos;
    *content_len = len - pos;
}

/* ---- mask rules: each returns the bytes it covers from tok[i], 0 when it does not apply ---- */

/* The runs that start at tok[i], found in one scan for all the rules: digits, then hex digits
 * (a run of digits is the start of a run of hex digits). */
typedef struct mask_runs {
    size_t digits, hex;
} mask_runs;

static mask_runs runs_at(const unsigned char *tok, size_t len, size_t i)
{
    mask_runs r;
    size_t j = i;
    while (j < len && is_digit(tok[j])) j++;
    r.digits = j - i;
    while (j < len && is_hex(tok[j])) j++;
    r.hex = j - i;
    return r;
}

static size_t mask_uuid(const unsigned char *tok, size_t len, size_t i, const mask_runs *r)
{
    static const size_t groups[5] = {8, 4, 4, 4, 12};
    size_t g, j = i;
    for (g = 0; g < 5; g++) {
        if ((g == 0 ? r->hex : hex_run(tok, len, j)) != groups[g]) return 0;
        j += groups[g];
        if (g < 4) {
            if (j >= len || tok[j] != '-') return 0;
            j++;
        }
    }
    return ends_at(tok, len, j) ? j - i : 0;
}

static size_t mask_ip(const unsigned char *tok, size_t len, size_t i, const mask_runs *r)
{
    size_t part, run, j = i;
    for (part = 0; part < 4; part++) {
        if (part > 0) {
            if (j >= len || tok[j] != '.') return 0;
            j++;
        }
        run = part == 0 ? r->digits : digit_run(tok, len, j);
        if (run < 1 || run > 3) return 0;
        j += run;
    }
    if (j < len && tok[j] == ':') {
        run = digit_run(tok, len, j + 1);
        if (run > 0 && ends_at(tok, len, j + 1 + run)) return j + 1 + run - i;
    }
    return ends_at(tok, len, j) ? j - i : 0;
}

static size_t mask_hex(const unsigned char *tok, size_t len, size_t i, const mask_runs *r)
{
    size_t run, k;
    int digit, letter;
    if (tok[i] == '0' && i + 1 < len && (tok[i + 1] == 'x' || tok[i + 1] == 'X')) {
        run = hex_run(tok, len, i + 2);
        if (run > 0 && ends_at(tok, len, i + 2 + run)) return 2 + run;
    }
    run = r->hex;
    if (run < 8 || !ends_at(tok, len, i + run)) return 0;
    /* a digit and a letter somewhere in the run: the run's leading digits are followed by a
     * letter when the hex run is longer */
    letter = run > r->digits;
    digit = r->digits > 0;
    for (k = i; !digit && k < i + run; k++) digit = is_digit(tok[k]);
    return digit && letter ? run : 0;
}

static size_t mask_num(const unsigned char *tok, size_t len, size_t i, const mask_runs *r)
{
    size_t j = i, run, frac;
    if (tok[j] == '-' || tok[j] == '+') {
        j++;
        run = digit_run(tok, len, j);
    } else {
        run = r->digits;
    }
    if (run == 0) return 0;
    j += run;
    if (j < len && tok[j] == '.') {
        frac = digit_run(tok, len, j + 1);
        if (frac > 0 && ends_at(tok, len, j + 1 + frac)) return j + 1 + frac - i;
    }
    return ends_at(tok, len, j) ? j - i : 0;
}

/* A path: '/', then the run of path bytes without its trailing dots, which must hold another
 * '/' and a byte other than '/' and '.'. On failure, *run_end gets the end of the run. */
static size_t mask_path(const unsigned char *tok, size_t len, size_t i, size_t *run_end)
{
    size_t j = i + 1, body_end = i + 1;
    int slash = 0, part = 0;
    if (tok[i] != '/') return 0;
    for (; j < len && is_path_byte(tok[j]); j++) {
        if (tok[j] == '.') continue;
        body_end = j + 1;
        if (tok[j] == '/') slash = 1;
        else part = 1;
    }
    if (slash && part) return body_end - i;
    *run_end = j;
    return 0;
}

unsigned alog_mask_rule_bit(const char *name, size_t len)
{
    /* In bit order, which is the order the rules are tried in. */
    static const char *const names[] = {"uuid", "ip", "hex", "num", "path"};
    unsigned i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name != NULL && strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return 1u << i;
    return 0;
}

/* ---- the scanner ----------------------------------------------------------------------- */

/* Can a mask start at tok[i]? Every rule needs a byte before it that is not a word byte, and
 * starts with a hex digit (uuid, ip, hex, num), a sign (num) or '/' (path): a cheap test before
 * the rules themselves. */
static inline int mask_may_start(const unsigned char *tok, size_t i)
{
    unsigned char c = tok[i];
    return (i == 0 || !is_word(tok[i - 1])) && (is_hex(c) || c == '-' || c == '+' || c == '/');
}

const char *alog_mask_at(size_t *used, alog_mask_state *state, const unsigned char *tok,
                         size_t len, size_t i, unsigned rules)
{
    size_t n;
    mask_runs r;
    *used = 0;
    if (!mask_may_start(tok, i)) return NULL;
    r = runs_at(tok, len, i);
    if ((rules & ALOG_MASK_UUID) && (n = mask_uuid(tok, len, i, &r)) > 0) {
        *used = n;
        return "<HEX>";
    }
    if ((rules & ALOG_MASK_IP) && (n = mask_ip(tok, len, i, &r)) > 0) {
        *used = n;
        return "<IP>";
    }
    if ((rules & ALOG_MASK_HEX) && (n = mask_hex(tok, len, i, &r)) > 0) {
        *used = n;
        return "<HEX>";
    }
    if ((rules & ALOG_MASK_NUM) && (n = mask_num(tok, len, i, &r)) > 0) {
        *used = n;
        return "<NUM>";
    }
    if ((rules & ALOG_MASK_PATH) && i >= state->no_path_until &&
        (n = mask_path(tok, len, i, &state->no_path_until)) > 0) {
        *used = n;
        return "<PATH>";
    }
    return NULL;
}

/* alog_mask_at for the scans below: its first test (most bytes fail it) made here, without a
 * call. */
static const char *mask_here(size_t *used, alog_mask_state *state, const unsigned char *tok,
                             size_t len, size_t i, unsigned rules)
{
    *used = 0;
    return mask_may_start(tok, i) ? alog_mask_at(used, state, tok, len, i, rules) : NULL;
}

int alog_masked_token_equals(const unsigned char *lt, size_t lt_len, const unsigned char *tt,
                             size_t tt_len, unsigned rules)
{
    alog_mask_state state = {0};
    size_t i = 0, j = 0, used, k;
    const char *mask;
    while (i < lt_len) {
        mask = mask_here(&used, &state, lt, lt_len, i, rules);
        if (mask != NULL) {
            for (k = 0; mask[k] != '\0'; k++, j++)
                if (j >= tt_len || tt[j] != (unsigned char)mask[k]) return 0;
            i += used;
        } else {
            if (j >= tt_len || tt[j] != lt[i]) return 0;
            j++;
            i++;
        }
    }
    return j == tt_len;
}

void alog_mask_token(unsigned char *out, size_t cap, size_t *out_len, const unsigned char *tok,
                     size_t len, unsigned rules)
{
    alog_mask_state state = {0};
    size_t i = 0, n = 0, used, k, mlen;
    const char *mask;
    while (i < len) {
        mask = mask_here(&used, &state, tok, len, i, rules);
        if (mask != NULL) {
            mlen = strlen(mask);
            for (k = 0; k < mlen; k++, n++)
                if (n < cap) out[n] = (unsigned char)mask[k];
            i += used;
        } else {
            if (n < cap) out[n] = tok[i];
            n++;
            i++;
        }
    }
    *out_len = n;
}
