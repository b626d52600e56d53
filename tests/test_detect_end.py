"""Issue 13 in the reference detector: sessions close (timeouts in lines and seconds, eviction, end
of input) with the END verdict, and the probability rule (docs/detection.md 2.2, 2.3, section 4's
order), with stand-in models; bad options and old model directories through the CLI."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from alog_detect.deeplog_rule import probabilities
from alog_detect.detect import (DeepLogModel, DetectConfig, Detector, Models, MSCREDModel, SessionTable,
                                SessionTimeout, detect, load_models, parse_session_timeout)
from alog_detect.errors import UserError
from alog_detect.mscred_data import BucketRule, SignatureSpec
from alog_detect.sessions import parse_session_rule
from alog_detect.vocab import Vocab

VOCAB = Vocab(("alpha <*> <*>", "beta <*> <*>", "gamma <*>"))


def chain_model(size: int, end_key: bool = True):
    """Logits of a model that expects 0, 1, ..., size-1 and then END: after PAD, key 0; after key i,
    key i + 1; after the last key, END (or key 0 without the END key). The favoured output gets 2,
    the next one 1, the rest 0, so probabilities are unequal but fixed."""
    outputs = size + (1 if end_key else 0)

    def run(batch: np.ndarray) -> np.ndarray:
        last = batch[:, -1]
        favoured = np.where(last == size, 0, (last + 1) % outputs)
        logits = np.zeros((len(batch), outputs), dtype=np.float32)
        rows = np.arange(len(batch))
        logits[rows, favoured] = 2.0
        logits[rows, (favoured + 1) % outputs] = 1.0
        return logits
    return run


def detector(vocab=VOCAB, end_key=True, mscred=None, rule=None, threshold=None, model_rule="topk", **kw):
    model = DeepLogModel(chain_model(vocab.size, end_key), window=2, top_k=1, vocab_size=vocab.size,
                         end_key=end_key, rule=model_rule, prob_threshold=threshold, source=Path("meta.json"))
    return Detector(Models(vocab, model, mscred), parse_session_rule("prefix:s_"), all_verdicts=True,
                    rule=rule, **kw)


def short(verdicts):
    return [(v["model"], v["line"], v["session"], v["template"], v["reason"]) for v in map(json.loads, verdicts)]


# ---- end of input and the END verdict ------------------------------------------------------------

def test_finish_judges_every_session_idle_longest_first():
    d = detector()
    out = d.feed([b"alpha 1 s_a", b"alpha 2 s_b", b"beta 3 s_a", b"gamma s_a", b"beta 5 s_b", b"zzz s_c"])
    assert short(out)[-1] == ("deeplog", 6, "s_c", -1, "unseen")
    end = d.finish()
    # s_a ran 0, 1, 2: END expected. s_b stopped after 1: END where 2 was expected. s_c has no
    # known event, so it was never a session.
    assert end == [
        '{"model":"deeplog","session":"s_a","line":4,"template":3,"topk":[3],"score":null,"anomaly":false,'
        '"reason":"ok"}',
        '{"model":"deeplog","session":"s_b","line":5,"template":3,"topk":[2],"score":null,"anomaly":true,'
        '"reason":"early_end"}']
    assert d.sessions.kept() == [] and d.finish() == []


def test_without_the_end_key_closing_only_forgets():
    d = detector(end_key=False, session_timeout=SessionTimeout(lines=1))
    out = short(d.feed([b"alpha 1 s_a", b"  ", b"beta 2 s_a", b"beta 3 s_a"]))
    # s_a closes at the blank line 2 (2 - 1 > 1) with no verdict; line 3 starts it again from PAD.
    assert out == [("deeplog", 1, "s_a", 0, "ok"), ("deeplog", 3, "s_a", 1, "not_in_topk"),
                   ("deeplog", 4, "s_a", 1, "not_in_topk")]
    assert d.finish() == [] and d.sessions.kept() == []


def test_close_session_judges_one_session():
    d = detector()
    d.feed([b"alpha 1 s_a", b"alpha 2 s_b"])
    assert short(d.close_session("s_a")) == [("deeplog", 1, "s_a", 3, "early_end")]
    assert d.close_session("s_a") == [] and d.sessions.kept() == ["s_b"]


# ---- timeouts -------------------------------------------------------------------------------------

def test_timeout_in_lines_closes_before_the_lines_verdicts():
    d = detector(session_timeout=SessionTimeout(lines=2))
    out = short(d.feed([b"alpha 1 s_a", b"alpha 2 s_b", b"", b"beta 4 s_b", b"beta 5 s_c", b"  ",
                        b"zzz s_b", b"gamma s_b"]))
    assert out == [
        ("deeplog", 1, "s_a", 0, "ok"),
        ("deeplog", 2, "s_b", 0, "ok"),
        ("deeplog", 1, "s_a", 3, "early_end"),    # at line 4: 4 - 1 > 2, before line 4's verdict
        ("deeplog", 4, "s_b", 1, "ok"),
        ("deeplog", 5, "s_c", 1, "not_in_topk"),
        ("deeplog", 4, "s_b", 3, "early_end"),    # at line 7: 7 - 4 > 2, before line 7's verdict
        ("deeplog", 7, "s_b", -1, "unseen"),       # unseen: neither creates nor refreshes s_b
        ("deeplog", 5, "s_c", 3, "early_end"),    # at line 8: 8 - 5 > 2
        ("deeplog", 8, "s_b", 2, "not_in_topk"),  # a new s_b, from PAD
    ]
    assert short(d.finish()) == [("deeplog", 8, "s_b", 3, "ok")]


def test_timeout_in_lines_at_a_chunk_boundary_is_the_same():
    lines = [b"alpha 1 s_a", b"beta 2 s_a", b"alpha 3 s_b", b"", b"", b"gamma s_a", b"alpha 7 s_c"]
    whole = detector(session_timeout=SessionTimeout(lines=2))
    one_by_one = detector(session_timeout=SessionTimeout(lines=2))
    expected = whole.feed(lines) + whole.finish()
    assert [v for line in lines for v in one_by_one.feed([line])] + one_by_one.finish() == expected


TIMED = Vocab(("<*> <*> alpha <*> <*>", "beta <*> <*>", "<*> <*> gamma <*>"))


def test_timeout_in_seconds_follows_the_clock():
    d = detector(TIMED, session_timeout=SessionTimeout(seconds=5.0))
    out = short(d.feed([
        b"beta 1 s_a",                                   # 1: no timestamp, no clock yet
        b"2026-03-14 06:00:10.000 alpha 1 s_b",          # 2: clock 10; s_a's stamp becomes 10
        b"beta 3 s_c",                                   # 3: the clock stays 10: s_c's stamp is 10
        b"2026-03-14 06:00:12.000 alpha 2 s_a",          # 4: clock 12, nothing idle > 5 s
        b"2026-03-14 06:00:15.500 zzz s_d",              # 5: unseen, but its time counts: clock 15.5
        b"2026-03-14 06:00:09.000 alpha 4 s_a",          # 6: the clock does not go back
        b"2026-03-14 06:00:20.500 gamma s_e",            # 7: 20.5 - 15.5 = 5 is not > 5
        b"2026-03-14 06:00:20.501 gamma s_e",            # 8: now it is
    ]))
    assert out == [
        ("deeplog", 1, "s_a", 1, "not_in_topk"),
        ("deeplog", 2, "s_b", 0, "ok"),
        ("deeplog", 3, "s_c", 1, "not_in_topk"),
        ("deeplog", 4, "s_a", 0, "not_in_topk"),
        ("deeplog", 2, "s_b", 3, "early_end"),          # 15.5 - 10 > 5: s_b and s_c, idle longest first
        ("deeplog", 3, "s_c", 3, "early_end"),
        ("deeplog", 5, "s_d", -1, "unseen"),
        ("deeplog", 6, "s_a", 0, "not_in_topk"),        # s_a (stamp 12 -> 15.5) stays
        ("deeplog", 7, "s_e", 2, "not_in_topk"),
        ("deeplog", 6, "s_a", 3, "early_end"),          # 20.501 - 15.5 > 5
        ("deeplog", 8, "s_e", 2, "not_in_topk"),
    ]
    assert d.clock == pytest.approx(1773468020.501)
    assert short(d.finish()) == [("deeplog", 8, "s_e", 3, "ok")]


# ---- eviction and the order within a line ---------------------------------------------------------

def test_eviction_end_comes_between_seconds_mscred_and_the_events_verdict():
    spec = SignatureSpec(3, window_sizes=(1,), step=1, steps=1, bucket=BucketRule("seconds", 10), norm=2)
    zero = lambda batch: np.zeros((len(batch), 1, 8, 8), dtype=np.float32)      # noqa: E731
    d = detector(TIMED, mscred=MSCREDModel(zero, spec, cell_threshold=0.2, anomaly_threshold=100),
                 max_sessions=1, session_timeout=SessionTimeout(lines=3))
    out = short(d.feed([b"2026-03-14 06:00:01.000 alpha 1 s_a", b"2026-03-14 06:00:02.000 alpha 2 s_a",
                        b"2026-03-14 06:00:14.000 alpha 1 s_b", b"", b"", b"", b"", b"beta 8 s_b"]))
    assert out == [
        ("deeplog", 1, "s_a", 0, "ok"),
        ("deeplog", 2, "s_a", 0, "not_in_topk"),
        ("mscred", 2, None, -1, "ok"),                  # line 3 closes the 06:00:00 bucket first,
        ("deeplog", 2, "s_a", 3, "early_end"),          # then its session evicts s_a,
        ("deeplog", 3, "s_b", 0, "ok"),                 # then its own verdict
        ("deeplog", 3, "s_b", 3, "early_end"),          # line 7: 7 - 3 > 3 (a blank line closes)
        ("deeplog", 8, "s_b", 1, "not_in_topk"),
    ]


def test_lines_mscred_comes_after_the_events_verdict():
    spec = SignatureSpec(3, window_sizes=(1,), step=1, steps=1, bucket=BucketRule("lines", 1), norm=1)
    zero = lambda batch: np.zeros((len(batch), 1, 8, 8), dtype=np.float32)      # noqa: E731
    d = detector(mscred=MSCREDModel(zero, spec, cell_threshold=0.5, anomaly_threshold=100), max_sessions=1)
    out = short(d.feed([b"alpha 1 s_a", b"alpha 2 s_b"]))
    assert out == [("deeplog", 1, "s_a", 0, "ok"), ("mscred", 1, None, -1, "ok"),
                   ("deeplog", 1, "s_a", 3, "early_end"), ("deeplog", 2, "s_b", 0, "ok"),
                   ("mscred", 2, None, -1, "ok")]
    assert short(d.finish()) == [("deeplog", 2, "s_b", 3, "early_end")]


def test_session_table_closes_from_the_idle_end():
    table = SessionTable(3, window=2, pad=3)
    for line, key in enumerate("abcab", 1):
        entry, evicted = table.feed(key, line, float(line))
        assert evicted is None
        entry.window.push(line % 3)
    assert table.kept() == ["c", "a", "b"]
    assert [k for k, _ in table.close_idle_lines(7, 3)] == ["c"]          # 7 - 3 > 3; a: 7 - 4 = 3
    assert [k for k, _ in table.close_idle_seconds(9.5, 5.0)] == ["a"]    # 9.5 - 4 > 5; b: 4.5
    _, evicted = table.feed("d", 8, 9.5)
    assert evicted is None and table.kept() == ["b", "d"]
    table.feed("e", 9, 9.5)
    key, entry = table.feed("f", 10, 9.5)[1]
    assert key == "b" and entry.last_line == 5 and entry.window.current() == [2, 2]
    assert [k for k, _ in table.close_all()] == ["d", "e", "f"] and table.kept() == []


# ---- the probability rule -------------------------------------------------------------------------

def test_probability_rule_uses_the_threshold():
    logits = chain_model(3)(np.array([[3, 3]]))
    p_favoured, p_second, p_other = probabilities(np.repeat(logits, 3, axis=0), [0, 1, 2])
    d = detector(rule="probability", threshold=float(p_second))
    out = short(d.feed([b"alpha 1 s_a", b"gamma s_a", b"alpha 3 s_b"]))
    # gamma after alpha: favoured beta (2), gamma second (1): p == threshold is not below it.
    assert out == [("deeplog", 1, "s_a", 0, "ok"), ("deeplog", 2, "s_a", 2, "ok"), ("deeplog", 3, "s_b", 0, "ok")]
    # s_a ended after gamma: END favoured. s_b after alpha: END is neither first nor second.
    assert short(d.finish()) == [("deeplog", 2, "s_a", 3, "ok"), ("deeplog", 3, "s_b", 3, "early_end")]
    assert p_other < p_second < p_favoured
    strict = detector(rule="probability", threshold=float(p_second) * 1.0000001)
    assert short(strict.feed([b"alpha 1 s_a", b"gamma s_a"]))[1][-1] == "low_probability"
    # The model's own rule applies when none is given.
    assert detector(model_rule="probability", threshold=float(p_second)).rule == "probability"
    assert detector(threshold=0.5).rule == "topk"


def test_probability_rule_without_a_threshold_is_refused():
    with pytest.raises(UserError, match="no calibrated prob_threshold") as err:
        detector(rule="probability")
    assert "meta.json" in err.value.one_line()
    with pytest.raises(UserError, match="--rule must be"):
        detector(rule="likely")


# ---- options and model directories ----------------------------------------------------------------

@pytest.mark.parametrize("text", ["0", "-1", "abc", "nan", "inf", "0s", "-5s", "1e999s", "1.5", "s", ".s", "5 s",
                                  " 5", "5S", "18446744073709551616", "", "1_000"])
def test_bad_session_timeouts(text):
    with pytest.raises(UserError, match="--session-timeout must be"):
        parse_session_timeout(text)


def test_good_session_timeouts():
    assert parse_session_timeout("30") == SessionTimeout(lines=30)
    assert parse_session_timeout("30s") == SessionTimeout(seconds=30.0)
    assert parse_session_timeout("1.5s") == SessionTimeout(seconds=1.5)
    assert parse_session_timeout(".5s") == SessionTimeout(seconds=0.5)
    assert parse_session_timeout("2e1s") == SessionTimeout(seconds=20.0)
    assert parse_session_timeout(None) is None


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A tiny DeepLog without the END key, calibrated (3 sessions held out), exported: metadata
    version 2 with a prob_threshold."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from alog_detect.deeplog_data import BuildDeepLogConfig, build_deeplog
    from alog_detect.export import convert_onnx
    from alog_detect.export.config import ExportConfig
    from alog_detect.train.deeplog import DeepLogTrainConfig, train_deeplog

    d = tmp_path_factory.mktemp("exported")
    sessions, templates = [], []
    for s in range(30):
        for t in ["alpha <*> <*>", "beta <*> <*>", "gamma <*>"] * (1 + s % 2):
            sessions.append(f"s_{s}")
            templates.append(t)
    pq.write_table(pa.table({"session": sessions, "template": templates,
                             "line_no": pa.array(range(1, len(templates) + 1), pa.int64())}), d / "parsed.parquet")
    build_deeplog(BuildDeepLogConfig(d / "parsed.parquet", d, window_size=2))
    train_deeplog(DeepLogTrainConfig(seq=d / "sequences.parquet", vocab=d / "vocab.json", out=d / "deeplog.pth",
                                     hidden=8, layers=1, embed_dim=4, top_k=1, epochs=2, progress=False,
                                     end_key=False))
    convert_onnx(ExportConfig(vocab=d / "vocab.json", output_dir=d / "models", deeplog_model=d / "deeplog.pth"),
                 say=lambda *a, **k: None)
    return d / "models"


def _copy_with(exported: Path, tmp_path: Path, version: int | None = None, **deeplog_fields) -> Path:
    models = tmp_path / "models"
    if models.exists():
        shutil.rmtree(models)
    shutil.copytree(exported, models)
    path = models / "deeplog.onnx.meta.json"
    meta = json.loads(path.read_text())
    meta["deeplog"].update(deeplog_fields)
    if version == 1:
        for field in ("end_key", "outputs", "rule", "prob_threshold", "calibration"):
            del meta["deeplog"][field]
    meta["format_version"] = version or meta["format_version"]
    path.write_text(json.dumps(meta))
    return models


def test_version_1_metadata_reads_as_topk_without_end(exported, tmp_path):
    meta = json.loads((exported / "deeplog.onnx.meta.json").read_text())
    assert meta["format_version"] == 2 and meta["deeplog"]["end_key"] is False
    assert meta["deeplog"]["calibration"] == {"target_fpr": 0.001, "sessions": 3, "seed": 0}
    assert load_models(exported).deeplog.prob_threshold == meta["deeplog"]["prob_threshold"] > 0
    m = load_models(_copy_with(exported, tmp_path, version=1)).deeplog
    assert (m.end_key, m.outputs, m.rule, m.prob_threshold) == (False, m.vocab_size, "topk", None)


def test_version_2_metadata_is_checked(exported, tmp_path):
    meta = tmp_path / "models" / "deeplog.onnx.meta.json"
    for fields, message in (({"outputs": 99}, "outputs is 99"), ({"rule": "maybe"}, "rule must be"),
                            ({"end_key": 1}, "end_key must be"), ({"prob_threshold": "x"}, "prob_threshold must"),
                            ({"rule": "probability", "prob_threshold": None}, "null prob_threshold"),
                            ({"end_key": True, "outputs": 4}, "deeplog.onnx gives 3 logits per input")):
        with pytest.raises(UserError, match=message) as err:
            load_models(_copy_with(exported, tmp_path, **fields))
        assert str(meta) in err.value.one_line()
    with pytest.raises(UserError, match="format_version 3 is not supported") as err:
        load_models(_copy_with(exported, tmp_path, version=3))
    assert str(meta) in err.value.one_line()


def test_bad_options_exit_2_with_one_line(exported, tmp_path, cli):
    log = tmp_path / "a.log"
    log.write_text("alpha 1 s_1\n")
    old = _copy_with(exported, tmp_path, version=1)
    no_time = tmp_path / "no_time"
    shutil.copytree(exported, no_time)
    frontend = json.loads((no_time / "frontend.json").read_text())
    (no_time / "frontend.json").write_text(json.dumps({**frontend, "timestamp": "none"}))
    for models, args, message in (
            (old, ("--session-timeout", "0"), "--session-timeout must be a whole number"),
            (old, ("--session-timeout=-3s",), "--session-timeout must be a whole number"),
            (old, ("--rule", "likely"), "--rule must be topk or probability"),
            (old, ("--rule", "probability"), f"{old / 'deeplog.onnx.meta.json'}: --rule probability, but the "
                                             "model has no calibrated prob_threshold"),
            (no_time, ("--session-timeout", "30s"), f"{no_time / 'frontend.json'}: --session-timeout 30.0s: the "
                                                    "front end reads no timestamps; give a line count")):
        run = cli("detect", "--models", models, "--logs", log, *args, check=False)
        assert run.returncode == 2 and message in run.stderr_text, run.stderr_text
        assert len(run.stderr_text.strip().splitlines()) == 1 and run.stdout_text == ""
    ok = cli("detect", "--models", exported, "--logs", log, "--session-timeout", "1.5s", "--rule", "probability",
             "--all", "--session-key", "prefix:s_")
    assert [json.loads(v)["reason"] for v in ok.stdout_text.splitlines()] in (["ok"], ["low_probability"])


def test_detect_closes_once_after_all_files(tmp_path):
    """Two files are one stream: END verdicts come once, after the last line of the last file."""
    from alog_detect import detect as detect_module

    models = Models(VOCAB, DeepLogModel(chain_model(3), 2, 1, 3, end_key=True), None)
    first, second = tmp_path / "1.log", tmp_path / "2.log"
    first.write_bytes(b"alpha 1 s_a\nalpha 2 s_b")
    second.write_bytes(b"beta 3 s_a\n")
    out = io.StringIO()
    original = detect_module.load_models
    detect_module.load_models = lambda path: models
    try:
        written = detect(DetectConfig(models=tmp_path, logs=(str(first), str(second)), all_verdicts=True,
                                      session_key="prefix:s_", progress=False), out=out)
    finally:
        detect_module.load_models = original
    assert written == 5
    assert short(out.getvalue().splitlines()) == [
        ("deeplog", 1, "s_a", 0, "ok"), ("deeplog", 2, "s_b", 0, "ok"), ("deeplog", 3, "s_a", 1, "ok"),
        ("deeplog", 2, "s_b", 3, "early_end"), ("deeplog", 3, "s_a", 3, "early_end")]


def test_model_meta_header_carries_the_rule(exported, tmp_path):
    """alog_model_meta.h: the issue-13 macros from version-2 metadata, and the version-1 defaults."""
    from alog_detect.codegen import CodegenConfig, render_headers

    def macros(models: Path) -> dict[str, str]:
        out = tmp_path / "gen"
        render_headers(CodegenConfig(model_dir=models, out_dir=out, outputs=("alog_model_meta.h",), root=tmp_path))
        lines = (out / "alog_model_meta.h").read_text().splitlines()
        return {p[1]: p[2] for p in (line.split(" ", 2) for line in lines)
                if len(p) == 3 and p[0] == "#define" and p[1].startswith("ALOG_META_DEEPLOG_")}

    threshold = json.loads((exported / "deeplog.onnx.meta.json").read_text())["deeplog"]["prob_threshold"]
    got = macros(_copy_with(exported, tmp_path, rule="probability"))
    assert {k: got[f"ALOG_META_DEEPLOG_{k}"] for k in ("END_KEY", "OUTPUTS", "RULE", "HAS_PROB_THRESHOLD")} == \
        {"END_KEY": "0", "OUTPUTS": "3", "RULE": "1", "HAS_PROB_THRESHOLD": "1"}
    assert float(got["ALOG_META_DEEPLOG_PROB_THRESHOLD"]) == threshold   # reads back exactly
    old = macros(_copy_with(exported, tmp_path, version=1))
    assert (old["ALOG_META_DEEPLOG_RULE"], old["ALOG_META_DEEPLOG_HAS_PROB_THRESHOLD"],
            old["ALOG_META_DEEPLOG_PROB_THRESHOLD"], old["ALOG_META_DEEPLOG_END_KEY"]) == ("0", "0", "0.0", "0")
