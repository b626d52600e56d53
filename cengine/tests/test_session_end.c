/*
 * test_session_end.c - sessions that close (docs/detection.md 2.2) and the probability rule (2.3)
 * through alog.h: a tiny DeepLog with the END key (V + 1 outputs) from a const array; closing by
 * alog_detector_close_session(), alog_detector_finish(), the timeouts in lines and seconds and
 * eviction, each with its END verdict in its place; and the top-k cache, which under the
 * probability rule also holds the verdict bits (END's against its own threshold), giving the
 * same verdicts as no cache.
 * Exit 0 on success; every failure prints what differed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alog.h"
#include "check.h"
#include "tiny_deeplog_end.h"
#include "math/alog_math.h"



static unsigned char model_memory[1 << 15];
static unsigned char detector_memory[2][1 << 16];
static unsigned char batch_model_memory[1 << 16];


/* ---- detectors (their verdicts as JSON lines: output and expect, check.h) ------------------- */

static int open_detector(alog_detector **det, int which, const alog_detector_config *c,
                         alog_model *deeplog)
{
    alog_message msg;
    size_t need;
    CHECK(alog_detector_size(&need, c, &msg) == ALOG_OK);
    CHECK(need <= sizeof detector_memory[which]);
    if (alog_detector_open(det, detector_memory[which], need, c, deeplog, NULL, &msg) != ALOG_OK) {
        fprintf(stderr, "alog_detector_open: %s\n", msg.text);
        return 1;
    }
    return 0;
}

static alog_status event(alog_detector *det, const char *session, int32_t index, int has_time,
                         double seconds, output *out)
{
    alog_event e;
    memset(&e, 0, sizeof e);
    e.session = session;
    e.session_len = session ? strlen(session) : 0;
    e.template_index = index;
    e.has_time = has_time;
    e.seconds = seconds;
    return alog_detector_feed_event(det, &e, on_verdict, out);
}

static alog_status close_session(alog_detector *det, const char *session, output *out)
{
    return alog_detector_close_session(det, session, strlen(session), on_verdict, out);
}

#define DL(session, line, template, topk, anomaly, reason)                                    \
    "{\"model\":\"deeplog\",\"session\":\"" session "\",\"line\":" #line ",\"template\":"      \
    #template ",\"topk\":[" topk "],\"score\":null,\"anomaly\":" anomaly ",\"reason\":\""      \
    reason "\"}\n"

/* ---- tests ------------------------------------------------------------------------------- */

static int test_config_errors(alog_model *deeplog)
{
    alog_detector_config c = end_config();
    alog_detector *det;
    alog_message msg;
    size_t need;
    c.rule = ALOG_RULE_PROBABILITY;
    c.prob_threshold = NAN;
    c.end_threshold = 0.1;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg.text, "prob_threshold") != NULL);
    /* with the END key the probability rule needs END's threshold too; without, it does not */
    c.prob_threshold = 0.3;
    c.end_threshold = NAN;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg.text, "end_threshold") != NULL);
    c.end_key = 0;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_OK);
    c.end_key = 1;
    c.end_threshold = 0.1;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_OK);
    c = end_config();
    c.rule = (alog_rule)7;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    c = end_config();
    c.session_timeout_lines = 3;
    c.session_timeout_seconds = 2;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    c.session_timeout_lines = 0;
    c.session_timeout_seconds = -1;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    c.session_timeout_seconds = NAN;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    c.session_timeout_seconds = INFINITY;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    c.session_timeout_seconds = 2;
    c.timestamp = "none";
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg.text, "timestamps") != NULL);
    c.timestamp = NULL;
    CHECK(alog_detector_size(&need, &c, &msg) == ALOG_OK);
    /* the model's outputs decide: 5 logits are V + 1, not V */
    c = end_config();
    c.end_key = 0;
    CHECK(alog_detector_open(&det, detector_memory[0], sizeof detector_memory[0], &c, deeplog,
                             NULL, &msg) == ALOG_ERR_SHAPE);
    /* bad arguments */
    c = end_config();
    TRY(open_detector(&det, 0, &c, deeplog));
    CHECK(alog_detector_close_session(NULL, "a", 1, on_verdict, NULL) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(alog_detector_close_session(det, NULL, 1, on_verdict, NULL) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(alog_detector_close_session(det, "a", 1, NULL, NULL) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(alog_detector_finish(NULL, on_verdict, NULL) == ALOG_ERR_INVALID_ARGUMENT);
    CHECK(alog_detector_finish(det, NULL, NULL) == ALOG_ERR_INVALID_ARGUMENT);
    return 0;
}

/* The windows of the sequence below and their logits:
 *   s:0 [P,P] 2 0 0 0 0      s:1 [P,0] 1 2 0 0 .5    s END [0,1] 0 2 2 0 .75
 *   t:2 [P,P] 2 0 0 0 0      t:3 [P,2] 1 0 0 2 0     t END [2,3] .5 0 0 2 3
 * Probabilities: s:0 .649, s:1 .537, s END .112; t:2 .088, t:3 .564, t END .645. */
static int run_sequence(alog_detector *det, output *out)
{
    CHECK(event(det, "s", 0, 0, 0, out) == ALOG_OK);
    CHECK(event(det, "s", 1, 0, 0, out) == ALOG_OK);
    CHECK(event(det, "t", 2, 0, 0, out) == ALOG_OK);
    CHECK(event(det, "t", 3, 0, 0, out) == ALOG_OK);
    CHECK(close_session(det, "s", out) == ALOG_OK);
    CHECK(close_session(det, "s", out) == ALOG_OK);     /* closed already: nothing */
    CHECK(close_session(det, "nope", out) == ALOG_OK);  /* never fed: nothing */
    CHECK(alog_detector_finish(det, on_verdict, out) == ALOG_OK);
    CHECK(alog_detector_finish(det, on_verdict, out) == ALOG_OK); /* nothing left */
    return 0;
}

static int test_close_and_finish(alog_model *deeplog)
{
    alog_detector_config c = end_config();
    alog_detector *det;
    static output out;
    output_init(&out);
    TRY(open_detector(&det, 0, &c, deeplog));
    TRY(run_sequence(det, &out));
    TRY(expect(&out,
        DL("s", 1, 0, "0,1", "false", "ok")
        DL("s", 2, 1, "1,0", "false", "ok")
        DL("t", 3, 2, "0,1", "true", "not_in_topk")
        DL("t", 4, 3, "3,0", "false", "ok")
        DL("s", 2, 4, "1,2", "true", "early_end")
        DL("t", 4, 4, "4,3", "false", "ok")));
    /* a closed session that comes back starts again from an all-PAD window */
    CHECK(event(det, "s", 1, 0, 0, &out) == ALOG_OK);
    CHECK(alog_detector_finish(det, on_verdict, &out) == ALOG_OK);
    TRY(expect(&out,
        DL("s", 5, 1, "0,1", "false", "ok")
        DL("s", 5, 4, "2,0", "true", "early_end")));
    return 0;
}

static int test_probability_rule(alog_model *deeplog)
{
    alog_detector_config c = end_config();
    alog_detector *det;
    static output out;
    output_init(&out);
    c.rule = ALOG_RULE_PROBABILITY;
    c.prob_threshold = 0.3;
    c.end_threshold = 0.3;
    TRY(open_detector(&det, 0, &c, deeplog));
    TRY(run_sequence(det, &out));
    TRY(expect(&out,
        DL("s", 1, 0, "0,1", "false", "ok")
        DL("s", 2, 1, "1,0", "false", "ok")
        DL("t", 3, 2, "0,1", "true", "low_probability")
        DL("t", 4, 3, "3,0", "false", "ok")
        DL("s", 2, 4, "1,2", "true", "early_end")
        DL("t", 4, 4, "4,3", "false", "ok")));
    /* END against end_threshold, events against prob_threshold: s's END (.112) is normal at
     * 0.1 though below 0.3 */
    c.end_threshold = 0.1;
    TRY(open_detector(&det, 0, &c, deeplog));
    TRY(run_sequence(det, &out));
    /* One window [0,1], cached: r's END there (.112) is normal, q's event 3 there (.053) is
     * not; the cached verdict bits hold END's against its own threshold. */
    CHECK(event(det, "r", 0, 0, 0, &out) == ALOG_OK);
    CHECK(event(det, "r", 1, 0, 0, &out) == ALOG_OK);
    CHECK(close_session(det, "r", &out) == ALOG_OK);
    CHECK(event(det, "q", 0, 0, 0, &out) == ALOG_OK);
    CHECK(event(det, "q", 1, 0, 0, &out) == ALOG_OK);
    CHECK(event(det, "q", 3, 0, 0, &out) == ALOG_OK);
    CHECK(alog_detector_finish(det, on_verdict, &out) == ALOG_OK);
    TRY(expect(&out,
        DL("s", 1, 0, "0,1", "false", "ok")
        DL("s", 2, 1, "1,0", "false", "ok")
        DL("t", 3, 2, "0,1", "true", "low_probability")
        DL("t", 4, 3, "3,0", "false", "ok")
        DL("s", 2, 4, "1,2", "false", "ok")
        DL("t", 4, 4, "4,3", "false", "ok")
        DL("r", 5, 0, "0,1", "false", "ok")
        DL("r", 6, 1, "1,0", "false", "ok")
        DL("r", 6, 4, "1,2", "false", "ok")
        DL("q", 7, 0, "0,1", "false", "ok")
        DL("q", 8, 1, "1,0", "false", "ok")
        DL("q", 9, 3, "1,2", "true", "low_probability")
        DL("q", 9, 4, "4,2", "false", "ok")));
    /* ... and the other way: t's END (.645) is early below 0.7, while no event is below 0.05 */
    c.prob_threshold = 0.05;
    c.end_threshold = 0.7;
    TRY(open_detector(&det, 0, &c, deeplog));
    TRY(run_sequence(det, &out));
    TRY(expect(&out,
        DL("s", 1, 0, "0,1", "false", "ok")
        DL("s", 2, 1, "1,0", "false", "ok")
        DL("t", 3, 2, "0,1", "false", "ok")
        DL("t", 4, 3, "3,0", "false", "ok")
        DL("s", 2, 4, "1,2", "true", "early_end")
        DL("t", 4, 4, "4,3", "true", "early_end")));
    /* p < threshold is strict: at threshold 0 nothing is anomalous, at 1 everything is */
    c.prob_threshold = 0;
    TRY(open_detector(&det, 0, &c, deeplog));
    CHECK(event(det, "s", 3, 0, 0, &out) == ALOG_OK);
    c.prob_threshold = 1;
    TRY(open_detector(&det, 0, &c, deeplog));
    CHECK(event(det, "s", 0, 0, 0, &out) == ALOG_OK);
    TRY(expect(&out,
        DL("s", 1, 3, "0,1", "false", "ok")
        DL("s", 1, 0, "0,1", "true", "low_probability")));
    return 0;
}

/* Timeout in lines (2): at the start of line 4, s (last line 1) is 3 lines idle; t (line 3) is
 * not; unseen events touch no session; line 7 closes t (last line 4) and u (line 5)... */
static int test_timeout_lines(alog_model *deeplog)
{
    alog_detector_config c = end_config();
    alog_detector *det;
    static output out;
    output_init(&out);
    c.session_timeout_lines = 2;
    TRY(open_detector(&det, 0, &c, deeplog));
    CHECK(event(det, "s", 0, 0, 0, &out) == ALOG_OK);  /* 1 */
    CHECK(event(det, "t", 2, 0, 0, &out) == ALOG_OK);  /* 2 */
    CHECK(event(det, "t", 3, 0, 0, &out) == ALOG_OK);  /* 3 */
    CHECK(event(det, "t", -1, 0, 0, &out) == ALOG_OK); /* 4: s closes first; t unchanged */
    CHECK(event(det, "u", 0, 0, 0, &out) == ALOG_OK);  /* 5 */
    CHECK(event(det, "u", -1, 0, 0, &out) == ALOG_OK); /* 6: t (3) closes */
    TRY(expect(&out,
        DL("s", 1, 0, "0,1", "false", "ok")
        DL("t", 2, 2, "0,1", "true", "not_in_topk")
        DL("t", 3, 3, "3,0", "false", "ok")
        DL("s", 1, 4, "1,0", "true", "early_end")
        "{\"model\":\"deeplog\",\"session\":\"t\",\"line\":4,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"
        DL("u", 5, 0, "0,1", "false", "ok")
        DL("t", 3, 4, "4,3", "false", "ok")
        "{\"model\":\"deeplog\",\"session\":\"u\",\"line\":6,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"));
    return 0;
}

/* Timeout in seconds (10): the clock is the largest time read, unseen events' included; a session
 * fed before the clock had a value counts from the clock's first value. */
static int test_timeout_seconds(alog_model *deeplog)
{
    alog_detector_config c = end_config();
    alog_detector *det;
    static output out;
    output_init(&out);
    c.session_timeout_seconds = 10;
    TRY(open_detector(&det, 0, &c, deeplog));
    CHECK(event(det, "s", 0, 0, 0, &out) == ALOG_OK);        /* 1: no clock yet */
    CHECK(event(det, "t", 2, 1, 100, &out) == ALOG_OK);      /* 2: clock 100; s counts from it */
    CHECK(event(det, "t", 3, 1, 90, &out) == ALOG_OK);       /* 3: an older time: clock stays */
    CHECK(event(det, "u", -1, 1, 110, &out) == ALOG_OK);     /* 4: 110 - 100 = 10: stays */
    CHECK(event(det, "u", -1, 1, 110.5, &out) == ALOG_OK);   /* 5: s and t close */
    CHECK(event(det, "t", 0, 0, 0, &out) == ALOG_OK);        /* 6: a new t, stamp 110.5 */
    CHECK(event(det, "u", -1, 1, 120.5, &out) == ALOG_OK);   /* 7: 10 exactly: stays */
    CHECK(alog_detector_finish(det, on_verdict, &out) == ALOG_OK);
    TRY(expect(&out,
        DL("s", 1, 0, "0,1", "false", "ok")
        DL("t", 2, 2, "0,1", "true", "not_in_topk")
        DL("t", 3, 3, "3,0", "false", "ok")
        "{\"model\":\"deeplog\",\"session\":\"u\",\"line\":4,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"
        DL("s", 1, 4, "1,0", "true", "early_end")
        DL("t", 3, 4, "4,3", "false", "ok")
        "{\"model\":\"deeplog\",\"session\":\"u\",\"line\":5,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"
        DL("t", 6, 0, "0,1", "false", "ok")
        "{\"model\":\"deeplog\",\"session\":\"u\",\"line\":7,\"template\":-1,\"topk\":[],\"score\":null,\"anomaly\":true,\"reason\":\"unseen\"}\n"
        DL("t", 6, 4, "1,0", "true", "early_end")));
    return 0;
}

/* Eviction: with 2 sessions kept, a third closes the idle-longest just before its own verdict. */
static int test_eviction(alog_model *deeplog)
{
    alog_detector_config c = end_config();
    alog_detector *det;
    static output out;
    output_init(&out);
    c.max_sessions = 2;
    TRY(open_detector(&det, 0, &c, deeplog));
    CHECK(event(det, "s", 0, 0, 0, &out) == ALOG_OK);
    CHECK(event(det, "t", 2, 0, 0, &out) == ALOG_OK);
    CHECK(event(det, "s", 1, 0, 0, &out) == ALOG_OK);
    CHECK(event(det, "u", 0, 0, 0, &out) == ALOG_OK);  /* t is idle longest */
    CHECK(close_session(det, "s", &out) == ALOG_OK);     /* a slot freed by a close ... */
    CHECK(event(det, "v", 0, 0, 0, &out) == ALOG_OK);  /* ... is reused: no eviction */
    TRY(expect(&out,
        DL("s", 1, 0, "0,1", "false", "ok")
        DL("t", 2, 2, "0,1", "true", "not_in_topk")
        DL("s", 3, 1, "1,0", "false", "ok")
        DL("t", 2, 4, "3,0", "true", "early_end")
        DL("u", 4, 0, "0,1", "false", "ok")
        DL("s", 3, 4, "1,2", "true", "early_end")
        DL("v", 5, 0, "0,1", "false", "ok")));
    return 0;
}

/* ---- the cache: the same verdicts with and without it ----------------------------------- */

static unsigned long long rng_state = 0x2545F4914F6CDD1Dull;

static unsigned rng(unsigned n)
{
    return xorshift_below(&rng_state, n);
}

/* Both detectors take the same random operations (`steps` of them: events of 7 sessions with
 * known, unseen or END-free keys, some with a time; closes; pauses that flush), then finish; 0
 * when their verdict streams are byte-identical (`a`'s is left in oa for further checks). */
static int same_streams(alog_detector *a, alog_detector *b, output *oa, output *ob, int steps)
{
    static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g"};
    int step;
    output_init(oa);
    output_init(ob);
    for (step = 0; step < steps; step++) {
        const char *name = names[rng(7)];
        int32_t key = (int32_t)rng(V + 1) - 1;
        int has_time = rng(4) != 0;
        double seconds = step / 3.0 + rng(3);
        unsigned what = rng(25);
        if (what == 0) {
            CHECK(close_session(a, name, oa) == ALOG_OK);
            CHECK(close_session(b, name, ob) == ALOG_OK);
        } else if (what == 1) {
            CHECK(alog_detector_flush(a, on_verdict, oa) == ALOG_OK);
            CHECK(alog_detector_flush(b, on_verdict, ob) == ALOG_OK);
        } else {
            CHECK(event(a, name, key, has_time, seconds, oa) == ALOG_OK);
            CHECK(event(b, name, key, has_time, seconds, ob) == ALOG_OK);
        }
    }
    CHECK(alog_detector_finish(a, on_verdict, oa) == ALOG_OK);
    CHECK(alog_detector_finish(b, on_verdict, ob) == ALOG_OK);
    CHECK(alog_sink_flush(&oa->sink) == ALOG_OK && alog_sink_flush(&ob->sink) == ALOG_OK);
    if (strcmp(oa->text, ob->text) != 0) {
        fprintf(stderr, "one detector:\n%s\nthe other:\n%s\n", oa->text, ob->text);
        return 1;
    }
    return 0;
}

/* Round `round`'s settings: both rules, thresholds, 1 to 5 sessions, a timeout in lines, in
 * seconds or none. */
static alog_detector_config random_config(int round)
{
    alog_detector_config c = end_config();
    c.rule = round % 2 ? ALOG_RULE_PROBABILITY : ALOG_RULE_TOPK;
    c.prob_threshold = 0.05 * (round + 1);
    c.end_threshold = 0.1 * (8 - round);
    c.max_sessions = 1 + (unsigned)round % 5;
    c.session_timeout_lines = round % 3 == 0 ? 4 : 0;
    c.session_timeout_seconds = round % 3 == 1 ? 2 : 0;
    return c;
}

static int test_cache_is_transparent(alog_model *deeplog)
{
    static output with, without;
    int round;
    for (round = 0; round < 8; round++) {
        alog_detector_config c = random_config(round);
        alog_detector *cached, *plain;
        c.cache_entries = 4;
        TRY(open_detector(&cached, 0, &c, deeplog));
        c.cache_entries = 0;
        TRY(open_detector(&plain, 1, &c, deeplog));
        TRY(same_streams(cached, plain, &with, &without, 300));
        CHECK(strstr(with.text, "\"template\":4") != NULL); /* END verdicts were made */
        CHECK(strstr(with.text, c.rule == ALOG_RULE_PROBABILITY ? "low_probability"
                                                                : "not_in_topk") != NULL);
    }
    return 0;
}

/* alog_exp against the C library's exp (what the Python reference calls): within 1 ulp, and
 * mostly equal. */
static int test_exp(void)
{
    int i, equal = 0;
    CHECK(alog_exp(0) == 1.0 && alog_exp(-1000) == 0.0 && alog_exp(NAN) != alog_exp(NAN));
    CHECK(alog_exp(800) == INFINITY && alog_exp(-INFINITY) == 0.0);
    for (i = 0; i < 200000; i++) {
        double x = -746.0 * rng(1u << 30) / (double)(1u << 30) + (i % 7 == 0 ? 1.0 : 0.0) * rng(700);
        double a = alog_exp(x), b = exp(x);
        CHECK(fabs(a - b) <= nextafter(b, INFINITY) - b || (a == 0 && b < 5e-324 * 2));
        equal += a == b;
    }
    CHECK(equal > 150000); /* 90.6% at this seed against glibc; the rest 1 ulp apart */
    return 0;
}

/* ---- batching: the same verdicts, in the same order, at any batch ---------------------------- */

/* A detector that holds windows back N at a time (a DeepLog opened with batch N) against one that
 * runs each window at once, with and without the cache: the same stream, END verdicts included. */
static int test_batches_are_transparent(alog_model *deeplog)
{
    static output batched, single;
    int round;
    for (round = 0; round < 8; round++) {
        alog_detector_config c = random_config(round);
        alog_detector *held, *plain;
        alog_model *wide;
        uint32_t batch = 2 + (uint32_t)round % 4;
        CHECK(tiny_deeplog_end_open(&wide, batch_model_memory, sizeof batch_model_memory, batch) ==
              ALOG_OK);
        c.cache_entries = round % 4 == 3 ? 0 : 8;
        TRY(open_detector(&plain, 1, &c, deeplog));
        c.batch = batch;
        TRY(open_detector(&held, 0, &c, wide));
        if (same_streams(held, plain, &batched, &single, 300) != 0) {
            fprintf(stderr, "(batch %u against batch 1, round %d)\n", (unsigned)batch, round);
            return 1;
        }
        CHECK(strstr(batched.text, "\"template\":4") != NULL); /* END verdicts were made */
    }
    return 0;
}

int main(void)
{
    alog_model *deeplog;
    CHECK(tiny_deeplog_end_open(&deeplog, model_memory, sizeof model_memory, 1) == ALOG_OK);
    TRY(test_exp());
    TRY(test_config_errors(deeplog));
    TRY(test_close_and_finish(deeplog));
    TRY(test_probability_rule(deeplog));
    TRY(test_timeout_lines(deeplog));
    TRY(test_timeout_seconds(deeplog));
    TRY(test_eviction(deeplog));
    TRY(test_cache_is_transparent(deeplog));
    TRY(test_batches_are_transparent(deeplog));
    puts("test_session_end: ok");
    return 0;
}
