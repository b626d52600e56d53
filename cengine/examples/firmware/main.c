/*
 * main.c - alog-detect on a device: the models compiled into the image (alog_model_data.c), the
 * vocabulary and every setting from the generated headers, all memory static, no file system,
 * no malloc. Only alog.h is used, and board.h for the log it replays and its output.
 *
 * It stands in for a device's firmware: it replays a log through the hooks a firmware would
 * call where it logs (log_line() for a raw line, log_event() for a structured event: a session
 * and a template index) and writes every verdict (the JSON lines `alog-engine --all` prints).
 *
 *     board_host.c   a Linux program; the log from standard input (docs: cengine/examples/firmware)
 *                        firmware              one raw log line per input line
 *                        firmware --events     "SESSION INDEX" per input line
 *     board_mps2.c   QEMU's mps2-an386 (Cortex-M4F): the log compiled into the image
 *                    (example_input.c), output through semihosting; with startup.c and
 *                    mps2_an386.ld (packaging/firmware/README.md.j2)
 *
 * Build on the host: the generated files (`scons headers`, or alog_detect.codegen.render_headers)
 * in GEN, and the engine library (`scons lib`):
 *
 *     cc -std=c99 -Icengine/include -IGEN cengine/examples/firmware/main.c \
 *        cengine/examples/firmware/board_host.c GEN/alog_model_data.c build/host/lib/libalog.a
 *
 * Memory: one static arena per model and one for the detector, sized by the EXAMPLE_* constants
 * below and checked at start-up against what the engine says it needs (a device build passes the
 * exact sizes with -D; a size too small is refused, naming the -D that fixes it).
 *
 * No printf: the C library's (newlib's, on a microcontroller) brings malloc into the image, so
 * the few messages are put together from strings (compose(), decimal()).
 *
 * Exit status: 0 done, 3 the models or the detector cannot be set up (the reason on stderr),
 * 4 a model run failed (and 5 on a board that stops at a fault: startup.c).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alog.h"
#include "alog_model_meta.h"
#define ALOG_VOCAB_IMPLEMENTATION /* the template tables are defined in this file */
#include "alog_vocab.h"
#include "alog_config.h"
#include "board.h"

/* ---- memory: all static, sized at build time ----------------------------------------------- */

/* A device build measures the exact sizes on the device (alog_detect.firmware.qemu) and passes
 * them in a generated example_memory.h (-DEXAMPLE_HAVE_MEMORY_H), or as -D flags. */
#ifdef EXAMPLE_HAVE_MEMORY_H
#include "example_memory.h"
#endif

/* Arena bytes for each model: on a device the size alog_model_arena_size() reports for it (exact
 * at any address, alog.h). The defaults are generous, for whatever model a host build gets. */
#ifndef EXAMPLE_DEEPLOG_ARENA
#define EXAMPLE_DEEPLOG_ARENA ((size_t)1 << 23)
#endif
#ifndef EXAMPLE_MSCRED_ARENA
#define EXAMPLE_MSCRED_ARENA ((size_t)1 << 23)
#endif
/* The detector's memory: alog_detector_size() for the settings below. */
#ifndef EXAMPLE_DETECTOR_MEMORY
#define EXAMPLE_DETECTOR_MEMORY ((size_t)1 << 22)
#endif
/* DeepLog sessions kept at once (alog-engine --max-sessions: the same rule, the same verdicts). */
#ifndef EXAMPLE_MAX_SESSIONS
#define EXAMPLE_MAX_SESSIONS 4096u
#endif
/* Windows whose top-k is remembered (speed only: the verdicts are the same with 0). */
#ifndef EXAMPLE_CACHE_ENTRIES
#define EXAMPLE_CACHE_ENTRIES 1024u
#endif
/* A session closes when idle for more than this many lines (alog-engine --session-timeout N;
 * 0: only when forgotten and at the end of the log). */
#ifndef EXAMPLE_SESSION_TIMEOUT_LINES
#define EXAMPLE_SESSION_TIMEOUT_LINES 0u
#endif
/* The longest line this device holds; a longer one is judged from its head (unseen), with a
 * note (alog-engine holds ALOG_MAX_LINE bytes). */
#ifndef EXAMPLE_LINE_MAX
#define EXAMPLE_LINE_MAX 4096u
#endif

#if ALOG_META_HAS_DEEPLOG
static unsigned char deeplog_arena[EXAMPLE_DEEPLOG_ARENA];
#endif
#if ALOG_META_HAS_MSCRED
static unsigned char mscred_arena[EXAMPLE_MSCRED_ARENA];
#endif
static unsigned char detector_memory[EXAMPLE_DETECTOR_MEMORY];

/* ---- output ------------------------------------------------------------------------------ */

#if defined(__GNUC__)
#define SENTINEL __attribute__((sentinel))
#else
#define SENTINEL
#endif

/* Concatenates the strings up to a NULL into buf, cut to cap - 1 bytes and terminated. */
static void vcompose(char *buf, size_t cap, va_list ap)
{
    size_t len = 0;
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL)
        for (; *s && len + 1 < cap; s++)
            buf[len++] = *s;
    buf[len] = '\0';
}

static void compose(char *buf, size_t cap, ...) SENTINEL;
static void compose(char *buf, size_t cap, ...)
{
    va_list ap;
    va_start(ap, cap);
    vcompose(buf, cap, ap);
    va_end(ap);
}

/* One diagnostic line, the strings up to a NULL, on the board's error output. */
static void note(const char *first, ...) SENTINEL;
static void note(const char *first, ...)
{
    char line[ALOG_MESSAGE_LEN + 192];
    size_t len = strlen(first) < sizeof line - 1 ? strlen(first) : sizeof line - 2;
    va_list ap;
    memcpy(line, first, len);
    va_start(ap, first);
    vcompose(line + len, sizeof line - 1 - len, ap);
    va_end(ap);
    len += strlen(line + len);
    line[len++] = '\n';
    board_write(2, line, len);
}

/* `value` in decimal, in `digits` (returned). */
static const char *decimal(char digits[24], unsigned long value)
{
    char *p = digits + 23;
    *p = '\0';
    do {
        *--p = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    return p;
}

static int write_out(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    return board_write(1, data, len);
}

static void on_verdict(void *ctx, const alog_verdict *verdict)
{
    alog_verdict_write(ctx, verdict);
}

/* ---- setup ------------------------------------------------------------------------------- */

/* The model bytes compiled in (alog_model_data.c) must be the model the headers were generated
 * for (alog_model_meta.h records its SHA-256): both come from one model directory, and a mix of
 * two would run one model with the other's settings. */
static alog_status check_model_bytes(const unsigned char *onnx, size_t onnx_len,
                                     const char *expected, alog_message *message)
{
    char got[65], got_head[13], expected_head[13];
    alog_sha256_hex(got, onnx, onnx_len);
    if (strcmp(got, expected) == 0)
        return ALOG_OK;
    memcpy(got_head, got, 12);
    got_head[12] = '\0';
    memcpy(expected_head, expected, 12);
    expected_head[12] = '\0';
    compose(message->text, sizeof message->text, "the bytes in alog_model_data.c (sha256 ",
            got_head, "...) are not the model alog_model_meta.h describes (", expected_head,
            "...) (fix: generate both from one model directory)", (const char *)NULL);
    return ALOG_ERR_MISMATCH;
}

/* Measured in the arena itself (it doubles as the work buffer), then opened there. `define`
 * names the constant that sizes the arena, for the message when it is too small. */
static alog_status open_model(alog_model **out, unsigned char *arena, size_t arena_len,
                              const char *define, const unsigned char *onnx, size_t onnx_len,
                              const char *sha256, alog_message *message)
{
    char need_digits[24], have_digits[24];
    const char *need_text, *have_text = decimal(have_digits, (unsigned long)arena_len);
    size_t need = 0;
    alog_status status = check_model_bytes(onnx, onnx_len, sha256, message);
    if (status != ALOG_OK)
        return status;
    status = alog_model_arena_size(&need, arena, arena_len, onnx, onnx_len, 1, message);
    need_text = decimal(need_digits, (unsigned long)need);
    if (status == ALOG_OK && need > arena_len) {
        compose(message->text, sizeof message->text, "the model needs ", need_text,
                " arena bytes, the arena has ", have_text, " (fix: build with -D", define, "=",
                need_text, ")", (const char *)NULL);
        return ALOG_ERR_ARENA_TOO_SMALL;
    }
    if (status == ALOG_ERR_ARENA_TOO_SMALL) /* too small even to measure in: need is that size */
        compose(message->text, sizeof message->text, "the arena of ", have_text,
                " bytes is too small even to measure the model in, which takes ", need_text,
                " (fix: build with -D", define, " set to what alog_model_arena_size() reports)",
                (const char *)NULL);
    if (status != ALOG_OK)
        return status;
    note("firmware: ", define, ": ", need_text, " of ", have_text, " bytes", (const char *)NULL);
    return alog_model_open(out, arena, need, onnx, onnx_len, 1, message);
}

#if ALOG_META_HAS_DEEPLOG
/* One DeepLog window on the board's clock, for the record (the detector then sets its inputs
 * itself): core cycles on a board, and under QEMU run with -icount shift=0, where each
 * instruction takes 1 ns of the AN386's 25 MHz clock, instructions / 40. A window of template 0
 * is as long to compute as any other. */
static void time_window(alog_model *deeplog)
{
    alog_tensor_info keys;
    unsigned long start, end, mask = (1ul << BOARD_TICK_BITS) - 1;
    char digits[24];
    if (alog_model_input(&keys, deeplog, 0) != ALOG_OK)
        return;
    memset(keys.data, 0, keys.bytes);
    if (!board_ticks(&start) || alog_model_run(deeplog) != ALOG_OK || !board_ticks(&end))
        return;
    note("firmware: deeplog window: ", decimal(digits, (end - start) & mask), " ticks",
         (const char *)NULL);
}
#endif

/* Opens the models and the detector in the static memory; on failure, *what names the part. */
static alog_status setup(alog_detector **det, alog_detector_config *config, const char **what,
                         alog_message *message)
{
    alog_model *deeplog = NULL, *mscred = NULL;
    char need_digits[24], have_digits[24];
    const char *need_text, *have_text;
    size_t need = 0;
    alog_status status = ALOG_OK;
#if ALOG_META_HAS_DEEPLOG
    *what = ALOG_META_DEEPLOG_ONNX_FILE;
    status = open_model(&deeplog, deeplog_arena, sizeof deeplog_arena, "EXAMPLE_DEEPLOG_ARENA",
                        alog_model_deeplog_onnx, alog_model_deeplog_onnx_size,
                        ALOG_META_DEEPLOG_ONNX_SHA256, message);
    if (status == ALOG_OK)
        time_window(deeplog);
#endif
#if ALOG_META_HAS_MSCRED
    if (status == ALOG_OK) {
        *what = ALOG_META_MSCRED_ONNX_FILE;
        status = open_model(&mscred, mscred_arena, sizeof mscred_arena, "EXAMPLE_MSCRED_ARENA",
                            alog_model_mscred_onnx, alog_model_mscred_onnx_size,
                            ALOG_META_MSCRED_ONNX_SHA256, message);
    }
#endif
    if (status != ALOG_OK)
        return status;
    *what = "detector";
    alog_config_from_headers(config, EXAMPLE_MAX_SESSIONS, EXAMPLE_CACHE_ENTRIES);
    config->session_timeout_lines = EXAMPLE_SESSION_TIMEOUT_LINES;
    status = alog_detector_size(&need, config, message);
    need_text = decimal(need_digits, (unsigned long)need);
    have_text = decimal(have_digits, (unsigned long)sizeof detector_memory);
    if (status == ALOG_OK && need > sizeof detector_memory) {
        compose(message->text, sizeof message->text, "it needs ", need_text, " bytes, it has ",
                have_text, " (fix: build with -DEXAMPLE_DETECTOR_MEMORY=", need_text, ")",
                (const char *)NULL);
        return ALOG_ERR_ARENA_TOO_SMALL;
    }
    if (status != ALOG_OK)
        return status;
    note("firmware: EXAMPLE_DETECTOR_MEMORY: ", need_text, " of ", have_text, " bytes",
         (const char *)NULL);
    return alog_detector_open(det, detector_memory, need, config, deeplog, mscred, message);
}

/* ---- the log --------------------------------------------------------------------------------- */

/* The firmware's hooks: a text line it logged, or a structured event (session, template index). */
static alog_status log_line(alog_detector *det, const char *line, size_t len, int truncated,
                            alog_sink *out)
{
    return truncated ? alog_detector_feed_line_head(det, line, len, on_verdict, out)
                     : alog_detector_feed_line(det, line, len, on_verdict, out);
}

static alog_status log_event(alog_detector *det, const char *session, int32_t index,
                             alog_sink *out)
{
    alog_event event;
    memset(&event, 0, sizeof event);
    event.session = session;
    event.session_len = strlen(session);
    event.template_index = index;
    return alog_detector_feed_event(det, &event, on_verdict, out);
}

/* The replayed log's next line without its LF, at most `cap` bytes kept (*truncated when it had
 * more). Returns 0 at the end of the input. */
static int read_line(char *buf, size_t cap, size_t *len, int *truncated)
{
    int ch;
    size_t n = 0;
    *truncated = 0;
    while ((ch = board_input_byte()) != -1 && ch != '\n') {
        if (n < cap)
            buf[n++] = (char)ch;
        else
            *truncated = 1;
    }
    *len = n;
    return ch != -1 || n > 0 || *truncated;
}

/* "SESSION INDEX" -> a structured event (a line of another form is skipped, with a note). */
static alog_status event_from_text(alog_detector *det, char *line, size_t len, alog_sink *out)
{
    char *space, *end;
    long index;
    line[len] = '\0';
    space = strchr(line, ' ');
    if (!space) {
        note("firmware: skipped \"", line, "\" (expected SESSION INDEX)", (const char *)NULL);
        return ALOG_OK;
    }
    *space = '\0';
    index = strtol(space + 1, &end, 10);
    if (end == space + 1 || *end || index < -1 || index >= (long)ALOG_VOCAB_SIZE) {
        char last[24];
        note("firmware: skipped \"", line, " ", space + 1, "\" (INDEX: -1..",
             decimal(last, ALOG_VOCAB_SIZE - 1), ")", (const char *)NULL);
        return ALOG_OK;
    }
    return log_event(det, line, (int32_t)index, out);
}

int main(int argc, char **argv)
{
    static char line[EXAMPLE_LINE_MAX + 1];
    static char out_buf[256];
    int events = board_input_start(argc, argv), truncated;
    unsigned long line_no = 0;
    alog_detector_config config;
    alog_detector *det = NULL;
    alog_message message = {{0}};
    const char *what = "";
    alog_status status = setup(&det, &config, &what, &message);
    alog_sink out;
    size_t len;
    if (status != ALOG_OK) {
        note("firmware: ", what, ": ", message.text, " (", alog_status_str(status), ")",
             (const char *)NULL);
        return 3;
    }
    alog_sink_init(&out, out_buf, sizeof out_buf, write_out, NULL);
    while (status == ALOG_OK && read_line(line, EXAMPLE_LINE_MAX, &len, &truncated)) {
        line_no++;
        if (truncated) {
            char line_digits[24], max_digits[24];
            note("firmware: line ", decimal(line_digits, line_no),
                 " is longer than the line buffer (EXAMPLE_LINE_MAX, ",
                 decimal(max_digits, EXAMPLE_LINE_MAX), " bytes): ",
                 events ? "skipped" : "judged from its head, as unseen",
                 " (fix: build with a larger -DEXAMPLE_LINE_MAX)", (const char *)NULL);
            if (events)
                continue;
        }
        status = events ? event_from_text(det, line, len, &out)
                        : log_line(det, line, len, truncated, &out);
    }
    /* The end of the log closes every session still open (with the END key, each is judged:
     * docs/detection.md 2.2); a firmware that knows one session ended calls
     * alog_detector_close_session() for it. */
    if (status == ALOG_OK)
        status = alog_detector_finish(det, on_verdict, &out);
    if (alog_sink_flush(&out) != ALOG_OK) {
        note("firmware: the verdicts could not be written", (const char *)NULL);
        return 4;
    }
    if (status != ALOG_OK) {
        note("firmware: ", alog_status_str(status), ": ", alog_detector_error(det),
             (const char *)NULL);
        return 4;
    }
    return 0;
}
