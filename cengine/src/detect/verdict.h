/*
 * verdict.h - one verdict, and its JSON line exactly as the Python reference writes it.
 *
 * The reference prints json.dumps(obj, separators=(",", ":")) with the default ensure_ascii,
 * keys in the order model, session, line, template, topk, score, anomaly, reason. Session names
 * are bytes from the log: they are decoded as alog_detect.masking.to_text decodes them (UTF-8,
 * invalid bytes as lone surrogates) and every non-ASCII character is escaped as \u and four hex
 * digits (astral characters as a surrogate pair), byte for byte what json.dumps produces.
 *
 * Output goes through a sink: a caller buffer that is handed to a flush callback when full, so a
 * session name of any length is written without a buffer of its size.
 */
#ifndef ALOG_DETECT_VERDICT_H
#define ALOG_DETECT_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

/* alog_model_kind, alog_verdict, alog_sink, alog_sink_init/flush and alog_verdict_write are
 * public: alog.h. */

void alog_sink_write(alog_sink *sink, const char *data, size_t len);

/* Append bytes as a JSON string literal (with its quotes), as json.dumps would write the str
 * Python decodes them to. */
void alog_json_write_string(alog_sink *sink, const char *bytes, size_t len);

#endif /* ALOG_DETECT_VERDICT_H */
