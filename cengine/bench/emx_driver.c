/*
 * emx_driver - times the C that emx-onnx-cgen generates for one model, the way onnx_runner times
 * alog_model_run(): python -m alog_detect.bench.peers builds one per model and batch size.
 *
 *   cc -std=c99 -O2 ... -DEMX_SOURCE='"model.c"' -DEMX_IN_BYTES=N -DEMX_OUT_BYTES=M
 *      [-DEMX_WEIGHTS] emx_driver.c -lm
 *   emx_driver [WEIGHTS.bin] [--repeat N] -i INPUT.bin [-o OUTPUT.bin]
 *
 * The generated file is compiled into this one (it defines `model` and, when its weights live in
 * a separate file, `model_load`), so the call below passes this program's buffers to its array
 * parameters. stdout gets one JSON object: the seconds per call (wall clock, after one untimed
 * call). Exit status: 0 ok, 1 the weights did not load, 2 usage or I/O.
 */
#define _POSIX_C_SOURCE 199309L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include EMX_SOURCE

static double emx_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *weights = NULL, *in_path = NULL, *out_path = NULL;
    long repeat = 1, r;
    void *in = malloc(EMX_IN_BYTES), *out = calloc(1, EMX_OUT_BYTES);
    FILE *f;
    double start, seconds;
    int i;
    for (i = 1; i < argc; ++i) {
        if (i + 1 < argc && strcmp(argv[i], "--repeat") == 0)
            repeat = strtol(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "-i") == 0)
            in_path = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "-o") == 0)
            out_path = argv[++i];
        else if (argv[i][0] != '-' && !weights)
            weights = argv[i];
        else
            in_path = NULL, i = argc;
    }
    if (!in_path || repeat < 1 || !in || !out) {
        fputs("usage: emx_driver [WEIGHTS.bin] [--repeat N] -i INPUT.bin [-o OUTPUT.bin]\n", stderr);
        return 2;
    }
    f = fopen(in_path, "rb");
    if (!f || fread(in, 1, EMX_IN_BYTES, f) != EMX_IN_BYTES) {
        fprintf(stderr, "emx_driver: %s must hold %lu bytes\n", in_path, (unsigned long)EMX_IN_BYTES);
        return 2;
    }
    fclose(f);
#ifdef EMX_WEIGHTS
    if (!weights || !model_load(weights)) {
        fprintf(stderr, "emx_driver: cannot load the weights %s\n", weights ? weights : "(none given)");
        return 1;
    }
#endif
    model(in, out);
    start = emx_now();
    for (r = 0; r < repeat; ++r)
        model(in, out);
    seconds = (emx_now() - start) / (double)repeat;
    if (out_path) {
        f = fopen(out_path, "wb");
        if (!f || fwrite(out, 1, EMX_OUT_BYTES, f) != EMX_OUT_BYTES) {
            fprintf(stderr, "emx_driver: cannot write %s\n", out_path);
            return 2;
        }
        fclose(f);
    }
    printf("{\"seconds_per_run\": %.9g}\n", seconds);
    free(in);
    free(out);
    return 0;
}
