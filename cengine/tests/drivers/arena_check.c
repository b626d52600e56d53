/*
 * arena_check - holds alog_model_arena_size() to its contract (alog.h, ALOG_ARENA_ALIGN) on
 * whole models; tests/test_engine_models.py drives it, also under ASan + UBSan.
 *
 *   arena_check [--batch N] [--alignments K] MODEL.onnx...
 *
 * For each model: measure as a device would (no work buffer, then one of exactly the work size
 * asked for), then for the arena start addresses 0..K-1 modulo ALOG_ARENA_ALIGN (default: all
 * of them) open it in an arena of exactly the reported size and run it once on zeroed inputs,
 * and check that one byte less is refused with ALOG_ERR_ARENA_TOO_SMALL. Under ASan the bytes
 * around each arena are poisoned, so any byte the engine touches outside it is caught.
 *
 * stdout: one JSON object per model: {"model", "status", "arena_size", "alignments", "runs_ok"}
 * (status "ok", or the alog_status_str() of a model that does not load: the caller decides
 * whether that was expected). Exit status: 0 the contract held for every model that loads,
 * 1 it did not (the reason on stderr), 2 usage or I/O.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alog.h"

typedef struct model_bytes {
    unsigned char *data;
    size_t len;
} model_bytes;

static int read_model(model_bytes *out, const char *path)
{
    FILE *f = fopen(path, "rb");
    long size;
    if (!f)
        return 0;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return 0;
    }
    out->len = (size_t)size;
    out->data = malloc(out->len);
    if (!out->data || fread(out->data, 1, out->len, f) != out->len) {
        fclose(f);
        return 0;
    }
    fclose(f);
    return 1;
}

/* ---- measuring ----------------------------------------------------------------------------- */

/* The device's way: ask with no work buffer, then measure in exactly the work size asked for. */
static alog_status measure(size_t *out_need, const model_bytes *m, int64_t batch,
                           alog_message *msg)
{
    size_t work_len = 0;
    void *work;
    alog_status st = alog_model_arena_size(&work_len, NULL, 0, m->data, m->len, batch, msg);
    if (st != ALOG_ERR_ARENA_TOO_SMALL)
        return st == ALOG_OK ? ALOG_ERR_INVALID_ARGUMENT : st; /* without a work buffer: never ok */
    work = malloc(work_len);
    if (!work)
        return ALOG_ERR_LIMIT;
    st = alog_model_arena_size(out_need, work, work_len, m->data, m->len, batch, msg);
    free(work);
    return st;
}

/* ---- an arena at one address -------------------------------------------------------------- */

/*
 * Under ASan the bytes around the arena are poisoned, so any byte the engine touches outside
 * [start, start + len) is reported; the arena starts at the residue asked for modulo
 * ALOG_ARENA_ALIGN, whatever malloc returns.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_CHECK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_CHECK_ASAN 1
#endif
#endif
#ifdef ARENA_CHECK_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

typedef struct fenced {
    unsigned char *block;  /* (len + 2 * ALOG_ARENA_ALIGN) from malloc */
    size_t block_len;
    unsigned char *start;  /* (len) the arena */
} fenced;

static int fence(fenced *f, size_t len, unsigned residue)
{
    f->block_len = len + 2 * ALOG_ARENA_ALIGN;
    f->block = malloc(f->block_len);
    if (!f->block)
        return 0;
    f->start = f->block + (residue + ALOG_ARENA_ALIGN -
                           (uintptr_t)f->block % ALOG_ARENA_ALIGN) % ALOG_ARENA_ALIGN;
    ASAN_POISON_MEMORY_REGION(f->block, (size_t)(f->start - f->block));
    ASAN_POISON_MEMORY_REGION(f->start + len, (size_t)(f->block + f->block_len - f->start - len));
    return 1;
}

static void unfence(fenced *f)
{
    ASAN_UNPOISON_MEMORY_REGION(f->block, f->block_len);
    free(f->block);
}

/* ---- the contract at one address ----------------------------------------------------------- */

static int fail(const char *path, const char *what, unsigned residue, alog_status st,
                const alog_message *msg)
{
    fprintf(stderr, "arena_check: %s: %s (arena address %% %d = %u): %s: %s\n", path, what,
            ALOG_ARENA_ALIGN, residue, alog_status_str(st), msg->text);
    return 0;
}

/* Opens in an arena of exactly `need` bytes starting at `residue`, runs once on zeroed inputs
 * (*run_ok counts the runs that succeed); then one byte less must be refused as too small. */
static int check_at(const char *path, const model_bytes *m, int64_t batch, size_t need,
                    unsigned residue, int *run_ok)
{
    alog_message msg = {{0}};
    alog_model *model = NULL;
    fenced arena;
    size_t i;
    alog_status st;
    if (!fence(&arena, need, residue))
        return fail(path, "out of memory", residue, ALOG_ERR_LIMIT, &msg);
    st = alog_model_open(&model, arena.start, need, m->data, m->len, batch, &msg);
    if (st == ALOG_OK) {
        for (i = 0; i < alog_model_input_count(model); i++) {
            alog_tensor_info info;
            alog_model_input(&info, model, i);
            memset(info.data, 0, info.bytes); /* zero keys are in range for every Gather */
        }
        *run_ok += alog_model_run(model) == ALOG_OK;
    }
    unfence(&arena);
    if (st != ALOG_OK)
        return fail(path, "the reported size does not open", residue, st, &msg);
    if (!fence(&arena, need - 1, residue))
        return fail(path, "out of memory", residue, ALOG_ERR_LIMIT, &msg);
    st = alog_model_open(&model, arena.start, need - 1, m->data, m->len, batch, &msg);
    unfence(&arena);
    if (st != ALOG_ERR_ARENA_TOO_SMALL)
        return fail(path, "one byte less is not refused as too small", residue, st, &msg);
    return 1;
}

/* ---- main ---------------------------------------------------------------------------------- */

static int check_model(const char *path, int64_t batch, unsigned alignments)
{
    model_bytes m = {NULL, 0};
    alog_message msg = {{0}};
    size_t need = 0;
    unsigned residue = 0;
    int runs_ok = 0, ok = 1;
    alog_status st;
    if (!read_model(&m, path)) {
        fprintf(stderr, "arena_check: %s: cannot read the file\n", path);
        free(m.data);
        return 2;
    }
    st = measure(&need, &m, batch, &msg);
    if (st == ALOG_OK) {
        for (; ok && residue < alignments; residue++)
            ok = check_at(path, &m, batch, need, residue, &runs_ok);
    }
    printf("{\"model\": \"%s\", \"status\": \"%s\", \"arena_size\": %lu, \"alignments\": %d, "
           "\"runs_ok\": %d}\n", path, alog_status_str(st), (unsigned long)need, residue,
           runs_ok);
    free(m.data);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    long batch = 1, alignments = ALOG_ARENA_ALIGN;
    int i, worst = 0;
    for (i = 1; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc)
            break;
        if (strcmp(argv[i], "--batch") == 0)
            batch = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--alignments") == 0)
            alignments = strtol(argv[i + 1], NULL, 10);
        else
            break;
    }
    if (i >= argc || argv[i][0] == '-' || batch < 1 || alignments < 1 ||
        alignments > ALOG_ARENA_ALIGN) {
        fputs("usage: arena_check [--batch N] [--alignments K] MODEL.onnx...\n", stderr);
        return 2;
    }
    for (; i < argc; i++) {
        int code = check_model(argv[i], batch, (unsigned)alignments);
        if (code > worst)
            worst = code;
    }
    return worst;
}
