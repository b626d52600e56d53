/*
 * match.h - the line front end: tokens, masks, template matching, session keys and timestamps.
 *
 * One specification (docs/matching.md), two implementations: this one and the Python reference
 * (alog_detect.masking, .matching, .sessions); tests/test_match_parity.py holds them equal.
 * Everything works on bytes, takes any bytes at any length, never reads outside [line, line+len)
 * and allocates nothing: the matcher lives in caller memory (alog_matcher_size() says how much).
 * The settings that must match the ones the templates were mined with (mask rules, header tokens,
 * session rule) travel as frontend.json; alog_frontend below holds them, however they were read.
 */
#ifndef ALOG_MATCH_H
#define ALOG_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

/* ---- limits and names ---------------------------------------------------------------------- */

#define ALOG_MATCH_UNKNOWN (-1)
#define ALOG_MATCH_MAX_LINE ((size_t)1 << 20) /* bytes, after the line end is stripped */
/* A line's head: what the session key, timestamp and blank-line rules read (docs/matching.md). */
#define ALOG_LINE_HEAD (ALOG_MATCH_MAX_LINE + 1)

#define ALOG_SESSION_ALL "all"         /* the one session of the rule `none` */
#define ALOG_SESSION_NO_KEY "<nokey>"  /* lines without a key under `prefix:<p>` */
#define ALOG_SYSLOG_YEAR 2000

/* Mask rules (bit set); the order of the bits is the order in which they are tried. */
enum {
    ALOG_MASK_UUID = 1u << 0,
    ALOG_MASK_IP = 1u << 1,
    ALOG_MASK_HEX = 1u << 2,
    ALOG_MASK_NUM = 1u << 3,
    ALOG_MASK_PATH = 1u << 4,
    ALOG_MASK_ALL = (1u << 5) - 1u
};

typedef enum alog_match_reason {
    ALOG_MATCH_OK = 0,        /* the line matched a template */
    ALOG_MATCH_UNMATCHED,     /* no template matches the line */
    ALOG_MATCH_TOO_LONG       /* the line is longer than ALOG_MATCH_MAX_LINE */
} alog_match_reason;

/* ---- tokens and masks (mask.c) ------------------------------------------------------------- */

/* Length (1..3) of the whitespace sequence at p, 0 when none starts there (p < end). */
size_t alog_whitespace_len(const unsigned char *p, const unsigned char *end);

/* The first token at or after *pos in s[0..len): *tok, *tok_len; *pos moves past it.
 * Returns 0 when there is no further token. */
int alog_next_token(const unsigned char **tok, size_t *tok_len, const unsigned char *s, size_t len,
                    size_t *pos);

/* Scanner state for one token: where masks may not start a path again (see the spec, 1.7). */
typedef struct alog_mask_state {
    size_t no_path_until;
} alog_mask_state;

/* The mask that starts at tok[i] (the text "<NUM>" etc.), its source length in *used; NULL when
 * none does and tok[i] is copied. i must be < len. */
const char *alog_mask_at(size_t *used, alog_mask_state *state, const unsigned char *tok,
                         size_t len, size_t i, unsigned rules);

/* Does the masked form of the line token lt equal the template token tt, byte for byte? */
int alog_masked_token_equals(const unsigned char *lt, size_t lt_len, const unsigned char *tt,
                             size_t tt_len, unsigned rules);

/* Writes the masked form of tok into out (at most cap bytes); *out_len gets the full length,
 * which may exceed cap (then out holds its first cap bytes). For tests and tools. */
void alog_mask_token(unsigned char *out, size_t cap, size_t *out_len, const unsigned char *tok,
                     size_t len, unsigned rules);

/* The ALOG_MASK_* bit of the rule called name[0..len) ("uuid", "ip", "hex", "num", "path", as
 * frontend.json's "mask_rules" lists them); 0 for any other name. */
unsigned alog_mask_rule_bit(const char *name, size_t len);

/* The content of line[0..len): what follows its first header_tokens tokens (docs/matching.md,
 * 2.1). *content points into the line; *content_len is 0 when the line has no more tokens than
 * that, and the content's tokens are the line's tokens after the header. */
void alog_line_content(const unsigned char **content, size_t *content_len, const void *line,
                       size_t len, uint32_t header_tokens);

/* ---- the matcher (match.c) ----------------------------------------------------------------- */

typedef struct alog_match_template {
    const unsigned char *text; /* the caller's bytes, not copied: they must outlive the matcher */
    size_t len;
    uint32_t tokens;           /* number of tokens */
    uint32_t literals;         /* tokens other than <*> */
    int32_t index;             /* position in the vocabulary */
    uint32_t plain;            /* 1: masking leaves each literal token without '<' as it is */
} alog_match_template;

typedef struct alog_matcher {
    unsigned rules;
    uint32_t header_tokens;     /* leading tokens of a line that are not matched */
    uint32_t count;
    uint32_t max_tokens;
    alog_match_template *order; /* (count) by tokens ascending, literals descending, index */
} alog_matcher;

/* Bytes of memory a matcher over `count` templates needs (alignment slack included); 0 when the
 * count overflows. */
size_t alog_matcher_size(size_t count);

/* Build a matcher in mem[0..mem_len) over templates[0..count) (lengths[i] bytes each, or
 * NUL-terminated when lengths is NULL). Index i is the i-th template. Lines are matched whole
 * (no header tokens); alog_matcher_init_frontend below takes the settings of a frontend.json. */
alog_status alog_matcher_init(alog_matcher **matcher, void *mem, size_t mem_len,
                              const char *const *templates, const size_t *lengths, size_t count,
                              unsigned rules);

/* The template index a raw line matches, or ALOG_MATCH_UNKNOWN; *reason (may be NULL) says why.
 * A trailing LF, then a trailing CR, are not part of the line. The length limit applies to the
 * whole line; the matcher's header tokens are then dropped and the content is matched. */
alog_status alog_match_line(int32_t *index, alog_match_reason *reason, const alog_matcher *matcher,
                            const void *line, size_t len);

/* ---- session keys and timestamps (sessionkey.c) ------------------------------------------- */

typedef struct alog_session_rule {
    const char *prefix; /* NULL: the rule `none` */
    size_t prefix_len;
} alog_session_rule;

/* Parse "none" or "prefix:<p>" (text[0..len)); the prefix points into text. */
alog_status alog_session_rule_parse(alog_session_rule *rule, const char *text, size_t len);

/* The session of a raw line: a slice of the line, or ALOG_SESSION_ALL / ALOG_SESSION_NO_KEY. */
void alog_line_session(const char **key, size_t *key_len, const alog_session_rule *rule,
                       const void *line, size_t len);

/* Seconds since 1970-01-01 UTC of the timestamp the line starts with: returns 1 and sets
 * *seconds, or returns 0 when the line starts with none. */
int alog_line_timestamp(double *seconds, const void *line, size_t len);

/* ---- front-end settings: frontend.json (docs/formats.md), reader-independent --------------- */

#define ALOG_FRONTEND_KIND "frontend"
#define ALOG_FRONTEND_FORMAT_VERSION 1

/* Each field is named after its frontend.json key. A reader fills it from the file (refusing
 * another "kind" or "format_version", a missing or unknown key, an unknown rule name, a session
 * rule alog_session_rule_parse refuses, a header_tokens that is not an integer 0..UINT32_MAX). */
typedef struct alog_frontend {
    unsigned mask_rules;            /* "mask_rules": OR of alog_mask_rule_bit() of the names */
    alog_session_rule session_rule; /* "session_rule": alog_session_rule_parse() of the string
                                       (its prefix points into that string: keep it alive) */
    uint32_t header_tokens;         /* "header_tokens": leading tokens of a line not matched */
} alog_frontend;

/* The settings of a model directory without frontend.json: every mask rule, session rule
 * `none`, no header tokens. */
void alog_frontend_default(alog_frontend *frontend);

/* alog_matcher_init with frontend's mask rules and header tokens. Its session rule is applied
 * by the caller (alog_line_session), like the timestamp rule, to the whole line. */
alog_status alog_matcher_init_frontend(alog_matcher **matcher, void *mem, size_t mem_len,
                                       const char *const *templates, const size_t *lengths,
                                       size_t count, const alog_frontend *frontend);

#endif /* ALOG_MATCH_H */
