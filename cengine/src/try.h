/*
 * try.h - the early return every part of the engine uses on a failed status.
 */
#ifndef ALOG_TRY_H
#define ALOG_TRY_H

#include "alog.h"

/* Evaluate expr (an alog_status); return it from the calling function unless it is ALOG_OK. */
#define ALOG_TRY(expr)                       \
    do {                                     \
        alog_status alog_try_ = (expr);      \
        if (alog_try_ != ALOG_OK)            \
            return alog_try_;                \
    } while (0)

#endif /* ALOG_TRY_H */
