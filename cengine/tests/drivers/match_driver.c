/*
 * match_driver.c - runs the C line front end over a file, for tests/test_match_parity.py.
 *
 *   match_driver [--rules BITS] [--session RULE] [--header N] [--format F] [--timestamp T]
 *                [--timestamp-format P] [--mask | --split] TEMPLATES [INPUT]
 *
 * TEMPLATES holds one template per line (vocabulary order). INPUT (default stdin) is split at
 * '\n'; for each line the driver prints "index<TAB>reason<TAB>session<TAB>timestamp\n"
 * (session as hex digits, 2 per byte: a field key may hold any byte; timestamp "-" when none,
 * else %.17g), or with --mask the line's masked content tokens joined
 * by single spaces, or with --split "-" when the line does not fit the log format, else each
 * field's "start:length" ("-" for an absent one) separated by spaces. --header N: the first N
 * tokens of each line are its header (not matched, not masked); --format: the log format;
 * --timestamp and --timestamp-format: the timestamp rule (docs/matching.md 2.2, 6.1). Settings
 * alog_frontend_init refuses: exit 3 and the reason on stderr.
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
    alog_line_fields fields;
    if (fe->has_format) {
        size_t view = alog_line_view(line, len);
        if (alog_log_format_split(&fields, &fe->format, line, view)) {
            line += fields.start[fe->format.content];
            len = fields.length[fe->format.content];
        } else { /* the whole line, without its line end */
            if (len > 0 && line[len - 1] == '\n') len--;
            if (len > 0 && line[len - 1] == '\r') len--;
        }
    } else {
        alog_line_content(&line, &len, line, len, fe->header_tokens);
    }
    while (alog_next_token(&tok, &tok_len, line, len, &pos)) {
        alog_mask_token(out, sizeof out, &out_len, tok, tok_len, rules);
        if (!first) fputc(' ', stdout);
        fwrite(out, 1, out_len < sizeof out ? out_len : sizeof out, stdout);
        first = 0;
    }
    fputc('\n', stdout);
}

static void print_split(const unsigned char *line, size_t len, const alog_frontend *fe)
{
    alog_line_fields fields;
    uint32_t k;
    if (!fe->has_format || !alog_log_format_split(&fields, &fe->format, line, alog_line_view(line, len))) {
        printf("-\n");
        return;
    }
    for (k = 0; k < fe->format.fields; k++) {
        if (k) fputc(' ', stdout);
        if (fields.present[k]) printf("%lu:%lu", (unsigned long)fields.start[k], (unsigned long)fields.length[k]);
        else fputc('-', stdout);
    }
    fputc('\n', stdout);
}

static void print_match(const alog_matcher *m, const alog_frontend *fe, const unsigned char *line,
                        size_t len)
{
    static const char *const reasons[] = {"ok", "unmatched", "line_too_long"};
    alog_line_result r;
    int32_t index;
    alog_match_reason reason;
    /* The one-call front end and the separate functions must agree. */
    alog_frontend_line(&r, fe, m, line, len, 1);
    alog_match_line(&index, &reason, m, line, len);
    if (index != r.index || reason != r.reason) {
        printf("MISMATCH alog_match_line %ld %d\n", (long)index, (int)reason);
        return;
    }
    if (!fe->has_format && fe->timestamp.kind == ALOG_TIMESTAMP_LINE_START) {
        const char *key;
        size_t key_len;
        double seconds = 0;
        int has = alog_line_timestamp(&seconds, line, len);
        alog_line_session(&key, &key_len, &fe->session_rule, line, len);
        if (key_len != r.session_len || memcmp(key, r.session, key_len) != 0 || has != r.has_time ||
            (has && seconds != r.seconds)) {
            printf("MISMATCH alog_line_session/alog_line_timestamp\n");
            return;
        }
    }
    {
        size_t i;
        printf("%ld\t%s\t", (long)r.index, reasons[r.reason]);
        for (i = 0; i < r.session_len; i++) printf("%02x", (unsigned char)r.session[i]);
        putchar('\t');
    }
    if (r.has_time) printf("%.17g\n", r.seconds);
    else printf("-\n");
}

int main(int argc, char **argv)
{
    static alog_frontend fe;
    const char *session = "none", *input = NULL, *templates_path = NULL, *format = NULL;
    const char *timestamp = NULL, *timestamp_format = NULL, *why = NULL;
    unsigned rules = ALOG_MASK_ALL;
    uint32_t header = 0;
    int mask_only = 0, split_only = 0, i;
    unsigned char *tbuf, *ibuf;
    const unsigned char **tstarts, **lstarts;
    size_t tlen, ilen, *tlens, *llens, nt, nl, k, need;
    alog_matcher *m;
    void *mem;
    alog_status st;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
            rules = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--header") == 0 && i + 1 < argc)
            header = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--session") == 0 && i + 1 < argc) session = argv[++i];
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) format = argv[++i];
        else if (strcmp(argv[i], "--timestamp") == 0 && i + 1 < argc) timestamp = argv[++i];
        else if (strcmp(argv[i], "--timestamp-format") == 0 && i + 1 < argc)
            timestamp_format = argv[++i];
        else if (strcmp(argv[i], "--mask") == 0) mask_only = 1;
        else if (strcmp(argv[i], "--split") == 0) split_only = 1;
        else if (templates_path == NULL) templates_path = argv[i];
        else input = argv[i];
    }
    if (templates_path == NULL) {
        fprintf(stderr, "usage: match_driver [--rules BITS] [--session RULE] [--header N] [--format F] "
                        "[--timestamp T] [--timestamp-format P] [--mask | --split] TEMPLATES [INPUT]\n");
        return 2;
    }
    if (alog_frontend_init(&fe, rules, session, header, format, timestamp, timestamp_format, &why) !=
        ALOG_OK) {
        fprintf(stderr, "match_driver: refused: %s\n", why ? why : "?");
        return 3;
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
    need = alog_matcher_size((const char *const *)tstarts, tlens, nt);
    mem = malloc(need);
    st = alog_matcher_init_frontend(&m, mem, need, (const char *const *)tstarts, tlens, nt, &fe);
    if (st != ALOG_OK) {
        fprintf(stderr, "match_driver: matcher init failed (status %d)\n", (int)st);
        return 1;
    }
    for (k = 0; k < nl; k++) {
        if (mask_only) print_masked(lstarts[k], llens[k], &fe);
        else if (split_only) print_split(lstarts[k], llens[k], &fe);
        else print_match(m, &fe, lstarts[k], llens[k]);
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
