/*
 * format.h - the engine's messages, formatted without stdio (format.c).
 */
#ifndef ALOG_FORMAT_H
#define ALOG_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * snprintf(buf, cap, fmt, ...) for the conversions the engine's messages use: %s, %.*s, %d,
 * %ld, %lld, %u, %lu, %llu and %%, with the same bytes, the text cut to cap - 1 bytes and always
 * terminated (cap > 0). Returns the bytes written, the terminator not counted. Another
 * conversion is a programming error and comes out as "%?".
 */
size_t alog_vformat(char *buf, size_t cap, const char *fmt, va_list ap);
size_t alog_format(char *buf, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif /* ALOG_FORMAT_H */
