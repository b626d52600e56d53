"""Issue 13 on the training side: the END key, the probability rule and its calibration
(docs/detection.md 2.2, 2.3), in alog_detect.deeplog_rule and deeplog-train."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from alog_detect.deeplog_rule import (REASON_EARLY_END, REASON_LOW_PROBABILITY, REASON_NOT_IN_TOPK, REASON_OK,
                                      REASON_UNKNOWN, RULE_PROBABILITY, UNKNOWN, calibrate_threshold,
                                      calibrate_thresholds, calibration_probabilities, end_window, judge, judge_end,
                                      judge_session, judge_sessions, probabilities,
                                      session_is_anomalous, session_logits, session_probabilities, session_windows)
from alog_detect.errors import UserError
from alog_detect.train.deeplog import (_dataset, load_deeplog_checkpoint, split_sessions, torch_predictor,
                                       train_deeplog)

from test_deeplog import CYCLE, small_config, write_training_data


# ---- windows and the END target ----------------------------------------------------------------

def test_end_window_is_the_window_after_the_last_key():
    pad = 9
    rows = session_windows([3, UNKNOWN, 4, 5], window=3, pad=pad, end=True)
    assert rows.tolist() == [[9, 9, 9], [9, 9, 3], [9, 9, 3], [9, 3, 4], [3, 4, 5]]
    assert end_window([3, UNKNOWN, 4, 5], 3, pad).tolist() == [3, 4, 5]
    assert end_window([2], 3, pad).tolist() == [9, 9, 2]
    assert end_window([], 2, pad).tolist() == [9, 9]
    # Without end, the rows are the old ones.
    assert session_windows([3, UNKNOWN, 4, 5], 3, pad).tolist() == rows[:-1].tolist()


def test_dataset_adds_one_end_target_per_session():
    pad = 3  # V = 3: keys 0..2, PAD 3, END 3 (as an output)
    sessions = [[0, 1, 2], [0, 1], [2]]
    with_end = _dataset(sessions, 2, 3, end_key=True)
    without = _dataset(sessions, 2, 3, end_key=False)
    assert with_end.targets.shape[1] == 4 and without.targets.shape[1] == 3
    assert with_end.n_pairs == 6 + 3 and with_end.n_events == 6 and without.n_pairs == without.n_events == 6
    counts = {tuple(w): (t * n).round().tolist() for w, t, n in
              zip(with_end.windows.tolist(), with_end.targets.numpy(), with_end.weights.numpy())}
    # [0, 1] is followed by 2 in the first session and ends the second one.
    assert counts[(0, 1)] == [0, 0, 1, 1]
    assert counts[(1, 2)] == [0, 0, 0, 1]          # the end of the first session
    assert counts[(pad, 2)] == [0, 0, 0, 1]        # the one-key session ends
    assert counts[(pad, pad)] == [2, 0, 1, 0]      # first events: 0, 0, 2
    assert sum(sum(c) for c in counts.values()) == 9


# ---- the probability rule -------------------------------------------------------------------------

def reference_probability(row, key):
    """docs/detection.md 2.3 written out with scalars: C's exp, a left-to-right sum."""
    values = [float(v) for v in row]
    m = max(values)
    e = [math.exp(v - m) for v in values]
    total = 0.0
    for x in e:
        total += x
    return e[key] / total


def test_probabilities_follow_the_documented_arithmetic_bit_for_bit():
    rng = np.random.default_rng(3)
    logits = (rng.normal(size=(300, 17)) * 6).astype(np.float32)
    keys = rng.integers(0, 17, size=300)
    got = probabilities(logits, keys)
    want = [reference_probability(row, k) for row, k in zip(logits, keys)]
    assert got.dtype == np.float64 and got.tolist() == want
    assert np.isnan(probabilities(logits[:2], [1, UNKNOWN])[1])
    assert probabilities(np.zeros((0, 4), np.float32), []).shape == (0,)


def test_probability_rule_is_strict_and_keeps_the_topk_list():
    logits = np.array([[2.0, 1.0, 0.0]] * 4, dtype=np.float32)
    p = probabilities(logits, [0, 1, 2, 0])
    v = judge(logits, [0, 1, 2, UNKNOWN], k=2, rule=RULE_PROBABILITY, threshold=float(p[1]))
    # p_1 == threshold is not below it; p_2 is.
    assert v.reasons == (REASON_OK, REASON_OK, REASON_LOW_PROBABILITY, REASON_UNKNOWN)
    assert v.anomaly.tolist() == [False, False, True, True]
    assert v.topk.tolist() == [[0, 1]] * 4 and v.topk_lists()[3] == []
    assert v.probability[:3].tolist() == p[:3].tolist()
    # Top-k would call key 2 "not in top-k", the same event.
    assert judge(logits, [2], k=2).reasons == (REASON_NOT_IN_TOPK,)
    with pytest.raises(ValueError, match="threshold"):
        judge(logits, [0], k=1, rule=RULE_PROBABILITY)
    with pytest.raises(ValueError, match="unknown rule"):
        judge(logits, [0], k=1, rule="maybe")


def test_end_verdicts_by_either_rule():
    # V = 2: outputs 0, 1 and END = 2.
    logits = np.array([[0.0, 1.0, 5.0], [5.0, 1.0, 0.0]], dtype=np.float32)
    v = judge_end(logits, k=1)
    assert v.reasons == (REASON_OK, REASON_EARLY_END) and v.topk.tolist() == [[2], [0]]
    threshold = reference_probability(logits[1], 2) * 2
    v = judge_end(logits, k=1, rule=RULE_PROBABILITY, end_threshold=threshold)
    assert v.reasons == (REASON_OK, REASON_EARLY_END) and v.anomaly.tolist() == [False, True]


def test_probability_rule_judges_end_against_its_own_threshold():
    # V = 2; two equal rows: p(key 0) == p(END) == p.
    logits = np.array([[1.0, 0.0, 1.0]] * 2, dtype=np.float32)
    p = reference_probability(logits[0], 2)
    above = float(np.nextafter(p, 1.0))

    def reasons(threshold, end_threshold):
        return judge(logits, [0, 2], k=1, rule=RULE_PROBABILITY, threshold=threshold, end=[False, True],
                     end_threshold=end_threshold).reasons

    # The same probability: normal as an event, an early end as END, and the other way round.
    assert reasons(p, above) == (REASON_OK, REASON_EARLY_END)
    assert reasons(above, p) == (REASON_LOW_PROBABILITY, REASON_OK)
    assert judge_session(logits, [0], 1, 2, RULE_PROBABILITY, p, end=True, end_threshold=above).reasons == \
        (REASON_OK, REASON_EARLY_END)
    # END rows need an END threshold; rows without END do not.
    with pytest.raises(ValueError, match="end_threshold"):
        judge(logits, [0, 2], k=1, rule=RULE_PROBABILITY, threshold=p, end=[False, True])
    assert judge(logits, [0, 2], k=1, rule=RULE_PROBABILITY, threshold=above).reasons == \
        (REASON_LOW_PROBABILITY, REASON_LOW_PROBABILITY)


def test_judge_sessions_with_end_judges_the_end_window_last():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(4, 4)).astype(np.float32)   # V = 3, END = 3; PAD = 3 as the last key

    def predict(windows):
        return table[windows[:, -1]]

    sessions = [[0, 1, 2], [2, UNKNOWN], []]
    verdicts = judge_sessions(predict, sessions, window=2, pad=3, k=4, end=True)
    assert [len(v.reasons) for v in verdicts] == [4, 3, 1]
    assert all(v.reasons[-1] == REASON_OK for v in verdicts)  # k = outputs: END is always in top-k
    one = judge_sessions(predict, sessions, window=2, pad=3, k=1, end=True)
    ends = [table[2], table[2], table[3]]                     # END windows end in 2, 2 and PAD
    for v, row in zip(one, ends):
        assert v.reasons[-1] == (REASON_OK if int(np.argmax(row)) == 3 else REASON_EARLY_END)
    assert one[1].reasons[1] == REASON_UNKNOWN and session_is_anomalous(one[1])
    # Logits per session, judged twice: the same as judge_sessions, whatever the batch size.
    logits = session_logits(predict, sessions, 2, 3, end=True, batch_size=1)
    again = [judge_session(rows, keys, 1, 3, end=True) for rows, keys in zip(logits, sessions)]
    assert [v.reasons for v in again] == [v.reasons for v in one]
    # Calibration's view: the events' minimum (END left out; +inf without events) and END apart.
    events, ends = calibration_probabilities(predict, sessions, 2, 3, end=True)
    mins = np.minimum(events, ends)      # each session's smallest probability, END included
    assert mins[2] == reference_probability(table[3], 3)
    assert mins[0] == min(reference_probability(table[w], k) for w, k in ((3, 0), (0, 1), (1, 2), (2, 3)))
    assert events[0] == min(reference_probability(table[w], k) for w, k in ((3, 0), (0, 1), (1, 2)))
    assert events[1] == reference_probability(table[3], 2) and events[2] == math.inf
    assert ends.tolist() == [reference_probability(table[w], 3) for w in (2, 2, 3)]
    assert session_probabilities(logits[0], sessions[0], 3, end=True) == (events[0], ends[0])
    no_end, none = calibration_probabilities(predict, sessions[:2], 2, 3)
    assert no_end.tolist() == events[:2].tolist() and none.shape == (0,)


# ---- calibration --------------------------------------------------------------------------------

def test_calibrated_threshold_is_the_lower_quantile():
    mins = [0.5, 0.1, 0.3, 0.9]
    assert calibrate_threshold(mins, 0.001) == 0.1
    assert calibrate_threshold(mins, 0.5) == 0.3
    assert calibrate_threshold([0.4], 0.001) is None and calibrate_threshold([], 0.1) is None


def test_two_thresholds_share_the_target_fpr():
    events = [0.5, 0.1, 0.3, 0.9, 0.7]
    ends = [0.02, 0.6, 0.4, 0.8, 0.05]
    # Each at half the target: the 0.25 quantile of 5 values is the second smallest.
    assert calibrate_thresholds(events, ends, 0.5) == (0.3, 0.05)
    assert calibrate_thresholds(events, ends, 0.001) == (0.1, 0.02)
    # Without END, the events take the whole target.
    assert calibrate_thresholds(events, None, 0.5) == (0.5, None)
    assert calibrate_thresholds([0.4], [0.3], 0.1) == (None, None)


def test_split_sessions_is_seeded_and_disjoint():
    train, held = split_sessions(50, 0.1, seed=4)
    assert len(held) == 5 and len(train) == 45
    assert sorted(set(train) | set(held)) == list(range(50))
    assert split_sessions(50, 0.1, seed=4)[1].tolist() == held.tolist()
    assert split_sessions(50, 0.1, seed=5)[1].tolist() != held.tolist()
    assert len(split_sessions(9, 0.1, seed=0)[1]) == 0


def test_training_with_end_key_and_calibration(tmp_path):
    sessions = [CYCLE * (1 + i % 3) for i in range(20)]
    vocab_path, seq_path, vocab = write_training_data(tmp_path, sessions)
    result = train_deeplog(small_config(tmp_path, vocab_path, seq_path, epochs=60, calibration_fraction=0.2,
                                        target_fpr=0.1))
    loaded = load_deeplog_checkpoint(result.checkpoint, vocab_path)
    assert loaded.config.end_key and loaded.config.outputs == vocab.size + 1
    assert loaded.model.head.out_features == vocab.size + 1
    calibration = loaded.checkpoint["calibration"]
    assert calibration["sessions"] == 4 == result.calibration_sessions
    assert loaded.checkpoint["training"]["n_train_sessions"] == 16
    # The threshold is the quantile of the held-out sessions' minimum probabilities (ends included).
    _, held = split_sessions(20, 0.2, seed=7)
    index = vocab.index()
    held_keys = [[index[t] for t in sessions[i]] for i in held]
    events, ends = calibration_probabilities(torch_predictor(loaded.model), held_keys, 4, vocab.size, end=True)
    assert loaded.prob_threshold == result.prob_threshold == float(np.quantile(events, 0.05, method="lower"))
    assert loaded.end_threshold == result.end_threshold == calibration["end_threshold"] == \
        float(np.quantile(ends, 0.05, method="lower"))
    assert loaded.rule == "topk"
    # The model learned where a cycle ends: a session cut inside a cycle ends early.
    full = [index[t] for t in CYCLE * 2]
    cut = full[:6]
    verdicts = judge_sessions(torch_predictor(loaded.model), [full, cut], 4, vocab.size, k=1, end=True)
    assert verdicts[0].reasons[-1] == REASON_OK
    assert verdicts[1].reasons[-1] == REASON_EARLY_END
    assert not any(r == REASON_EARLY_END for r in verdicts[1].reasons[:-1])


def test_no_end_key_and_too_few_held_out_sessions(tmp_path, cli):
    vocab_path, seq_path, vocab = write_training_data(tmp_path, [CYCLE * 2] * 5)
    out = tmp_path / "m.pth"
    proc = cli("deeplog-train", "--seq", seq_path, "--vocab", vocab_path, "--out", out, "--hidden", "8",
               "--layers", "1", "--epochs", "1", "--no-end-key", "--no-progress")
    assert "no probability threshold: 0 session(s) held out" in proc.stdout_text
    loaded = load_deeplog_checkpoint(out, vocab_path)
    assert not loaded.config.end_key and loaded.model.head.out_features == vocab.size
    assert loaded.prob_threshold is None and loaded.checkpoint["calibration"]["sessions"] == 0
    assert loaded.end_threshold is None
    proc = cli("deeplog-train", "--seq", seq_path, "--vocab", vocab_path, "--out", tmp_path / "p.pth",
               "--epochs", "1", "--rule", "probability", "--no-progress", check=False)
    assert proc.returncode == 2 and "at least 2" in proc.stderr_text
    assert len(proc.stderr_text.strip().splitlines()) == 1 and not (tmp_path / "p.pth").exists()
    proc = cli("deeplog-train", "--seq", seq_path, "--vocab", vocab_path, "--out", tmp_path / "q.pth",
               "--calibration-fraction", "1", check=False)
    assert proc.returncode == 2 and "--calibration-fraction" in proc.stderr_text
    assert not (tmp_path / "q.pth").exists()
    for field, value in (("calibration_fraction", -0.1), ("target_fpr", 0.0), ("target_fpr", float("nan")),
                         ("rule", "maybe")):
        with pytest.raises(UserError, match=f"--{field.replace('_', '-')}"):
            small_config(tmp_path, vocab_path, seq_path, **{field: value})


def test_checkpoint_from_before_the_end_key_reads_as_topk_without_end(tmp_path):
    vocab_path, seq_path, vocab = write_training_data(tmp_path, [CYCLE * 2])
    path = train_deeplog(small_config(tmp_path, vocab_path, seq_path, epochs=1, end_key=False)).checkpoint
    ckpt = torch.load(path, weights_only=True)
    del ckpt["config"]["end_key"], ckpt["calibration"], ckpt["training"]["n_train_sessions"]
    torch.save(ckpt, path)
    loaded = load_deeplog_checkpoint(path, vocab_path)
    assert not loaded.config.end_key and loaded.rule == "topk" and loaded.prob_threshold is None


def test_checkpoint_from_before_the_end_threshold_reads_it_as_none(tmp_path):
    vocab_path, seq_path, vocab = write_training_data(tmp_path, [CYCLE * (1 + i % 2) for i in range(10)])
    path = train_deeplog(small_config(tmp_path, vocab_path, seq_path, epochs=1, calibration_fraction=0.3)).checkpoint
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["calibration"]["end_threshold"] is not None
    del ckpt["calibration"]["end_threshold"]
    torch.save(ckpt, path)
    loaded = load_deeplog_checkpoint(path, vocab_path)
    assert loaded.end_threshold is None and loaded.prob_threshold is not None
