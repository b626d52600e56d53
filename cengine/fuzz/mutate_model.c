/*
 * mutate_model - deterministic robustness check without libFuzzer: loads every prefix of a
 * valid model and `flips` copies with one random bit flipped each, and prints how many of each
 * still loaded and ran, as JSON. A crash or sanitizer report is the failure this looks for.
 *
 *   mutate_model MODEL.onnx [FLIPS [SEED]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_check.h"

static unsigned char *read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        if (f)
            fclose(f);
        return NULL;
    }
    buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *out_len = (size_t)len;
    return buf;
}

/* xorshift64: reproducible flips from the seed */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

int main(int argc, char **argv)
{
    size_t len = 0, i, prefix_ok = 0, flip_ok = 0, flips;
    uint64_t state;
    unsigned char *model, *mutated;
    alog_status full;
    if (argc < 2) {
        fputs("usage: mutate_model MODEL.onnx [FLIPS [SEED]]\n", stderr);
        return 2;
    }
    flips = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1000;
    state = argc > 3 ? (uint64_t)strtoull(argv[3], NULL, 10) * 2654435761u + 1 : 88172645463325252u;
    model = read_file(argv[1], &len);
    if (!model || len == 0) {
        fprintf(stderr, "mutate_model: cannot read %s\n", argv[1]);
        return 2;
    }
    full = alog_check_model(model, len);
    for (i = 0; i < len; ++i)
        prefix_ok += alog_check_model(model, i) == ALOG_OK;
    mutated = malloc(len);
    for (i = 0; mutated && i < flips; ++i) {
        uint64_t bit = next_random(&state) % (len * 8);
        memcpy(mutated, model, len);
        mutated[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        flip_ok += alog_check_model(mutated, len) == ALOG_OK;
    }
    printf("{\"size\": %lu, \"full\": \"%s\", \"prefixes\": %lu, \"prefixes_ok\": %lu, "
           "\"flips\": %lu, \"flips_ok\": %lu}\n", (unsigned long)len, alog_status_str(full),
           (unsigned long)len, (unsigned long)prefix_ok, (unsigned long)flips,
           (unsigned long)flip_ok);
    free(mutated);
    free(model);
    return mutated ? 0 : 2;
}
