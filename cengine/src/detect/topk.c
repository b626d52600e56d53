/*
 * topk.c - top-k selection with numpy's tie and NaN order, and the per-window cache.
 */
#include "topk.h"
#include "detect/util.h"

#include <string.h>

/* ---- selection --------------------------------------------------------------------------- */

/* Whether logit a (seen later, at a higher index) ranks above b: strictly larger, or a number
 * against NaN. Equal values keep the lower index first. */
static int ranks_above(float a, float b)
{
    if (a != a)
        return 0;
    return b != b || a > b;
}

void alog_topk(int32_t *out, const float *logits, uint32_t n, uint32_t k)
{
    uint32_t have = 0, i;
    if (k > n)
        k = n;
    if (k == 0)
        return;
    for (i = 0; i < n; i++) {
        uint32_t pos;
        if (have == k && !ranks_above(logits[i], logits[out[k - 1]]))
            continue;
        /* Insertion keeps out[] sorted; k is small (DeepLog uses ~10). */
        pos = have < k ? have++ : k - 1;
        while (pos > 0 && ranks_above(logits[i], logits[out[pos - 1]])) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos] = (int32_t)i;
    }
}

/* ---- cache ------------------------------------------------------------------------------- */

static uint32_t power_of_two_floor(uint32_t n)
{
    uint32_t p = 1;
    if (n == 0)
        return 0;
    while (p <= n / 2)
        p <<= 1;
    return p;
}


size_t alog_topk_cache_size(uint32_t entries, uint32_t window, uint32_t k, uint32_t words)
{
    size_t e = power_of_two_floor(entries);
    return alog_align8(e) + alog_align8(e * window * sizeof(int32_t)) +
           alog_align8(e * k * sizeof(int32_t)) + alog_align8(e * words * sizeof(uint32_t));
}

alog_status alog_topk_cache_init(alog_topk_cache *cache, void *mem, size_t mem_len,
                                 uint32_t entries, uint32_t window, uint32_t k, uint32_t words)
{
    char *p = mem;
    size_t e = power_of_two_floor(entries);
    memset(cache, 0, sizeof *cache);
    if (e == 0)
        return ALOG_OK;
    if (!mem || ((uintptr_t)mem & 7) || window == 0 || k == 0)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (mem_len < alog_topk_cache_size(entries, window, k, words))
        return ALOG_ERR_ARENA_TOO_SMALL;
    cache->entries = (uint32_t)e;
    cache->window = window;
    cache->k = k;
    cache->words = words;
    cache->valid = (uint8_t *)p;
    memset(cache->valid, 0, e);
    p += alog_align8(e);
    cache->keys = (int32_t *)(void *)p;
    p += alog_align8(e * window * sizeof(int32_t));
    cache->topk = (int32_t *)(void *)p;
    p += alog_align8(e * k * sizeof(int32_t));
    cache->bits = (uint32_t *)(void *)p;
    return ALOG_OK;
}

static uint32_t slot_of(const alog_topk_cache *cache, const int32_t *window)
{
    uint64_t h = 14695981039346656037u;
    uint32_t i;
    for (i = 0; i < cache->window; i++) {
        h ^= (uint32_t)window[i];
        h *= 1099511628211u;
    }
    return (uint32_t)(h ^ (h >> 32)) & (cache->entries - 1);
}

const int32_t *alog_topk_cache_get(const alog_topk_cache *cache, const int32_t *window,
                                   const uint32_t **bits)
{
    uint32_t s;
    if (cache->entries == 0)
        return NULL;
    s = slot_of(cache, window);
    if (!cache->valid[s] ||
        memcmp(cache->keys + (size_t)s * cache->window, window, cache->window * sizeof *window))
        return NULL;
    if (bits)
        *bits = cache->bits + (size_t)s * cache->words;
    return cache->topk + (size_t)s * cache->k;
}

void alog_topk_cache_put(alog_topk_cache *cache, const int32_t *window, const int32_t *topk,
                         const uint32_t *bits)
{
    uint32_t s;
    if (cache->entries == 0)
        return;
    s = slot_of(cache, window);
    cache->valid[s] = 1;
    memcpy(cache->keys + (size_t)s * cache->window, window, cache->window * sizeof *window);
    memcpy(cache->topk + (size_t)s * cache->k, topk, cache->k * sizeof *topk);
    if (cache->words)
        memcpy(cache->bits + (size_t)s * cache->words, bits, cache->words * sizeof *bits);
}
