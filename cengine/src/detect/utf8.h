/*
 * utf8.h - UTF-8 decoding with CPython's rules for what is invalid, shared by the JSON reader
 * (vocabulary files must be valid UTF-8, as Python's strict decode requires) and the verdict
 * writer (which escapes text as json.dumps does).
 */
#ifndef ALOG_DETECT_UTF8_H
#define ALOG_DETECT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode one UTF-8 sequence from s[0..n), n >= 1, as CPython's decoder does: on success returns
 * its length (1..4) and the code point in *cp; on an invalid sequence returns 0 and the length of
 * the maximal invalid subpart (1..3, the bytes CPython hands to the error handler) in *bad. */
size_t alog_utf8_decode(uint32_t *cp, size_t *bad, const unsigned char *s, size_t n);

#endif /* ALOG_DETECT_UTF8_H */
