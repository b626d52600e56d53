/*
 * linereader.h - splits a byte stream (a file or stdin) into lines, whatever the bytes.
 *
 * Lines end at '\n' (the '\n' is not part of the line); a last line without one is still a line.
 * Any byte, NUL included, is line content. A line longer than the reader's limit is delivered as
 * its first `limit` bytes with `overlong` set, and the rest of it is read and dropped, so memory
 * stays bounded whatever the input. Reads block on the descriptor only when no complete line is
 * buffered; when such a read may wait (poll(2) finds nothing to read yet, which never happens
 * on a regular file) the caller is told first (before_wait), so output can be flushed before a
 * pause in the input (`tail -F`).
 */
#ifndef ALOG_CLI_LINEREADER_H
#define ALOG_CLI_LINEREADER_H

#include <stddef.h>

typedef struct line_reader {
    int fd;
    char *buf;      /* (cap) */
    size_t cap;     /* limit + one read's worth */
    size_t limit;   /* longest line delivered whole */
    size_t start;   /* first unconsumed byte */
    size_t end;     /* one past the last buffered byte */
    int eof;
    int dropping;   /* inside the remainder of an overlong line */
    void (*before_wait)(void *ctx);
    void *ctx;
} line_reader;

typedef enum line_result { LINE_OK = 0, LINE_EOF = 1, LINE_ERROR = -1 } line_result;

/* buf must hold limit + chunk bytes (chunk > 0: the most one read() asks for). */
void line_reader_init(line_reader *r, int fd, char *buf, size_t limit, size_t chunk,
                      void (*before_wait)(void *ctx), void *ctx);

/* The next line: *line points into the reader's buffer, valid until the next call. */
line_result line_reader_next(line_reader *r, const char **line, size_t *len, int *overlong);

#endif /* ALOG_CLI_LINEREADER_H */
