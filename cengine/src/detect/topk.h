/*
 * topk.h - DeepLog's top-k set, and a cache of it per window.
 *
 * top-k: the k indices with the largest logits, largest first, ties to the lower index, NaN
 * ranked below every number (numpy's stable argsort of the negated logits, which the Python
 * reference uses; all indices when k >= the logit count).
 *
 * The cache maps a window (its keys) to the top-k the model gave for it. The model is a pure
 * function of the window, so a hit returns exactly what a run would; sessions of one system
 * repeat the same few windows, which is where the end-to-end speed comes from. Direct-mapped,
 * fixed size, memory from the caller; 0 entries disables it. Under the probability rule an entry
 * also holds the window's verdict bits: bit i set when key i's probability is at least the
 * threshold (`words` 32-bit words per entry; 0 under the top-k rule), so a hit decides exactly
 * what a run would.
 */
#ifndef ALOG_DETECT_TOPK_H
#define ALOG_DETECT_TOPK_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

/* out[0..min(k, n)) = the top-k indices of logits[0..n). */
void alog_topk(int32_t *out, const float *logits, uint32_t n, uint32_t k);

typedef struct alog_topk_cache {
    uint32_t entries; /* a power of two, or 0 */
    uint32_t window;
    uint32_t k;
    uint32_t words;   /* verdict bit words per entry (0: none) */
    uint8_t *valid;   /* (entries) */
    int32_t *keys;    /* (entries, window) */
    int32_t *topk;    /* (entries, k) */
    uint32_t *bits;   /* (entries, words) */
} alog_topk_cache;

/* Bytes for a cache of `entries` (rounded down to a power of two) windows (0 when they overflow
 * a size_t; never for the detector's bounds). */
size_t alog_topk_cache_size(uint32_t entries, uint32_t window, uint32_t k, uint32_t words);
alog_status alog_topk_cache_init(alog_topk_cache *cache, void *mem, size_t mem_len,
                                 uint32_t entries, uint32_t window, uint32_t k, uint32_t words);

/* The cached top-k of this window, or NULL; *bits (when bits is not NULL) its verdict bits. */
const int32_t *alog_topk_cache_get(const alog_topk_cache *cache, const int32_t *window,
                                   const uint32_t **bits);
/* Remember the top-k (and `words` words of verdict bits; NULL when words is 0) of this window,
 * replacing whatever shared its slot. */
void alog_topk_cache_put(alog_topk_cache *cache, const int32_t *window, const int32_t *topk,
                         const uint32_t *bits);

#endif /* ALOG_DETECT_TOPK_H */
