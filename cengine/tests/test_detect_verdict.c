/*
 * test_detect_verdict.c - verdict JSON lines: golden cases (no arguments, exit 0 on success).
 *
 * With --stdin it is the harness tests/test_engine_cli.py drives with generated inputs, to hold
 * the string writer equal to Python's json.dumps: each input line is "S <hex bytes>" (a session name);
 * each gives one output line, the JSON text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/verdict.h"

static int flush_to_file(void *ctx, const char *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)ctx) == len ? 0 : 1;
}

static int flush_to_buffer(void *ctx, const char *data, size_t len)
{
    char *dst = ctx;
    size_t used = strlen(dst);
    if (used + len >= 4096)
        return 1;
    memcpy(dst + used, data, len);
    dst[used + len] = '\0';
    return 0;
}

/* A tiny sink buffer forces the flush path in the middle of tokens. */
static int expect_verdict(const alog_verdict *v, const char *expected)
{
    static char out[4096];
    char small[5];
    alog_sink sink;
    out[0] = '\0';
    alog_sink_init(&sink, small, sizeof small, flush_to_buffer, out);
    alog_verdict_write(&sink, v);
    if (alog_sink_flush(&sink) != ALOG_OK || strcmp(out, expected) != 0) {
        fprintf(stderr, "verdict:\n  got      %s  expected %s", out, expected);
        return 1;
    }
    return 0;
}

static int golden(void)
{
    static const int32_t top[3] = {3, 0, 1};
    alog_verdict v;
    int failures = 0;
    memset(&v, 0, sizeof v);
    v.model = ALOG_MODEL_DEEPLOG;
    v.session = "blk_1";
    v.session_len = 5;
    v.line = 12;
    v.template_index = 3;
    v.topk = top;
    v.topk_len = 3;
    v.reason = "ok";
    failures += expect_verdict(&v, "{\"model\":\"deeplog\",\"session\":\"blk_1\",\"line\":12,"
                                   "\"template\":3,\"topk\":[3,0,1],\"score\":null,"
                                   "\"anomaly\":false,\"reason\":\"ok\"}\n");
    v.model = ALOG_MODEL_MSCRED;
    v.session = "q\"\\\n\x01\x7f\xc3\xa9\xf0\x9f\x98\x80\xff\xe2\x82|\xed\xa0\x80";
    v.session_len = strlen(v.session);
    v.template_index = -1;
    v.topk_len = 0;
    v.has_score = 1;
    v.score = 17;
    v.anomaly = 1;
    v.reason = "residual";
    failures += expect_verdict(&v, "{\"model\":\"mscred\",\"session\":\"q\\\"\\\\\\n\\u0001\\u007f"
                                   "\\u00e9\\ud83d\\ude00\\udcff\\udce2\\udc82|\\udced\\udca0\\udc80\","
                                   "\"line\":12,\"template\":-1,\"topk\":[],\"score\":17,"
                                   "\"anomaly\":true,\"reason\":\"residual\"}\n");
    return failures;
}

static int hexval(int c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static int harness(void)
{
    static char line[1 << 16], bytes[1 << 15], buf[256];
    alog_sink sink;
    alog_sink_init(&sink, buf, sizeof buf, flush_to_file, stdout);
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\n"), i;
        line[n] = '\0';
        if (line[0] == 'S') {
            for (i = 0; 2 + 2 * i + 1 < n; i++)
                bytes[i] = (char)(hexval(line[2 + 2 * i]) * 16 + hexval(line[3 + 2 * i]));
            alog_json_write_string(&sink, bytes, i);
        }
        alog_sink_write(&sink, "\n", 1);
    }
    return alog_sink_flush(&sink) == ALOG_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--stdin") == 0)
        return harness();
    if (golden())
        return 1;
    puts("test_detect_verdict: ok");
    return 0;
}
