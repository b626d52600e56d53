/* model_check.c - see model_check.h. */
#include "model_check.h"

#include <stdlib.h>
#include <string.h>

static alog_status measure(size_t *out_need, const uint8_t *data, size_t size)
{
    alog_status st = alog_model_arena_size(out_need, NULL, 0, data, size, 1, NULL);
    void *work;
    if (st != ALOG_ERR_ARENA_TOO_SMALL)
        return st;
    if (*out_need > ALOG_CHECK_MAX_ARENA)
        return ALOG_ERR_LIMIT;
    work = malloc(*out_need);
    if (!work)
        return ALOG_ERR_LIMIT;
    st = alog_model_arena_size(out_need, work, *out_need, data, size, 1, NULL);
    free(work);
    return st;
}

static alog_status run_zeroed(alog_model *m)
{
    size_t i;
    for (i = 0; i < alog_model_input_count(m); ++i) {
        alog_tensor_info info;
        alog_status st = alog_model_input(&info, m, i);
        if (st != ALOG_OK)
            return st;
        memset(info.data, 0, info.bytes);
    }
    return alog_model_run(m);
}

alog_status alog_check_model(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1), *arena;
    alog_model *m;
    size_t need = 0;
    alog_status st;
    if (!copy)
        return ALOG_ERR_LIMIT;
    if (size)
        memcpy(copy, data, size);
    st = measure(&need, copy, size);
    if (st == ALOG_OK && need > ALOG_CHECK_MAX_ARENA)
        st = ALOG_ERR_LIMIT;
    if (st == ALOG_OK) {
        arena = malloc(need);
        st = arena ? alog_model_open(&m, arena, need, copy, size, 1, NULL) : ALOG_ERR_LIMIT;
        if (st == ALOG_OK)
            st = run_zeroed(m);
        free(arena);
    }
    free(copy);
    return st;
}
