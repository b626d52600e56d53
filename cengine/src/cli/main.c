/*
 * main.c - alog-engine: raw log lines in (a file or stdin), verdict JSON lines out.
 *
 *     alog-engine --models DIR [--all] [--session-key RULE] [--header-tokens N]
 *                 [--max-sessions N] [--session-timeout N|Ts] [--rule topk|probability]
 *                 [--batch N] [--memory] [FILE|-]
 *
 * Usage, exit codes and behaviour on bad input: docs/engine.md.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alog.h"
#include "cli/linereader.h"
#include "cli/modelfiles.h"

enum exit_code {
    EXIT_OK = 0,          /* the whole input was read and every verdict written */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_MODELS = 3,      /* the model directory is missing, malformed, or not the one built for */
    EXIT_IO = 4           /* the input could not be read, the output not written, a model failed */
};

#define READ_CHUNK ((size_t)1 << 16)
#define DEFAULT_MAX_SESSIONS 65536u
#define TOPK_CACHE_ENTRIES 16384u
#define DEFAULT_BATCH 1u
#define ALOG_STR2(x) #x
#define ALOG_STR(x) ALOG_STR2(x)

static const char USAGE[] =
    "usage: alog-engine --models DIR [--all] [--session-key RULE] [--header-tokens N]\n"
    "                   [--max-sessions N] [--session-timeout N|Ts] [--rule topk|probability]\n"
    "                   [--isa auto|avx2|baseline] [--batch N] [--memory] [FILE|-]\n";

static const char HELP[] =
    "\n"
    "Reads raw log lines from FILE (or standard input: -, the default) and writes one JSON\n"
    "verdict per line to standard output, as `alog-detect detect` does, with the models of DIR\n"
    "(the output directory of `alog-detect convert-onnx`).\n"
    "\n"
    "options:\n"
    "  --models DIR          the model directory (vocab.json, deeplog.onnx, mscred.onnx, metadata)\n"
    "  --all                 print every verdict, not only anomalies\n"
    "  --session-key RULE    instead of the model directory's frontend.json: 'none' (the whole\n"
    "                        stream is one session) or 'prefix:<p>' (the first key starting\n"
    "                        with <p>, e.g. prefix:blk_)\n"
    "  --header-tokens N     instead of frontend.json's: leading tokens of a line not matched\n"
    "  --max-sessions N      DeepLog sessions kept at once; beyond, the one idle longest is\n"
    "                        forgotten (default 65536)\n"
    "  --session-timeout N|Ts  a session closes when idle for more than N lines, or T seconds\n"
    "                        of the lines' timestamps (e.g. 30s); default: sessions close only\n"
    "                        when forgotten and at the end of the input. With a model trained\n"
    "                        with the END key a closing session is judged (reason early_end)\n"
    "  --rule topk|probability  DeepLog's decision rule (default: the model's): not among the\n"
    "                        top-k, or a probability below the model's calibrated threshold\n"
    "  --isa auto|avx2|baseline  vector extensions the models may use: the widest this CPU has\n"
    "                        (auto, the default), AVX2 at most, or the target's baseline; the\n"
    "                        verdicts are the same, only the speed differs\n"
    "  --batch N             DeepLog windows missing the cache run N at a time (1..4096,\n"
    "                        default " ALOG_STR(DEFAULT_BATCH) "); the verdicts of the lines behind a held window\n"
    "                        wait for it, at most until the input pauses (tail -F); the\n"
    "                        same verdicts in the same order whatever N\n"
    "  --memory              print the bytes the engine allocates for these models and\n"
    "                        options as one JSON object, and exit without reading input\n"
    "  --version             the engine version and the model hashes it was built for\n"
    "  --help                this text\n"
    "\n"
    "exit codes: 0 done, 2 bad command line, 3 bad model directory, 4 input/output or model\n"
    "failure (docs/engine.md)\n";

typedef struct options {
    const char *models;
    const char *input;
    const char *session_key;  /* NULL: frontend.json's */
    long header_tokens;       /* -1: frontend.json's */
    int all;
    int memory;               /* --memory: report the allocations, read no input */
    uint32_t max_sessions;
    uint64_t timeout_lines;   /* --session-timeout N (0: none) */
    double timeout_seconds;   /* --session-timeout Ts (0: none) */
    int rule;                 /* -1: the model's; else an alog_rule */
    unsigned isa;             /* the ALOG_ISA_* bits the models may use */
    uint32_t batch;           /* --batch: DeepLog windows run at once */
} options;

/* ---- command line ------------------------------------------------------------------------ */

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "alog-engine: error: %s%s%s\n%s", what, arg ? ": " : "", arg ? arg : "", USAGE);
    return EXIT_USAGE;
}

static int parse_count(uint32_t *out, const char *text)
{
    char *end;
    unsigned long v;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v == 0 || v > (1ul << 24))
        return 0;
    *out = (uint32_t)v;
    return 1;
}

/* 0..UINT32_MAX, as frontend.json's header_tokens. */
static int parse_header_tokens(long *out, const char *text)
{
    char *end;
    unsigned long v;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v > 0xFFFFFFFFul)
        return 0;
    *out = (long)v;
    return 1;
}

/* --session-timeout: N (a whole number of lines >= 1) or Ts (seconds, finite, above 0). */
static int parse_timeout(options *o, const char *text)
{
    size_t n = strlen(text);
    char *end;
    if (n == 0 || (!(text[0] >= '0' && text[0] <= '9') && text[0] != '.'))
        return 0;
    errno = 0;
    if (text[n - 1] == 's') {
        double v;
        if (strspn(text, "0123456789.eE+-") != n - 1)
            return 0; /* decimal only: no hex float, no inf or nan */
        v = strtod(text, &end);
        if (errno || end != text + n - 1 || !isfinite(v) || !(v > 0))
            return 0;
        o->timeout_seconds = v;
        o->timeout_lines = 0;
    } else {
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || *end || v == 0)
            return 0;
        o->timeout_lines = v;
        o->timeout_seconds = 0;
    }
    return 1;
}

static int takes_value(const char *a)
{
    return strcmp(a, "--models") == 0 || strcmp(a, "--session-key") == 0 ||
           strcmp(a, "--header-tokens") == 0 || strcmp(a, "--max-sessions") == 0 ||
           strcmp(a, "--isa") == 0 || strcmp(a, "--session-timeout") == 0 ||
           strcmp(a, "--rule") == 0 || strcmp(a, "--batch") == 0;
}

/* Returns -1 to go on, or the exit code (after --help/--version or an error). */
static int parse_args(options *o, int argc, char **argv)
{
    int i, have_input = 0;
    memset(o, 0, sizeof *o);
    o->input = "-";
    o->session_key = NULL; /* the model directory's frontend.json decides */
    o->header_tokens = -1;
    o->max_sessions = DEFAULT_MAX_SESSIONS;
    o->rule = -1;
    o->isa = ~0u;
    o->batch = DEFAULT_BATCH;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s%s", USAGE, HELP);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("alog-engine %s\n%s", ALOG_VERSION_STRING, model_files_built_for());
            return EXIT_OK;
        } else if (strcmp(a, "--all") == 0) {
            o->all = 1;
        } else if (strcmp(a, "--memory") == 0) {
            o->memory = 1;
        } else if (takes_value(a)) {
            if (i + 1 >= argc)
                return usage_error("option needs a value", a);
            if (strcmp(a, "--models") == 0)
                o->models = argv[++i];
            else if (strcmp(a, "--session-key") == 0)
                o->session_key = argv[++i];
            else if (strcmp(a, "--header-tokens") == 0) {
                if (!parse_header_tokens(&o->header_tokens, argv[++i]))
                    return usage_error("--header-tokens needs a whole number from 0 to 4294967295",
                                       argv[i]);
            } else if (strcmp(a, "--session-timeout") == 0) {
                if (!parse_timeout(o, argv[++i]))
                    return usage_error("--session-timeout needs a whole number of lines above 0 "
                                       "or seconds above 0 such as 30s", argv[i]);
            } else if (strcmp(a, "--rule") == 0) {
                const char *v = argv[++i];
                if (strcmp(v, "topk") == 0)
                    o->rule = ALOG_RULE_TOPK;
                else if (strcmp(v, "probability") == 0)
                    o->rule = ALOG_RULE_PROBABILITY;
                else
                    return usage_error("--rule must be topk or probability", v);
            } else if (strcmp(a, "--batch") == 0) {
                const char *v = argv[++i];
                if (!(v[0] >= '0' && v[0] <= '9') || !parse_count(&o->batch, v) ||
                    o->batch > ALOG_MAX_BATCH)
                    return usage_error("--batch needs a whole number from 1 to 4096", argv[i]);
            } else if (strcmp(a, "--isa") == 0) {
                const char *v = argv[++i];
                if (strcmp(v, "auto") == 0)
                    o->isa = ~0u;
                else if (strcmp(v, "avx2") == 0)
                    o->isa = ALOG_ISA_AVX2;
                else if (strcmp(v, "baseline") == 0)
                    o->isa = 0;
                else
                    return usage_error("--isa must be auto, avx2 or baseline", v);
            } else if (!parse_count(&o->max_sessions, argv[++i]))
                return usage_error("--max-sessions needs a whole number from 1 to 16777216",
                                   argv[i]);
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option", a);
        } else if (have_input) {
            return usage_error("one input only (a file, or - for standard input)", a);
        } else {
            o->input = a;
            have_input = 1;
        }
    }
    if (!o->models)
        return usage_error("--models DIR is required", NULL);
    return -1;
}

/* ---- output ------------------------------------------------------------------------------ */

typedef struct output {
    alog_sink sink;
    alog_detector *det;
    alog_status flushed; /* the held windows' run before a wait: a failure stops the stream */
    int broken_pipe; /* the reader went away: stop quietly, as `alog-detect` does */
    int all;
} output;

static int write_stdout(void *ctx, const char *data, size_t len)
{
    output *out = ctx;
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            out->broken_pipe = errno == EPIPE;
            return 1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void emit_verdict(void *ctx, const alog_verdict *v)
{
    output *out = ctx;
    if (v->anomaly || out->all)
        alog_verdict_write(&out->sink, v);
}

/* Before the reader may block on its input, everything decided so far goes out (tail -F). */
static void flush_before_wait(void *ctx)
{
    output *out = ctx;
    if (out->flushed == ALOG_OK)
        out->flushed = alog_detector_flush(out->det, emit_verdict, out);
    alog_sink_flush(&out->sink);
}

/* ---- the stream -------------------------------------------------------------------------- */

/* One raw line; an overlong one (the reader kept its head) is unseen. */
static alog_status feed_line(alog_detector *det, const char *line, size_t len, int overlong,
                             output *out)
{
    return overlong ? alog_detector_feed_line_head(det, line, len, emit_verdict, out)
                    : alog_detector_feed_line(det, line, len, emit_verdict, out);
}

static int run_stream(alog_detector *det, int fd, const char *name, output *out)
{
    char *buf = malloc(ALOG_MAX_LINE + 1 + READ_CHUNK);
    line_reader reader;
    const char *line;
    size_t len;
    int overlong;
    uint64_t number = 0;
    line_result r;
    alog_status status = ALOG_OK;
    if (!buf) {
        fprintf(stderr, "alog-engine: error: out of memory for the line buffer\n");
        return EXIT_IO;
    }
    /* A line of the longest length the matcher takes, plus the CR it strips, is read whole. */
    line_reader_init(&reader, fd, buf, ALOG_MAX_LINE + 1, READ_CHUNK, flush_before_wait, out);
    while (!out->broken_pipe && (r = line_reader_next(&reader, &line, &len, &overlong)) == LINE_OK) {
        ++number;
        status = out->flushed != ALOG_OK ? out->flushed
                                          : feed_line(det, line, len, overlong, out);
        if (status != ALOG_OK)
            break;
    }
    /* The end of the input closes every session still kept (docs/detection.md 2.2). */
    if (status == ALOG_OK && out->flushed != ALOG_OK)
        status = out->flushed;
    if (status == ALOG_OK && r == LINE_EOF && !out->broken_pipe)
        status = alog_detector_finish(det, emit_verdict, out);
    alog_sink_flush(&out->sink);
    free(buf);
    if (out->broken_pipe)
        return EXIT_OK;
    if (status != ALOG_OK) {
        fprintf(stderr, "alog-engine: error: line %llu: %s%s%s\n", (unsigned long long)number,
                alog_status_str(status), alog_detector_error(det)[0] ? ": " : "",
                alog_detector_error(det));
        return EXIT_IO;
    }
    if (r == LINE_ERROR || out->sink.failed) {
        fprintf(stderr, "alog-engine: error: %s: %s\n", r == LINE_ERROR ? name : "standard output",
                strerror(errno));
        return EXIT_IO;
    }
    return EXIT_OK;
}

/* ---- main -------------------------------------------------------------------------------- */

/* The options that depend on the model directory: -1 to go on, or EXIT_USAGE after one line. */
static int check_options(const model_files *files, const options *o)
{
    const alog_detector_config *c = &files->config;
    if (o->rule == ALOG_RULE_PROBABILITY && c->has_deeplog && !isfinite(c->prob_threshold)) {
        fprintf(stderr, "alog-engine: error: %s/deeplog.onnx.meta.json: the probability rule "
                        "needs a calibrated prob_threshold, and this model has none (fix: use "
                        "the topk rule, or retrain with deeplog-train and re-export)\n",
                o->models);
        return EXIT_USAGE;
    }
    if (o->rule == ALOG_RULE_PROBABILITY && c->has_deeplog && c->end_key &&
        !isfinite(c->end_threshold)) {
        fprintf(stderr, "alog-engine: error: %s/deeplog.onnx.meta.json: the probability rule "
                        "needs a calibrated end_threshold for the END key, and this model has "
                        "none (fix: use the topk rule, or retrain with deeplog-train and "
                        "re-export)\n",
                o->models);
        return EXIT_USAGE;
    }
    if (o->timeout_seconds > 0 && strcmp(files->frontend.timestamp, "none") == 0) {
        fprintf(stderr, "alog-engine: error: %s/frontend.json: a session timeout in seconds, but "
                        "this front end reads no timestamps (timestamp none); give a line "
                        "count\n", o->models);
        return EXIT_USAGE;
    }
    return -1;
}

static int setup_detector(alog_detector **det, void **mem, size_t *mem_len, model_files *files,
                          const options *o)
{
    alog_detector_config *c = &files->config;
    alog_message msg = {{0}};
    size_t need = 0;
    alog_status status;
    if (o->session_key)
        c->session_rule = o->session_key;
    if (o->header_tokens >= 0)
        c->header_tokens = (uint32_t)o->header_tokens;
    c->max_sessions = o->max_sessions;
    c->cache_entries = TOPK_CACHE_ENTRIES;
    c->batch = o->batch;
    c->session_timeout_lines = o->timeout_lines;
    c->session_timeout_seconds = o->timeout_seconds;
    if (o->rule >= 0)
        c->rule = (alog_rule)o->rule;
    status = alog_detector_size(&need, c, &msg);
    if (status == ALOG_OK)
        status = (*mem = malloc(need)) != NULL
                     ? alog_detector_open(det, *mem, need, c, files->models[0], files->models[1],
                                          &msg)
                     : ALOG_ERR_LIMIT;
    if (status != ALOG_OK) {
        fprintf(stderr, "alog-engine: error: %s (%s)\n", msg.text[0] ? msg.text : "detector setup",
                alog_status_str(status));
        return EXIT_MODELS;
    }
    *mem_len = need;
    return EXIT_OK;
}

/* --memory: what this run allocates, for a device's RAM budget (the bundle's manifest.json
 * records it for the shipped models). Every figure is exact: the arenas and the detector are
 * measured by the library, the rest are the files' sizes and the fixed line buffer. */
static int print_memory(const model_files *files, size_t detector)
{
    size_t line_buffer = ALOG_MAX_LINE + 1 + READ_CHUNK;
    size_t model_files = files->vocab_json.len + files->onnx[0].len + files->onnx[1].len;
    size_t total = files->arena_sizes[0] + files->arena_sizes[1] + detector + line_buffer +
                   model_files;
    printf("{\"deeplog_arena\":%lu,\"mscred_arena\":%lu,\"detector\":%lu,\"line_buffer\":%lu,"
           "\"model_files\":%lu,\"total\":%lu}\n",
           (unsigned long)files->arena_sizes[0], (unsigned long)files->arena_sizes[1],
           (unsigned long)detector, (unsigned long)line_buffer, (unsigned long)model_files,
           (unsigned long)total);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_IO;
}

static int open_input(const char *path)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
    if (fd < 0)
        fprintf(stderr, "alog-engine: error: %s: %s (fix: give an existing file, or - for "
                        "standard input)\n", path, strerror(errno));
    return fd;
}

int main(int argc, char **argv)
{
    static char out_buf[1 << 16];
    options o;
    model_files files;
    load_error err;
    alog_detector *det = NULL;
    void *det_mem = NULL;
    size_t det_len = 0;
    output out;
    int code = parse_args(&o, argc, argv), fd = -1;
    if (code >= 0)
        return code;
    if (o.session_key && alog_session_rule_check(o.session_key) != ALOG_OK)
        return usage_error("--session-key must be 'none' or 'prefix:<p>' (printable ASCII)",
                           o.session_key);
    /* A closed stdout is an EPIPE from write(), handled there, not a signal that kills us. */
    signal(SIGPIPE, SIG_IGN);
    if (model_files_load(&files, o.models, o.batch, &err) != ALOG_OK) {
        fprintf(stderr, "alog-engine: error: %s: %s (fix: %s)\n", err.path, err.message, err.fix);
        code = EXIT_MODELS;
    }
    if (code < 0)
        code = check_options(&files, &o);
    if (code < 0) {
        size_t kind;
        for (kind = 0; kind < sizeof files.models / sizeof files.models[0]; kind++)
            alog_model_limit_isa(files.models[kind], o.isa); /* NULL (no such model): nothing */
        code = setup_detector(&det, &det_mem, &det_len, &files, &o);
    }
    if (code == EXIT_OK && o.memory)
        code = print_memory(&files, det_len);
    else if (code == EXIT_OK && (fd = open_input(o.input)) < 0)
        code = EXIT_IO;
    if (code == EXIT_OK && !o.memory) {
        memset(&out, 0, sizeof out);
        out.all = o.all;
        out.det = det;
        alog_sink_init(&out.sink, out_buf, sizeof out_buf, write_stdout, &out);
        code = run_stream(det, fd, o.input, &out);
    }
    if (fd > STDIN_FILENO)
        close(fd);
    free(det_mem);
    model_files_free(&files);
    return code;
}
