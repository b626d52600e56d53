/*
 * alog_vocab.h: generated, do not edit.
 * Rendered by alog_detect.codegen 0.1.0 from templates/alog_vocab.h.j2; `scons` remakes it.
 *
 * Inputs (path relative to the build's top directory, SHA-256 of the file):
 *   models/frontend.json
 *     92097d1c8f4b3940a479bd726591884c2475d7da956783528d6086f6441aec24
 *   models/vocab.json
 *     526810ad0ff4a55a03d127eeffe15ad480289740586831bdad87e01eaf3d32cb
 */
#ifndef ALOG_VOCAB_H
#define ALOG_VOCAB_H

/*
 * The vocabulary as tables, index -> template, so the matcher needs no JSON on the device.
 * Templates are UTF-8 with `<*>` wildcards (docs/matching.md); a length is in bytes, without
 * the terminating NUL. Define ALOG_VOCAB_IMPLEMENTATION in exactly one source file before
 * including this header to define the tables there.
 */

#include <stddef.h>

#define ALOG_VOCAB_SIZE 5
/* The vocabulary's canonical hash (docs/formats.md), the same as the model metadata's. */
#define ALOG_VOCAB_SHA256 "7d57b4bcd2840ced45300e5c8834c131cb61cfc062573d76fa607562ee42fbca"

/*
 * The line front end's settings the templates were mined with (frontend.json, docs/matching.md):
 * masking rules (comma-separated names), the session rule, the header tokens dropped from each
 * raw line or the log format whose <Content> is matched, and the timestamp rule. Matching a line
 * with other settings would give other template indices.
 */
#define ALOG_FRONTEND_MASK_RULES "uuid,ip,hex,num,path"
#define ALOG_FRONTEND_SESSION_RULE "prefix:ses_"
#define ALOG_FRONTEND_HEADER_TOKENS 4
#define ALOG_FRONTEND_LOG_FORMAT ""
#define ALOG_FRONTEND_TIMESTAMP "line-start"
#define ALOG_FRONTEND_TIMESTAMP_FORMAT ""

extern const char *const alog_vocab_templates[ALOG_VOCAB_SIZE];
extern const size_t alog_vocab_template_lengths[ALOG_VOCAB_SIZE];

#ifdef ALOG_VOCAB_IMPLEMENTATION
const char *const alog_vocab_templates[ALOG_VOCAB_SIZE] = {
    /* 0 */ "user <*> logged in",
    /* 1 */ "quote \042 backslash \134 trigraph \077\077= end */ here",
    /* 2 */ "na\303\257ve caf\303\251 \342\234\223 <*>",
    /* 3 */ "tab\011here",
    /* 4 */ "<*> <*> <*>",
};

const size_t alog_vocab_template_lengths[ALOG_VOCAB_SIZE] = {
    18, /* 0 */
    44, /* 1 */
    20, /* 2 */
    8, /* 3 */
    11, /* 4 */
};
#endif /* ALOG_VOCAB_IMPLEMENTATION */

#endif /* ALOG_VOCAB_H */
