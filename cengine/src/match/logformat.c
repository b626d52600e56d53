/*
 * logformat.c - log formats in logparser/loghub syntax: compiling "<Date> <Time> <Level>
 * <Component>: <Content>" and splitting a line into its fields (docs/matching.md 2.2).
 *
 * The same rules as alog_detect.logformat: the split goes left to right without backtracking, a
 * field ends at the first place where what follows it matches, so a line costs time linear in its
 * length times the length of the format's texts. Everything lives in the alog_log_format (no
 * allocation); the line is only read.
 */
#include <string.h>

#include "match.h"
#include "try.h"

/* ---- compiling ----------------------------------------------------------------------------- */

typedef struct compiler {
    alog_log_format *f;
    uint32_t used;         /* bytes of f->bytes in use */
    int in_text;           /* an open TEXT item is the last item */
    int32_t group;         /* the open group's GROUP item, or -1 */
    const char *why;
} compiler;

static alog_status refuse(compiler *c, const char *why)
{
    c->why = why;
    return ALOG_ERR_INVALID_ARGUMENT;
}

static int is_format_space(unsigned char ch) { return ch == ' ' || ch == '\t'; }

static int is_name_start(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static int is_name_byte(unsigned char ch) { return is_name_start(ch) || (ch >= '0' && ch <= '9'); }

static alog_status add_item(compiler *c, uint8_t kind, uint16_t a)
{
    alog_format_item *it;
    if (c->f->items >= ALOG_FORMAT_MAX_ITEMS)
        return refuse(c, "the log format has too many parts (at most 96)");
    it = &c->f->item[c->f->items++];
    it->kind = kind;
    it->anchored = 0;
    it->a = a;
    it->b = 0;
    c->in_text = 0;
    return ALOG_OK;
}

/* Appends a literal byte (ws 0) or a whitespace run (ws 1) to the open TEXT item. */
static alog_status add_text(compiler *c, unsigned char byte, int ws)
{
    alog_log_format *f = c->f;
    alog_format_item *it;
    alog_format_element *last;
    if (!c->in_text) {
        ALOG_TRY(add_item(c, ALOG_FORMAT_TEXT, (uint16_t)f->elements));
        c->in_text = 1;
    }
    it = &f->item[f->items - 1];
    last = it->b ? &f->element[f->elements - 1] : NULL;
    if (!ws && last && last->length > 0 && last->offset + last->length == c->used) {
        f->bytes[c->used++] = byte; /* the same literal run goes on */
        last->length++;
        return ALOG_OK;
    }
    if (f->elements >= ALOG_FORMAT_MAX_ELEMENTS)
        return refuse(c, "the log format has too many parts (at most 128 runs of text)");
    last = &f->element[f->elements++];
    it->b++;
    last->offset = (uint16_t)c->used;
    last->length = ws ? 0 : 1;
    if (!ws)
        f->bytes[c->used++] = byte;
    return ALOG_OK;
}

static alog_status add_field(compiler *c, const unsigned char *name, size_t len)
{
    alog_log_format *f = c->f;
    if (alog_log_format_field(f, (const char *)name, len) >= 0)
        return refuse(c, "a field is named twice in the log format");
    if (f->fields >= ALOG_FORMAT_MAX_FIELDS)
        return refuse(c, "the log format has more than 24 fields");
    f->name_offset[f->fields] = (uint16_t)c->used;
    f->name_length[f->fields] = (uint8_t)len;
    memcpy(f->bytes + c->used, name, len);
    c->used += (uint32_t)len;
    ALOG_TRY(add_item(c, ALOG_FORMAT_FIELD, (uint16_t)f->fields));
    f->fields++;
    return ALOG_OK;
}

static alog_status open_group(compiler *c)
{
    alog_log_format *f = c->f;
    if (c->group >= 0)
        return refuse(c, "optional groups cannot be nested");
    if (!c->in_text && f->items > 0 && f->item[f->items - 1].kind == ALOG_FORMAT_GROUP_END)
        return refuse(c, "an optional group cannot follow another one directly");
    c->group = (int32_t)f->items;
    return add_item(c, ALOG_FORMAT_GROUP, 0);
}

static alog_status close_group(compiler *c)
{
    alog_log_format *f = c->f;
    if (c->group < 0)
        return refuse(c, "unbalanced brackets: ')?' closes no '('");
    if (f->items == (uint32_t)c->group + 1)
        return refuse(c, "an optional group cannot be empty");
    if (f->item[c->group + 1].kind != ALOG_FORMAT_TEXT)
        return refuse(c, "an optional group must start with text, not a field");
    f->item[c->group].a = (uint16_t)f->items;
    c->group = -1;
    return add_item(c, ALOG_FORMAT_GROUP_END, 0);
}

/* The first item at or after j that is not a group end (f->items: the end of the format). */
static uint32_t after_ends(const alog_log_format *f, uint32_t j)
{
    while (j < f->items && f->item[j].kind == ALOG_FORMAT_GROUP_END) j++;
    return j;
}

/* What may follow a field at the end of a path: text or the end, not a field or a group. */
static alog_status check_follower(compiler *c, uint32_t j)
{
    if (j < c->f->items && c->f->item[j].kind == ALOG_FORMAT_FIELD)
        return refuse(c, "two fields of the log format have nothing between them");
    if (j < c->f->items && c->f->item[j].kind == ALOG_FORMAT_GROUP)
        return refuse(c, "an optional group cannot follow another one directly");
    return ALOG_OK;
}

static alog_status finish(compiler *c)
{
    alog_log_format *f = c->f;
    uint32_t i;
    int32_t content;
    if (c->group >= 0)
        return refuse(c, "unbalanced brackets: '(' opens a group never closed with ')?'");
    content = alog_log_format_field(f, "Content", 7);
    if (content < 0)
        return refuse(c, "the log format has no <Content> field");
    f->content = (uint32_t)content;
    for (i = 0; i < f->items; i++) {
        uint32_t j = i + 1;
        if (f->item[i].kind == ALOG_FORMAT_TEXT)
            f->item[i].anchored = after_ends(f, j) == f->items;
        if (f->item[i].kind != ALOG_FORMAT_FIELD)
            continue;
        if (j < f->items && f->item[j].kind == ALOG_FORMAT_GROUP)
            ALOG_TRY(check_follower(c, after_ends(f, f->item[j].a)));
        else
            ALOG_TRY(check_follower(c, after_ends(f, j)));
    }
    return ALOG_OK;
}

alog_status alog_log_format_parse(alog_log_format *format, const char *text, size_t len,
                                  const char **why)
{
    const unsigned char *s = (const unsigned char *)text;
    compiler c;
    size_t i = 0, k;
    long square = 0;
    alog_status status = ALOG_OK;
    if (format == NULL || (text == NULL && len > 0)) return ALOG_ERR_INVALID_ARGUMENT;
    memset(format, 0, sizeof *format);
    c.f = format;
    c.used = 0;
    c.in_text = 0;
    c.group = -1;
    c.why = NULL;
    if (len > ALOG_FORMAT_MAX_BYTES) {
        status = refuse(&c, "the log format is longer than 512 bytes");
        goto done;
    }
    while (i < len && status == ALOG_OK) {
        unsigned char ch = s[i];
        if (ch == '\\') {
            if (i + 1 >= len) {
                status = refuse(&c, "the log format ends with a lone backslash");
                break;
            }
            status = add_text(&c, s[i + 1], 0);
            i += 2;
        } else if (ch == '<') {
            for (k = i + 1; k < len && s[k] != '>' && s[k] != '<'; k++)
                ;
            if (k >= len || s[k] != '>') {
                status = refuse(&c, "unbalanced brackets: a '<' has no '>' (escape a literal one: \\<)");
                break;
            }
            if (k - i - 1 == 0 || k - i - 1 > ALOG_FORMAT_MAX_NAME || !is_name_start(s[i + 1])) {
                status = refuse(&c, "a field name must be a letter or '_' then letters, digits or '_', "
                                    "at most 32 bytes");
                break;
            }
            {
                size_t j;
                for (j = i + 1; j < k; j++)
                    if (!is_name_byte(s[j])) break;
                if (j < k) {
                    status = refuse(&c, "a field name must be a letter or '_' then letters, digits "
                                        "or '_', at most 32 bytes");
                    break;
                }
            }
            status = add_field(&c, s + i + 1, k - i - 1);
            i = k + 1;
        } else if (ch == '>') {
            status = refuse(&c, "unbalanced brackets: a '>' closes no '<' (escape a literal one: \\>)");
        } else if (ch == '(') {
            status = open_group(&c);
            i++;
        } else if (ch == ')') {
            if (i + 1 >= len || s[i + 1] != '?') {
                status = refuse(&c, "a ')' must close an optional group as ')?' (escape a literal "
                                    "one: \\))");
                break;
            }
            status = close_group(&c);
            i += 2;
        } else if (is_format_space(ch)) {
            while (i < len && is_format_space(s[i])) i++;
            status = add_text(&c, 0, 1);
        } else {
            if (ch == '[') {
                square++;
            } else if (ch == ']' && --square < 0) {
                status = refuse(&c, "unbalanced brackets: a ']' closes no '[' (escape a lone one: \\])");
                break;
            }
            status = add_text(&c, ch, 0);
            i++;
        }
    }
    if (status == ALOG_OK && square != 0)
        status = refuse(&c, "unbalanced brackets: a '[' is never closed (escape a lone one: \\[)");
    if (status == ALOG_OK)
        status = finish(&c);
done:
    if (why != NULL) *why = c.why;
    return status;
}

int32_t alog_log_format_field(const alog_log_format *format, const char *name, size_t len)
{
    uint32_t k;
    for (k = 0; k < format->fields; k++)
        if (format->name_length[k] == len &&
            memcmp(format->bytes + format->name_offset[k], name, len) == 0)
            return (int32_t)k;
    return -1;
}

/* ---- splitting ----------------------------------------------------------------------------- */

/* End of the TEXT item at q, or -1 when it does not match there (an anchored text must also end
 * at n). A whitespace run takes every whitespace sequence at its place. */
static long text_end(const alog_log_format *f, const alog_format_item *it,
                     const unsigned char *s, size_t n, size_t q)
{
    uint16_t e;
    for (e = 0; e < it->b; e++) {
        const alog_format_element *el = &f->element[it->a + e];
        if (el->length == 0) {
            size_t w, start = q;
            while (q < n && (w = alog_whitespace_len(s + q, s + n)) > 0) q += w;
            if (q == start) return -1;
        } else {
            if (n - q < el->length || memcmp(s + q, f->bytes + el->offset, el->length) != 0)
                return -1;
            q += el->length;
        }
    }
    if (it->anchored && q != n) return -1;
    return (long)q;
}

/* A way for a field to end: the TEXT item `item` matching (or, item < 0, the end of the line),
 * then going on at `resume`. */
typedef struct stop {
    long item;
    uint32_t resume;
    size_t cand;      /* next place it could match, n + 1 when none */
} stop;

/* The first place at or after q where the stop's text could start (n + 1: none). */
static size_t candidate(const alog_log_format *f, const stop *st, const unsigned char *s, size_t n,
                        size_t q)
{
    const alog_format_element *el;
    if (st->item < 0) return n;
    el = &f->element[f->item[st->item].a];
    if (el->length == 0) {
        for (; q < n; q++)
            if (alog_whitespace_len(s + q, s + n) > 0) return q;
        return n + 1;
    }
    for (; q + el->length <= n; q++) {
        const unsigned char *hit = memchr(s + q, f->bytes[el->offset], n - q - el->length + 1);
        if (hit == NULL) return n + 1;
        q = (size_t)(hit - s);
        if (memcmp(hit, f->bytes + el->offset, el->length) == 0) return q;
    }
    return n + 1;
}

/* The stop after a field's path reaches item j (past group ends): text, or the end. */
static void plain_stop(stop *st, const alog_log_format *f, uint32_t j)
{
    if (j >= f->items) {
        st->item = -1;
        st->resume = f->items;
    } else {
        st->item = (long)j;
        st->resume = j + 1;
    }
}

int alog_log_format_split(alog_line_fields *fields, const alog_log_format *format,
                          const void *line, size_t len)
{
    const alog_log_format *f = format;
    const unsigned char *s = (const unsigned char *)line;
    size_t p = 0, n = len;
    uint32_t i = 0, k;
    long end;
    if (fields == NULL || f == NULL || (s == NULL && n > 0)) return 0;
    if (s == NULL) s = (const unsigned char *)"";
    for (k = 0; k < f->fields; k++) {
        fields->present[k] = 0;
        fields->start[k] = fields->length[k] = 0;
    }
    while (i < f->items) {
        const alog_format_item *it = &f->item[i];
        if (it->kind == ALOG_FORMAT_TEXT) {
            if ((end = text_end(f, it, s, n, p)) < 0) return 0;
            p = (size_t)end;
            i++;
        } else if (it->kind == ALOG_FORMAT_GROUP) {
            end = text_end(f, &f->item[i + 1], s, n, p);
            if (end < 0) {
                i = (uint32_t)it->a + 1;
            } else {
                p = (size_t)end;
                i += 2;
            }
        } else if (it->kind == ALOG_FORMAT_GROUP_END) {
            i++;
        } else {
            stop stops[2];
            size_t nstops = 1, best, q;
            long found_end = -1;
            uint32_t resume = 0, j = i + 1;
            int found = 0;
            if (j < f->items && f->item[j].kind == ALOG_FORMAT_GROUP) {
                stops[0].item = (long)j + 1; /* into the group */
                stops[0].resume = j + 2;
                plain_stop(&stops[1], f, after_ends(f, f->item[j].a));
                nstops = 2;
            } else {
                plain_stop(&stops[0], f, after_ends(f, j));
            }
            for (k = 0; k < nstops; k++) stops[k].cand = candidate(f, &stops[k], s, n, p);
            while (!found) {
                best = n + 1;
                for (k = 0; k < nstops; k++)
                    if (stops[k].cand < best) best = stops[k].cand;
                if (best > n) return 0;
                q = best;
                for (k = 0; k < nstops && !found; k++) {
                    if (stops[k].cand != q) continue;
                    if (stops[k].item < 0) {
                        found_end = (long)q;
                    } else {
                        found_end = text_end(f, &f->item[stops[k].item], s, n, q);
                    }
                    if (found_end >= 0) {
                        found = 1;
                        resume = stops[k].resume;
                    } else {
                        stops[k].cand = candidate(f, &stops[k], s, n, q + 1);
                    }
                }
            }
            fields->present[it->a] = 1;
            fields->start[it->a] = (uint32_t)p;
            fields->length[it->a] = (uint32_t)(q - p);
            p = (size_t)found_end;
            i = resume;
        }
    }
    return p == n;
}

size_t alog_line_view(const void *line, size_t len)
{
    const unsigned char *s = (const unsigned char *)line;
    if (s == NULL) return 0;
    if (len > 0 && s[len - 1] == '\n') len--;
    if (len > 0 && s[len - 1] == '\r') len--;
    if (len > ALOG_MATCH_MAX_LINE) {
        len = ALOG_LINE_HEAD;
        if (s[len - 1] == '\n') len--;
        if (s[len - 1] == '\r') len--;
    }
    return len;
}
