/*
 * modelfiles.h - the model directory on disk: read its files, check every hash (the metadata's,
 * and the ones this binary was built for when built with alog_model_meta.h), open the models.
 */
#ifndef ALOG_CLI_MODELFILES_H
#define ALOG_CLI_MODELFILES_H

#include <stddef.h>

#include "alog.h"
#include "detect/modeldir.h"
#include "try.h"


typedef struct file_bytes {
    char *data;
    size_t len;
} file_bytes;

typedef struct model_files {
    file_bytes vocab_json;
    file_bytes onnx[2];       /* deeplog, mscred; data NULL when absent */
    alog_vocab vocab;
    void *vocab_mem;
    alog_frontend_text frontend;  /* frontend.json, or the defaults without one */
    alog_detector_config config;  /* the vocabulary, the front end (pointing into `frontend`) and
                                     the models' metadata; the caller adds the capacities */
    alog_model *models[2];
    void *arenas[2];
    size_t arena_sizes[2];    /* bytes of each arena (0 for a model that is absent) */
} model_files;

/* A failure to report: the file it concerns, what is wrong and how to fix it. */
typedef struct load_error {
    char path[4096];
    char message[256];
    const char *fix;
} load_error;

/* Read and check DIR, then open its models (DeepLog with `deeplog_batch` rows, MSCRED with 1).
 * ALOG_OK, or a status with *err filled. */
alog_status model_files_load(model_files *files, const char *dir, uint32_t deeplog_batch,
                             load_error *err);

void model_files_free(model_files *files);

/* The line --version prints about the models this binary was built for. */
const char *model_files_built_for(void);

#endif /* ALOG_CLI_MODELFILES_H */
