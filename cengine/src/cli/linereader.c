/*
 * linereader.c - bounded line splitting over read(2).
 */
#define _POSIX_C_SOURCE 200809L
#include "linereader.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

void line_reader_init(line_reader *r, int fd, char *buf, size_t limit, size_t chunk,
                      void (*before_wait)(void *ctx), void *ctx)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->buf = buf;
    r->limit = limit;
    r->cap = limit + chunk;
    r->before_wait = before_wait;
    r->ctx = ctx;
}

/* Whether a read would return at once: data (or the end) is there. A regular file always is; a
 * pipe or terminal is when the writer is ahead of us. */
static int input_ready(int fd)
{
    struct pollfd p;
    int n;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    do {
        n = poll(&p, 1, 0);
    } while (n < 0 && errno == EINTR);
    return n > 0;
}

/* Move the unconsumed bytes to the front and read more after them. */
static line_result fill(line_reader *r)
{
    ssize_t n;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->before_wait && !input_ready(r->fd)) /* only a read that may block waits */
        r->before_wait(r->ctx);
    do {
        n = read(r->fd, r->buf + r->end, r->cap - r->end);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return LINE_ERROR;
    if (n == 0)
        r->eof = 1;
    r->end += (size_t)n;
    return LINE_OK;
}

/* Skip to just after the next '\n' (the tail of an overlong line); 1 when found. */
static int drop_until_newline(line_reader *r)
{
    char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
    if (!nl) {
        r->start = r->end;
        return 0;
    }
    r->start = (size_t)(nl - r->buf) + 1;
    r->dropping = 0;
    return 1;
}

line_result line_reader_next(line_reader *r, const char **line, size_t *len, int *overlong)
{
    size_t scanned = 0; /* bytes after start already known to hold no '\n' */
    for (;;) {
        size_t avail;
        char *nl;
        if (r->dropping && !drop_until_newline(r)) {
            if (r->eof)
                return LINE_EOF;
            if (fill(r) != LINE_OK)
                return LINE_ERROR;
            continue;
        }
        avail = r->end - r->start;
        nl = memchr(r->buf + r->start + scanned, '\n', avail - scanned);
        if (nl && (size_t)(nl - (r->buf + r->start)) <= r->limit) {
            *line = r->buf + r->start;
            *len = (size_t)(nl - *line);
            *overlong = 0;
            r->start += *len + 1;
            return LINE_OK;
        }
        if (avail > r->limit) {
            /* No '\n' within the limit: deliver the head, drop the rest of the line. */
            *line = r->buf + r->start;
            *len = r->limit;
            *overlong = 1;
            r->start += r->limit;
            r->dropping = 1;
            return LINE_OK;
        }
        if (r->eof) {
            if (avail == 0)
                return LINE_EOF;
            *line = r->buf + r->start;
            *len = avail;
            *overlong = 0;
            r->start = r->end;
            return LINE_OK;
        }
        scanned = avail;
        if (fill(r) != LINE_OK)
            return LINE_ERROR;
    }
}
