/*
 * match_driver.c - runs the C line front end over a file, for tests/test_match_parity.py.
 *
 *   match_driver [--rules BITS] [--session RULE] [--header N] [--mask] TEMPLATES [INPUT]
 *
 * TEMPLATES holds one template per line (vocabulary order). INPUT (default stdin) is split at
 * '\n'; for each line the driver prints "index<TAB>reason<TAB>session<TAB>timestamp\n"
 * (timestamp "-" when none, else %.17g), or with --mask the line's masked tokens joined by single
 * spaces. --header N: the first N tokens of each line are its header (not matched, not masked).
 * A test tool: it may allocate, the library code it drives does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/match/match.h"

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = path == NULL ? stdin : fopen(path, "rb");
    unsigned char *buf = NULL, *grown;
    size_t cap = 0, n = 0, got;
    if (f == NULL) return NULL;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap * 2 + 65536;
            grown = realloc(buf, cap);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (f != stdin) fclose(f);
    *len = n;
    return buf;
}

/* Split buf at '\n' into (start, length) pairs; a last line without '\n' counts. */
static size_t split_lines(const unsigned char *buf, size_t len, const unsigned char ***starts,
                          size_t **lengths)
{
    size_t i, n = 0, k = 0, begin = 0;
    for (i = 0; i < len; i++) n += buf[i] == '\n';
    if (len > 0 && buf[len - 1] != '\n') n++;
    *starts = malloc((n + 1) * sizeof **starts);
    *lengths = malloc((n + 1) * sizeof **lengths);
    if (*starts == NULL || *lengths == NULL) return (size_t)-1;
    for (i = 0; i <= len; i++) {
        if (i == len ? begin < len : buf[i] == '\n') {
            (*starts)[k] = buf + begin;
            (*lengths)[k] = i - begin;
            k++;
            begin = i + 1;
        }
    }
    return k;
}

static void print_masked(const unsigned char *line, size_t len, const alog_frontend *fe)
{
    static unsigned char out[8 * ALOG_MATCH_MAX_LINE];
    size_t pos = 0, tok_len, out_len;
    const unsigned char *tok;
    unsigned rules = fe->mask_rules;
    int first = 1;
    alog_line_content(&line, &len, line, len, fe->header_tokens);
    while (alog_next_token(&tok, &tok_len, line, len, &pos)) {
        alog_mask_token(out, sizeof out, &out_len, tok, tok_len, rules);
        if (!first) fputc(' ', stdout);
        fwrite(out, 1, out_len < sizeof out ? out_len : sizeof out, stdout);
        first = 0;
    }
    fputc('\n', stdout);
}

static void print_match(const alog_matcher *m, const alog_session_rule *rule,
                        const unsigned char *line, size_t len)
{
    static const char *const reasons[] = {"ok", "unmatched", "line_too_long"};
    int32_t index;
    alog_match_reason reason;
    const char *key;
    size_t key_len;
    double seconds;
    alog_match_line(&index, &reason, m, line, len);
    alog_line_session(&key, &key_len, rule, line, len);
    printf("%ld\t%s\t%.*s\t", (long)index, reasons[reason], (int)key_len, key);
    if (alog_line_timestamp(&seconds, line, len)) printf("%.17g\n", seconds);
    else printf("-\n");
}

int main(int argc, char **argv)
{
    alog_frontend fe;
    const char *session = "none", *input = NULL, *templates_path = NULL;
    int mask_only = 0, i;
    unsigned char *tbuf, *ibuf;
    const unsigned char **tstarts, **lstarts;
    size_t tlen, ilen, *tlens, *llens, nt, nl, k, need;
    alog_matcher *m;
    void *mem;
    alog_status st;
    alog_frontend_default(&fe);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
            fe.mask_rules = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--header") == 0 && i + 1 < argc)
            fe.header_tokens = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--session") == 0 && i + 1 < argc) session = argv[++i];
        else if (strcmp(argv[i], "--mask") == 0) mask_only = 1;
        else if (templates_path == NULL) templates_path = argv[i];
        else input = argv[i];
    }
    if (templates_path == NULL) {
        fprintf(stderr, "usage: match_driver [--rules BITS] [--session RULE] [--header N] [--mask] "
                        "TEMPLATES [INPUT]\n");
        return 2;
    }
    if (alog_session_rule_parse(&fe.session_rule, session, strlen(session)) != ALOG_OK) {
        fprintf(stderr, "match_driver: bad session rule %s\n", session);
        return 2;
    }
    tbuf = read_all(templates_path, &tlen);
    ibuf = read_all(input, &ilen);
    if (tbuf == NULL || ibuf == NULL) {
        fprintf(stderr, "match_driver: cannot read input\n");
        return 2;
    }
    nt = split_lines(tbuf, tlen, &tstarts, &tlens);
    nl = split_lines(ibuf, ilen, &lstarts, &llens);
    if (nt == (size_t)-1 || nl == (size_t)-1) return 2;
    need = alog_matcher_size(nt);
    mem = malloc(need);
    st = alog_matcher_init_frontend(&m, mem, need, (const char *const *)tstarts, tlens, nt, &fe);
    if (st != ALOG_OK) {
        fprintf(stderr, "match_driver: matcher init failed (status %d)\n", (int)st);
        return 1;
    }
    for (k = 0; k < nl; k++) {
        if (mask_only) print_masked(lstarts[k], llens[k], &fe);
        else print_match(m, &fe.session_rule, lstarts[k], llens[k]);
    }
    free(mem);
    free(tstarts);
    free(tlens);
    free(lstarts);
    free(llens);
    free(tbuf);
    free(ibuf);
    return 0;
}
