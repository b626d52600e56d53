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

size_t alog_matcher_size(size_t count)
{
    size_t per = sizeof(alog_match_template);
    if (count > (SIZE_MAX - sizeof(alog_matcher) - 2 * ALIGNMENT) / per) return 0;
    return sizeof(alog_matcher) + count * per + 2 * ALIGNMENT;
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

alog_status alog_matcher_init(alog_matcher **matcher, void *mem, size_t mem_len,
                              const char *const *templates, const size_t *lengths, size_t count,
                              unsigned rules)
{
    alog_matcher *m;
    unsigned char *base;
    size_t i, pos, tok_len, need = alog_matcher_size(count);
    const unsigned char *tok;
    if (matcher == NULL || mem == NULL || (templates == NULL && count > 0)) {
        return ALOG_ERR_INVALID_ARGUMENT;
    }
    if (need == 0 || count > (size_t)INT32_MAX) return ALOG_ERR_LIMIT;
    if (mem_len < need) return ALOG_ERR_ARENA_TOO_SMALL;
    base = align_up(mem);
    m = (alog_matcher *)(void *)base;
    m->rules = rules & ALOG_MASK_ALL;
    m->header_tokens = 0;
    m->count = (uint32_t)count;
    m->max_tokens = 0;
    m->order = (alog_match_template *)(void *)(base + ((sizeof *m + ALIGNMENT - 1) / ALIGNMENT) *
                                                          ALIGNMENT);
    for (i = 0; i < count; i++) {
        alog_match_template *t = &m->order[i];
        if (templates[i] == NULL) return ALOG_ERR_INVALID_ARGUMENT;
        t->text = (const unsigned char *)templates[i];
        t->len = lengths != NULL ? lengths[i] : strlen(templates[i]);
        t->tokens = t->literals = 0;
        t->index = (int32_t)i;
        t->plain = 1;
        pos = 0;
        while (alog_next_token(&tok, &tok_len, t->text, t->len, &pos)) {
            if (t->tokens == UINT32_MAX) return ALOG_ERR_LIMIT;
            t->tokens++;
            if (is_wildcard(tok, tok_len)) continue;
            t->literals++;
            if (memchr(tok, '<', tok_len) == NULL &&
                !alog_masked_token_equals(tok, tok_len, tok, tok_len, m->rules))
                t->plain = 0;
        }
        if (t->tokens > m->max_tokens) m->max_tokens = t->tokens;
    }
    sort_templates(m->order, count);
    *matcher = m;
    return ALOG_OK;
}

void alog_frontend_default(alog_frontend *frontend)
{
    frontend->mask_rules = ALOG_MASK_ALL;
    frontend->session_rule.prefix = NULL;
    frontend->session_rule.prefix_len = 0;
    frontend->header_tokens = 0;
}

alog_status alog_matcher_init_frontend(alog_matcher **matcher, void *mem, size_t mem_len,
                                       const char *const *templates, const size_t *lengths,
                                       size_t count, const alog_frontend *frontend)
{
    alog_status status;
    if (frontend == NULL) return ALOG_ERR_INVALID_ARGUMENT;
    status = alog_matcher_init(matcher, mem, mem_len, templates, lengths, count,
                               frontend->mask_rules);
    if (status == ALOG_OK) (*matcher)->header_tokens = frontend->header_tokens;
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
    size_t lpos = 0, tpos = 0, lt_len, tt_len, n = 0;
    const unsigned char *lt, *tt;
    while (alog_next_token(&tt, &tt_len, t->text, t->len, &tpos)) {
        if (n < toks->kept) {
            lt = line + toks->start[n];
            lt_len = toks->len[n];
            lpos = toks->start[n] + lt_len;
        } else if (!alog_next_token(&lt, &lt_len, line, len, &lpos)) {
            return 0;
        }
        n++;
        if (is_wildcard(tt, tt_len)) continue;
        /* A template token without '<' is matched only by a line token no mask touches (a mask
         * writes '<'), which is then the same bytes; when masking leaves the template's token
         * as it is (t->plain), those bytes are all it takes to check. */
        if (t->plain && memchr(tt, '<', tt_len) == NULL) {
            if (lt_len != tt_len || memcmp(lt, tt, tt_len) != 0) return 0;
        } else if (!alog_masked_token_equals(lt, lt_len, tt, tt_len, rules)) {
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

alog_status alog_match_line(int32_t *index, alog_match_reason *reason, const alog_matcher *matcher,
                            const void *line, size_t len)
{
    const unsigned char *s = (const unsigned char *)line;
    size_t i;
    line_tokens toks;
    alog_match_reason why = ALOG_MATCH_UNMATCHED;
    if (index == NULL || matcher == NULL || (s == NULL && len > 0)) return ALOG_ERR_INVALID_ARGUMENT;
    *index = ALOG_MATCH_UNKNOWN;
    if (len > 0 && s[len - 1] == '\n') len--;
    if (len > 0 && s[len - 1] == '\r') len--;
    if (len > ALOG_MATCH_MAX_LINE) {
        why = ALOG_MATCH_TOO_LONG;
    } else {
        alog_line_content(&s, &len, s, len, matcher->header_tokens);
        split_line(&toks, s, len, matcher->max_tokens);
        for (i = first_with_tokens(matcher, toks.count);
             i < matcher->count && matcher->order[i].tokens == toks.count; i++) {
            if (template_matches(&matcher->order[i], s, len, &toks, matcher->rules)) {
                *index = matcher->order[i].index;
                why = ALOG_MATCH_OK;
                break;
            }
        }
    }
    if (reason != NULL) *reason = why;
    return ALOG_OK;
}
