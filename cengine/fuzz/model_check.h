/* model_check.h - load and run arbitrary bytes as a model: the body of the model fuzzers. */
#ifndef ALOG_MODEL_CHECK_H
#define ALOG_MODEL_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

/* Arenas above this are not allocated (the status is ALOG_ERR_LIMIT): keeps fuzzing fast. */
#define ALOG_CHECK_MAX_ARENA (1u << 20)

/*
 * Measures, opens and (when it opens) runs the model once on zeroed inputs, in buffers of
 * exactly the requested sizes so a sanitizer sees any read past them. Returns the first
 * failing status, or ALOG_OK.
 */
alog_status alog_check_model(const uint8_t *data, size_t size);

#endif /* ALOG_MODEL_CHECK_H */
