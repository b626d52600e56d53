"""The HDFS benchmark's DeepLog-files protocol on a small slice of the real files: the split, the
populations counted, the key-numbering check, the extrapolated F1 and bad input."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pytest

from alog_detect.bench import hdfs as bench

N_TRAIN, N_ABNORMAL, N_ROBUST_ROWS = 150, 1000, 160


def _slice(shared_data, out, shift=0):
    """The protocol's files, cut to their first lines; ``shift`` renumbers robustlog's keys."""
    src, dst = shared_data / bench.DEEPLOG_DIR, out / bench.DEEPLOG_DIR
    dst.mkdir(parents=True)
    for name, n in (("hdfs_train", N_TRAIN), ("hdfs_test_abnormal", N_ABNORMAL)):
        lines = (src / name).read_text().splitlines()[:n]
        (dst / name).write_text("\n".join(lines) + "\n")
    (out / bench.ROBUSTLOG_DIR).mkdir()
    for name in bench.ROBUSTLOG_FILES:
        rows = (shared_data / bench.ROBUSTLOG_DIR / name).read_text().splitlines()
        # Each file holds its normal rows first, then its anomalies: take some of both.
        half = (len(rows) - 1) // 2
        body = rows[1:1 + N_ROBUST_ROWS // 2] + rows[1 + half:1 + half + N_ROBUST_ROWS // 2]
        if shift:
            body = [" ".join(str(int(k) % 29 + shift) for k in seq.split()) + "," + label
                    for seq, label in (r.rsplit(",", 1) for r in body)]
        (out / bench.ROBUSTLOG_DIR / name).write_text("\n".join([rows[0], *body]) + "\n")
    templates = out / "loghub_2k" / "HDFS"
    templates.mkdir(parents=True)
    shutil.copy(shared_data / "loghub_2k" / "HDFS" / "HDFS_templates.csv", templates)
    return out


def _robust_counts(data):
    normal = abnormal = 0
    for name in bench.ROBUSTLOG_FILES:
        for row in (data / bench.ROBUSTLOG_DIR / name).read_text().splitlines()[1:]:
            normal += row.endswith(",0")
            abnormal += row.endswith(",1")
    return normal, abnormal


def test_split_is_seeded_disjoint_and_covers_every_session():
    kept, held = bench.split_train(4855)
    assert (len(kept), len(held)) == (3884, 971)
    assert sorted(kept + held) == list(range(4855))
    assert bench.split_train(4855) == (kept, held)
    assert bench.split_train(4855, seed=1)[0] != kept


def test_extrapolated_f1_is_the_f1_on_the_papers_mix():
    # The paper's own recall and FPR give its published F1 (0.96).
    assert bench.extrapolate_f1(bench.PAPER_RECALL, bench.PAPER_FPR) == pytest.approx(0.957, abs=5e-4)
    tp, fp = 0.5 * bench.PAPER_ABNORMAL, 0.01 * bench.PAPER_NORMAL
    precision = tp / (tp + fp)
    assert bench.extrapolate_f1(0.5, 0.01) == pytest.approx(2 * precision * 0.5 / (precision + 0.5))
    assert bench.extrapolate_f1(0.0, 0.0) == 0.0


def test_best_thresholds_are_every_pair_within_the_allowed_false_positives():
    normal = np.array([[0.1, 0.5], [0.2, 0.01], [0.3, 0.6], [0.4, 0.7]])
    # END threshold 0.01 flags no normal session, so the events' may flag one (0.1); END at 0.5
    # flags one (0.01), so the events' may flag none.
    assert bench.best_thresholds(normal, 1) == [(0.2, 0.01), (0.1, 0.5)]
    assert bench.best_thresholds(normal, 0) == [(0.1, 0.01)]
    assert bench.best_thresholds(normal, 4)[-1] == (math.inf, 0.7)


def test_small_slice_counts_every_session_and_writes_its_section(shared_data, tmp_path, capsys):
    data = _slice(shared_data, tmp_path / "data")
    results = tmp_path / "results.md"
    results.write_text("# Results\n\n<!-- other:begin -->\nkeep me\n<!-- other:end -->\n\n"
                       "<!-- hdfs:begin -->\nstale\n<!-- hdfs:end -->\n", encoding="utf-8")
    argv = ["--parts", "deeplog", "--epochs", "2", "--data", str(data), "--work-dir", str(tmp_path / "work"),
            "--results", str(results)]
    assert bench.main(argv) == 0

    text = results.read_text(encoding="utf-8")
    assert "<!-- other:begin -->\nkeep me\n<!-- other:end -->" in text and "stale" not in text
    section = text.split("<!-- hdfs:begin -->")[1].split("<!-- hdfs:end -->")[0]
    normal, abnormal = _robust_counts(data)
    held = N_TRAIN - int(N_TRAIN * bench.TRAIN_FRACTION)
    rows = re.findall(r"^\| (hdfs_test_abnormal|robustlog anomalies) \| ([^|]+) \| ([^|]+) \| ([\d.]+) \| ([\d.]+) "
                      r"\| (\d+) \| (\d+) \| (\d+) \| (\d+) \| ([\d.]+) \| (yes|no) \|$", section, re.M)
    assert {r[0] for r in rows} == {"hdfs_test_abnormal", "robustlog anomalies"}
    # Today's model (no END key, top-k and the reference), the END-key model under both rules.
    rules = sorted({(r[1].strip(), r[2].split(" (")[0].split(" <")[0]) for r in rows})
    tuned = [r[2] for r in rows if "g tuned" in r[2]]
    g = int(re.match(r"top-k g=(\d+)", tuned[0])[1])
    assert rules == sorted([("END key", "probability p"), ("END key", "top-k g=9, END judged at session close"),
                            ("END key", f"top-k g={g}, END judged at session close"),
                            ("no END key", "top-k g=9"), ("no END key", "top-k g=9 + short")])
    assert len(rows) == 10
    calibrated = int((N_TRAIN - held) * 0.1)
    assert all(f"on {calibrated} held-out training sessions" in r[2] for r in rows if "probability" in r[2])
    assert all(f"of the {calibrated} held-out training sessions" in r for r in tuned)
    for name, model, rule, recall, fpr, tp, fp, fn, tn, f1x, goal in rows:
        tp, fp, fn, tn = map(int, (tp, fp, fn, tn))
        assert fp + tn == held + normal
        assert tp + fn == (N_ABNORMAL if name == "hdfs_test_abnormal" else abnormal)
        assert float(recall) == pytest.approx(tp / (tp + fn), abs=5e-5)
        assert float(fpr) == pytest.approx(fp / (fp + tn), abs=5e-6)
        assert float(f1x) == pytest.approx(bench.extrapolate_f1(tp / (tp + fn), fp / (fp + tn)), abs=5e-5)
        assert (goal == "yes") == (tp / (tp + fn) >= 0.963 and fp / (fp + tn) <= 0.0015 and "reference" not in rule)
    # The reference rule flags every session shorter than h+1 keys on top of the plain rule.
    by_rule = {(r[0], r[2].strip()): int(r[5]) for r in rows}
    short = sum(len(s.split()) < bench.WINDOW + 1
                for s in (data / bench.DEEPLOG_DIR / "hdfs_test_abnormal").read_text().splitlines())
    assert short > 0
    assert by_rule[("hdfs_test_abnormal", "top-k g=9 + short (reference, not streaming)")] >= short
    assert "default_rng(0).permutation" in section and f"the first {N_TRAIN - held} train" in section
    assert "Key numbering:" in section
    assert section.count("flagged only by their END verdict") == 3
    limit = re.search(r"at most (\d+) of ([\d,]+) normal sessions below them.*would catch ([\d,]+) of the ([\d,]+) "
                      r"sessions of hdfs_test_abnormal", section)
    assert limit and int(limit[1]) == int(0.0015 * (held + normal)) and int(limit[2].replace(",", "")) == held + normal
    assert int(limit[4].replace(",", "")) == N_ABNORMAL
    printed = capsys.readouterr().out
    assert '"f1_extrapolated"' in printed


def test_tuned_top_k_is_the_smallest_g_within_the_target_on_held_out_sessions(shared_data, tmp_path):
    from alog_detect.deeplog_rule import judge_sessions, session_is_anomalous
    from alog_detect.train.deeplog import calibrate, load_deeplog_checkpoint, torch_predictor

    data = _slice(shared_data, tmp_path / "data")
    part = bench.train_deeplog_files(data, tmp_path / "work", {"epochs": 2})
    held = bench.held_out_sessions(part.loaded, part.sequences)
    assert len(held) == int(0.1 * part.n_train_sessions) == part.loaded.calibration["sessions"]
    # The very sessions deeplog-train calibrated on: their threshold comes out again.
    assert calibrate(part.loaded.model, held, part.loaded.calibration["target_fpr"]) == \
        (part.loaded.prob_threshold, part.loaded.end_threshold)

    def flagged(loaded, g):
        verdicts = judge_sessions(torch_predictor(loaded.model), held, bench.WINDOW, loaded.vocab.size, g, end=True)
        return sum(session_is_anomalous(v) for v in verdicts)

    for target in (0.001, 0.2):
        allowed = int(target * len(held))
        g = bench.tune_top_k(part.loaded, held, target)
        assert flagged(part.loaded, g) <= allowed
        assert g == 1 or flagged(part.loaded, g - 1) > allowed
    other = load_deeplog_checkpoint(part.checkpoint, part.vocab_path)
    assert bench.tune_top_k(other, [], 0.001) is None


def test_robustlog_with_another_key_numbering_is_refused(shared_data, tmp_path, capsys):
    data = _slice(shared_data, tmp_path / "data", shift=1)
    results = tmp_path / "results.md"
    assert bench.main(["--parts", "deeplog", "--epochs", "1", "--data", str(data),
                       "--work-dir", str(tmp_path / "work"), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "key numbering does not match" in err[0] and bench.ROBUSTLOG_DIR in err[0]
    assert not results.exists()


def test_bad_robustlog_label_is_one_line_naming_the_file(shared_data, tmp_path, capsys):
    data = _slice(shared_data, tmp_path / "data")
    bad = data / bench.ROBUSTLOG_DIR / bench.ROBUSTLOG_FILES[1]
    bad.write_text("Sequence,label\n5 5 22,2\n")
    assert bench.main(["--parts", "deeplog", "--data", str(data), "--work-dir", str(tmp_path / "work"),
                       "--no-write"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "label (0 or 1)" in err[0]
