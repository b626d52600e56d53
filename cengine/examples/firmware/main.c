/*
 * main.c - alog-detect on a device: the models compiled into the image (alog_model_data.c), the
 * vocabulary and every setting from the generated headers, all memory static, no file system,
 * no malloc. Only alog.h is used.
 *
 * Build: the generated files (`scons headers`, or alog_detect.codegen.render_headers) in GEN, and
 * the engine library (`scons lib`):
 *
 *     cc -std=c99 -Icengine/include -IGEN cengine/examples/firmware/main.c GEN/alog_model_data.c \
 *        build/host/lib/libalog.a -o firmware
 *
 * On the host it stands in for a device: its log comes from standard input and its verdicts (every
 * one, as JSON lines, the bytes `alog-engine --all` prints) go to standard output. On a device,
 * the firmware calls log_line() or log_event() where it logs, and write_out() feeds a UART.
 *
 *     firmware              one raw log line per input line
 *     firmware --events     "SESSION INDEX" per input line: firmware that logs structured events
 *
 * Exit status: 0 done, 3 the models or the detector cannot be set up (the reason on stderr),
 * 4 a model run failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alog.h"
#include "alog_model_meta.h"
#define ALOG_VOCAB_IMPLEMENTATION /* the template tables are defined in this file */
#include "alog_vocab.h"

/* ---- memory: all static, sized at build time ----------------------------------------------- */

/* On a device: the size alog_model_arena_size() reported on the host for this model (exact at any
 * address, alog.h). The host default is generous, for whatever model the example is built with. */
#ifndef EXAMPLE_MODEL_ARENA
#define EXAMPLE_MODEL_ARENA ((size_t)1 << 23)
#endif
#ifndef EXAMPLE_DETECTOR_MEMORY
#define EXAMPLE_DETECTOR_MEMORY ((size_t)1 << 22)
#endif
#define EXAMPLE_MAX_SESSIONS 4096u
#define EXAMPLE_CACHE_ENTRIES 1024u
/* Longer lines are unseen on this device (alog-engine holds ALOG_MAX_LINE bytes). */
#define EXAMPLE_LINE_MAX 4096u

#if ALOG_META_HAS_DEEPLOG
static unsigned char deeplog_arena[EXAMPLE_MODEL_ARENA];
#endif
#if ALOG_META_HAS_MSCRED
static unsigned char mscred_arena[EXAMPLE_MODEL_ARENA];
#endif
static unsigned char detector_memory[EXAMPLE_DETECTOR_MEMORY];

/* ---- verdicts out ------------------------------------------------------------------------ */

static int write_out(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    return fwrite(data, 1, len, stdout) != len;
}

static void on_verdict(void *ctx, const alog_verdict *verdict)
{
    alog_verdict_write(ctx, verdict);
}

/* ---- setup ------------------------------------------------------------------------------- */

/* Measured in the arena itself (it doubles as the work buffer), then opened there. */
static alog_status open_model(alog_model **out, unsigned char *arena, size_t arena_len,
                              const unsigned char *onnx, size_t onnx_len, alog_message *message)
{
    size_t need = 0;
    alog_status status = alog_model_arena_size(&need, arena, arena_len, onnx, onnx_len, 1,
                                               message);
    if (status == ALOG_OK && need > arena_len) {
        snprintf(message->text, sizeof message->text,
                 "the model needs %lu arena bytes: build with -DEXAMPLE_MODEL_ARENA=%lu",
                 (unsigned long)need, (unsigned long)need);
        return ALOG_ERR_ARENA_TOO_SMALL;
    }
    return status == ALOG_OK ? alog_model_open(out, arena, need, onnx, onnx_len, 1, message)
                             : status;
}

static void fill_config(alog_detector_config *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = ALOG_VOCAB_SIZE;
    c->templates = alog_vocab_templates;
    c->template_lengths = alog_vocab_template_lengths;
    c->mask_rules = ALOG_FRONTEND_MASK_RULES;
    c->session_rule = ALOG_FRONTEND_SESSION_RULE;
    c->header_tokens = ALOG_FRONTEND_HEADER_TOKENS;
#if ALOG_META_HAS_DEEPLOG
    c->has_deeplog = 1;
    c->window = ALOG_META_DEEPLOG_SEQ_LEN;
    c->top_k = ALOG_META_DEEPLOG_TOP_K;
    c->max_sessions = EXAMPLE_MAX_SESSIONS;
    c->cache_entries = EXAMPLE_CACHE_ENTRIES;
#endif
#if ALOG_META_HAS_MSCRED
    {
        static const uint32_t window_sizes[] = ALOG_META_MSCRED_WINDOW_SIZES;
        size_t i;
        c->has_mscred = 1;
        c->signature.num_templates = ALOG_VOCAB_SIZE;
        c->signature.n = ALOG_META_MSCRED_N;
        c->signature.scales = ALOG_META_MSCRED_SCALES;
        for (i = 0; i < sizeof window_sizes / sizeof window_sizes[0] && i < ALOG_MSCRED_MAX_SCALES;
             i++)
            c->signature.window_sizes[i] = window_sizes[i];
        c->signature.step = ALOG_META_MSCRED_STEP;
        c->signature.steps = ALOG_META_MSCRED_STEPS;
        c->signature.bucket_by_seconds = strcmp(ALOG_META_MSCRED_BUCKET_UNIT, "seconds") == 0;
        c->signature.bucket_size = ALOG_META_MSCRED_BUCKET_SIZE;
        c->signature.norm = ALOG_META_MSCRED_NORM;
        c->cell_threshold = (float)ALOG_META_MSCRED_CELL_THRESHOLD;
        c->anomaly_threshold = ALOG_META_MSCRED_ANOMALY_THRESHOLD;
    }
#endif
}

static alog_status setup(alog_detector **det, alog_detector_config *config, alog_message *message)
{
    alog_model *deeplog = NULL, *mscred = NULL;
    size_t need = 0;
    alog_status status = ALOG_OK;
#if ALOG_META_HAS_DEEPLOG
    status = open_model(&deeplog, deeplog_arena, sizeof deeplog_arena, alog_model_deeplog_onnx,
                        alog_model_deeplog_onnx_size, message);
#endif
#if ALOG_META_HAS_MSCRED
    if (status == ALOG_OK)
        status = open_model(&mscred, mscred_arena, sizeof mscred_arena, alog_model_mscred_onnx,
                            alog_model_mscred_onnx_size, message);
#endif
    if (status != ALOG_OK)
        return status;
    fill_config(config);
    status = alog_detector_size(&need, config, message);
    if (status == ALOG_OK && need > sizeof detector_memory) {
        snprintf(message->text, sizeof message->text,
                 "the detector needs %lu bytes: build with -DEXAMPLE_DETECTOR_MEMORY=%lu",
                 (unsigned long)need, (unsigned long)need);
        return ALOG_ERR_ARENA_TOO_SMALL;
    }
    return status == ALOG_OK ? alog_detector_open(det, detector_memory, need, config, deeplog,
                                                  mscred, message)
                             : status;
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

/* The host's stand-in for the device's log: one line of stdin without its LF, at most `cap`
 * bytes kept (*truncated when it had more). Returns 0 at the end of the input. */
static int read_line(char *buf, size_t cap, size_t *len, int *truncated)
{
    int ch;
    size_t n = 0;
    *truncated = 0;
    while ((ch = getchar()) != EOF && ch != '\n') {
        if (n < cap)
            buf[n++] = (char)ch;
        else
            *truncated = 1;
    }
    *len = n;
    return ch != EOF || n > 0 || *truncated;
}

/* "SESSION INDEX" -> a structured event (a line of another form is skipped, with a note). */
static alog_status event_from_text(alog_detector *det, char *line, size_t len, alog_sink *out)
{
    char *space, *end;
    long index;
    line[len] = '\0';
    space = strchr(line, ' ');
    if (!space) {
        fprintf(stderr, "firmware: skipped \"%s\" (expected SESSION INDEX)\n", line);
        return ALOG_OK;
    }
    *space = '\0';
    index = strtol(space + 1, &end, 10);
    if (end == space + 1 || *end || index < -1 || index >= (long)ALOG_VOCAB_SIZE) {
        fprintf(stderr, "firmware: skipped \"%s %s\" (INDEX: -1..%d)\n", line, space + 1,
                ALOG_VOCAB_SIZE - 1);
        return ALOG_OK;
    }
    return log_event(det, line, (int32_t)index, out);
}

int main(int argc, char **argv)
{
    static char line[EXAMPLE_LINE_MAX + 1];
    static char out_buf[256];
    int events = argc > 1 && strcmp(argv[1], "--events") == 0, truncated;
    alog_detector_config config;
    alog_detector *det = NULL;
    alog_message message = {{0}};
    alog_status status = setup(&det, &config, &message);
    alog_sink out;
    size_t len;
    if (status != ALOG_OK) {
        fprintf(stderr, "firmware: %s (%s)\n", message.text, alog_status_str(status));
        return 3;
    }
    alog_sink_init(&out, out_buf, sizeof out_buf, write_out, NULL);
    while (status == ALOG_OK && read_line(line, EXAMPLE_LINE_MAX, &len, &truncated))
        status = events ? event_from_text(det, line, len, &out)
                        : log_line(det, line, len, truncated, &out);
    alog_sink_flush(&out);
    if (status != ALOG_OK) {
        fprintf(stderr, "firmware: %s: %s\n", alog_status_str(status), alog_detector_error(det));
        return 4;
    }
    return 0;
}
