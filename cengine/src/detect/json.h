/*
 * json.h - a small, bounded JSON reader for the model directory's meta and vocabulary files.
 *
 * The text is tokenized into a caller-provided token array (no allocation); each token records
 * where it sits in the text and where its subtree ends, so lookups walk the array without
 * recursion. Every accessor checks bounds and types and returns a status, never reads past the
 * text it was given.
 */
#ifndef ALOG_DETECT_JSON_H
#define ALOG_DETECT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

/* Nesting deeper than this is refused: the files we read are two levels deep at most, and the
 * bound keeps the recursive-descent parser's stack use fixed. */
#define ALOG_JSON_MAX_DEPTH 32

typedef enum alog_json_type {
    ALOG_JSON_NULL = 0,
    ALOG_JSON_FALSE,
    ALOG_JSON_TRUE,
    ALOG_JSON_NUMBER,
    ALOG_JSON_STRING,
    ALOG_JSON_ARRAY,
    ALOG_JSON_OBJECT
} alog_json_type;

typedef struct alog_json_token {
    uint32_t type;  /* alog_json_type */
    uint32_t start; /* offset of the first byte (the opening quote for strings) */
    uint32_t end;   /* offset one past the last byte */
    uint32_t count; /* members of an object (key/value pairs), elements of an array */
    uint32_t next;  /* index of the first token after this token's subtree */
} alog_json_token;

typedef struct alog_json_doc {
    const char *text;
    size_t len;
    const alog_json_token *tokens;
    uint32_t ntokens;
} alog_json_doc;

/* Tokenize text[0..len) into tokens[0..cap); the root is tokens[0]. Trailing bytes other than
 * whitespace, a token array too small, a string with a raw control character or a bad escape,
 * nesting past ALOG_JSON_MAX_DEPTH: ALOG_ERR_MALFORMED or ALOG_ERR_LIMIT. */
alog_status alog_json_parse(alog_json_doc *doc, alog_json_token *tokens, uint32_t cap,
                            const char *text, size_t len);

/* An upper bound on the tokens a text of len bytes can need (every token takes >= 1 byte). */
size_t alog_json_token_bound(size_t len);

/* Index of the value stored under key in the object at token obj. ALOG_ERR_MALFORMED when obj is
 * not an object or the key is absent (a required field missing). */
alog_status alog_json_get(uint32_t *value, const alog_json_doc *doc, uint32_t obj, const char *key);

/* The bytes a string token stands for, written into out[0..cap), as
 * alog_detect.masking.to_bytes gives them: UTF-8, except that an unpaired \udc80..\udcff is the
 * byte it escapes (surrogateescape) and any other unpaired surrogate its 3-byte form; *len
 * receives the byte count. */
alog_status alog_json_string(char *out, size_t cap, size_t *len, const alog_json_doc *doc,
                             uint32_t tok);

/* The decoded length of a string token (to size buffers before decoding). */
alog_status alog_json_string_len(size_t *len, const alog_json_doc *doc, uint32_t tok);

/* An integer number token in [lo, hi] (no fraction or exponent). */
alog_status alog_json_int(int64_t *value, const alog_json_doc *doc, uint32_t tok, int64_t lo,
                          int64_t hi);

/* Any number token as a double (correctly rounded by the C library's strtod). */
alog_status alog_json_double(double *value, const alog_json_doc *doc, uint32_t tok);

/* true/false token. */
alog_status alog_json_bool(int *value, const alog_json_doc *doc, uint32_t tok);

/* Helpers that combine alog_json_get with a typed accessor. */
alog_status alog_json_get_int(int64_t *value, const alog_json_doc *doc, uint32_t obj,
                              const char *key, int64_t lo, int64_t hi);
alog_status alog_json_get_double(double *value, const alog_json_doc *doc, uint32_t obj,
                                 const char *key);

/* True when string token tok decodes to exactly the bytes key[0..key_len). */
int alog_json_string_equals(const alog_json_doc *doc, uint32_t tok, const char *key,
                            size_t key_len);

#endif /* ALOG_DETECT_JSON_H */
