/*
 * match.h - the line front end: tokens, masks, template matching, session keys and timestamps.
 *
 * One specification (docs/matching.md), two implementations: this one and the Python reference
 * (alog_detect.masking, .matching, .sessions); tests/test_match_parity.py holds them equal.
 * Everything works on bytes, takes any bytes at any length, never reads outside [line, line+len)
 * and allocates nothing: the matcher lives in caller memory (alog_matcher_size() says how much).
 * The settings that must match the ones the templates were mined with (mask rules, log format or
 * header tokens, session rule, timestamp rule) travel as frontend.json; alog_frontend below holds
 * them, however they were read.
 */
#ifndef ALOG_MATCH_H
#define ALOG_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

/* The log-format switch. A firmware build compiles match.c and timestamp.c with -DALOG_OPS_CONFIG
 * and the generated alog_ops_config.h (alog_detect.codegen, from the model directory), which sets
 * ALOG_WITH_LOG_FORMAT to 0 when the models' frontend.json has no log format and no field
 * timestamp: nothing then refers to the log-format and field-timestamp code (log_format field
 * splitting, strftime-like patterns), which the linker leaves out, and alog_frontend_init refuses
 * such settings (ALOG_ERR_INVALID_ARGUMENT, *why = ALOG_FRONTEND_LEFT_OUT). Everywhere else, and by
 * default, it is 1: everything is in. The structures below are the same either way. */
#ifdef ALOG_OPS_CONFIG
#include "alog_ops_config.h"
#endif
#ifndef ALOG_WITH_LOG_FORMAT
#define ALOG_WITH_LOG_FORMAT 1
#endif
#define ALOG_FRONTEND_LEFT_OUT "log formats and field timestamps were left out of this engine " \
    "build (ALOG_WITH_LOG_FORMAT 0); regenerate alog_ops_config.h from this model directory " \
    "and rebuild"

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

/* ---- log formats (logformat.c; docs/matching.md 2.2) ------------------------------------------ */

#define ALOG_FORMAT_MAX_BYTES 512   /* bytes of a log format's text */
#define ALOG_FORMAT_MAX_FIELDS 24
#define ALOG_FORMAT_MAX_ITEMS 96    /* texts, fields, group starts and ends */
#define ALOG_FORMAT_MAX_ELEMENTS 128 /* literal runs and whitespace runs of all texts together */
#define ALOG_FORMAT_MAX_NAME 32     /* bytes of a field name */

enum { ALOG_FORMAT_TEXT = 0, ALOG_FORMAT_FIELD, ALOG_FORMAT_GROUP, ALOG_FORMAT_GROUP_END };

typedef struct alog_format_item {
    uint8_t kind;      /* ALOG_FORMAT_* */
    uint8_t anchored;  /* TEXT: only group ends follow it, so it must end at the line's end */
    uint16_t a;        /* TEXT: its first element; FIELD: the field; GROUP: its GROUP_END item */
    uint16_t b;        /* TEXT: its number of elements */
} alog_format_item;

typedef struct alog_format_element {
    uint16_t offset;   /* literal bytes bytes[offset .. offset + length) */
    uint16_t length;   /* 0: a run of one or more whitespace sequences */
} alog_format_element;

typedef struct alog_log_format {
    uint32_t items, fields, elements;
    uint32_t content;                                 /* the field <Content> */
    alog_format_item item[ALOG_FORMAT_MAX_ITEMS];     /* (items) */
    alog_format_element element[ALOG_FORMAT_MAX_ELEMENTS]; /* (elements) */
    uint16_t name_offset[ALOG_FORMAT_MAX_FIELDS];     /* (fields) into bytes */
    uint8_t name_length[ALOG_FORMAT_MAX_FIELDS];      /* (fields) */
    unsigned char bytes[ALOG_FORMAT_MAX_BYTES];       /* literal bytes (unescaped) and names */
} alog_log_format;

/* Where each field of one line is (offsets into the line given to alog_log_format_split). */
typedef struct alog_line_fields {
    uint32_t start[ALOG_FORMAT_MAX_FIELDS];
    uint32_t length[ALOG_FORMAT_MAX_FIELDS];
    uint8_t present[ALOG_FORMAT_MAX_FIELDS];          /* 0: in an optional group that was skipped */
} alog_line_fields;

/* Compiles text[0..len) (docs/matching.md 2.2). On a text that is no usable log format returns
 * ALOG_ERR_INVALID_ARGUMENT and sets *why (may be NULL) to a constant one-line reason. */
alog_status alog_log_format_parse(alog_log_format *format, const char *text, size_t len,
                                  const char **why);

/* The index of the field named name[0..len), or -1. */
int32_t alog_log_format_field(const alog_log_format *format, const char *name, size_t len);

/* Splits line[0..len) (taken as it is: remove the line end first, alog_line_view) into fields:
 * returns 1 and fills *fields when the line fits the format, else 0. Linear in len. */
int alog_log_format_split(alog_line_fields *fields, const alog_log_format *format,
                          const void *line, size_t len);

/* The bytes of a raw line that a log format, a field session key and a field timestamp read: the
 * line without its line end, of an overlong line only its head, without a line end again
 * (docs/matching.md 2.2). Returns their length (they start at the line's start). */
size_t alog_line_view(const void *line, size_t len);

/* ---- the matcher (match.c) ----------------------------------------------------------------- */

/* How a template token is compared with a line token. */
enum {
    ALOG_TOKEN_WILDCARD = 0,  /* <*>: any line token */
    ALOG_TOKEN_LITERAL,       /* no '<' and masking leaves it as it is: the same bytes */
    ALOG_TOKEN_MASKED         /* anything else: the line token's masked form, byte for byte */
};

#define ALOG_MATCH_MAX_TOKEN ((1u << 30) - 1u) /* bytes of a template token (longer: ALOG_ERR_LIMIT) */

/* One token of a template, found once when the matcher is built: 8 bytes, as the matcher's RAM on
 * a microcontroller is a token of each template's. */
typedef struct alog_match_token {
    uint32_t start;            /* offset in the template's text */
    unsigned len : 30;         /* at most ALOG_MATCH_MAX_TOKEN */
    unsigned kind : 2;         /* ALOG_TOKEN_* */
} alog_match_token;

typedef struct alog_match_template {
    const unsigned char *text; /* the caller's bytes, not copied: they must outlive the matcher */
    size_t len;
    const alog_match_token *token; /* (tokens), in the matcher's memory */
    uint32_t tokens;           /* number of tokens */
    uint32_t literals;         /* tokens other than <*> */
    int32_t index;             /* position in the vocabulary */
} alog_match_template;

typedef struct alog_matcher {
    unsigned rules;
    uint32_t header_tokens;     /* leading tokens of a line that are not matched */
    const alog_log_format *format; /* NULL, or the log format whose <Content> is matched (the
                                      caller's: it must outlive the matcher) */
    uint32_t count;
    uint32_t max_tokens;
    alog_match_template *order; /* (count) by tokens ascending, literals descending, index */
} alog_matcher;

/* Bytes of memory a matcher over templates[0..count) needs (lengths[i] bytes each, or
 * NUL-terminated when lengths is NULL; alignment slack included): the templates and each one's
 * tokens. 0 when the sizes overflow. */
size_t alog_matcher_size(const char *const *templates, const size_t *lengths, size_t count);

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

/* The template index a line's content (already cut from its line: its <Content> field, the line
 * after its header, or the whole line) matches, or ALOG_MATCH_UNKNOWN. No length limit applies. */
int32_t alog_match_content(const alog_matcher *matcher, const void *content, size_t len);

/* ---- session keys and timestamps (sessionkey.c) ------------------------------------------- */

typedef struct alog_session_rule {
    const char *prefix; /* NULL (and field NULL): the rule `none` */
    size_t prefix_len;
    const char *field;  /* `field:<Name>`: the name (points into the rule's text), else NULL */
    size_t field_len;
    int32_t field_index; /* the field in the log format (alog_frontend_init resolves it), or -1 */
} alog_session_rule;

/* Parse "none", "prefix:<p>" or "field:<Name>" (also "field:<<Name>>") (text[0..len)); the
 * prefix or name points into text; field_index is -1 until resolved against a log format. */
alog_status alog_session_rule_parse(alog_session_rule *rule, const char *text, size_t len);

/* The session of a raw line: a slice of the line, or ALOG_SESSION_ALL / ALOG_SESSION_NO_KEY.
 * A `field:` rule reads `fields` (the split of alog_line_view's bytes, NULL when the line does not
 * fit the format): the field's bytes, or ALOG_SESSION_NO_KEY when it is empty or absent. */
void alog_line_session(const char **key, size_t *key_len, const alog_session_rule *rule,
                       const void *line, size_t len);
void alog_line_session_fields(const char **key, size_t *key_len, const alog_session_rule *rule,
                              const void *line, size_t len, const alog_line_fields *fields);

/* Seconds since 1970-01-01 UTC of the timestamp the line starts with: returns 1 and sets
 * *seconds, or returns 0 when the line starts with none. */
int alog_line_timestamp(double *seconds, const void *line, size_t len);

/* Whole seconds since 1970-01-01 UTC of a proleptic Gregorian date and time: 1 and *out when every
 * field is in range (year >= 0, second <= 59), else 0 (timestamp.c). */
int alog_civil_seconds(int64_t *out, long y, long mo, long d, long h, long mi, long s);

/* ---- timestamps from fields (timestamp.c; docs/matching.md 6.1) ---------------------------- */

#define ALOG_TIMESTAMP_MAX_TEMPLATE 128 /* bytes of a template such as "<Date> <Time>" */
#define ALOG_TIMESTAMP_MAX_FORMAT 64    /* bytes of a pattern such as "%Y-%m-%d %H:%M:%S" */
#define ALOG_TIMESTAMP_MAX_TEXT 256     /* bytes of a template's text; longer: no timestamp */

enum { ALOG_TIMESTAMP_LINE_START = 0, ALOG_TIMESTAMP_NONE, ALOG_TIMESTAMP_FIELDS };

typedef struct alog_timestamp_rule {
    uint8_t kind;                                      /* ALOG_TIMESTAMP_* */
    uint8_t parts, directives;
    uint8_t part_field[ALOG_TIMESTAMP_MAX_TEMPLATE];   /* (parts) a field index, or 0xFF: ... */
    unsigned char part_byte[ALOG_TIMESTAMP_MAX_TEMPLATE]; /* ... this literal byte */
    unsigned char directive[ALOG_TIMESTAMP_MAX_FORMAT + 8];   /* (directives) 'Y', 'm', ..., ' '
                                                                 (a whitespace run), 'L' (literal) */
    unsigned char directive_byte[ALOG_TIMESTAMP_MAX_FORMAT + 8]; /* the literal of an 'L' */
} alog_timestamp_rule;

/* "line-start" or "none" with an empty pattern, or a template over `format`'s fields with a
 * pattern (both checked as docs/matching.md 6.1 says); ALOG_ERR_INVALID_ARGUMENT and *why when not. */
alog_status alog_timestamp_rule_parse(alog_timestamp_rule *rule, const char *template_text,
                                      size_t template_len, const char *pattern, size_t pattern_len,
                                      const alog_log_format *format, const char **why);

/* The timestamp of a raw line by the rule: `view_len` bytes of alog_line_view(), `fields` their
 * split (NULL when the line does not fit or there is no log format). Returns 1 and *seconds. */
int alog_line_timestamp_rule(double *seconds, const alog_timestamp_rule *rule, const void *line,
                             size_t len, size_t view_len, const alog_line_fields *fields);

/* ---- front-end settings: frontend.json (docs/formats.md), reader-independent --------------- */

#define ALOG_FRONTEND_KIND "frontend"
#define ALOG_FRONTEND_FORMAT_VERSION 2 /* version 1 (no log format, no timestamp keys) still reads */

/* Each field is named after its frontend.json key. A reader fills it from the file (refusing
 * another "kind" or "format_version", a missing or unknown key, an unknown rule name, a session
 * rule alog_session_rule_parse refuses, a header_tokens that is not an integer 0..UINT32_MAX, a
 * log format or timestamp rule alog_frontend_init refuses). */
typedef struct alog_frontend {
    unsigned mask_rules;            /* "mask_rules": OR of alog_mask_rule_bit() of the names */
    alog_session_rule session_rule; /* "session_rule": alog_session_rule_parse() of the string
                                       (its prefix points into that string: keep it alive) */
    uint32_t header_tokens;         /* "header_tokens": leading tokens of a line not matched */
    int has_format;                 /* "log_format" is not empty ... */
    alog_log_format format;         /* ... and compiled here */
    alog_timestamp_rule timestamp;  /* "timestamp" and "timestamp_format" */
} alog_frontend;

/* The settings of a model directory without frontend.json: every mask rule, session rule
 * `none`, no header tokens, no log format, the line-start timestamp rule. */
void alog_frontend_default(alog_frontend *frontend);

/* Every setting from its text (docs/formats.md, frontend.json; NULL log_format, timestamp and
 * timestamp_format mean "", "line-start" and ""), checked together as alog_detect.frontend checks
 * them: a log format and header tokens not both, a `field:` session rule and a field timestamp
 * naming fields of the log format. ALOG_ERR_INVALID_ARGUMENT and *why (constant text) when not.
 * The session rule points into session_rule: keep it alive. */
alog_status alog_frontend_init(alog_frontend *frontend, unsigned mask_rules,
                               const char *session_rule, uint32_t header_tokens,
                               const char *log_format, const char *timestamp,
                               const char *timestamp_format, const char **why);

/* alog_matcher_init with frontend's mask rules and header tokens or log format (which must
 * outlive the matcher). Its session and timestamp rules are applied by the caller
 * (alog_frontend_line). */
alog_status alog_matcher_init_frontend(alog_matcher **matcher, void *mem, size_t mem_len,
                                       const char *const *templates, const size_t *lengths,
                                       size_t count, const alog_frontend *frontend);

/* Everything the front end says about one raw line (docs/matching.md): its template index and
 * reason (with `matcher`; NULL: not matched, reason ALOG_MATCH_TOO_LONG, for the head of a line
 * known to be overlong), its session (a slice of the line or a constant name) and, when
 * want_time, its timestamp. The line is split by the log format once. */
typedef struct alog_line_result {
    int32_t index;
    alog_match_reason reason;
    const char *session;
    size_t session_len;
    int has_time;
    double seconds;
    int fits;                      /* 1: the line fits the log format (0 too without one) */
} alog_line_result;

alog_status alog_frontend_line(alog_line_result *result, const alog_frontend *frontend,
                               const alog_matcher *matcher, const void *line, size_t len,
                               int want_time);

#endif /* ALOG_MATCH_H */
