/*
 * modelfiles.c - load a model directory for alog-engine: the checks of the Python reference's
 * load_models, in the same order, with the same wording, plus the build's own hashes.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli/modelfiles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sha256.h"

#ifdef ALOG_HAVE_MODEL_META
#include "alog_model_meta.h"
#include "alog_vocab.h" /* ALOG_FRONTEND_*: the front-end settings the build's templates were mined with */
#endif

#define REEXPORT "re-export the model directory with `alog-detect convert-onnx`"
#define MAX_FILE_BYTES ((size_t)1 << 31)

static const char *const KINDS[2] = {"deeplog", "mscred"};

/* ---- errors and files -------------------------------------------------------------------- */

static alog_status set_error(load_error *err, alog_status status, const char *dir,
                             const char *name, const char *message, const char *fix)
{
    if (name)
        snprintf(err->path, sizeof err->path, "%s/%s", dir, name);
    else
        snprintf(err->path, sizeof err->path, "%s", dir);
    snprintf(err->message, sizeof err->message, "%s", message);
    err->fix = fix;
    return status;
}

static int is_file(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The whole file in a malloc'd buffer (one spare byte, so an empty file is not NULL). */
static alog_status read_file(file_bytes *out, const char *dir, const char *name, load_error *err)
{
    char path[4096];
    FILE *f;
    long size;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f)
        return set_error(err, ALOG_ERR_IO, dir, name, strerror(errno), "check the file");
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (size_t)size > MAX_FILE_BYTES) {
        fclose(f);
        return set_error(err, ALOG_ERR_IO, dir, name, "cannot read the file", "check the file");
    }
    out->len = (size_t)size;
    out->data = malloc(out->len + 1);
    if (!out->data || fread(out->data, 1, out->len, f) != out->len) {
        fclose(f);
        return set_error(err, ALOG_ERR_IO, dir, name, "cannot read the file", "check the file");
    }
    fclose(f);
    return ALOG_OK;
}

/* ---- hashes ------------------------------------------------------------------------------ */

static int hash_into(void *ctx, const char *data, size_t len)
{
    alog_sha256_update(ctx, data, len);
    return 0;
}

static void vocab_canonical_sha256(char out[65], const alog_vocab *vocab)
{
    char buf[4096];
    alog_sha256_ctx ctx;
    alog_sink sink;
    alog_sha256_init(&ctx);
    alog_sink_init(&sink, buf, sizeof buf, hash_into, &ctx);
    alog_vocab_write_canonical(&sink, vocab);
    alog_sink_flush(&sink);
    alog_sha256_final_hex(out, &ctx);
}

#ifdef ALOG_HAVE_MODEL_META
/* The build's hashes: ALOG_META_HAS_<M> and ALOG_META_<M>_ONNX_SHA256 per model. */
static const char *built_sha256(int kind)
{
#if ALOG_META_HAS_DEEPLOG
    if (kind == 0)
        return ALOG_META_DEEPLOG_ONNX_SHA256;
#endif
#if ALOG_META_HAS_MSCRED
    if (kind == 1)
        return ALOG_META_MSCRED_ONNX_SHA256;
#endif
    (void)kind;
    return NULL;
}

static alog_status check_build_hashes(const model_files *files, const char *dir, load_error *err)
{
    char message[256];
    char hash[65];
    int kind;
    const char *fix = "pass the model directory this engine was built with (alog-engine --version "
                      "lists its hashes), or rebuild the engine for this one with scons";
    alog_sha256_hex(hash, files->vocab_json.data, files->vocab_json.len);
    if (strcmp(hash, ALOG_META_VOCAB_FILE_SHA256) != 0)
        return set_error(err, ALOG_ERR_MISMATCH, dir, "vocab.json",
                         "not the vocabulary this engine was built for (SHA-256 differs)", fix);
    for (kind = 0; kind < 2; kind++) {
        const char *want = built_sha256(kind);
        char name[32];
        snprintf(name, sizeof name, "%s.onnx", KINDS[kind]);
        if (!want && !files->onnx[kind].data)
            continue;
        if (!want || !files->onnx[kind].data) {
            snprintf(message, sizeof message, "this engine was built %s %s",
                     want ? "for a model directory with" : "without", name);
            return set_error(err, ALOG_ERR_MISMATCH, dir, name, message, fix);
        }
        alog_sha256_hex(hash, files->onnx[kind].data, files->onnx[kind].len);
        if (strcmp(hash, want) != 0)
            return set_error(err, ALOG_ERR_MISMATCH, dir, name,
                             "not the model this engine was built for (SHA-256 differs)", fix);
    }
    /* The vocabulary is only meaningful with the settings its templates were mined with. */
    if (strcmp(files->frontend.mask_rules, ALOG_FRONTEND_MASK_RULES) != 0 ||
        strcmp(files->frontend.session_rule, ALOG_FRONTEND_SESSION_RULE) != 0 ||
        files->frontend.header_tokens != ALOG_FRONTEND_HEADER_TOKENS ||
        strcmp(files->frontend.log_format, ALOG_FRONTEND_LOG_FORMAT) != 0 ||
        strcmp(files->frontend.timestamp, ALOG_FRONTEND_TIMESTAMP) != 0 ||
        strcmp(files->frontend.timestamp_format, ALOG_FRONTEND_TIMESTAMP_FORMAT) != 0)
        return set_error(err, ALOG_ERR_MISMATCH, dir, "frontend.json",
                         "not the front-end settings this engine was built for (mask rules "
                         ALOG_FRONTEND_MASK_RULES ", session rule " ALOG_FRONTEND_SESSION_RULE
                         ", header tokens, log format or timestamp rule differ)", fix);
    return ALOG_OK;
}

const char *model_files_built_for(void)
{
    return "built for the model directory with\n"
           "  vocab.json    sha256 " ALOG_META_VOCAB_FILE_SHA256 "\n"
#if ALOG_META_HAS_DEEPLOG
           "  deeplog.onnx  sha256 " ALOG_META_DEEPLOG_ONNX_SHA256 "\n"
#endif
#if ALOG_META_HAS_MSCRED
           "  mscred.onnx   sha256 " ALOG_META_MSCRED_ONNX_SHA256 "\n"
#endif
        ;
}
#else
const char *model_files_built_for(void)
{
    return "built without model metadata: accepts any model directory whose own hashes agree\n";
}
#endif

/* ---- metadata ---------------------------------------------------------------------------- */

static alog_status load_meta(model_files *files, int kind, const char *dir,
                             const char *vocab_sha256, load_error *err)
{
    char message[256];
    char name[64], onnx_name[32], hash[65];
    file_bytes meta = {NULL, 0};
    alog_json_token *tokens;
    alog_meta_hashes hashes;
    alog_message msg = {{0}};
    alog_status status;
    snprintf(onnx_name, sizeof onnx_name, "%s.onnx", KINDS[kind]);
    snprintf(name, sizeof name, "%s.onnx.meta.json", KINDS[kind]);
    if (!is_file(dir, name))
        return set_error(err, ALOG_ERR_MALFORMED, dir, name, "model metadata not found", REEXPORT);
    if (read_file(&meta, dir, name, err) != ALOG_OK)
        return ALOG_ERR_IO;
    tokens = malloc(alog_json_token_bound(meta.len) * sizeof *tokens);
    status = tokens ? alog_meta_parse(&hashes, &files->config, tokens,
                                      (uint32_t)alog_json_token_bound(meta.len), KINDS[kind],
                                      meta.data, meta.len, &msg)
                    : ALOG_ERR_LIMIT;
    free(tokens);
    free(meta.data);
    if (status != ALOG_OK)
        return set_error(err, status, dir, name, msg.text[0] ? msg.text : "cannot parse", REEXPORT);
    if (strcmp(hashes.vocab_sha256, vocab_sha256) != 0) {
        snprintf(message, sizeof message, "%s was exported for another vocabulary than vocab.json",
                 onnx_name);
        return set_error(err, ALOG_ERR_MISMATCH, dir, name, message, REEXPORT);
    }
    alog_sha256_hex(hash, files->onnx[kind].data, files->onnx[kind].len);
    if (strcmp(hashes.onnx_sha256, hash) != 0) {
        snprintf(message, sizeof message,
                 "%s is not the file this metadata describes (SHA-256 differs)", onnx_name);
        return set_error(err, ALOG_ERR_MISMATCH, dir, name, message, REEXPORT);
    }
    return ALOG_OK;
}

/* ---- front-end settings ------------------------------------------------------------------ */

/* frontend.json, the settings the templates were mined with; without it, the defaults (every mask
 * rule, one session, no header), as alog_detect.frontend.load_model_frontend reads a directory. */
static alog_status load_frontend(model_files *files, const char *dir, load_error *err)
{
    const char *name = "frontend.json";
    file_bytes text = {NULL, 0};
    alog_json_token *tokens;
    alog_message msg = {{0}};
    alog_status status;
    alog_frontend_text *fe = &files->frontend;
    if (!is_file(dir, name)) {
        snprintf(fe->mask_rules, sizeof fe->mask_rules, "uuid,ip,hex,num,path");
        snprintf(fe->session_rule, sizeof fe->session_rule, "none");
        fe->header_tokens = 0;
        fe->log_format[0] = '\0';
        snprintf(fe->log_format_source, sizeof fe->log_format_source, "none");
        snprintf(fe->timestamp, sizeof fe->timestamp, "line-start");
        fe->timestamp_format[0] = '\0';
    } else {
        if (read_file(&text, dir, name, err) != ALOG_OK)
            return ALOG_ERR_IO;
        tokens = malloc(alog_json_token_bound(text.len) * sizeof *tokens);
        status = tokens ? alog_frontend_parse(fe, tokens, (uint32_t)alog_json_token_bound(text.len),
                                              text.data, text.len, &msg)
                        : ALOG_ERR_LIMIT;
        free(tokens);
        free(text.data);
        if (status != ALOG_OK)
            return set_error(err, status, dir, name, msg.text[0] ? msg.text : "cannot parse",
                             REEXPORT);
    }
    files->config.mask_rules = fe->mask_rules;
    files->config.session_rule = fe->session_rule;
    files->config.header_tokens = fe->header_tokens;
    files->config.log_format = fe->log_format;
    files->config.timestamp = fe->timestamp;
    files->config.timestamp_format = fe->timestamp_format;
    return ALOG_OK;
}

/* ---- models ------------------------------------------------------------------------------ */

/* Measures in a work buffer of the size a first call asks for, then opens in exactly the size
 * measured (alog.h: it holds at any address). */
static alog_status open_in_arena(model_files *files, int kind, size_t batch, alog_message *msg)
{
    const file_bytes *onnx = &files->onnx[kind];
    size_t work_len = 0, need = 0;
    void *work;
    alog_status status = alog_model_arena_size(&work_len, NULL, 0, onnx->data, onnx->len, batch, msg);
    if (status != ALOG_ERR_ARENA_TOO_SMALL)
        return status;
    work = malloc(work_len);
    status = work ? alog_model_arena_size(&need, work, work_len, onnx->data, onnx->len, batch, msg)
                  : ALOG_ERR_LIMIT;
    free(work);
    if (status != ALOG_OK)
        return status;
    files->arenas[kind] = malloc(need);
    files->arena_sizes[kind] = need;
    return files->arenas[kind] ? alog_model_open(&files->models[kind], files->arenas[kind], need,
                                                 onnx->data, onnx->len, batch, msg)
                               : ALOG_ERR_LIMIT;
}

static alog_status open_model(model_files *files, int kind, size_t batch, const char *dir,
                              load_error *err)
{
    alog_message msg = {{0}};
    alog_status status = open_in_arena(files, kind, batch, &msg);
    if (status != ALOG_OK) {
        char name[32], message[256];
        snprintf(name, sizeof name, "%s.onnx", KINDS[kind]);
        snprintf(message, sizeof message, "the engine cannot load this model: %s (%s)",
                 msg.text[0] ? msg.text : "no detail", alog_status_str(status));
        return set_error(err, status, dir, name, message, REEXPORT);
    }
    return ALOG_OK;
}

static alog_status load_vocab(model_files *files, const char *dir, load_error *err)
{
    alog_message msg = {{0}};
    alog_status status;
    if (!is_file(dir, "vocab.json"))
        return set_error(err, ALOG_ERR_IO, dir, NULL, "model directory has no vocab.json",
                         "pass a directory from `alog-detect convert-onnx --output-dir`");
    if (read_file(&files->vocab_json, dir, "vocab.json", err) != ALOG_OK)
        return ALOG_ERR_IO;
    files->vocab_mem = malloc(alog_vocab_memory(files->vocab_json.len));
    status = files->vocab_mem
                 ? alog_vocab_parse(&files->vocab, files->vocab_mem,
                                    alog_vocab_memory(files->vocab_json.len),
                                    files->vocab_json.data, files->vocab_json.len, &msg)
                 : ALOG_ERR_LIMIT;
    if (status != ALOG_OK)
        return set_error(err, status, dir, "vocab.json", msg.text[0] ? msg.text : "cannot parse",
                         "pass the vocab.json of a model directory (`alog-detect convert-onnx`)");
    return ALOG_OK;
}

static alog_status check_sizes(const model_files *files, const char *dir, load_error *err)
{
    char message[256];
    const alog_detector_config *c = &files->config;
    const char *fix = "pass a directory from `alog-detect convert-onnx --output-dir`";
    if (c->has_deeplog && c->vocab_size != files->vocab.size) {
        snprintf(message, sizeof message, "DeepLog predicts %u keys, vocab.json has %u",
                 (unsigned)c->vocab_size, (unsigned)files->vocab.size);
        return set_error(err, ALOG_ERR_MISMATCH, dir, NULL, message, fix);
    }
    if (c->has_mscred && c->signature.num_templates != files->vocab.size) {
        snprintf(message, sizeof message, "MSCRED counts %u templates, vocab.json has %u",
                 (unsigned)c->signature.num_templates, (unsigned)files->vocab.size);
        return set_error(err, ALOG_ERR_MISMATCH, dir, NULL, message, fix);
    }
    return ALOG_OK;
}

alog_status model_files_load(model_files *files, const char *dir, uint32_t deeplog_batch,
                             load_error *err)
{
    struct stat st;
    char vocab_sha256[65];
    int kind;
    memset(files, 0, sizeof *files);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return set_error(err, ALOG_ERR_IO, dir, NULL, "model directory not found",
                         "pass a directory from `alog-detect convert-onnx --output-dir`");
    ALOG_TRY(load_vocab(files, dir, err));
    vocab_canonical_sha256(vocab_sha256, &files->vocab);
    for (kind = 0; kind < 2; kind++) {
        char name[32];
        snprintf(name, sizeof name, "%s.onnx", KINDS[kind]);
        if (!is_file(dir, name))
            continue;
        ALOG_TRY(read_file(&files->onnx[kind], dir, name, err));
        ALOG_TRY(load_meta(files, kind, dir, vocab_sha256, err));
    }
    if (!files->onnx[0].data && !files->onnx[1].data)
        return set_error(err, ALOG_ERR_IO, dir, NULL,
                         "model directory holds no exported model (deeplog.onnx, mscred.onnx)",
                         "export it with `alog-detect convert-onnx` (the engine runs ONNX only)");
    ALOG_TRY(check_sizes(files, dir, err));
    ALOG_TRY(load_frontend(files, dir, err));
    files->config.vocab_size = files->vocab.size;
    files->config.templates = files->vocab.templates;
    files->config.template_lengths = files->vocab.lengths;
#ifdef ALOG_HAVE_MODEL_META
    ALOG_TRY(check_build_hashes(files, dir, err));
#endif
    for (kind = 0; kind < 2; kind++)
        if (files->onnx[kind].data)
            ALOG_TRY(open_model(files, kind, kind == 0 ? deeplog_batch : 1, dir, err));
    return ALOG_OK;
}

void model_files_free(model_files *files)
{
    int kind;
    free(files->vocab_json.data);
    free(files->vocab_mem);
    for (kind = 0; kind < 2; kind++) {
        free(files->onnx[kind].data);
        free(files->arenas[kind]);
    }
}
