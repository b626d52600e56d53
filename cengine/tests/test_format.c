/*
 * test_format - alog_format() writes snprintf's bytes for every conversion the engine's
 * messages use, at every buffer size from 1 to past the text (cut, always terminated).
 * Exits 0 and prints "test_format: ok", or names the first difference.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "format.h"

static int failures;

static void check(const char *name, const char *expected, size_t expected_len, const char *got,
                  size_t got_len, size_t cap)
{
    if (got_len != expected_len || strcmp(got, expected) != 0) {
        printf("%s, cap %lu: \"%s\" (%lu bytes), snprintf gives \"%s\" (%lu)\n", name,
               (unsigned long)cap, got, (unsigned long)got_len, expected,
               (unsigned long)expected_len);
        failures++;
    }
}

/* Both formatters on the same format and arguments, at every size up to past the text. */
#define SAME(...)                                                                              \
    do {                                                                                       \
        char expected[128], got[128];                                                          \
        size_t cap;                                                                            \
        int full = snprintf(expected, sizeof expected, __VA_ARGS__);                           \
        for (cap = 1; cap <= (size_t)full + 2 && cap <= sizeof got; cap++) {                   \
            int n = snprintf(expected, cap, __VA_ARGS__);                                      \
            size_t want = (size_t)n < cap ? (size_t)n : cap - 1;                               \
            memset(got, 'x', sizeof got);                                                      \
            check(#__VA_ARGS__, expected, want, got, alog_format(got, cap, __VA_ARGS__), cap); \
        }                                                                                      \
    } while (0)

int main(void)
{
    static const int ints[] = {0, 1, -1, 9, 10, -10, 12345, INT_MAX, INT_MIN};
    static const long long longs[] = {0, 7, -7, 1000000007LL, LLONG_MAX, LLONG_MIN};
    static const unsigned long ulongs[] = {0, 1, 10, 4294967295ul, ULONG_MAX};
    size_t i;
    char zero = 0;

    SAME("plain text, no conversion");
    SAME("100%% sure");
    SAME("%s node '%.*s': ", "LSTM", 3, "lstm_0_and_more");
    SAME("'%.*s' and '%.*s'", 0, "hidden", 40, "short");
    SAME("[%s]", &zero);
    for (i = 0; i < sizeof ints / sizeof ints[0]; i++)
        SAME("input %d of %d", ints[i], ints[i] / 2);
    for (i = 0; i < sizeof longs / sizeof longs[0]; i++)
        SAME("axis %lld is out of range (%ld)", longs[i], (long)ints[i % 9]);
    for (i = 0; i < sizeof ulongs / sizeof ulongs[0]; i++)
        SAME("at most %lu, %u, %llu", ulongs[i], (unsigned)ulongs[i], (unsigned long long)ulongs[i] * 3);
    if (failures)
        return 1;
    printf("test_format: ok\n");
    return 0;
}
