/*
 * session.h - a fixed-capacity table of sessions, each with its DeepLog window of keys.
 *
 * All memory comes from the caller (alog_session_table_size() says how much). Lookups hash the
 * session name; when the table is full, the session idle longest (least recently fed a line) is
 * evicted, and if it comes back it starts again with a window of PAD keys. The Python reference
 * (alog_detect.detect) applies the same capacity and the same rule.
 *
 * A session is identified by its name's length, a 64-bit hash of all its bytes and its first
 * ALOG_SESSION_NAME_PREFIX bytes: exact for names up to that length, and for longer ones (block
 * ids are ~25 bytes) exact up to a 64-bit hash collision, so memory stays bounded per session
 * whatever a line holds.
 *
 * Sessions also close (docs/detection.md 2.2): the detector removes one by name, the idle-longest
 * on a timeout or eviction, or all at the end of input. Each remembers the line of its last known
 * event and the clock (seconds) when it was fed, for the timeouts; a removed slot is reused.
 */
#ifndef ALOG_DETECT_SESSION_H
#define ALOG_DETECT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "alog.h"

#define ALOG_SESSION_NAME_PREFIX 48

typedef struct alog_session {
    uint64_t hash;
    uint32_t name_len;
    uint32_t older, newer; /* LRU list links (slot indices; ALOG_SESSION_NONE at the ends); a
                              free slot links the next free one through `older` */
    uint32_t has_stamp;    /* 0: fed while the detector's clock had no value */
    uint64_t last_line;    /* line number of the session's last known event */
    double stamp;          /* the clock when that event was fed (has_stamp) */
    char prefix[ALOG_SESSION_NAME_PREFIX];
} alog_session;

#define ALOG_SESSION_NONE UINT32_MAX

typedef struct alog_session_table {
    uint32_t capacity; /* sessions */
    uint32_t window;   /* keys per session window */
    int32_t pad;       /* the PAD key a new window is filled with */
    uint32_t used;     /* slots ever handed out (free ones included) */
    uint32_t live;     /* sessions kept now */
    uint32_t free;     /* the first free slot below `used`, or ALOG_SESSION_NONE */
    uint32_t buckets;  /* a power of two >= 2 * capacity */
    uint32_t newest, oldest;
    alog_session *slots;  /* (capacity) */
    int32_t *windows;     /* (capacity, window): oldest key first */
    uint32_t *index;      /* (buckets): slot + 1, 0 = empty; open addressing, linear probing */
} alog_session_table;

/* Bytes of caller memory a table of this capacity and window needs (0 when they overflow). */
size_t alog_session_table_size(uint32_t capacity, uint32_t window);

alog_status alog_session_table_init(alog_session_table *table, void *mem, size_t mem_len,
                                    uint32_t capacity, uint32_t window, int32_t pad);

/* The window (oldest key first, `window` keys) of the session named name[0..len), creating it
 * (all PAD) when new, evicting the idle-longest session when the table is full; the session
 * becomes the most recently used. *slot receives its slot for alog_session_push. */
alog_status alog_session_find(uint32_t *slot, alog_session_table *table, const char *name,
                              size_t len);

/* The slot of the session named name[0..len), or ALOG_SESSION_NONE; the LRU order is unchanged. */
uint32_t alog_session_lookup(const alog_session_table *table, const char *name, size_t len);

/* Make the session in `slot` (a kept one) the most recently used, as alog_session_find does. */
void alog_session_touch(alog_session_table *table, uint32_t slot);

/* Forget the session in `slot` (its slot is reused by the next new session). */
void alog_session_remove(alog_session_table *table, uint32_t slot);

/* Whether a new session would evict the idle-longest one. */
static inline int alog_session_table_full(const alog_session_table *table)
{
    return table->live == table->capacity;
}

/* Shift key into the session's window (the oldest key drops out). */
void alog_session_push(alog_session_table *table, uint32_t slot, int32_t key);

static inline const int32_t *alog_session_window(const alog_session_table *table, uint32_t slot)
{
    return table->windows + (size_t)slot * table->window;
}

/* The 64-bit FNV-1a hash of name[0..len). */
uint64_t alog_session_hash(const char *name, size_t len);

#endif /* ALOG_DETECT_SESSION_H */
