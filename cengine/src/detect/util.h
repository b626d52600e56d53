/*
 * util.h - what every part of the detector uses: early return on a failed status (try.h), and
 * 8-byte alignment of the blocks carved out of caller memory.
 */
#ifndef ALOG_DETECT_UTIL_H
#define ALOG_DETECT_UTIL_H

#include <stddef.h>

#include "alog.h"
#include "try.h"

/* Blocks in caller memory start on 8 bytes: enough for int64_t, double and pointers. */
static inline size_t alog_align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

#endif /* ALOG_DETECT_UTIL_H */
