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
    proc = cli("evaluate", "--verdicts", verdicts, "--labels", labels, "--out", tmp_path / "m.json", "--json")
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
    labels.write_text("first_line,last_line,kind\n11,20,error_storm\n41,44,service_silent\n")
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
    ("session,label,kind\na,Anomaly,skiped_step\n", "row 2: unknown anomaly kind 'skiped_step'"),
    ("session,label,kind\na,Normal,\nb,Anomaly,\n", "row 3: an anomaly without a kind"),
    ("session,label,kind\na,Normal,rare_error\n", "row 2: a normal row with kind 'rare_error'"),
    ("first_line,last_line,kind\n1,5,error_storm\n9,12,disk_full\n", "row 3: unknown anomaly kind 'disk_full'"),
    ("session,label,kind\na,Normal\n", "row 2: 2 fields"),
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
    proc = cli("evaluate", "--verdicts", "-", "--labels", tmp_path / "labels.csv", "--json", input=text.encode())
    m = json.loads(proc.stdout_text)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 0, 0, 1) and m["f1"] == 1.0


KIND_VERDICTS = [verdict("a", 1, True), verdict("b", 2, False), verdict("c", 3, True), verdict("d", 4, True),
                 verdict("e", 5, False), verdict("f", 6, True)]
KIND_LABELS = ("session,label,kind\na,Anomaly,skipped_step\nb,Anomaly,skipped_step\nc,Anomaly,rare_error\n"
               "d,Normal,\ne,Normal,\nf,Anomaly,swapped_steps\ng,Anomaly,rare_error\n")


def test_session_kinds_recall_by_hand(tmp_path):
    verdicts = write_verdicts(tmp_path / "v.jsonl", KIND_VERDICTS)
    (tmp_path / "labels.csv").write_text(KIND_LABELS)
    m = evaluate(EvaluateConfig(verdicts=verdicts, labels=tmp_path / "labels.csv"))
    # skipped: a caught, b missed; swapped: f caught; rare: c caught, g (no verdict) missed.
    assert m["kinds"] == {"skipped_step": {"anomalies": 2, "detected": 1, "recall": 0.5},
                          "swapped_steps": {"anomalies": 1, "detected": 1, "recall": 1.0},
                          "rare_error": {"anomalies": 2, "detected": 1, "recall": 0.5}}
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (3, 1, 2, 1)


def test_labels_without_kinds_have_none(tmp_path):
    verdicts = write_verdicts(tmp_path / "v.jsonl", SESSION_VERDICTS)
    (tmp_path / "labels.csv").write_text("session,label\na,Anomaly\n")
    assert evaluate(EvaluateConfig(verdicts=verdicts, labels=tmp_path / "labels.csv"))["kinds"] is None


def test_the_table_and_json(tmp_path, cli):
    verdicts = write_verdicts(tmp_path / "v.jsonl", KIND_VERDICTS)
    (tmp_path / "labels.csv").write_text(KIND_LABELS)
    table = cli("evaluate", "--verdicts", verdicts, "--labels", tmp_path / "labels.csv").stdout_text
    rows = [line.split() for line in table.splitlines()]
    assert ["anomaly", "normal"] in rows
    assert ["flagged", "3", "1"] in rows and ["not", "flagged", "2", "1"] in rows and ["total", "5", "2"] in rows
    assert ["precision", "0.750", "recall", "0.600", "F1", "0.667"] in rows
    assert ["skipped_step", "2", "1", "0.500"] in rows and ["swapped_steps", "1", "1", "1.000"] in rows
    assert "7 labelled sessions" in table
    as_json = json.loads(cli("evaluate", "--verdicts", verdicts, "--labels", tmp_path / "labels.csv",
                             "--json").stdout_text)
    assert as_json["f1"] == round(2 * 0.75 * 0.6 / 1.35, 6) and as_json["kinds"]["rare_error"]["detected"] == 1


def test_unknown_kind_exits_2_with_one_line_and_kinds_accepts_it(tmp_path, cli):
    verdicts = write_verdicts(tmp_path / "v.jsonl", [verdict("a", 1, True)])
    (tmp_path / "labels.csv").write_text("session,label,kind\na,Anomaly,disk_full\nb,Anomaly,oom\n")
    proc = cli("evaluate", "--verdicts", verdicts, "--labels", tmp_path / "labels.csv", "--out",
               tmp_path / "m.json", check=False)
    assert proc.returncode == 2 and proc.stderr_text.count("\n") == 1 and not (tmp_path / "m.json").exists()
    assert "labels.csv" in proc.stderr_text and "'disk_full'" in proc.stderr_text and "--kinds" in proc.stderr_text
    proc = cli("evaluate", "--verdicts", verdicts, "--labels", tmp_path / "labels.csv", "--kinds", "disk_full,oom",
               "--json")
    assert json.loads(proc.stdout_text)["kinds"] == {"disk_full": {"anomalies": 1, "detected": 1, "recall": 1.0},
                                                     "oom": {"anomalies": 1, "detected": 0, "recall": 0.0}}


def test_window_kinds_and_delay_by_hand(tmp_path):
    # Storm 11-20 flagged at 23 (3 lines after it), silence 41-44 flagged at 42; a normal flag at 33.
    verdicts = write_verdicts(tmp_path / "v.jsonl", [verdict(None, 23, True, "mscred"),
                                                     verdict(None, 33, True, "mscred"),
                                                     verdict(None, 42, True, "mscred"),
                                                     verdict(None, 50, False, "mscred")])
    labels = tmp_path / "sample_windows.csv"
    labels.write_text("first_line,last_line,kind\n11,20,error_storm\n41,44,service_silent\n")
    plain = evaluate(EvaluateConfig(verdicts=verdicts, labels=labels, tile=5))
    # Normal tiles 1-5, 6-10, 21-25, 26-30, 31-35, 36-40, 45-49, 50: 23 and 33 are false alarms.
    assert plain["n_windows"] == 10 and (plain["tp"], plain["fp"], plain["fn"], plain["tn"]) == (1, 2, 1, 6)
    assert plain["kinds"] == {"error_storm": {"anomalies": 1, "detected": 0, "recall": 0.0},
                              "service_silent": {"anomalies": 1, "detected": 1, "recall": 1.0}}
    late = evaluate(EvaluateConfig(verdicts=verdicts, labels=labels, tile=5, delay=4))
    # Judged 11-24 and 41-48; normal tiles 1-5, 6-10, 25-29, 30-34, 35-39, 40, 49-50.
    assert late["n_windows"] == 9 and (late["tp"], late["fp"], late["fn"], late["tn"]) == (2, 1, 0, 6)
    assert late["delay"] == 4 and late["kinds"]["error_storm"]["detected"] == 1


def test_delay_needs_listed_windows(tmp_path):
    verdicts = write_verdicts(tmp_path / "v.jsonl", [verdict("a", 1, True)])
    (tmp_path / "labels.csv").write_text("session,label\na,Anomaly\n")
    with pytest.raises(UserError, match="--delay applies to window labels"):
        evaluate(EvaluateConfig(verdicts=verdicts, labels=tmp_path / "labels.csv", delay=3))
    with pytest.raises(UserError, match="--delay must be 0 or more"):
        EvaluateConfig(verdicts=verdicts, labels=tmp_path / "labels.csv", delay=-1)
