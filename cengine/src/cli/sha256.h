/*
 * sha256.h - SHA-256 (FIPS 180-4), for checking a model directory against the hashes its
 * metadata records and the hashes the engine was built for.
 */
#ifndef ALOG_CLI_SHA256_H
#define ALOG_CLI_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
    uint32_t h[8];
    unsigned char block[64];
    size_t block_len;
    uint64_t total;
} sha256_ctx;

void sha256_init(sha256_ctx *ctx);
void sha256_update(sha256_ctx *ctx, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL. */
void sha256_final_hex(char out[65], sha256_ctx *ctx);

/* One-shot: the digest of data[0..len). */
void sha256_hex(char out[65], const void *data, size_t len);

#endif /* ALOG_CLI_SHA256_H */
