/*
 * detect_lines.c - an application linked against libalog from a bundle: the models read from the
 * bundle's model directory, the vocabulary and every setting from its generated headers, raw log
 * lines on standard input, every verdict (the JSON lines `alog-engine --all` prints) on standard
 * output. Only alog.h and the generated headers are used.
 *
 *     detect_lines MODEL_DIR < app.log
 *
 * Built through pkg-config (Makefile) or CMake's find_package(alog) (CMakeLists.txt) beside this
 * file; both take the bundle's lib/pkgconfig/alog.pc or lib/cmake/alog/.
 *
 * The headers describe the models the bundle was built with: give it that bundle's
 * share/alog/models (alog-engine, unlike this example, also checks the files' SHA-256).
 *
 * Exit status: 0 done, 2 usage, 3 the models cannot be read or set up, 4 a model run failed or
 * the output could not be written.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alog.h"
#include "alog_model_meta.h"
#define ALOG_VOCAB_IMPLEMENTATION /* the template tables are defined in this file */
#include "alog_vocab.h"
#include "alog_config.h"

#define MAX_SESSIONS 65536u
#define CACHE_ENTRIES 16384u

/* ---- the models: a file's bytes, measured and opened in an arena of exactly that size -------- */

typedef struct loaded_model {
    unsigned char *bytes;  /* the .onnx file: weights are used in place, keep it alive */
    void *arena;
    alog_model *model;
} loaded_model;

static unsigned char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    unsigned char *data = NULL;
    long size;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)size)) != NULL && fread(data, 1, (size_t)size, f) == (size_t)size)
        *len = (size_t)size;
    else {
        free(data);
        data = NULL;
        fprintf(stderr, "detect_lines: error: %s: cannot read it\n", path);
    }
    if (f)
        fclose(f);
    return data;
}

static int load_model(loaded_model *m, const char *dir, const char *name)
{
    alog_message msg = {{0}};
    size_t len = 0, work_len = 0, need = 0;
    void *work;
    alog_status status;
    if (!(m->bytes = read_file(dir, name, &len)))
        return 0;
    /* Without a work buffer the engine says how much planning needs, then measures in it. */
    status = alog_model_arena_size(&work_len, NULL, 0, m->bytes, len, 1, &msg);
    if (status == ALOG_ERR_ARENA_TOO_SMALL && (work = malloc(work_len)) != NULL) {
        status = alog_model_arena_size(&need, work, work_len, m->bytes, len, 1, &msg);
        free(work);
    }
    if (status == ALOG_OK)
        status = (m->arena = malloc(need)) != NULL
                     ? alog_model_open(&m->model, m->arena, need, m->bytes, len, 1, &msg)
                     : ALOG_ERR_LIMIT;
    if (status != ALOG_OK)
        fprintf(stderr, "detect_lines: error: %s/%s: %s (%s)\n", dir, name, msg.text,
                alog_status_str(status));
    return status == ALOG_OK;
}

/* ---- verdicts out, lines in -------------------------------------------------------------------- */

static int write_stdout(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    return fwrite(data, 1, len, stdout) != len;
}

static void on_verdict(void *ctx, const alog_verdict *verdict)
{
    alog_verdict_write(ctx, verdict);
}

/* The next line of stdin without its LF, its first ALOG_MAX_LINE + 1 bytes kept (*overlong when
 * there were more: the detector judges such a line by its head). 0 at the end of the input. */
static int next_line(char *buf, size_t *len, int *overlong)
{
    int ch;
    size_t n = 0;
    *overlong = 0;
    while ((ch = getchar()) != EOF && ch != '\n') {
        if (n < ALOG_MAX_LINE + 1)
            buf[n++] = (char)ch;
        else
            *overlong = 1;
    }
    *len = n;
    return ch != EOF || n > 0;
}

int main(int argc, char **argv)
{
    static char out_buf[1 << 16];
    loaded_model deeplog = {NULL, NULL, NULL}, mscred = {NULL, NULL, NULL};
    alog_detector_config config;
    alog_detector *det = NULL;
    alog_message msg = {{0}};
    alog_sink out;
    alog_status status = ALOG_OK;
    char *line = malloc(ALOG_MAX_LINE + 1);
    void *det_mem = NULL;
    size_t need = 0, len;
    int overlong, ok = 1;
    if (argc != 2) {
        fprintf(stderr, "usage: detect_lines MODEL_DIR < LOG\n");
        return 2;
    }
#if ALOG_META_HAS_DEEPLOG
    ok = ok && load_model(&deeplog, argv[1], ALOG_META_DEEPLOG_ONNX_FILE);
#endif
#if ALOG_META_HAS_MSCRED
    ok = ok && load_model(&mscred, argv[1], ALOG_META_MSCRED_ONNX_FILE);
#endif
    alog_config_from_headers(&config, MAX_SESSIONS, CACHE_ENTRIES);
    if (ok && line) {
        status = alog_detector_size(&need, &config, &msg);
        if (status == ALOG_OK)
            status = (det_mem = malloc(need)) != NULL
                         ? alog_detector_open(&det, det_mem, need, &config, deeplog.model,
                                              mscred.model, &msg)
                         : ALOG_ERR_LIMIT;
        if (status != ALOG_OK)
            fprintf(stderr, "detect_lines: error: detector: %s (%s)\n", msg.text,
                    alog_status_str(status));
    }
    if (!ok || !line || status != ALOG_OK)
        return 3;
    alog_sink_init(&out, out_buf, sizeof out_buf, write_stdout, NULL);
    while (status == ALOG_OK && next_line(line, &len, &overlong))
        status = overlong ? alog_detector_feed_line_head(det, line, len, on_verdict, &out)
                          : alog_detector_feed_line(det, line, len, on_verdict, &out);
    if (status == ALOG_OK) /* the end of input closes every session (docs/detection.md 2.2) */
        status = alog_detector_finish(det, on_verdict, &out);
    if (alog_sink_flush(&out) != ALOG_OK || fflush(stdout) != 0) {
        fprintf(stderr, "detect_lines: error: cannot write the verdicts\n");
        return 4;
    }
    if (status != ALOG_OK) {
        fprintf(stderr, "detect_lines: error: %s: %s\n", alog_status_str(status),
                alog_detector_error(det));
        return 4;
    }
    free(det_mem);
    free(line);
    free(deeplog.arena);
    free(deeplog.bytes);
    free(mscred.arena);
    free(mscred.bytes);
    return 0;
}
