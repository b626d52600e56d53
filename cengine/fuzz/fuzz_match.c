/*
 * fuzz_match.c - libFuzzer harness for the line front end (cengine/src/match/).
 *
 *   clang -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -Icengine/include \
 *         cengine/src/match/{mask,match,sessionkey,logformat,timestamp}.c \
 *         cengine/fuzz/fuzz_match.c -o fuzz_match && ./fuzz_match -max_total_time=600
 *
 * Input: byte 0 picks the mask rules (low 5 bits) and the header tokens (high 3 bits); then up
 * to MAX_TEMPLATES '\n'-terminated templates until
 * an empty line; then, when the next byte is 0x01, a settings line "\x01FORMAT\x1fSESSION\x1f
 * TIMESTAMP\x1fPATTERN\n" (a log format, a session rule, a timestamp rule and its pattern: docs/
 * matching.md 2.2, 5, 6.1; parsed whatever they hold, used when alog_frontend_init takes them);
 * the rest is one raw line (any bytes). The harness builds a matcher, matches the line, splits it
 * by the log format, extracts its session key and timestamp, and masks every token, so every read
 * the front end does on untrusted bytes runs under ASan/UBSan. Invariants are checked with
 * __builtin_trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/match/match.h"

#define MAX_TEMPLATES 32
#define SETTINGS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

static void exercise_tokens(const unsigned char *line, size_t len, unsigned rules)
{
    unsigned char out[64]; /* small on purpose: masked tokens longer than this are cut */
    const unsigned char *tok;
    size_t pos = 0, tok_len, out_len;
    while (alog_next_token(&tok, &tok_len, line, len, &pos)) {
        check(tok >= line && tok + tok_len <= line + len && tok_len > 0);
        alog_mask_token(out, sizeof out, &out_len, tok, tok_len, rules);
        if (out_len <= sizeof out)
            check(alog_masked_token_equals(tok, tok_len, out, out_len, rules));
    }
}

/* The settings line: up to SETTINGS fields separated by 0x1f, NUL-terminated copies (a field
 * longer than its buffer is cut there). Returns the bytes it took, 0 when there is none. */
static size_t read_settings(char out[SETTINGS][600], const uint8_t *data, size_t size)
{
    size_t pos = 1, k = 0, n = 0;
    if (size == 0 || data[0] != 0x01) return 0;
    for (k = 0; k < SETTINGS; k++) out[k][0] = '\0';
    k = 0;
    for (; pos < size && data[pos] != '\n'; pos++) {
        if (data[pos] == 0x1f) {
            if (++k == SETTINGS) break;
            n = 0;
        } else if (n + 1 < 600) {
            out[k][n++] = (char)data[pos];
            out[k][n] = '\0';
        }
    }
    while (pos < size && data[pos] != '\n') pos++;
    return pos < size ? pos + 1 : pos;
}

static void exercise_format(const alog_log_format *f, const unsigned char *line, size_t size)
{
    alog_line_fields fields;
    size_t view = alog_line_view(line, size), last = 0;
    uint32_t k, i;
    check(view <= size);
    if (!alog_log_format_split(&fields, f, line, view)) return;
    /* Fields lie inside the view, in the order of the format, without overlapping. */
    for (i = 0; i < f->items; i++) {
        if (f->item[i].kind != ALOG_FORMAT_FIELD) continue;
        k = f->item[i].a;
        if (!fields.present[k]) continue;
        check(fields.start[k] >= last && (size_t)fields.start[k] + fields.length[k] <= view);
        last = fields.start[k] + fields.length[k];
    }
    check(fields.present[f->content]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char settings[SETTINGS][600];
    alog_log_format format;
    alog_line_result r;
    const char *why = NULL;
    size_t used;
    int custom = 0;
    void *mem;
    const char *templates[MAX_TEMPLATES];
    size_t lengths[MAX_TEMPLATES], count = 0, pos = 1, end, key_len;
    const unsigned char *line;
    unsigned rules;
    alog_frontend fe;
    const unsigned char *content;
    size_t content_len;
    alog_matcher *m;
    alog_match_reason reason;
    alog_session_rule none, blk;
    const char *key;
    int32_t index;
    double seconds;
    if (size == 0) return 0;
    alog_frontend_default(&fe);
    rules = fe.mask_rules = data[0] & ALOG_MASK_ALL;
    fe.header_tokens = data[0] >> 5;
    while (count < MAX_TEMPLATES && pos < size) {
        for (end = pos; end < size && data[end] != '\n'; end++) {}
        if (end == pos || end == size) break;
        templates[count] = (const char *)data + pos;
        lengths[count++] = end - pos;
        pos = end + 1;
    }
    if (pos < size && data[pos] == '\n') pos++;
    used = read_settings(settings, data + (pos < size ? pos : size), pos < size ? size - pos : 0);
    if (used > 0) {
        /* The raw format bytes too, not only what survives as a C string. */
        if (alog_log_format_parse(&format, settings[0], strlen(settings[0]), &why) == ALOG_OK) {
            check(format.fields >= 1 && format.content < format.fields);
        } else {
            check(why != NULL);
        }
        custom = alog_frontend_init(&fe, rules, settings[1], settings[0][0] ? 0 : fe.header_tokens,
                                    settings[0], settings[2], settings[3], &why) == ALOG_OK;
        if (!custom) {
            alog_frontend_default(&fe);
            fe.mask_rules = rules;
            fe.header_tokens = data[0] >> 5;
        }
        pos += used;
    }
    line = data + (pos < size ? pos : size);
    size -= (size_t)(line - data);

    used = alog_matcher_size(templates, lengths, count); /* exactly enough, wherever mem lies */
    check(used > 0);
    mem = malloc(used);
    check(mem != NULL);
    check(alog_matcher_init_frontend(&m, mem, used, templates, lengths, count, &fe) == ALOG_OK);
    check(alog_match_line(&index, &reason, m, line, size) == ALOG_OK);
    check(index >= -1 && index < (int32_t)count);
    check((index >= 0) == (reason == ALOG_MATCH_OK));
    check(alog_frontend_line(&r, &fe, m, line, size, 1) == ALOG_OK);
    check(r.index == index && r.reason == reason);
    check(r.session != NULL && r.session_len > 0);
    if ((const unsigned char *)r.session >= line && (const unsigned char *)r.session < line + size)
        check((const unsigned char *)r.session + r.session_len <= line + size);
    if (r.has_time) check(r.seconds == r.seconds);
    if (fe.has_format) exercise_format(&fe.format, line, size);
    free(mem);
    if (custom) return 0; /* the checks below are about the default settings */

    check(alog_session_rule_parse(&none, "none", 4) == ALOG_OK);
    check(alog_session_rule_parse(&blk, "prefix:blk_", 11) == ALOG_OK);
    alog_line_session(&key, &key_len, &none, line, size);
    check(key_len == 3);
    alog_line_session(&key, &key_len, &blk, line, size);
    check(key_len > 0);
    if (alog_line_timestamp(&seconds, line, size)) check(seconds == seconds);
    exercise_tokens(line, size, rules);
    alog_line_content(&content, &content_len, line, size, fe.header_tokens);
    check(content >= line && content + content_len == line + size);
    check(fe.header_tokens > 0 || content_len == size);
    return 0;
}
