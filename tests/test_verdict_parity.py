"""`alog-engine` and `alog-detect detect` give identical verdict streams (docs/detection.md), on the
built-in sample and on HDFS_20k, every verdict (--all) and anomalies only, also under ASan + UBSan.

Models are tiny (a couple of epochs): the point is the same decisions from the same models, which
holds whatever their quality.
"""

from __future__ import annotations

import json

import pytest

from engine_helpers import SAMPLE_KEY, build_models, run_engine, run_reference
from engine_helpers import engine, engine_san, sample  # noqa: F401 (session fixtures)

HDFS_KEY = "prefix:blk_"


@pytest.fixture(scope="session")
def hdfs(tmp_path_factory, shared_data):
    log = shared_data / "HDFS" / "HDFS_20k.log"
    return log, build_models(tmp_path_factory.mktemp("hdfs_models"), log, HDFS_KEY)


def assert_same_stream(engine_proc, reference_proc):
    assert reference_proc.returncode == 0, reference_proc.stderr.decode(errors="replace")
    assert engine_proc.returncode == 0, engine_proc.stderr.decode(errors="replace")
    ours, theirs = engine_proc.stdout.splitlines(), reference_proc.stdout.splitlines()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"verdict {i + 1} differs:\n  engine    {a!r}\n  reference {b!r}"
    assert len(ours) == len(theirs)
    assert engine_proc.stdout == reference_proc.stdout


def verdicts(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.parametrize("all_verdicts", [True, False], ids=["all", "anomalies"])
def test_sample_streams_are_identical(engine, sample, all_verdicts):
    log, models = sample
    ours = run_engine(engine, models, log, all_verdicts=all_verdicts, session_key=SAMPLE_KEY)
    theirs = run_reference(models, log, all_verdicts=all_verdicts, session_key=SAMPLE_KEY)
    assert_same_stream(ours, theirs)
    got = verdicts(ours)
    # The stream exercises every kind of verdict, so identity is not vacuous.
    assert {v["model"] for v in got} == {"deeplog", "mscred"}
    if all_verdicts:
        assert {v["reason"] for v in got} >= {"ok", "not_in_topk"}
        assert len({v["session"] for v in got if v["model"] == "deeplog"}) > 100
    else:
        assert got and all(v["anomaly"] for v in got)


def test_sample_stream_under_sanitizers(engine_san, sample):
    log, models = sample
    assert_same_stream(run_engine(engine_san, models, log, session_key=SAMPLE_KEY),
                       run_reference(models, log, session_key=SAMPLE_KEY))


def test_sample_from_stdin_matches_the_file(engine, sample):
    log, models = sample
    from_file = run_engine(engine, models, log, session_key=SAMPLE_KEY)
    from_stdin = run_engine(engine, models, "-", session_key=SAMPLE_KEY, input=log.read_bytes())
    assert from_stdin.stdout == from_file.stdout and from_file.stdout


@pytest.mark.slow
def test_hdfs_20k_streams_are_identical(engine, hdfs):
    log, models = hdfs
    ours = run_engine(engine, models, log, session_key=HDFS_KEY)
    assert_same_stream(ours, run_reference(models, log, session_key=HDFS_KEY))
    got = verdicts(ours)
    deeplog = [v for v in got if v["model"] == "deeplog"]
    assert len(deeplog) == 20000
    assert len({v["session"] for v in deeplog}) == 1782  # every block of the file
    assert any(v["model"] == "mscred" for v in got)


@pytest.mark.slow
def test_hdfs_20k_under_sanitizers(engine_san, hdfs):
    log, models = hdfs
    assert_same_stream(run_engine(engine_san, models, log, session_key=HDFS_KEY, all_verdicts=False),
                       run_reference(models, log, session_key=HDFS_KEY, all_verdicts=False))
