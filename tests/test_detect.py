"""The reference detector: verdict format and order, agreement with the training-time rules,
injected anomalies, ONNX vs checkpoints, streaming from stdin, bad model directories."""

from __future__ import annotations

import csv
import io
import json
import select
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alog_detect.detect import DeepLogModel, Detector, DetectConfig, Models, MSCREDModel, detect
from alog_detect.mscred_data import BucketRule, SignatureSpec
from alog_detect.sessions import parse_session_rule
from alog_detect.vocab import Vocab

KEYS = ["model", "session", "line", "template", "topk", "score", "anomaly", "reason"]
SESSION_KEY = "prefix:ses_"


# ---- a small trained pipeline over the built-in sample ------------------------------------------

@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from alog_detect.deeplog_data import BuildDeepLogConfig, build_deeplog
    from alog_detect.export import convert_onnx
    from alog_detect.export.config import ExportConfig
    from alog_detect.mscred_data import BuildMSCREDConfig, build_mscred
    from alog_detect.parse import ParseConfig, parse_logs
    from alog_detect.sample import SampleConfig, generate_sample
    from alog_detect.train.deeplog import DeepLogTrainConfig, train_deeplog
    from alog_detect.train.mscred import MSCREDTrainConfig, train_mscred

    d = tmp_path_factory.mktemp("pipeline")
    generate_sample(SampleConfig(out_dir=d / "sample", lines=5000, seed=1))
    parse_logs(ParseConfig(logs=(str(d / "sample" / "sample.log"),), out=d / "parsed.parquet",
                           session_key=SESSION_KEY, progress=False))
    build_deeplog(BuildDeepLogConfig(parsed=d / "parsed.parquet", out_dir=d / "dl"))
    ckpts = d / "checkpoints"
    ckpts.mkdir()
    shutil.copy(d / "dl" / "vocab.json", ckpts / "vocab.json")
    train_deeplog(DeepLogTrainConfig(seq=d / "dl" / "sequences.parquet", vocab=d / "dl" / "vocab.json",
                                     out=ckpts / "deeplog.pth", hidden=32, layers=1, embed_dim=16, epochs=20,
                                     progress=False))
    build_mscred(BuildMSCREDConfig(parsed=d / "parsed.parquet", out_dir=d / "ms", vocab=d / "dl" / "vocab.json",
                                   window_sizes=(5, 10), step=2, steps=3, bucket="lines:10"))
    train_mscred(MSCREDTrainConfig(data=d / "ms", out=ckpts / "mscred.pth", epochs=8, lr=3e-3,
                                   channels=(4, 4, 4, 4), progress=False))
    convert_onnx(ExportConfig(vocab=d / "dl" / "vocab.json", output_dir=d / "onnx",
                              deeplog_model=ckpts / "deeplog.pth", mscred_model=ckpts / "mscred.pth",
                              mscred_data=d / "ms"), say=lambda *a, **k: None)
    return d


def _detect(models: Path, *logs, all_verdicts=True) -> list[str]:
    out = io.StringIO()
    detect(DetectConfig(models=models, logs=tuple(map(str, logs)), all_verdicts=all_verdicts,
                        session_key=SESSION_KEY), out=out)
    return out.getvalue().splitlines()


@pytest.fixture(scope="module")
def verdict_lines(pipeline) -> list[str]:
    return _detect(pipeline / "onnx", pipeline / "sample" / "sample.log")


@pytest.fixture(scope="module")
def verdicts(verdict_lines) -> list[dict]:
    return [json.loads(line) for line in verdict_lines]


def test_verdicts_have_the_documented_keys_and_order(verdict_lines, verdicts):
    for text, v in zip(verdict_lines, verdicts):
        assert list(v) == KEYS
        assert text == json.dumps(v, separators=(",", ":"))
        if v["model"] == "deeplog":
            assert v["score"] is None and v["session"].startswith(("ses_", "<nokey>"))
            assert v["reason"] in ("ok", "not_in_topk", "unseen", "early_end")
            assert (v["reason"] == "ok") == (not v["anomaly"])
            assert (v["template"] in v["topk"]) == (v["reason"] == "ok")
        else:
            assert v["session"] is None and v["template"] == -1 and v["topk"] == []
            assert isinstance(v["score"], int) and v["reason"] == ("residual" if v["anomaly"] else "ok")


def _end_of_input(verdicts: list[dict], vocab_size: int) -> tuple[list[dict], list[dict]]:
    """The verdicts of the lines, and the END verdicts the end of the input adds after them (the
    pipeline's DeepLog has the END key, and nothing closes a session before the end)."""
    ends = [i for i, v in enumerate(verdicts) if v["template"] == vocab_size]
    first = ends[0] if ends else len(verdicts)
    assert ends == list(range(first, len(verdicts)))
    return verdicts[:first], verdicts[first:]


def test_every_line_gets_a_deeplog_verdict_in_order(pipeline, verdicts):
    size = len(json.loads((pipeline / "onnx" / "vocab.json").read_text()))
    lines_part, ends = _end_of_input(verdicts, size)
    lines = [v["line"] for v in lines_part if v["model"] == "deeplog"]
    assert lines == list(range(1, 5001))
    # One END verdict per session at the end of the input, at its last known event, idle longest first.
    last = {}
    for v in lines_part:
        if v["model"] == "deeplog" and v["template"] >= 0:
            last[v["session"]] = v["line"]
    assert [(v["session"], v["line"]) for v in ends] == sorted(last.items(), key=lambda item: item[1])
    assert all(v["reason"] in ("ok", "early_end") and v["model"] == "deeplog" for v in ends)
    verdicts = lines_part
    # Under lines:N buckets an MSCRED verdict follows the DeepLog verdict of the same line.
    for before, v in zip(verdicts, verdicts[1:]):
        if v["model"] == "mscred":
            assert before == {**before, "model": "deeplog", "line": v["line"]}


def test_streaming_mscred_equals_the_batch_rule(pipeline, verdicts):
    """The detector's running count series, fed chunk by chunk, gives exactly the inputs that
    build-mscred's batch function makes from the same template indices, and their scores."""
    from alog_detect.matching import Matcher
    from alog_detect.mscred_data import SignatureSet, build_signatures, load_signatures, residual_scores
    from alog_detect.train.mscred import load_mscred_checkpoint, torch_reconstructor

    loaded = load_mscred_checkpoint(pipeline / "checkpoints" / "mscred.pth")
    matcher = Matcher.from_templates(loaded.templates)
    raw = (pipeline / "sample" / "sample.log").read_bytes().splitlines()
    events = [(matcher.match(line), number, None) for number, line in enumerate(raw, 1)]
    sigs, segment, end_line, _ = build_signatures(loaded.spec, [e for e in events if e[0] >= 0])
    sigset = SignatureSet(loaded.spec, loaded.templates, sigs, segment, end_line, {})
    ends = sigset.input_ends()
    inputs = sigset.inputs(ends)
    scores = residual_scores(torch_reconstructor(loaded.model)(inputs), inputs[:, -1], loaded.cell_threshold)
    mscred = [v for v in verdicts if v["model"] == "mscred"]
    assert [v["line"] for v in mscred] == end_line[ends].tolist()
    assert [v["score"] for v in mscred] == scores.tolist()
    assert [v["anomaly"] for v in mscred] == (scores > loaded.anomaly_threshold).tolist()
    # Training saw the same buckets (every sample line has a template in both), so the same ends.
    assert load_signatures(pipeline / "ms").end_line[ends].tolist() == end_line[ends].tolist()


def test_default_prints_only_the_anomalies(pipeline, verdict_lines, verdicts, cli):
    run = cli("detect", "--models", pipeline / "onnx", "--logs", pipeline / "sample" / "sample.log",
              "--session-key", SESSION_KEY)
    expected = [text for text, v in zip(verdict_lines, verdicts) if v["anomaly"]]
    assert run.stdout_text.splitlines() == expected
    assert 0 < len(expected) < len(verdict_lines)


def test_injected_anomalies_are_flagged_more_than_normal_data(pipeline, verdicts):
    with open(pipeline / "sample" / "sample_labels.csv", newline="") as f:
        labels = {row["session"]: row["label"].lower() == "anomaly" for row in csv.DictReader(f)}
    flagged: dict[str, bool] = {}
    for v in verdicts:
        if v["model"] == "deeplog":
            flagged[v["session"]] = flagged.get(v["session"], False) or v["anomaly"]

    def rate(anomalous: bool) -> float:
        sessions = [s for s, a in labels.items() if a == anomalous]
        return sum(flagged.get(s, False) for s in sessions) / len(sessions)

    assert rate(True) > 2 * rate(False)

    with open(pipeline / "sample" / "sample_windows.csv", newline="") as f:
        windows = [(int(r["first_line"]), int(r["last_line"])) for r in csv.DictReader(f)]
    # An MSCRED input looks back span = 10 + 2 * 2 buckets of 10 lines: a window touches it if
    # it overlaps the 140 lines before the verdict.
    mscred = [v for v in verdicts if v["model"] == "mscred"]
    inside = [v["anomaly"] for v in mscred if any(a <= v["line"] and v["line"] - 140 <= b for a, b in windows)]
    outside = [v["anomaly"] for v in mscred if not any(a <= v["line"] and v["line"] - 140 <= b for a, b in windows)]
    assert inside and outside
    assert np.mean(inside) > 3 * np.mean(outside)


def test_onnx_and_checkpoints_give_the_same_verdicts(pipeline, verdict_lines):
    assert _detect(pipeline / "checkpoints", pipeline / "sample" / "sample.log") == verdict_lines


def test_files_are_one_stream_with_continuing_line_numbers(pipeline, verdict_lines, tmp_path):
    lines = (pipeline / "sample" / "sample.log").read_bytes().splitlines(keepends=True)
    (tmp_path / "a.log").write_bytes(b"".join(lines[:1234]))
    (tmp_path / "b.log").write_bytes(b"".join(lines[1234:]))
    assert _detect(pipeline / "onnx", tmp_path / "a.log", tmp_path / "b.log") == verdict_lines


def test_deeplog_alone_works_and_flags_an_unseen_line(pipeline, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("vocab.json", "deeplog.onnx", "deeplog.onnx.meta.json"):
        shutil.copy(pipeline / "onnx" / name, models / name)
    log = tmp_path / "x.log"
    head = (pipeline / "sample" / "sample.log").read_bytes().splitlines(keepends=True)[:30]
    odd = b"2026-03-14 06:00:09.000 edge-gw-07 kernel[1]: PANIC ses_63ca828d frobnicator melted\n"
    log.write_bytes(b"".join(head[:5]) + b"\n" + odd + b"".join(head[5:]))
    verdicts = [json.loads(text) for text in _detect(models, log)]
    verdicts, ends = _end_of_input(verdicts, len(json.loads((models / "vocab.json").read_text())))
    assert {v["model"] for v in verdicts} == {"deeplog"} and len(verdicts) == 31   # the blank line has none
    assert len(ends) == len({v["session"] for v in verdicts if v["template"] >= 0})
    unseen = [v for v in verdicts if v["reason"] == "unseen"]
    assert unseen == [{"model": "deeplog", "session": "ses_63ca828d", "line": 7, "template": -1, "topk": [],
                       "score": None, "anomaly": True, "reason": "unseen"}]


def test_stdin_is_read_as_a_stream(pipeline):
    lines = (pipeline / "sample" / "sample.log").read_bytes().splitlines(keepends=True)[:5]
    proc = subprocess.Popen([sys.executable, "-m", "alog_detect", "detect", "--models", str(pipeline / "onnx"),
                             "--logs", "-", "--all", "--session-key", SESSION_KEY],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for number, line in enumerate(lines, 1):
            proc.stdin.write(line)
            proc.stdin.flush()
            # The verdict must come while stdin is still open: nothing waits for a full buffer.
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, f"no verdict for line {number} while the stream is open"
            verdict = json.loads(proc.stdout.readline())
            assert verdict["line"] == number and verdict["model"] == "deeplog"
        proc.stdin.close()
        # End of input: the sessions still open close, each with its END verdict.
        assert proc.wait(timeout=60) == 0
        ends = [json.loads(v) for v in proc.stdout.read().splitlines()]
        assert ends and all(v["reason"] in ("ok", "early_end") and v["line"] <= len(lines) for v in ends)
    finally:
        proc.kill()
        proc.wait()


def test_bad_model_directories(pipeline, tmp_path, cli):
    log = pipeline / "sample" / "sample.log"
    missing = cli("detect", "--models", tmp_path / "nope", "--logs", log, check=False)
    assert missing.returncode == 2 and "model directory not found" in missing.stderr_text
    (tmp_path / "empty").mkdir()
    shutil.copy(pipeline / "onnx" / "vocab.json", tmp_path / "empty" / "vocab.json")
    empty = cli("detect", "--models", tmp_path / "empty", "--logs", log, check=False)
    assert empty.returncode == 2 and "holds no model" in empty.stderr_text

    other = tmp_path / "other"
    shutil.copytree(pipeline / "onnx", other)
    vocab = json.loads((other / "vocab.json").read_text())
    vocab["0"] = vocab["0"] + " changed"
    (other / "vocab.json").write_text(json.dumps(vocab))
    wrong = cli("detect", "--models", other, "--logs", log, check=False)
    assert wrong.returncode == 2 and "another vocabulary" in wrong.stderr_text
    assert len(wrong.stderr_text.strip().splitlines()) == 1 and wrong.stdout_text == ""

    no_log = cli("detect", "--models", pipeline / "onnx", "--logs", tmp_path / "missing.log", check=False)
    assert no_log.returncode == 2 and "no such log file" in no_log.stderr_text


def test_mscred_metadata_without_a_valid_norm_is_refused(pipeline, tmp_path, cli):
    """A model directory exported before signatures were normalised (no norm), or one whose norm
    disagrees with its lines:10 buckets, would misjudge every input: refused in one line."""
    meta = json.loads((pipeline / "onnx" / "mscred.onnx.meta.json").read_text())
    assert meta["mscred"]["norm"] == 10
    for name, section, message in (
            ("normless", {k: v for k, v in meta["mscred"].items() if k != "norm"}, "malformed mscred metadata ('norm')"),
            ("mismatch", {**meta["mscred"], "norm": 20}, "norm must be the bucket size 10 under lines:10")):
        models = tmp_path / name
        shutil.copytree(pipeline / "onnx", models)
        (models / "mscred.onnx.meta.json").write_text(json.dumps({**meta, "mscred": section}))
        run = cli("detect", "--models", models, "--logs", pipeline / "sample" / "sample.log", check=False)
        assert run.returncode == 2 and message in run.stderr_text and "mscred.onnx.meta.json" in run.stderr_text
        assert len(run.stderr_text.strip().splitlines()) == 1 and run.stdout_text == ""


# ---- the rules by hand, with stand-in models ------------------------------------------------------

VOCAB = Vocab(("alpha <*> <*>", "beta <*> <*>", "gamma <*>"))


def _fake_deeplog(batch: np.ndarray) -> np.ndarray:
    """Logits favouring 'last key + 1' (mod 3), and a tie between the other two keys."""
    last = batch[:, -1]
    logits = np.zeros((len(batch), 3), dtype=np.float32)
    favoured = np.where(last == 3, 0, (last + 1) % 3)        # after PAD (3): key 0
    logits[np.arange(len(batch)), favoured] = 1.0
    return logits


def _detector(vocab: Vocab, mscred: MSCREDModel | None = None, max_sessions: int = 65536) -> Detector:
    deeplog = DeepLogModel(_fake_deeplog, window=2, top_k=2, vocab_size=3)
    return Detector(Models(vocab, deeplog, mscred), parse_session_rule("prefix:s_"), all_verdicts=True,
                    max_sessions=max_sessions)


def test_deeplog_rules_by_hand():
    detector = _detector(VOCAB)
    lines = [b"alpha 1 s_a", b"beta 2 s_a", b"alpha 3 s_b", b"zzz s_a", b"   ", b"beta 4 s_a"]
    out = [json.loads(v) for v in detector.feed(lines)]
    assert [(v["line"], v["session"], v["template"], v["topk"], v["reason"]) for v in out] == [
        (1, "s_a", 0, [0, 1], "ok"),              # PAD window -> favours 0; tie 1 vs 2 -> lower index 1
        (2, "s_a", 1, [1, 0], "ok"),              # after 0 -> favours 1
        (3, "s_b", 0, [0, 1], "ok"),              # a new session starts from PAD again
        (4, "s_a", -1, [], "unseen"),             # not pushed: the next window still ends with 1
        (6, "s_a", 1, [2, 0], "not_in_topk"),     # after 1 -> favours 2, then the tie 0 < 1 -> 0
    ]
    assert detector.line == 6                     # the blank line 5 counts but has no verdict


def test_time_buckets_put_mscred_verdicts_before_the_closing_line():
    from alog_detect.masking import mask

    lines = [b"2026-03-14 06:00:01.000 alpha 1 s_a", b"2026-03-14 06:00:02.000 gamma s_a",
             b"2026-03-14 06:00:03.000 zzz s_a", b"2026-03-14 06:00:14.000 beta 2 s_b"]
    vocab = Vocab((mask(lines[0]), mask(lines[1]), mask(lines[3])))   # line 3 stays unseen
    spec = SignatureSpec(3, window_sizes=(1,), step=1, steps=1, bucket=BucketRule("seconds", 10), norm=2)
    zero = lambda batch: np.zeros((len(batch), 1, 8, 8), dtype=np.float32)      # noqa: E731
    detector = _detector(vocab, MSCREDModel(zero, spec, cell_threshold=0.2, anomaly_threshold=3))
    out = [json.loads(v) for v in detector.feed(lines)]
    # Line 4 opens bucket 06:00:10 and so closes 06:00:00 before its own verdict; the unseen
    # line 3 is not counted, so the bucket's last counted line is 2.
    assert [(v["model"], v["line"]) for v in out] == [
        ("deeplog", 1), ("deeplog", 2), ("deeplog", 3), ("mscred", 2), ("deeplog", 4)]
    # The bucket held templates 0 and 1 once: four cells of 1 / (w * norm^2) = 1 / 4 against a zero
    # reconstruction, all above 0.2; 4 > 3 is an anomaly.
    assert {k: out[3][k] for k in ("score", "anomaly", "reason")} == {"score": 4, "anomaly": True,
                                                                       "reason": "residual"}


# ---- front-end settings from the model directory ---------------------------------------------------

def test_frontend_json_in_the_model_directory_replaces_the_flags(pipeline, verdict_lines, tmp_path, cli):
    """build-deeplog wrote the parse's settings (session rule prefix:ses_) beside vocab.json; in
    the model directory they stand in for --session-key, and a flag still overrides them."""
    from alog_detect.frontend import read_frontend

    assert str(read_frontend(pipeline / "dl" / "frontend.json").session_rule) == SESSION_KEY
    models = tmp_path / "models"
    shutil.copytree(pipeline / "onnx", models)
    shutil.copy(pipeline / "dl" / "frontend.json", models / "frontend.json")
    log = pipeline / "sample" / "sample.log"
    run = cli("detect", "--models", models, "--logs", log, "--all")
    assert run.stdout_text.splitlines() == verdict_lines
    overridden = [json.loads(v) for v in _detect_with(models, log, session_key="none")]
    assert {v["session"] for v in overridden if v["model"] == "deeplog"} == {"all"}
    (models / "frontend.json").write_text('{"format_version": 1, "kind": "frontend"}')
    bad = cli("detect", "--models", models, "--logs", log, check=False)
    assert bad.returncode == 2 and f"{models / 'frontend.json'}: front-end settings need exactly" in bad.stderr_text


def _detect_with(models: Path, *logs, **options) -> list[str]:
    out = io.StringIO()
    detect(DetectConfig(models=models, logs=tuple(map(str, logs)), all_verdicts=True, **options), out=out)
    return out.getvalue().splitlines()


def test_header_tokens_are_not_matched_but_keyed():
    from alog_detect.frontend import Frontend

    frontend = Frontend(session_rule=parse_session_rule("prefix:s_"), header_tokens=2)
    deeplog = DeepLogModel(_fake_deeplog, window=2, top_k=2, vocab_size=3)
    detector = Detector(Models(VOCAB, deeplog, None, frontend), all_verdicts=True)
    lines = [b"08:00 s_a alpha 1 x", b"08:01 s_b gamma 2", b"08:02 s_a", b"   ", b"alpha 3 s_a"]
    out = [json.loads(v) for v in detector.feed(lines)]
    # The session key comes from the header (s_a, s_b); a line of header tokens only has an empty
    # content, which no template matches; the last line's 'alpha 3' is its header.
    assert [(v["line"], v["session"], v["template"], v["reason"]) for v in out] == [
        (1, "s_a", 0, "ok"), (2, "s_b", 2, "not_in_topk"), (3, "s_a", -1, "unseen"), (5, "s_a", -1, "unseen")]


# ---- sessions kept (docs/detection.md, 2.1) ---------------------------------------------------------

def test_session_table_forgets_the_one_fed_longest_ago():
    from alog_detect.detect import SessionTable

    table = SessionTable(2, window=2, pad=3)

    def window(key, line):
        return table.feed(key, line, None)[0].window

    window("a", 1).push(1)
    window("b", 2).push(2)
    window("a", 3)                                # a is refreshed: b is now the idle longest
    assert table.kept() == ["b", "a"]
    evicted = table.feed("c", 4, None)[1]
    assert evicted[0] == "b" and evicted[1].window.current() == [3, 2] and table.kept() == ["a", "c"]
    assert window("b", 5).current() == [3, 3]     # b comes back empty, and a goes
    assert table.kept() == ["c", "b"]
    assert window("c", 6).current() == [3, 3] and window("b", 7).current() == [3, 3]
    with pytest.raises(ValueError):
        SessionTable(0, window=2, pad=3)


def test_only_known_events_keep_a_session():
    """Capacity 2: an unseen line of s_a does not refresh it, so s_c's arrival forgets s_a (not
    s_b) and s_a starts again from PAD; then s_a's return forgets s_b, which also restarts."""
    detector = _detector(VOCAB, max_sessions=2)
    lines = [b"beta 1 s_a", b"beta 2 s_b", b"zzz s_a", b"alpha 3 s_c", b"beta 4 s_a", b"beta 5 s_b",
             b"beta 6 s_b"]
    out = [json.loads(v) for v in detector.feed(lines)]
    assert [(v["line"], v["session"], v["topk"], v["reason"]) for v in out] == [
        (1, "s_a", [0, 1], "ok"),
        (2, "s_b", [0, 1], "ok"),
        (3, "s_a", [], "unseen"),
        (4, "s_c", [0, 1], "ok"),                 # s_a is forgotten here
        (5, "s_a", [0, 1], "ok"),                 # from PAD; remembered, the window would favour 2
        (6, "s_b", [0, 1], "ok"),                 # s_b was forgotten by line 5
        (7, "s_b", [2, 0], "not_in_topk"),        # its window now ends with 1
    ]
    assert detector.sessions.kept() == ["s_a", "s_b"]


def test_the_detector_keeps_at_most_max_sessions():
    detector = _detector(VOCAB, max_sessions=3)
    for start in range(0, 3000, 500):
        detector.feed([f"alpha {i} s_{i}".encode() for i in range(start, start + 500)])
    assert detector.sessions.kept() == ["s_2997", "s_2998", "s_2999"]
    assert Detector(detector.models).sessions.capacity == 65536


def test_a_cap_only_changes_the_windows_of_forgotten_sessions(pipeline, verdict_lines):
    def detect_capped(cap: int) -> list[str]:
        return _detect_with(pipeline / "onnx", pipeline / "sample" / "sample.log", session_key=SESSION_KEY,
                            max_sessions=cap)

    sessions = {v["session"] for v in map(json.loads, verdict_lines) if v["model"] == "deeplog"}
    assert detect_capped(len(sessions)) == verdict_lines
    size = len(json.loads((pipeline / "onnx" / "vocab.json").read_text()))
    # Evicted sessions close early (their END verdicts come where they are evicted): compare the rest.
    capped = [v for v in map(json.loads, detect_capped(3)) if v["template"] != size]
    uncapped = [v for v in map(json.loads, verdict_lines) if v["template"] != size]
    fields = ("model", "session", "line", "template", "score")
    assert [[v[k] for k in fields] for v in capped] == [[v[k] for k in fields] for v in uncapped]
    changed = [a for a, b in zip(capped, uncapped) if a != b]
    assert changed and all(v["model"] == "deeplog" for v in changed)


def test_max_sessions_out_of_range_is_refused(pipeline, cli):
    log = pipeline / "sample" / "sample.log"
    for value in ("0", "16777217", "-1"):
        run = cli("detect", "--models", pipeline / "onnx", "--logs", log, "--max-sessions", value, check=False)
        assert run.returncode == 2 and "--max-sessions must be a whole number from 1 to 16777216" in run.stderr_text
        assert len(run.stderr_text.strip().splitlines()) == 1 and run.stdout_text == ""


# ---- lines over 1 MiB: only the head counts (docs/matching.md, section 0) -------------------------

def test_key_and_blankness_come_from_the_first_mib_and_a_byte():
    from alog_detect.sessions import LINE_HEAD_BYTES

    assert LINE_HEAD_BYTES == (1 << 20) + 1
    pad = LINE_HEAD_BYTES
    lines = [b" " * pad + b"alpha 1 s_a",                        # blank: its head is whitespace
             b"alpha 1 " + b"x" * pad + b" s_far",               # the key lies past the head
             b" " * (pad - 5) + b"s_abcdefgh",                   # the key runs across the head's end
             b"alpha 1 " + b" " * (pad - 12) + b"s_kk",          # exactly the head: not matched, keyed
             b"alpha 1 " + b" " * (pad - 13) + b"s_ok",          # exactly 1 MiB: matched and keyed
             b"\t" * (pad - 1) + b"\r"]                          # blank, the CR included
    out = [json.loads(v) for v in _detector(VOCAB).feed(lines)]
    assert [(v["line"], v["session"], v["template"], v["reason"]) for v in out] == [
        (2, "<nokey>", -1, "unseen"), (3, "s_abc", -1, "unseen"), (4, "s_kk", -1, "unseen"), (5, "s_ok", 0, "ok")]
    rule = parse_session_rule("prefix:s_")
    assert rule.key("x" * pad + " s_far") == "<nokey>" and rule.key(b"y" * (pad - 3) + b" s_near") == "<nokey>"
    assert rule.key(b"y" * (pad - 5) + b" s_near") == "s_ne"


def test_the_reader_keeps_the_head_of_an_overlong_line(tmp_path):
    from alog_detect.detect import LINE_KEEP_BYTES, read_chunks

    long_line = bytes(range(256)).replace(b"\n", b"") * (3 * LINE_KEEP_BYTES // 255)
    (tmp_path / "x.log").write_bytes(b"first\n" + long_line + b"\nlast\n" + long_line)
    for size in (1 << 16, 1 << 20, 4 * LINE_KEEP_BYTES):
        with open(tmp_path / "x.log", "rb") as f:
            lines = [line for chunk in read_chunks(f.fileno(), size) for line in chunk]
        assert lines == [b"first", long_line[:LINE_KEEP_BYTES], b"last", long_line[:LINE_KEEP_BYTES]]


def test_progress_bar_counts_the_lines_and_changes_no_verdict(pipeline, verdict_lines, capsys):
    log = pipeline / "sample" / "sample.log"
    out = io.StringIO()
    detect(DetectConfig(models=pipeline / "onnx", logs=(str(log),), all_verdicts=True, session_key=SESSION_KEY,
                        progress=True), out=out)
    assert out.getvalue().splitlines() == verdict_lines
    err = capsys.readouterr().err
    assert "detect" in err and "5000/5000" in err


def test_no_progress_flag_keeps_stderr_empty(pipeline, cli):
    proc = cli("detect", "--models", pipeline / "onnx", "--logs", pipeline / "sample" / "sample.log",
               "--no-progress")
    assert proc.stderr_text == ""
