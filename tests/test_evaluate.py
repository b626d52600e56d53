"""`alog-detect evaluate`: session and window metrics on hand-checkable examples."""

from __future__ import annotations

import json

import pytest

from alog_detect.errors import UserError
from alog_detect.evaluate import EvaluateConfig, evaluate


def verdict(session, line, anomaly, model="deeplog"):
    return {"model": model, "session": session, "line": line, "template": 0, "topk": [0],
            "score": None, "anomaly": anomaly, "reason": "not_in_topk" if anomaly else "ok"}


def write_verdicts(path, verdicts):
    path.write_text("".join(json.dumps(v, separators=(",", ":")) + "\n" for v in verdicts))
    return path


SESSION_VERDICTS = [
    verdict("a", 1, False), verdict("a", 2, True),    # anomaly, caught      -> TP
    verdict("b", 3, False), verdict("b", 4, False),   # anomaly, missed      -> FN
    verdict("c", 5, True),                            # normal, flagged      -> FP
    verdict("d", 6, False),                           # normal               -> TN
    verdict("zz", 7, True),                           # not labelled: not counted
]                                                     # "e": anomaly, no verdict -> FN


def test_session_metrics_by_hand(tmp_path, cli):
    verdicts = write_verdicts(tmp_path / "v.jsonl", SESSION_VERDICTS)
    labels = tmp_path / "labels.csv"
    labels.write_text("session,label\na,Anomaly\nb,Anomaly\nc,Normal\nd,Normal\ne,Anomaly\nf,Normal\n")
    proc = cli("evaluate", "--verdicts", verdicts, "--labels", labels, "--out", tmp_path / "m.json")
    m = json.loads((tmp_path / "m.json").read_text())
    assert json.loads(proc.stdout_text) == m
    # TP a; FN b, e; FP c; TN d, f
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 2, 2)
    assert m["precision"] == 0.5 and m["recall"] == round(1 / 3, 6) and m["f1"] == 0.4
    assert m["level"] == "session" and m["n_labelled"] == 6 and m["unlabelled_sessions"] == 1


def test_loghub_labels_and_model_filter(tmp_path):
    verdicts = write_verdicts(tmp_path / "v.jsonl", [verdict("blk_1", 1, True, "mscred"),
                                                     verdict("blk_1", 2, False), verdict("blk_2", 3, True)])
    labels = tmp_path / "anomaly_label.csv"
    labels.write_text("BlockId,Label\nblk_1,Anomaly\nblk_2,Normal\n")
    both = evaluate(EvaluateConfig(verdicts=verdicts, labels=labels))
    assert (both["tp"], both["fp"], both["fn"], both["tn"]) == (1, 1, 0, 0)
    deeplog = evaluate(EvaluateConfig(verdicts=verdicts, labels=labels, model="deeplog"))
    assert (deeplog["tp"], deeplog["fp"], deeplog["fn"], deeplog["tn"]) == (0, 1, 1, 0)
    assert deeplog["f1"] == 0.0 and deeplog["precision"] == 0.0


def test_window_labels_with_label_column(tmp_path):
    verdicts = write_verdicts(tmp_path / "v.jsonl", [verdict(None, 5, True, "mscred"),
                                                     verdict(None, 25, True, "mscred"),
                                                     verdict(None, 35, False, "mscred")])
    labels = tmp_path / "windows.csv"
    labels.write_text("first_line,last_line,label\n1,10,Anomaly\n11,20,Anomaly\n21,30,Normal\n31,40,Normal\n")
    m = evaluate(EvaluateConfig(verdicts=verdicts, labels=labels))
    assert m["level"] == "window"
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 1, 1)


def test_window_labels_listing_only_anomalies_tile_the_rest(tmp_path):
    # Anomalous windows 11-20 and 41-44; lines 1..50 seen. Tile = median length (10, 4) -> 7.
    # Normal tiles: 1-7, 8-10, 21-27, 28-34, 35-40, 45-50.
    verdicts = write_verdicts(tmp_path / "v.jsonl", [verdict("s", 15, True), verdict("s", 29, True),
                                                     verdict("s", 50, False)])
    labels = tmp_path / "sample_windows.csv"
    labels.write_text("first_line,last_line,kind\n11,20,io_storm\n41,44,silent\n")
    m = evaluate(EvaluateConfig(verdicts=verdicts, labels=labels))
    assert m["tile"] == 7
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 1, 5)
    fixed = evaluate(EvaluateConfig(verdicts=verdicts, labels=labels, tile=100))
    # Normal runs 1-10, 21-40, 45-50: the one at 29 is a false positive.
    assert (fixed["tp"], fixed["fp"], fixed["fn"], fixed["tn"]) == (1, 1, 1, 2)


@pytest.mark.parametrize("labels_text, words", [
    ("session,label\na,Broken\n", "neither Normal nor Anomaly"),
    ("who,what\na,b\n", "unrecognised labels header"),
    ("first_line,last_line\n1,x\n", "not a line number"),
    ("", "empty"),
])
def test_bad_labels(tmp_path, labels_text, words):
    verdicts = write_verdicts(tmp_path / "v.jsonl", [verdict("a", 1, True)])
    (tmp_path / "labels.csv").write_text(labels_text)
    with pytest.raises(UserError, match=words):
        evaluate(EvaluateConfig(verdicts=verdicts, labels=tmp_path / "labels.csv"))


def test_bad_verdicts_exit_2(tmp_path, cli):
    (tmp_path / "labels.csv").write_text("session,label\na,Normal\n")
    (tmp_path / "v.jsonl").write_text(json.dumps(verdict("a", 1, True)) + "\n{\"model\": \"deeplog\"}\n")
    proc = cli("evaluate", "--verdicts", tmp_path / "v.jsonl", "--labels", tmp_path / "labels.csv",
               "--out", tmp_path / "m.json", check=False)
    assert proc.returncode == 2 and "line 2" in proc.stderr_text and not (tmp_path / "m.json").exists()


def test_verdicts_from_stdin(tmp_path, cli):
    (tmp_path / "labels.csv").write_text("session,label\na,Anomaly\nb,Normal\n")
    text = "".join(json.dumps(v) + "\n" for v in [verdict("a", 1, True), verdict("b", 2, False)])
    proc = cli("evaluate", "--verdicts", "-", "--labels", tmp_path / "labels.csv", input=text.encode())
    m = json.loads(proc.stdout_text)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 0, 0, 1) and m["f1"] == 1.0
