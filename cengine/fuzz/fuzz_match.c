/*
 * fuzz_match.c - libFuzzer harness for the line front end (cengine/src/match/).
 *
 *   clang -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -Icengine/include \
 *         cengine/src/match/mask.c cengine/src/match/match.c cengine/src/match/sessionkey.c \
 *         cengine/fuzz/fuzz_match.c -o fuzz_match && ./fuzz_match -max_total_time=600
 *
 * Input: byte 0 picks the mask rules (low 5 bits) and the header tokens (high 3 bits); then up
 * to MAX_TEMPLATES '\n'-terminated templates until
 * an empty line; the rest is one raw line (any bytes). The harness builds a matcher, matches the
 * line, extracts its session key and timestamp, and masks every token, so every read the front
 * end does on untrusted bytes runs under ASan/UBSan. Invariants are checked with __builtin_trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../src/match/match.h"

#define MAX_TEMPLATES 32

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char mem[sizeof(alog_matcher) + MAX_TEMPLATES * sizeof(alog_match_template) + 64];
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
    line = data + (pos < size ? pos : size);
    size -= (size_t)(line - data);

    check(alog_matcher_size(count) <= sizeof mem);
    check(alog_matcher_init_frontend(&m, mem, sizeof mem, templates, lengths, count, &fe) == ALOG_OK);
    check(alog_match_line(&index, &reason, m, line, size) == ALOG_OK);
    check(index >= -1 && index < (int32_t)count);
    check((index >= 0) == (reason == ALOG_MATCH_OK));

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
