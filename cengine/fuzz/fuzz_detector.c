/*
 * fuzz_detector.c - libFuzzer harness for batching in the detector (alog_detector_config.batch).
 *
 * The tiny DeepLog with the END key (cengine/tests/tiny_deeplog_end.h) runs in two detectors: one
 * that holds windows back N at a time (a model opened with batch N, N from 2 to 8) and one that
 * runs each window at once. Byte 0 picks N and the rule; byte 1 the sessions kept, the cache and a
 * timeout in lines or seconds; every further byte (at most MAX_OPS) is one operation on both: an
 * event of one of 8 sessions (its key, -1 for an unseen line, and whether it has a time), a close
 * of a session, or a pause (alog_detector_flush, as a reader does before it waits). At the end
 * both finish. Both must return the same statuses and write byte-identical verdict streams;
 * anything else traps, as does any sanitizer report.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../tests/check.h"
#include "../tests/tiny_deeplog_end.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 200 /* the verdicts of as many operations fit check.h's output */

static unsigned char model_memory[2][1 << 15];
static unsigned char detector_memory[2][1 << 17];
static output streams[2];

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static alog_model *open_model(unsigned char *memory, size_t memory_len, uint32_t batch)
{
    alog_model *m = NULL;
    check(tiny_deeplog_end_open(&m, memory, memory_len, batch) == ALOG_OK);
    return m;
}

static alog_detector *open_detector(unsigned char *memory, size_t memory_len,
                                    const alog_detector_config *c, alog_model *deeplog)
{
    alog_message msg;
    alog_detector *det = NULL;
    size_t need = 0;
    check(alog_detector_size(&need, c, &msg) == ALOG_OK && need <= memory_len);
    check(alog_detector_open(&det, memory, need, c, deeplog, NULL, &msg) == ALOG_OK);
    return det;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    alog_detector_config c = end_config();
    alog_detector *det[2];
    uint32_t batch;
    size_t i, k;
    if (size < 2)
        return 0;
    batch = 2 + (uint32_t)(data[0] & 7u) % 7u;
    c.rule = data[0] & 0x80u ? ALOG_RULE_PROBABILITY : ALOG_RULE_TOPK;
    c.prob_threshold = 0.02 + 0.1 * ((data[0] >> 3) & 7u);
    c.end_threshold = 0.05 + 0.1 * ((data[0] >> 4) & 3u);
    c.max_sessions = 1 + (data[1] & 7u);
    c.cache_entries = data[1] & 8u ? 0 : 4;
    c.session_timeout_lines = data[1] & 0x10u ? 3 + ((data[1] >> 6) & 3u) : 0;
    c.session_timeout_seconds = !(data[1] & 0x10u) && (data[1] & 0x20u) ? 2.5 : 0;
    det[1] = open_detector(detector_memory[1], sizeof detector_memory[1], &c,
                           open_model(model_memory[1], sizeof model_memory[1], 1));
    c.batch = batch;
    det[0] = open_detector(detector_memory[0], sizeof detector_memory[0], &c,
                           open_model(model_memory[0], sizeof model_memory[0], batch));
    output_init(&streams[0]);
    output_init(&streams[1]);
    for (i = 2; i < size && i < 2 + MAX_OPS; i++) {
        const unsigned op = data[i] & 15u;
        const char *name = names[data[i] >> 5];
        alog_status status[2];
        for (k = 0; k < 2; k++) {
            if (op == 0) {
                status[k] = alog_detector_close_session(det[k], name, strlen(name), on_verdict,
                                                        &streams[k]);
            } else if (op == 1) {
                status[k] = alog_detector_flush(det[k], on_verdict, &streams[k]);
            } else {
                alog_event e;
                memset(&e, 0, sizeof e);
                e.session = name;
                e.session_len = strlen(name);
                e.template_index = (int32_t)(op % (V + 1)) - 1; /* -1 (unseen) .. V - 1 */
                e.has_time = (data[i] & 16u) != 0;
                e.seconds = (double)i / 2.0;
                status[k] = alog_detector_feed_event(det[k], &e, on_verdict, &streams[k]);
            }
        }
        check(status[0] == status[1]);
    }
    for (k = 0; k < 2; k++)
        check(alog_detector_finish(det[k], on_verdict, &streams[k]) == ALOG_OK &&
              alog_sink_flush(&streams[k].sink) == ALOG_OK);
    check(strcmp(streams[0].text, streams[1].text) == 0);
    return 0;
}
