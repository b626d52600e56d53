/*
 * match.c - raw line -> template index (docs/matching.md, section 3).
 *
 * The templates are kept in the caller's memory, sorted so that the templates with n tokens form
 * one block in preference order (most non-<*> tokens first, then the lowest index): the first
 * template of the block that matches is the answer. Nothing is copied or allocated per line.
 */
#include <string.h>

#include "match.h"

#define ALIGNMENT 16u

static const unsigned char WILDCARD[3] = {'<', '*', '>'};

static int is_wildcard(const unsigned char *tok, size_t len)
{
    return len == sizeof WILDCARD && memcmp(tok, WILDCARD, sizeof WILDCARD) == 0;
}

/* ---- building ------------------------------------------------------------------------------ */

static size_t template_len(const char *const *templates, const size_t *lengths, size_t i)
{
    return lengths != NULL ? lengths[i] : strlen(templates[i]);
}

/* Tokens of text[0..len). */
static size_t count_tokens(const unsigned char *text, size_t len)
{
    size_t pos = 0, tok_len, n = 0;
    const unsigned char *tok;
    while (alog_next_token(&tok, &tok_len, text, len, &pos)) n++;
    return n;
}

size_t alog_matcher_size(const char *const *templates, const size_t *lengths, size_t count)
{
    size_t per = sizeof(alog_match_template), tokens = 0, i, n;
    const size_t fixed = sizeof(alog_matcher) + 3 * ALIGNMENT;
    if (count > (SIZE_MAX - fixed) / per) return 0;
    for (i = 0; templates != NULL && i < count; i++) {
        if (templates[i] == NULL) continue; /* alog_matcher_init refuses it */
        n = count_tokens((const unsigned char *)templates[i], template_len(templates, lengths, i));
        if (n > SIZE_MAX / sizeof(alog_match_token) - tokens) return 0;
        tokens += n;
    }
    if (tokens > (SIZE_MAX - fixed - count * per) / sizeof(alog_match_token)) return 0;
    return fixed + count * per + tokens * sizeof(alog_match_token);
}

/* Does a come before b in preference order? */
static int before(const alog_match_template *a, const alog_match_template *b)
{
    if (a->tokens != b->tokens) return a->tokens < b->tokens;
    if (a->literals != b->literals) return a->literals > b->literals;
    return a->index < b->index;
}

static void sift_down(alog_match_template *t, size_t root, size_t n)
{
    alog_match_template tmp;
    size_t child;
    while ((child = 2 * root + 1) < n) {
        if (child + 1 < n && before(&t[child], &t[child + 1])) child++;
        if (!before(&t[root], &t[child])) return;
        tmp = t[root];
        t[root] = t[child];
        t[child] = tmp;
        root = child;
    }
}

/* Heapsort: in place, O(n log n), no recursion. */
static void sort_templates(alog_match_template *t, size_t n)
{
    alog_match_template tmp;
    size_t i;
    for (i = n / 2; i-- > 0;) sift_down(t, i, n);
    for (i = n; i-- > 1;) {
        tmp = t[0];
        t[0] = t[i];
        t[i] = tmp;
        sift_down(t, 0, i);
    }
}

static unsigned char *align_up(void *mem)
{
    uintptr_t p = (uintptr_t)mem;
    return (unsigned char *)mem + ((ALIGNMENT - p % ALIGNMENT) % ALIGNMENT);
}

/* How the template token tok compares with line tokens (ALOG_TOKEN_*). */
static uint32_t token_kind(const unsigned char *tok, size_t len, unsigned rules)
{
    if (is_wildcard(tok, len)) return ALOG_TOKEN_WILDCARD;
    /* Without '<' a line token matches only when no mask touches it (a mask writes '<'), so it
     * is then the same bytes; when masking the token itself leaves it as it is, comparing those
     * bytes gives the same answer. */
    if (memchr(tok, '<', len) == NULL && alog_masked_token_equals(tok, len, tok, len, rules))
        return ALOG_TOKEN_LITERAL;
    return ALOG_TOKEN_MASKED;
}

alog_status alog_matcher_init(alog_matcher **matcher, void *mem, size_t mem_len,
                              const char *const *templates, const size_t *lengths, size_t count,
                              unsigned rules)
{
    alog_matcher *m;
    unsigned char *base;
    alog_match_token *next;
    size_t i, pos, tok_len, need;
    const unsigned char *tok;
    if (matcher == NULL || mem == NULL || (templates == NULL && count > 0)) {
        return ALOG_ERR_INVALID_ARGUMENT;
    }
    for (i = 0; i < count; i++)
        if (templates[i] == NULL) return ALOG_ERR_INVALID_ARGUMENT;
    need = alog_matcher_size(templates, lengths, count);
    if (need == 0 || count > (size_t)INT32_MAX) return ALOG_ERR_LIMIT;
    if (mem_len < need) return ALOG_ERR_ARENA_TOO_SMALL;
    base = align_up(mem);
    m = (alog_matcher *)(void *)base;
    m->rules = rules & ALOG_MASK_ALL;
    m->header_tokens = 0;
    m->format = NULL;
    m->count = (uint32_t)count;
    m->max_tokens = 0;
    m->order = (alog_match_template *)(void *)(base + ((sizeof *m + ALIGNMENT - 1) / ALIGNMENT) *
                                                          ALIGNMENT);
    next = (alog_match_token *)(void *)align_up(m->order + count);
    for (i = 0; i < count; i++) {
        alog_match_template *t = &m->order[i];
        t->text = (const unsigned char *)templates[i];
        t->len = template_len(templates, lengths, i);
        t->token = next;
        t->tokens = t->literals = 0;
        t->index = (int32_t)i;
        pos = 0;
        while (alog_next_token(&tok, &tok_len, t->text, t->len, &pos)) {
            if (t->tokens == UINT32_MAX || pos > UINT32_MAX || tok_len > ALOG_MATCH_MAX_TOKEN)
                return ALOG_ERR_LIMIT;
            next->start = (uint32_t)(tok - t->text);
            next->len = (unsigned)tok_len;
            next->kind = (unsigned)token_kind(tok, tok_len, m->rules);
            t->literals += next->kind != ALOG_TOKEN_WILDCARD;
            t->tokens++;
            next++;
        }
        if (t->tokens > m->max_tokens) m->max_tokens = t->tokens;
    }
    sort_templates(m->order, count);
    *matcher = m;
    return ALOG_OK;
}

/* Does the front end split lines by a log format? Never in a build without log formats (a
 * constant 0 there: the log-format code is then unreferenced). */
#define HAS_FORMAT(frontend) (ALOG_WITH_LOG_FORMAT && (frontend)->has_format)

void alog_frontend_default(alog_frontend *frontend)
{
    frontend->mask_rules = ALOG_MASK_ALL;
    alog_session_rule_parse(&frontend->session_rule, "none", 4);
    frontend->header_tokens = 0;
    frontend->has_format = 0;
    frontend->format.items = frontend->format.fields = 0;
    alog_timestamp_rule_parse(&frontend->timestamp, "line-start", 10, "", 0, NULL, NULL);
}

alog_status alog_frontend_init(alog_frontend *frontend, unsigned mask_rules,
                               const char *session_rule, uint32_t header_tokens,
                               const char *log_format, const char *timestamp,
                               const char *timestamp_format, const char **why)
{
    const char *ts = timestamp ? timestamp : "line-start";
    const char *tf = timestamp_format ? timestamp_format : "";
    const char *rule = session_rule ? session_rule : "none";
    const char *reason = NULL;
    if (frontend == NULL) return ALOG_ERR_INVALID_ARGUMENT;
    alog_frontend_default(frontend);
    if (why != NULL) *why = NULL;
    frontend->mask_rules = mask_rules & ALOG_MASK_ALL;
    frontend->header_tokens = header_tokens;
    if (log_format != NULL && log_format[0] != '\0') {
        if (!ALOG_WITH_LOG_FORMAT) {
            if (why != NULL) *why = ALOG_FRONTEND_LEFT_OUT;
            return ALOG_ERR_INVALID_ARGUMENT;
        }
        if (alog_log_format_parse(&frontend->format, log_format, strlen(log_format), &reason) !=
            ALOG_OK) {
            if (why != NULL) *why = reason;
            return ALOG_ERR_INVALID_ARGUMENT;
        }
        frontend->has_format = 1;
        if (header_tokens != 0) {
            if (why != NULL) *why = "a log format and header tokens cannot both be given";
            return ALOG_ERR_INVALID_ARGUMENT;
        }
    }
    if (alog_session_rule_parse(&frontend->session_rule, rule, strlen(rule)) != ALOG_OK) {
        if (why != NULL)
            *why = "session_rule must be 'none', 'prefix:<p>' or 'field:<Name>'";
        return ALOG_ERR_INVALID_ARGUMENT;
    }
    if (frontend->session_rule.field != NULL) {
        frontend->session_rule.field_index =
            HAS_FORMAT(frontend) ? alog_log_format_field(&frontend->format,
                                                         frontend->session_rule.field,
                                                         frontend->session_rule.field_len)
                                 : -1;
        if (frontend->session_rule.field_index < 0) {
            if (why != NULL) *why = "the session rule names a field the log format does not have";
            return ALOG_ERR_INVALID_ARGUMENT;
        }
    }
    if (alog_timestamp_rule_parse(&frontend->timestamp, ts, strlen(ts), tf, strlen(tf),
                                  HAS_FORMAT(frontend) ? &frontend->format : NULL, &reason) !=
        ALOG_OK) {
        if (why != NULL) *why = reason;
        return ALOG_ERR_INVALID_ARGUMENT;
    }
    return ALOG_OK;
}

alog_status alog_matcher_init_frontend(alog_matcher **matcher, void *mem, size_t mem_len,
                                       const char *const *templates, const size_t *lengths,
                                       size_t count, const alog_frontend *frontend)
{
    alog_status status;
    if (frontend == NULL) return ALOG_ERR_INVALID_ARGUMENT;
    status = alog_matcher_init(matcher, mem, mem_len, templates, lengths, count,
                               frontend->mask_rules);
    if (status == ALOG_OK) {
        (*matcher)->header_tokens = frontend->header_tokens;
        (*matcher)->format = HAS_FORMAT(frontend) ? &frontend->format : NULL;
    }
    return status;
}

/* ---- matching ------------------------------------------------------------------------------ */

/* The line's tokens, found once per line for all the templates it is compared with: up to
 * LINE_TOKENS of them are kept (offsets into the line, which is at most ALOG_MATCH_MAX_LINE
 * bytes); a line with more is compared by rescanning it (the same answer, more slowly). */
#define LINE_TOKENS 64u

typedef struct line_tokens {
    size_t count;     /* tokens in the line, counted no further than the longest template + 1 */
    size_t kept;      /* min(count, LINE_TOKENS) */
    uint32_t start[LINE_TOKENS];
    uint32_t len[LINE_TOKENS];
} line_tokens;

static void split_line(line_tokens *lt, const unsigned char *line, size_t len, size_t limit)
{
    size_t pos = 0, tok_len;
    const unsigned char *tok;
    lt->count = 0;
    while (lt->count <= limit && alog_next_token(&tok, &tok_len, line, len, &pos)) {
        if (lt->count < LINE_TOKENS) {
            lt->start[lt->count] = (uint32_t)(tok - line);
            lt->len[lt->count] = (uint32_t)tok_len;
        }
        lt->count++;
    }
    lt->kept = lt->count < LINE_TOKENS ? lt->count : LINE_TOKENS;
}

static int template_matches(const alog_match_template *t, const unsigned char *line, size_t len,
                            const line_tokens *toks, unsigned rules)
{
    size_t lpos = 0, lt_len, n;
    const unsigned char *lt;
    for (n = 0; n < t->tokens; n++) {
        const alog_match_token *tt = &t->token[n];
        if (n < toks->kept) {
            lt = line + toks->start[n];
            lt_len = toks->len[n];
            lpos = toks->start[n] + lt_len;
        } else if (!alog_next_token(&lt, &lt_len, line, len, &lpos)) {
            return 0;
        }
        if (tt->kind == ALOG_TOKEN_LITERAL) {
            if (lt_len != tt->len || memcmp(lt, t->text + tt->start, lt_len) != 0) return 0;
        } else if (tt->kind == ALOG_TOKEN_MASKED &&
                   !alog_masked_token_equals(lt, lt_len, t->text + tt->start, tt->len, rules)) {
            return 0;
        }
    }
    return 1;
}

/* First position in m->order whose template has at least n tokens. */
static size_t first_with_tokens(const alog_matcher *m, size_t n)
{
    size_t lo = 0, hi = m->count, mid;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (m->order[mid].tokens < n) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int32_t alog_match_content(const alog_matcher *matcher, const void *content, size_t len)
{
    const unsigned char *s = (const unsigned char *)content;
    size_t i;
    line_tokens toks;
    if (matcher == NULL || (s == NULL && len > 0)) return ALOG_MATCH_UNKNOWN;
    split_line(&toks, s, len, matcher->max_tokens);
    for (i = first_with_tokens(matcher, toks.count);
         i < matcher->count && matcher->order[i].tokens == toks.count; i++)
        if (template_matches(&matcher->order[i], s, len, &toks, matcher->rules))
            return matcher->order[i].index;
    return ALOG_MATCH_UNKNOWN;
}

/* The content of a line within the length limit (line end removed): the log format's <Content>
 * (the whole line when it does not fit), else the line after the header tokens. */
static void line_content(const unsigned char **content, size_t *content_len,
                         const alog_matcher *m, const unsigned char *s, size_t len,
                         const alog_line_fields *fields)
{
    if (m->format == NULL) {
        alog_line_content(content, content_len, s, len, m->header_tokens);
    } else if (fields != NULL) {
        *content = s + fields->start[m->format->content];
        *content_len = fields->length[m->format->content];
    } else {
        *content = s;
        *content_len = len;
    }
}

alog_status alog_match_line(int32_t *index, alog_match_reason *reason, const alog_matcher *matcher,
                            const void *line, size_t len)
{
    const unsigned char *s = (const unsigned char *)line;
    alog_line_fields fields;
    alog_match_reason why = ALOG_MATCH_UNMATCHED;
    if (index == NULL || matcher == NULL || (s == NULL && len > 0)) return ALOG_ERR_INVALID_ARGUMENT;
    *index = ALOG_MATCH_UNKNOWN;
    if (len > 0 && s[len - 1] == '\n') len--;
    if (len > 0 && s[len - 1] == '\r') len--;
    if (len > ALOG_MATCH_MAX_LINE) {
        why = ALOG_MATCH_TOO_LONG;
    } else {
        const unsigned char *content;
        size_t content_len;
        int fits = ALOG_WITH_LOG_FORMAT && matcher->format != NULL &&
                   alog_log_format_split(&fields, matcher->format, s, len);
        line_content(&content, &content_len, matcher, s, len, fits ? &fields : NULL);
        *index = alog_match_content(matcher, content, content_len);
        if (*index != ALOG_MATCH_UNKNOWN) why = ALOG_MATCH_OK;
    }
    if (reason != NULL) *reason = why;
    return ALOG_OK;
}

alog_status alog_frontend_line(alog_line_result *result, const alog_frontend *frontend,
                               const alog_matcher *matcher, const void *line, size_t len,
                               int want_time)
{
    const unsigned char *s = (const unsigned char *)line;
    alog_line_fields fields;
    size_t view;
    int fits = 0;
    if (result == NULL || frontend == NULL || (s == NULL && len > 0)) return ALOG_ERR_INVALID_ARGUMENT;
    if (s == NULL) s = (const unsigned char *)"";
    view = alog_line_view(s, len);
    if (HAS_FORMAT(frontend)) fits = alog_log_format_split(&fields, &frontend->format, s, view);
    result->fits = fits;
    result->index = ALOG_MATCH_UNKNOWN;
    result->reason = ALOG_MATCH_TOO_LONG;
    if (matcher != NULL) {
        size_t n = len;
        if (n > 0 && s[n - 1] == '\n') n--;
        if (n > 0 && s[n - 1] == '\r') n--;
        if (n <= ALOG_MATCH_MAX_LINE) {
            const unsigned char *content;
            size_t content_len;
            /* Within the limit the view is the whole line: the split above is the line's. */
            line_content(&content, &content_len, matcher, s, n,
                         matcher->format != NULL && fits ? &fields : NULL);
            result->index = alog_match_content(matcher, content, content_len);
            result->reason = result->index != ALOG_MATCH_UNKNOWN ? ALOG_MATCH_OK : ALOG_MATCH_UNMATCHED;
        }
    }
    alog_line_session_fields(&result->session, &result->session_len, &frontend->session_rule, s,
                             frontend->session_rule.field != NULL ? view : len,
                             fits ? &fields : NULL);
    result->has_time = 0;
    result->seconds = 0;
    if (want_time)
        result->has_time = alog_line_timestamp_rule(&result->seconds, &frontend->timestamp, s, len,
                                                    view, fits ? &fields : NULL);
    return ALOG_OK;
}
