/*
 * onnx_runner - runs an .onnx model through the engine; the tool the pytest suite drives.
 *
 *   onnx_runner MODEL.onnx [--batch N] [--repeat N] [--isa baseline|avx2|auto]
 *               [-i INPUT.bin]... [-o OUTDIR]
 *
 * Inputs are raw little-endian element bytes, one file per graph input in graph order, exactly
 * the input's size. Each output k is written to OUTDIR/k.bin the same way. stdout gets one JSON
 * object: the arena size, the vector extensions used (alog_model_isa; --isa baseline holds them
 * back to the target's baseline, --isa avx2 to AVX2 at most), the outputs' names, types and
 * shapes, and the seconds per run.
 * Exit status: 0 ok, 1 the model failed to load (reason on stderr), 2 usage or I/O, 3 a run failed.
 */
#define _POSIX_C_SOURCE 199309L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alog.h"

#define MAX_INPUTS 64

typedef struct options {
    const char *model;
    const char *inputs[MAX_INPUTS];
    int n_inputs;
    const char *out_dir;
    long batch;
    long repeat;
    unsigned isa;                 /* the ALOG_ISA_* bits allowed */
} options;

static int usage(void)
{
    fputs("usage: onnx_runner MODEL.onnx [--batch N] [--repeat N] [--isa baseline|avx2|auto]"
          " [-i INPUT.bin]... [-o OUTDIR]\n",
          stderr);
    return 2;
}

static int parse_args(int argc, char **argv, options *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->repeat = 1;
    o->isa = ~0u;
    for (i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--batch") == 0)
            o->batch = strtol(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(a, "--repeat") == 0)
            o->repeat = strtol(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(a, "--isa") == 0 && strcmp(argv[i + 1], "auto") == 0)
            o->isa = ~0u, ++i;
        else if (i + 1 < argc && strcmp(a, "--isa") == 0 && strcmp(argv[i + 1], "avx2") == 0)
            o->isa = ALOG_ISA_AVX2, ++i;
        else if (i + 1 < argc && strcmp(a, "--isa") == 0 && strcmp(argv[i + 1], "baseline") == 0)
            o->isa = 0, ++i;
        else if (i + 1 < argc && strcmp(a, "-i") == 0 && o->n_inputs < MAX_INPUTS)
            o->inputs[o->n_inputs++] = argv[++i];
        else if (i + 1 < argc && strcmp(a, "-o") == 0)
            o->out_dir = argv[++i];
        else if (a[0] != '-' && !o->model)
            o->model = a;
        else
            return 0;
    }
    return o->model != NULL && o->batch >= 1 && o->repeat >= 1;
}

/* Reads a whole file into a malloc'd buffer (*out_len bytes). */
static unsigned char *read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    if (!f)
        return NULL;
    for (;;) {
        size_t n;
        if (len == cap) {
            unsigned char *bigger = realloc(buf, cap ? 2 * cap : 65536);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
            cap = cap ? 2 * cap : 65536;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    *out_len = len;
    return buf;
}

/* Measures, then opens the model in an arena of exactly the size it needs. */
static alog_status open_model(alog_model **out, void **out_arena, const unsigned char *onnx,
                              size_t len, long batch, size_t *out_need)
{
    alog_message msg;
    void *work = NULL;
    alog_status st = alog_model_arena_size(out_need, NULL, 0, onnx, len, batch, &msg);
    if (st == ALOG_ERR_ARENA_TOO_SMALL) {
        work = malloc(*out_need);
        if (!work)
            return ALOG_ERR_IO;
        st = alog_model_arena_size(out_need, work, *out_need, onnx, len, batch, &msg);
        free(work);
    }
    if (st == ALOG_OK) {
        *out_arena = malloc(*out_need ? *out_need : 1);
        if (!*out_arena)
            return ALOG_ERR_IO;
        st = alog_model_open(out, *out_arena, *out_need, onnx, len, batch, &msg);
    }
    if (st != ALOG_OK)
        fprintf(stderr, "onnx_runner: %s: %s\n", alog_status_str(st), msg.text);
    return st;
}

static int load_inputs(alog_model *m, const options *o)
{
    int i;
    if ((size_t)o->n_inputs != alog_model_input_count(m)) {
        fprintf(stderr, "onnx_runner: the model has %lu inputs, %d given\n",
                (unsigned long)alog_model_input_count(m), o->n_inputs);
        return 0;
    }
    for (i = 0; i < o->n_inputs; ++i) {
        size_t len = 0;
        unsigned char *data = read_file(o->inputs[i], &len);
        alog_status st = data ? alog_model_set_input(m, (size_t)i, data, len) : ALOG_ERR_IO;
        free(data);
        if (st != ALOG_OK) {
            fprintf(stderr, "onnx_runner: input %d (%s): %s\n", i, o->inputs[i],
                    alog_status_str(st));
            return 0;
        }
    }
    return 1;
}

static int write_outputs(const alog_model *m, const options *o, double seconds, size_t need)
{
    size_t k;
    int d;
    printf("{\"arena_size\": %lu, \"isa\": %u, \"seconds_per_run\": %.9g, \"outputs\": [",
           (unsigned long)need, alog_model_isa(m), seconds);
    for (k = 0; k < alog_model_output_count(m); ++k) {
        alog_tensor_info info;
        alog_model_output(&info, m, k);
        printf("%s{\"name\": \"%s\", \"dtype\": %d, \"shape\": [", k ? ", " : "", info.name,
               (int)info.dtype);
        for (d = 0; d < info.rank; ++d)
            printf("%s%lld", d ? ", " : "", (long long)info.dims[d]);
        printf("]}");
        if (o->out_dir) {
            char path[4096];
            FILE *f;
            snprintf(path, sizeof path, "%s/%lu.bin", o->out_dir, (unsigned long)k);
            f = fopen(path, "wb");
            if (!f || fwrite(info.data, 1, info.bytes, f) != info.bytes) {
                fprintf(stderr, "onnx_runner: cannot write %s\n", path);
                if (f)
                    fclose(f);
                return 0;
            }
            fclose(f);
        }
    }
    printf("]}\n");
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    options o;
    unsigned char *onnx;
    size_t len = 0, need = 0;
    void *arena = NULL;
    alog_model *m = NULL;
    alog_status st;
    double start, seconds;
    long r;
    int ok;
    if (!parse_args(argc, argv, &o))
        return usage();
    onnx = read_file(o.model, &len);
    if (!onnx) {
        fprintf(stderr, "onnx_runner: cannot read %s\n", o.model);
        return 2;
    }
    st = open_model(&m, &arena, onnx, len, o.batch, &need);
    if (st != ALOG_OK) {
        free(arena);
        free(onnx);
        return st == ALOG_ERR_IO ? 2 : 1;
    }
    alog_model_limit_isa(m, o.isa);
    ok = load_inputs(m, &o);
    start = now();
    for (r = 0; ok && r < o.repeat && st == ALOG_OK; ++r)
        st = alog_model_run(m);
    seconds = (now() - start) / (double)o.repeat;
    if (ok && st != ALOG_OK)
        fprintf(stderr, "onnx_runner: run: %s: %s\n", alog_status_str(st), alog_model_error(m));
    if (ok && st == ALOG_OK)
        ok = write_outputs(m, &o, seconds, need);
    free(arena);
    free(onnx);
    return !ok ? 2 : (st != ALOG_OK ? 3 : 0);
}
