/*
 * test_public_api.c - the detector and the model loader through alog.h alone, as firmware uses
 * them: two tiny models opened from const arrays in arenas of exactly the reported size, raw lines
 * and template indices in, verdicts (as the public JSON writer prints them) checked line by line.
 * Exit 0 on success; every failure prints what differed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alog.h"
#include "check.h"

/* ---- the models -------------------------------------------------------------------------- */

/*
 * Made with onnx.helper, opset 17 (the bytes of model.SerializeToString()):
 * DEEPLOG_ONNX: keys int64 (1, 2) -> Gather(table, axis 0) -> ReduceSum(axes [1], keepdims 0)
 *   -> logits float (1, 4). table is (5, 4): row k < 4 the one-hot of (k + 1) % 4, row 4 (PAD)
 *   zero, so a window's logits are the one-hots of its keys' successors, summed.
 * MSCRED_ONNX: x float (1, 2, 1, 8, 8) -> ReduceSum(axes [1], keepdims 0) -> recon (1, 1, 8, 8):
 *   the two signatures summed, so the residual is the older signature itself.
 */
static const unsigned char DEEPLOG_ONNX[281] = {
    0x08, 0x08, 0x3a, 0x8e, 0x02, 0x0a, 0x28, 0x0a, 0x05, 0x74, 0x61, 0x62, 0x6c, 0x65, 0x0a, 0x04,
    0x6b, 0x65, 0x79, 0x73, 0x12, 0x04, 0x72, 0x6f, 0x77, 0x73, 0x22, 0x06, 0x47, 0x61, 0x74, 0x68,
    0x65, 0x72, 0x2a, 0x0b, 0x0a, 0x04, 0x61, 0x78, 0x69, 0x73, 0x18, 0x00, 0xa0, 0x01, 0x02, 0x0a,
    0x30, 0x0a, 0x04, 0x72, 0x6f, 0x77, 0x73, 0x0a, 0x04, 0x61, 0x78, 0x65, 0x73, 0x12, 0x06, 0x6c,
    0x6f, 0x67, 0x69, 0x74, 0x73, 0x22, 0x09, 0x52, 0x65, 0x64, 0x75, 0x63, 0x65, 0x53, 0x75, 0x6d,
    0x2a, 0x0f, 0x0a, 0x08, 0x6b, 0x65, 0x65, 0x70, 0x64, 0x69, 0x6d, 0x73, 0x18, 0x00, 0xa0, 0x01,
    0x02, 0x12, 0x07, 0x64, 0x65, 0x65, 0x70, 0x6c, 0x6f, 0x67, 0x2a, 0x5f, 0x08, 0x05, 0x08, 0x04,
    0x10, 0x01, 0x42, 0x05, 0x74, 0x61, 0x62, 0x6c, 0x65, 0x4a, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x80, 0x3f, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x14, 0x08, 0x01, 0x10,
    0x07, 0x42, 0x04, 0x61, 0x78, 0x65, 0x73, 0x4a, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x5a, 0x16, 0x0a, 0x04, 0x6b, 0x65, 0x79, 0x73, 0x12, 0x0e, 0x0a, 0x0c, 0x08, 0x07, 0x12,
    0x08, 0x0a, 0x02, 0x08, 0x01, 0x0a, 0x02, 0x08, 0x02, 0x62, 0x18, 0x0a, 0x06, 0x6c, 0x6f, 0x67,
    0x69, 0x74, 0x73, 0x12, 0x0e, 0x0a, 0x0c, 0x08, 0x01, 0x12, 0x08, 0x0a, 0x02, 0x08, 0x01, 0x0a,
    0x02, 0x08, 0x04, 0x42, 0x04, 0x0a, 0x00, 0x10, 0x11,
};

static const unsigned char MSCRED_ONNX[153] = {
    0x08, 0x08, 0x3a, 0x8e, 0x01, 0x0a, 0x2c, 0x0a, 0x01, 0x78, 0x0a, 0x04, 0x61, 0x78, 0x65, 0x73,
    0x12, 0x05, 0x72, 0x65, 0x63, 0x6f, 0x6e, 0x22, 0x09, 0x52, 0x65, 0x64, 0x75, 0x63, 0x65, 0x53,
    0x75, 0x6d, 0x2a, 0x0f, 0x0a, 0x08, 0x6b, 0x65, 0x65, 0x70, 0x64, 0x69, 0x6d, 0x73, 0x18, 0x00,
    0xa0, 0x01, 0x02, 0x12, 0x06, 0x6d, 0x73, 0x63, 0x72, 0x65, 0x64, 0x2a, 0x14, 0x08, 0x01, 0x10,
    0x07, 0x42, 0x04, 0x61, 0x78, 0x65, 0x73, 0x4a, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x5a, 0x1f, 0x0a, 0x01, 0x78, 0x12, 0x1a, 0x0a, 0x18, 0x08, 0x01, 0x12, 0x14, 0x0a, 0x02,
    0x08, 0x01, 0x0a, 0x02, 0x08, 0x02, 0x0a, 0x02, 0x08, 0x01, 0x0a, 0x02, 0x08, 0x08, 0x0a, 0x02,
    0x08, 0x08, 0x62, 0x1f, 0x0a, 0x05, 0x72, 0x65, 0x63, 0x6f, 0x6e, 0x12, 0x16, 0x0a, 0x14, 0x08,
    0x01, 0x12, 0x10, 0x0a, 0x02, 0x08, 0x01, 0x0a, 0x02, 0x08, 0x01, 0x0a, 0x02, 0x08, 0x08, 0x0a,
    0x02, 0x08, 0x08, 0x42, 0x04, 0x0a, 0x00, 0x10, 0x11,
};

enum { V = 4, WINDOW = 2, TOP_K = 2 };

static const char *const TEMPLATES[V] = {"user <*> logged in", "disk <*> full", "service started",
                                         "<*> connection reset"};

/* Arenas in plain static memory, used from odd addresses: alog.h says any address works. */
static unsigned char model_memory[2][1 << 15];
static unsigned char detector_memory[1 << 15];

/* Opens a model from memory in exactly the reported size, 3 bytes into `memory` (measured in the
 * same memory first); one byte less must be refused. */
static int open_model(alog_model **out, unsigned char *memory, size_t memory_len,
                      const unsigned char *onnx, size_t onnx_len)
{
    alog_message msg;
    size_t need = 0;
    CHECK(alog_model_arena_size(&need, memory, memory_len, onnx, onnx_len, 1, &msg) == ALOG_OK);
    CHECK(need > ALOG_ARENA_SLACK && need + 3 <= memory_len);
    CHECK(alog_model_open(out, memory + 3, need - 1, onnx, onnx_len, 1, &msg) ==
          ALOG_ERR_ARENA_TOO_SMALL);
    CHECK(alog_model_open(out, memory + 3, need, onnx, onnx_len, 1, &msg) == ALOG_OK);
    CHECK(alog_model_arena_used(*out) + ALOG_ARENA_SLACK <= need);
    return 0;
}

/* ---- the config: what alog_vocab.h and alog_model_meta.h would give --------------------- */

static alog_detector_config tiny_config(void)
{
    alog_detector_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = V;
    c.templates = TEMPLATES;
    c.mask_rules = "uuid,ip,hex,num,path";
    c.session_rule = "prefix:ses_";
    c.header_tokens = 1; /* the session key leads each line */
    c.has_deeplog = 1;
    c.window = WINDOW;
    c.top_k = TOP_K;
    c.max_sessions = 8;
    c.cache_entries = 16;
    c.has_mscred = 1;
    c.signature.num_templates = V;
    c.signature.n = 8;
    c.signature.scales = 1;
    c.signature.window_sizes[0] = 1;
    c.signature.step = 1;
    c.signature.steps = 2;
    c.signature.bucket_size = 2; /* lines rule: every 2 counted events close a bucket */
    c.signature.norm = 2;
    c.cell_threshold = 0.5f;
    c.anomaly_threshold = 0;
    return c;
}

/* ---- detectors (their verdicts as JSON lines: output and expect, check.h) ------------------- */

/* In exactly the size reported, at an odd address; one byte less must be refused. */
static int open_detector(alog_detector **det, const alog_detector_config *c, alog_model *deeplog,
                         alog_model *mscred)
{
    alog_message msg;
    size_t need;
    CHECK(alog_detector_size(&need, c, &msg) == ALOG_OK);
    CHECK(need + 1 <= sizeof detector_memory);
    CHECK(alog_detector_open(det, detector_memory + 1, need - 1, c, deeplog, mscred, &msg) ==
          ALOG_ERR_ARENA_TOO_SMALL);
    CHECK(alog_detector_open(det, detector_memory + 1, need, c, deeplog, mscred, &msg) == ALOG_OK);
    return 0;
}

/* A structured event of `session` (NULL: the stream's one session) with this template index. */
static alog_status feed_event(alog_detector *det, const char *session, int32_t index,
                              output *out)
{
    alog_event event;
    memset(&event, 0, sizeof event);
    event.session = session;
    event.session_len = session ? strlen(session) : 0;
    event.template_index = index;
    return alog_detector_feed_event(det, &event, on_verdict, out);
}

/* ---- tests ------------------------------------------------------------------------------- */

static int test_config_errors(alog_model *deeplog, alog_model *mscred)
{
    alog_detector_config c = tiny_config();
    alog_detector *det;
    alog_message msg;
    size_t need;
    CHECK(alog_session_rule_check("none") == ALOG_OK);
    CHECK(alog_session_rule_check("prefix:blk_") == ALOG_OK);
    CHECK(alog_session_rule_check("prefix:a b") == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(alog_session_rule_check("byhost") == ALOG_ERR_INVALID_ARGUMENT);
    c.session_rule = "prefix:";
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg.text, "session_rule") != NULL);
    c = tiny_config();
    c.mask_rules = "num,bogus";
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg.text, "mask_rules") != NULL);
    c = tiny_config();
    c.signature.num_templates = V + 1;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_MISMATCH);
    /* the models' shapes are checked against the config */
    c = tiny_config();
    c.window = WINDOW + 1;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_OK);
    CHECK(alog_detector_open(&det, detector_memory, sizeof detector_memory, &c, deeplog, mscred,
                             &msg) == ALOG_ERR_SHAPE);
    CHECK(det == NULL && strstr(msg.text, "deeplog.onnx") != NULL);
    c = tiny_config();
    CHECK(alog_detector_open(&det, detector_memory, sizeof detector_memory, &c, deeplog, NULL,
                             &msg) == ALOG_ERR_INVALID_ARGUMENT);
    return 0;
}

/* Raw lines through both models; the expected verdicts follow from the models above:
 * DeepLog's top-2 are the successors of the window's keys, then the lowest other indices;
 * MSCRED's buckets are {t0, t1}, {t2, t2}, {t2, t2}, and each model input's score counts the
 * cells over 0.5 of its older signature: 0.25 everywhere for {t0, t1}, 1 at (2, 2) for {t2, t2}. */
static int test_lines_and_events(alog_model *deeplog, alog_model *mscred)
{
    static const char *const lines[] = {
        "ses_a user alice logged in",
        "   \r",
        "ses_a disk sda1 full",
        "ses_b totally unknown words here",
        "ses_a service started\r",
        "ses_b service started",
        "ses_a service started",
        "ses_a service started",
    };
    alog_detector_config c = tiny_config();
    alog_detector *det;
    static output out;
    size_t i;
    TRY(open_detector(&det, &c, deeplog, mscred));
    output_init(&out);

    for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
        CHECK(alog_detector_feed_line(det, lines[i], strlen(lines[i]), on_verdict, &out) ==
              ALOG_OK);
    TRY(expect(&out,
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":1,\"template\":0,\"topk\":[0,1],\"score\":null,\"anomaly\":false,\"reason\":\"ok\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":3,\"template\":1,\"topk\":[1,0],\"score\":null,\"anomaly\":false,\"reason\":\"ok\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"ses_b\",\"line\":4,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":5,\"template\":2,\"topk\":[1,2],\"score\":null,\"anomaly\":false,\"reason\":\"ok\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"ses_b\",\"line\":6,\"template\":2,\"topk\":[0,1],\"score\":null,\"anomaly\":true,\"reason\":\"not_in_topk\"}\n"
        "{\"model\":\"mscred\",\"session\":null,\"line\":6,\"template\":-1,\"topk\":[],\"score\":0,\"anomaly\":false,\"reason\":\"ok\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":7,\"template\":2,\"topk\":[2,3],\"score\":null,\"anomaly\":false,\"reason\":\"ok\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":8,\"template\":2,\"topk\":[3,0],\"score\":null,\"anomaly\":true,\"reason\":\"not_in_topk\"}\n"
        "{\"model\":\"mscred\",\"session\":null,\"line\":8,\"template\":-1,\"topk\":[],\"score\":1,\"anomaly\":true,\"reason\":\"residual\"}\n"));

    /* structured events continue the same stream: the session's window is [2, 2] */
    CHECK(feed_event(det, "ses_a", 3, &out) == ALOG_OK);
    CHECK(feed_event(det, NULL, -1, &out) == ALOG_OK);
    /* outside the vocabulary: refused, and no line number taken */
    CHECK(feed_event(det, NULL, V, &out) == ALOG_ERR_INVALID_ARGUMENT);
    /* the head of an overlong line is unseen whatever it holds; its session comes from it */
    CHECK(alog_detector_feed_line_head(det, lines[0], strlen(lines[0]), on_verdict, &out) ==
          ALOG_OK);
    TRY(expect(&out,
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":9,\"template\":3,\"topk\":[3,0],\"score\":null,\"anomaly\":false,\"reason\":\"ok\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"all\",\"line\":10,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":11,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"));
    CHECK(strcmp(alog_detector_error(det), "") == 0);
    return 0;
}

/* Lines past ALOG_MAX_LINE: unseen, and only their head (ALOG_MAX_LINE + 1 bytes) is read for
 * the session key and the blank-line test, whether passed whole or as a head. */
static int test_overlong_lines(alog_model *deeplog, alog_model *mscred)
{
    static char line[ALOG_MAX_LINE + 16];
    alog_detector_config c = tiny_config();
    alog_detector *det;
    static output out;
    size_t n;
    TRY(open_detector(&det, &c, deeplog, mscred));
    output_init(&out);
    /* a template's words padded past the limit: unseen (a match would need the whole line) */
    n = (size_t)sprintf(line, "ses_a service");
    memset(line + n, ' ', sizeof line - n);
    memcpy(line + sizeof line - 8, "started", 7);
    CHECK(alog_detector_feed_line(det, line, sizeof line, on_verdict, &out) == ALOG_OK);
    CHECK(alog_detector_feed_line_head(det, line, ALOG_MAX_LINE + 1, on_verdict, &out) == ALOG_OK);
    /* spaces over the whole head, then a token: blank */
    memset(line, ' ', sizeof line);
    memcpy(line + sizeof line - 8, "ses_b", 5);
    CHECK(alog_detector_feed_line(det, line, sizeof line, on_verdict, &out) == ALOG_OK);
    /* exactly ALOG_MAX_LINE bytes and a CR: matched */
    n = (size_t)sprintf(line, "ses_a service");
    memset(line + n, ' ', ALOG_MAX_LINE - n);
    memcpy(line + ALOG_MAX_LINE - 7, "started\r", 8);
    CHECK(alog_detector_feed_line(det, line, ALOG_MAX_LINE + 1, on_verdict, &out) == ALOG_OK);
    TRY(expect(&out,
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":1,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":2,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"ses_a\",\"line\":4,\"template\":2,\"topk\":[0,1],\"score\":null,\"anomaly\":true,\"reason\":\"not_in_topk\"}\n"));
    return 0;
}

/* Firmware that logs template indices needs no templates (and no matcher memory). */
static int test_events_only(alog_model *deeplog)
{
    alog_detector_config c = tiny_config();
    alog_detector *det;
    alog_message msg;
    static output out;
    size_t with_templates, need;
    CHECK(alog_detector_size(&with_templates, &c, &msg) == ALOG_OK);
    c.templates = NULL;
    c.has_mscred = 0;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_OK);
    CHECK(need < with_templates);
    TRY(open_detector(&det, &c, deeplog, NULL));
    output_init(&out);
    CHECK(alog_detector_feed_line(det, TEMPLATES[2], strlen(TEMPLATES[2]), on_verdict, &out) ==
          ALOG_ERR_INVALID_ARGUMENT);
    CHECK(feed_event(det, "dev7", 1, &out) == ALOG_OK);
    CHECK(feed_event(det, "dev7", 2, &out) == ALOG_OK);
    TRY(expect(&out,
        "{\"model\":\"deeplog\",\"session\":\"dev7\",\"line\":1,\"template\":1,\"topk\":[0,1],\"score\":null,\"anomaly\":false,\"reason\":\"ok\"}\n"
        "{\"model\":\"deeplog\",\"session\":\"dev7\",\"line\":2,\"template\":2,\"topk\":[2,0],\"score\":null,\"anomaly\":false,\"reason\":\"ok\"}\n"));
    return 0;
}

int main(void)
{
    alog_model *deeplog, *mscred;
    TRY(open_model(&deeplog, model_memory[0], sizeof model_memory[0], DEEPLOG_ONNX,
                   sizeof DEEPLOG_ONNX));
    TRY(open_model(&mscred, model_memory[1], sizeof model_memory[1], MSCRED_ONNX,
                   sizeof MSCRED_ONNX));
    TRY(test_config_errors(deeplog, mscred));
    TRY(test_lines_and_events(deeplog, mscred));
    TRY(test_overlong_lines(deeplog, mscred));
    TRY(test_events_only(deeplog));
    puts("test_public_api: ok");
    return 0;
}
