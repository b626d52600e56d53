/*
 * sha256.h - SHA-256 (FIPS 180-4), for checking model bytes against the hashes their metadata
 * and the generated headers record: alog-engine hashes a model directory's files, a firmware its
 * compiled-in model (alog_sha256_hex in alog.h). Incremental, for data that comes in pieces.
 */
#ifndef ALOG_SHA256_H
#define ALOG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

typedef struct alog_sha256_ctx {
    uint32_t h[8];
    unsigned char block[64];
    size_t block_len;
    uint64_t total;
} alog_sha256_ctx;

void alog_sha256_init(alog_sha256_ctx *ctx);
void alog_sha256_update(alog_sha256_ctx *ctx, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL. */
void alog_sha256_final_hex(char out[65], alog_sha256_ctx *ctx);

/* One-shot: alog_sha256_hex(), declared in alog.h. */

#endif /* ALOG_SHA256_H */
