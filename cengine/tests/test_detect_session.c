/*
 * test_detect_session.c - the session table against a naive LRU model, and its edge cases.
 * Exit 0 on success; every failure prints what differed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "detect/session.h"

enum { CAP = 5, WINDOW = 3, PAD = 99, NAMES = 12, STEPS = 20000 };

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;

static unsigned rng(unsigned n)
{
    return xorshift_below(&rng_state, n);
}

/* The naive model: names in LRU order (most recent last) and their windows. */
typedef struct model {
    int count;
    int names[CAP];
    int windows[CAP][WINDOW];
} model;

static int *model_touch(model *m, int name)
{
    int i, j, w[WINDOW];
    for (i = 0; i < m->count && m->names[i] != name; i++)
        ;
    if (i < m->count) {
        memcpy(w, m->windows[i], sizeof w);
    } else {
        for (j = 0; j < WINDOW; j++)
            w[j] = PAD;
        if (m->count == CAP)
            i = 0; /* evict the idle-longest */
        else
            i = m->count++;
    }
    for (j = i; j < m->count - 1; j++) {
        m->names[j] = m->names[j + 1];
        memcpy(m->windows[j], m->windows[j + 1], sizeof w);
    }
    m->names[m->count - 1] = name;
    memcpy(m->windows[m->count - 1], w, sizeof w);
    return m->windows[m->count - 1];
}

/* Forgets a name (a closed session); whether it was kept. */
static int model_remove(model *m, int name)
{
    int i, j;
    for (i = 0; i < m->count && m->names[i] != name; i++)
        ;
    if (i == m->count)
        return 0;
    for (j = i; j < m->count - 1; j++) {
        m->names[j] = m->names[j + 1];
        memcpy(m->windows[j], m->windows[j + 1], sizeof m->windows[j]);
    }
    m->count--;
    return 1;
}

/* Names that share a prefix and differ only past ALOG_SESSION_NAME_PREFIX, and short ones. */
static size_t make_name(char *buf, int name)
{
    if (name % 2) {
        memset(buf, 'x', ALOG_SESSION_NAME_PREFIX + 8);
        sprintf(buf + ALOG_SESSION_NAME_PREFIX + 8, "%d", name);
        return strlen(buf);
    }
    sprintf(buf, "blk_%d", name);
    return strlen(buf);
}

static int test_against_model(void)
{
    static char mem[1 << 16];
    alog_session_table t;
    model m = {0};
    int step;
    size_t need = alog_session_table_size(CAP, WINDOW);
    CHECK(need > 0 && need <= sizeof mem);
    CHECK(alog_session_table_init(&t, mem, need - 1, CAP, WINDOW, PAD) == ALOG_ERR_ARENA_TOO_SMALL);
    CHECK(alog_session_table_init(&t, mem, need, CAP, WINDOW, PAD) == ALOG_OK);
    for (step = 0; step < STEPS; step++) {
        char name[128];
        int id = (int)rng(NAMES), key = (int)rng(50), j;
        size_t len = make_name(name, id);
        uint32_t slot = alog_session_lookup(&t, name, len);
        int *expect, kept;
        if (rng(8) == 0) {
            /* a close: the session goes, its slot is reused by the next new one */
            kept = model_remove(&m, id);
            CHECK((slot != ALOG_SESSION_NONE) == kept);
            if (kept)
                alog_session_remove(&t, slot);
            alog_session_remove(&t, slot); /* a second remove (or of NONE) changes nothing */
            CHECK(alog_session_lookup(&t, name, len) == ALOG_SESSION_NONE);
            CHECK(t.live == (uint32_t)m.count);
            continue;
        }
        CHECK(alog_session_table_full(&t) == (m.count == CAP));
        expect = model_touch(&m, id);
        CHECK(alog_session_find(&slot, &t, name, len) == ALOG_OK);
        CHECK(t.live == (uint32_t)m.count);
        /* the LRU list runs from the idle-longest as the model's order */
        {
            uint32_t at = t.oldest;
            int n = 0;
            for (; at != ALOG_SESSION_NONE; at = t.slots[at].newer, n++) {
                char other[128];
                size_t other_len = make_name(other, m.names[n]);
                CHECK(n < m.count && alog_session_lookup(&t, other, other_len) == at);
            }
            CHECK(n == m.count);
        }
        for (j = 0; j < WINDOW; j++)
            if (alog_session_window(&t, slot)[j] != expect[j]) {
                fprintf(stderr, "step %d name %d: window[%d] = %d, expected %d\n", step, id, j,
                        alog_session_window(&t, slot)[j], expect[j]);
                return 1;
            }
        alog_session_push(&t, slot, key);
        memmove(expect, expect + 1, (WINDOW - 1) * sizeof *expect);
        expect[WINDOW - 1] = key;
    }
    CHECK(t.used == CAP);
    return 0;
}

static int test_edge_cases(void)
{
    static char mem[4096];
    alog_session_table t;
    uint32_t a, b, c;
    CHECK(alog_session_table_size(0, WINDOW) == 0);
    CHECK(alog_session_table_init(&t, mem + 1, sizeof mem - 1, 1, 2, PAD) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(alog_session_table_init(&t, mem, sizeof mem, 1, 2, PAD) == ALOG_OK);
    /* The whole-stream session has an empty name; NUL bytes are part of a name. */
    CHECK(alog_session_find(&a, &t, NULL, 0) == ALOG_OK);
    alog_session_push(&t, a, 7);
    CHECK(alog_session_find(&b, &t, "", 0) == ALOG_OK && b == a);
    CHECK(alog_session_window(&t, b)[0] == PAD && alog_session_window(&t, b)[1] == 7);
    CHECK(alog_session_find(&c, &t, "a\0b", 3) == ALOG_OK);
    CHECK(alog_session_window(&t, c)[1] == PAD); /* capacity 1: the empty name was evicted */
    CHECK(alog_session_find(&c, &t, "a\0c", 3) == ALOG_OK && alog_session_window(&t, c)[1] == PAD);
    return 0;
}

int main(void)
{
    if (test_against_model() || test_edge_cases())
        return 1;
    puts("test_detect_session: ok");
    return 0;
}
