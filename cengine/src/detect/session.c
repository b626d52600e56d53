/*
 * session.c - the session table: open-addressed hash index, LRU list, per-session windows.
 */
#include "session.h"
#include "detect/util.h"

#include <string.h>

/* ---- sizing and layout ------------------------------------------------------------------- */

static uint32_t bucket_count(uint32_t capacity)
{
    uint32_t b = 1;
    while (b < 2 * (uint64_t)capacity)
        b <<= 1;
    return b;
}


size_t alog_session_table_size(uint32_t capacity, uint32_t window)
{
    uint64_t total;
    if (capacity == 0 || window == 0 || capacity > (UINT32_MAX >> 2) || window > 65536)
        return 0;
    total = alog_align8((size_t)capacity * sizeof(alog_session));
    total += alog_align8((size_t)capacity * window * sizeof(int32_t));
    total += alog_align8((size_t)bucket_count(capacity) * sizeof(uint32_t));
    return total > SIZE_MAX ? 0 : (size_t)total;
}

alog_status alog_session_table_init(alog_session_table *table, void *mem, size_t mem_len,
                                    uint32_t capacity, uint32_t window, int32_t pad)
{
    size_t need = alog_session_table_size(capacity, window);
    char *p = mem;
    if (!table || !mem || need == 0 || ((uintptr_t)mem & 7))
        return ALOG_ERR_INVALID_ARGUMENT;
    if (mem_len < need)
        return ALOG_ERR_ARENA_TOO_SMALL;
    memset(table, 0, sizeof *table);
    table->capacity = capacity;
    table->window = window;
    table->pad = pad;
    table->buckets = bucket_count(capacity);
    table->newest = table->oldest = table->free = ALOG_SESSION_NONE;
    table->slots = (alog_session *)(void *)p;
    p += alog_align8((size_t)capacity * sizeof(alog_session));
    table->windows = (int32_t *)(void *)p;
    p += alog_align8((size_t)capacity * window * sizeof(int32_t));
    table->index = (uint32_t *)(void *)p;
    memset(table->index, 0, (size_t)table->buckets * sizeof(uint32_t));
    return ALOG_OK;
}

uint64_t alog_session_hash(const char *name, size_t len)
{
    uint64_t h = 14695981039346656037u;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211u;
    }
    return h;
}

/* ---- LRU list ---------------------------------------------------------------------------- */

static void lru_unlink(alog_session_table *t, uint32_t slot)
{
    alog_session *s = &t->slots[slot];
    if (s->older != ALOG_SESSION_NONE)
        t->slots[s->older].newer = s->newer;
    else
        t->oldest = s->newer;
    if (s->newer != ALOG_SESSION_NONE)
        t->slots[s->newer].older = s->older;
    else
        t->newest = s->older;
}

static void lru_push_newest(alog_session_table *t, uint32_t slot)
{
    alog_session *s = &t->slots[slot];
    s->older = t->newest;
    s->newer = ALOG_SESSION_NONE;
    if (t->newest != ALOG_SESSION_NONE)
        t->slots[t->newest].newer = slot;
    else
        t->oldest = slot;
    t->newest = slot;
}

/* ---- hash index -------------------------------------------------------------------------- */

static int same_session(const alog_session *s, uint64_t hash, const char *name, size_t len)
{
    size_t n = len < ALOG_SESSION_NAME_PREFIX ? len : ALOG_SESSION_NAME_PREFIX;
    return s->hash == hash && s->name_len == len && memcmp(s->prefix, name, n) == 0;
}

/* The bucket holding the session, or the empty bucket where it would go. */
static uint32_t probe(const alog_session_table *t, uint64_t hash, const char *name, size_t len)
{
    uint32_t mask = t->buckets - 1;
    uint32_t b = (uint32_t)hash & mask;
    while (t->index[b] != 0 && !same_session(&t->slots[t->index[b] - 1], hash, name, len))
        b = (b + 1) & mask;
    return b;
}

/* Backward-shift deletion keeps every remaining entry reachable from its home bucket without
 * tombstones, so a long-running stream never degrades the probe lengths. */
static void index_remove(alog_session_table *t, uint32_t b)
{
    uint32_t mask = t->buckets - 1;
    uint32_t next = (b + 1) & mask;
    while (t->index[next] != 0) {
        uint32_t home = (uint32_t)t->slots[t->index[next] - 1].hash & mask;
        /* Move next into the hole when its home is not in (b, next] (cyclically). */
        if (((next - home) & mask) >= ((next - b) & mask)) {
            t->index[b] = t->index[next];
            b = next;
        }
        next = (next + 1) & mask;
    }
    t->index[b] = 0;
}

/* Takes the session in `slot` out of the index and the LRU list; 0 when it is not kept. */
static int unlink_session(alog_session_table *t, uint32_t slot)
{
    alog_session *s = &t->slots[slot];
    uint32_t b = (uint32_t)s->hash & (t->buckets - 1);
    while (t->index[b] != 0 && t->index[b] != slot + 1)
        b = (b + 1) & (t->buckets - 1);
    if (t->index[b] == 0)
        return 0;
    index_remove(t, b);
    lru_unlink(t, slot);
    t->live--;
    return 1;
}

/* ---- public ------------------------------------------------------------------------------ */

alog_status alog_session_find(uint32_t *slot, alog_session_table *table, const char *name,
                              size_t len)
{
    uint64_t hash;
    uint32_t b, s;
    size_t i;
    if (!slot || !table || (!name && len) || len > UINT32_MAX)
        return ALOG_ERR_INVALID_ARGUMENT;
    if (!name)
        name = ""; /* the whole-stream session: memcmp/memcpy must not see NULL */
    hash = alog_session_hash(name, len);
    b = probe(table, hash, name, len);
    if (table->index[b] != 0) {
        *slot = table->index[b] - 1;
        alog_session_touch(table, *slot);
        return ALOG_OK;
    }
    if (table->free != ALOG_SESSION_NONE) {
        s = table->free;
        table->free = table->slots[s].older;
    } else if (table->used < table->capacity) {
        s = table->used++;
    } else {
        s = table->oldest;
        (void)unlink_session(table, s);
        b = probe(table, hash, name, len); /* the removal may have shifted the empty bucket */
    }
    table->live++;
    table->index[b] = s + 1;
    memset(&table->slots[s], 0, sizeof table->slots[s]);
    table->slots[s].hash = hash;
    table->slots[s].name_len = (uint32_t)len;
    memcpy(table->slots[s].prefix, name,
           len < ALOG_SESSION_NAME_PREFIX ? len : ALOG_SESSION_NAME_PREFIX);
    for (i = 0; i < table->window; i++)
        table->windows[(size_t)s * table->window + i] = table->pad;
    lru_push_newest(table, s);
    *slot = s;
    return ALOG_OK;
}

void alog_session_push(alog_session_table *table, uint32_t slot, int32_t key)
{
    int32_t *w = table->windows + (size_t)slot * table->window;
    memmove(w, w + 1, (table->window - 1) * sizeof *w);
    w[table->window - 1] = key;
}

void alog_session_touch(alog_session_table *table, uint32_t slot)
{
    lru_unlink(table, slot);
    lru_push_newest(table, slot);
}

uint32_t alog_session_lookup(const alog_session_table *table, const char *name, size_t len)
{
    uint64_t hash;
    uint32_t b;
    if (!table || (!name && len) || len > UINT32_MAX)
        return ALOG_SESSION_NONE;
    if (!name)
        name = "";
    hash = alog_session_hash(name, len);
    b = probe(table, hash, name, len);
    return table->index[b] != 0 ? table->index[b] - 1 : ALOG_SESSION_NONE;
}

void alog_session_remove(alog_session_table *table, uint32_t slot)
{
    if (!table || slot >= table->used || !unlink_session(table, slot))
        return;
    table->slots[slot].older = table->free;
    table->slots[slot].newer = ALOG_SESSION_NONE;
    table->free = slot;
}
