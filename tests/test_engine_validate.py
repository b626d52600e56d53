"""The C engine as the third `convert-onnx --validate` party (alog_detect.export.engine_runner), and
the fuzz benchmark's seeds and statistics (alog_detect.bench.fuzz; the harnesses' smoke runs are in
test_engine_models.py and test_match_parity.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cbuild
from alog_detect.errors import UserError
from alog_detect.export import convert_onnx
from alog_detect.export import engine_runner
from alog_detect.export.engine_runner import RUNNER_ENV
from test_export import _config, trained  # noqa: F401  (the tiny trained DeepLog and MSCRED)

needs_cc = pytest.mark.skipif(cbuild.compiler() is None, reason="no C compiler (cc) on PATH")
needs_clang = pytest.mark.skipif(cbuild.compiler("clang") is None, reason="libFuzzer needs clang")
PARTY_LINE = re.compile(r"^  (\S+): max \|diff\| (\S+) \(limit 1e-05\) at \|output\| <= \S+, (.+) (\d+)/(\d+) "
                        r"identical: (ok|MISMATCH)$")


@pytest.fixture(scope="module")
def onnx_runner() -> Path:
    return cbuild.build_tool("onnx_runner")


@pytest.fixture(autouse=True)
def _no_other_runner(monkeypatch):
    # A developer's own $ALOG_ENGINE_RUNNER would add a party these tests do not expect.
    monkeypatch.delenv("ALOG_ENGINE_RUNNER", raising=False)


def _wrapper(path: Path, body: str) -> Path:
    """An executable stand-in for onnx_runner: ``body`` runs with ``argv`` as the runner's arguments."""
    path.write_text(f"#!{sys.executable}\nimport subprocess, sys\nimport numpy as np\nargv = sys.argv[1:]\n{body}")
    path.chmod(0o755)
    return path


# ---- the engine party ------------------------------------------------------------------------

@needs_cc
def test_default_runner_is_the_one_scons_builds(onnx_runner, monkeypatch):
    monkeypatch.delenv(RUNNER_ENV, raising=False)
    assert engine_runner.runner_path() == onnx_runner
    assert engine_runner.unavailable() is None


@needs_cc
def test_convert_onnx_validate_reports_the_engine_on_both_models(trained, tmp_path, onnx_runner, cli,  # noqa: F811
                                                                  monkeypatch):
    monkeypatch.setenv(RUNNER_ENV, str(onnx_runner))
    out = tmp_path / "models"
    proc = cli("convert-onnx", "--deeplog-model", trained / "deeplog.pth", "--mscred-model", trained / "mscred.pth",
               "--vocab", trained / "vocab.json", "--output-dir", out, "--validate")
    parties = [PARTY_LINE.match(ln) for ln in proc.stdout_text.splitlines() if ln.startswith("  ")]
    assert all(parties), proc.stdout_text
    assert [m[1] for m in parties] == ["onnxruntime", "engine", "onnxruntime", "engine"]
    deeplog, mscred = parties[1], parties[3]
    assert deeplog[3] == "top-3 sets" and mscred[3] == "anomaly decisions"
    for engine in (deeplog, mscred):
        assert float(engine[2]) <= 1e-5 and engine[4] == engine[5] and int(engine[5]) >= 100
        assert engine[6] == "ok"
    assert "not built" not in proc.stdout_text
    assert (out / "deeplog.onnx").is_file() and (out / "mscred.onnx").is_file()


@needs_cc
def test_engine_mismatch_fails_the_export(trained, tmp_path, onnx_runner, monkeypatch):  # noqa: F811
    # The real runner, with 1e-3 added to every output value: just over the validation limit.
    skewed = _wrapper(tmp_path / "skewed_runner", f"""
rc = subprocess.run([{str(onnx_runner)!r}, *argv]).returncode
out = argv[argv.index("-o") + 1] + "/0.bin"
(np.fromfile(out, dtype=np.float32) + np.float32(1e-3)).tofile(out)
sys.exit(rc)
""")
    monkeypatch.setenv(RUNNER_ENV, str(skewed))
    out = tmp_path / "m"
    with pytest.raises(UserError) as exc:
        convert_onnx(_config(trained, out, mscred_model=None, validate=True), say=lambda line: None)
    message = exc.value.one_line()
    assert f"{out / 'deeplog.onnx'}: validation failed" in message
    assert re.search(r"engine: max \|diff\| 1\.0\de-03", message) and "onnxruntime" not in message
    assert not out.exists()


def test_engine_that_cannot_load_the_model_fails_the_export(trained, tmp_path, monkeypatch):  # noqa: F811
    refusing = _wrapper(tmp_path / "refusing_runner", """
print("onnx_runner: unsupported operator: node 'lstm' (LSTM) direction 'reverse'", file=sys.stderr)
sys.exit(1)
""")
    monkeypatch.setenv(RUNNER_ENV, str(refusing))
    out = tmp_path / "m"
    with pytest.raises(UserError) as exc:
        convert_onnx(_config(trained, out, mscred_model=None, validate=True), say=lambda line: None)
    message = exc.value.one_line()
    assert message.startswith(f"{refusing}: the C engine cannot run deeplog.onnx (exit status 1: onnx_runner: "
                              "unsupported operator: node 'lstm' (LSTM) direction 'reverse')")
    assert "scons tools" in message and not out.exists()


# ---- without the runner ----------------------------------------------------------------------

def test_without_the_runner_validate_says_so_once_and_uses_onnxruntime(trained, tmp_path, cli,  # noqa: F811
                                                                       monkeypatch):
    missing = tmp_path / "nowhere" / "onnx_runner"
    monkeypatch.setenv(RUNNER_ENV, str(missing))
    out = tmp_path / "models"
    proc = cli("convert-onnx", "--deeplog-model", trained / "deeplog.pth", "--mscred-model", trained / "mscred.pth",
               "--vocab", trained / "vocab.json", "--output-dir", out, "--validate")
    lines = proc.stdout_text.splitlines()
    notes = [ln for ln in lines if "engine" in ln]
    assert notes == [f"engine: not built (${RUNNER_ENV} names {missing}, which is not an executable onnx_runner); "
                     "validating with onnxruntime only; build it with `scons tools`"]
    parties = [PARTY_LINE.match(ln) for ln in lines if ln.startswith("  ")]
    assert [m[1] for m in parties] == ["onnxruntime", "onnxruntime"] and all(m[6] == "ok" for m in parties)
    assert (out / "deeplog.onnx").is_file() and (out / "mscred.onnx").is_file()


def test_default_path_missing_names_it_and_the_build_command(tmp_path, monkeypatch):
    monkeypatch.delenv(RUNNER_ENV, raising=False)
    monkeypatch.setattr(engine_runner, "BUILT_RUNNER", tmp_path / "build" / "host" / "tools" / "onnx_runner")
    note = engine_runner.unavailable()
    assert note == (f"engine: not built ({tmp_path / 'build/host/tools/onnx_runner'} is not an executable "
                    "onnx_runner); validating with onnxruntime only; build it with `scons tools`")
    with pytest.raises(UserError, match="not built"):
        engine_runner.run(str(tmp_path / "m.onnx"), {})


# ---- fuzz benchmark: seeds and statistics -----------------------------------------------------

def test_match_seeds_are_what_the_python_reference_matches():
    from alog_detect.bench.fuzz import MATCH_SEEDS, MatchSeed
    from alog_detect.frontend import Frontend
    from alog_detect.masking import Masker
    from alog_detect.matching import Matcher

    assert {s.expected >= 0 for s in MATCH_SEEDS} == {True, False}
    assert any(s.settings for s in MATCH_SEEDS)
    for seed in MATCH_SEEDS:
        if seed.settings is None:
            matcher = Matcher(seed.templates, Masker(seed.rules), seed.header_tokens)
        else:
            fmt, rule, timestamp, pattern = seed.settings
            frontend = Frontend(Masker(seed.rules)).with_options(log_format=fmt, session_key=rule,
                                                                 timestamp=timestamp, timestamp_format=pattern)
            assert frontend.seconds(seed.line) is not None and frontend.session(seed.line) != "<nokey>", seed.name
            matcher = frontend.matcher(seed.templates)
        assert matcher.match(seed.line) == seed.expected, seed.name
    # The harness's format: rule bits, header tokens in the top three bits, templates, blank line, line.
    encoded = MatchSeed("x", ("ip", "num"), 3, (b"a <*>", b"b"), b"raw line", -1).encode()
    assert encoded == bytes([0b011_01010]) + b"a <*>\nb\n\nraw line"
    # ... with settings: a line after the blank one, 0x01 then four fields separated by 0x1f.
    encoded = MatchSeed("y", (), 0, (), b"l", -1, ("<A> <Content>", "none", "line-start", "")).encode()
    assert encoded == b"\x00\n\x01<A> <Content>\x1fnone\x1fline-start\x1f\nl"


@needs_cc
def test_model_seeds_load_and_run_in_the_fuzz_harness_limits(tmp_path):
    from alog_detect.bench.fuzz import HARNESSES, model_seeds

    (harness,) = [h for h in HARNESSES if h.name == "fuzz_model"]
    mutate = cbuild.build_tool("mutate_model")  # runs alog_check_model, fuzz_model's body
    seeds = model_seeds(tmp_path)
    full = {p.stem: p for p in seeds if ".prefix" not in p.name}
    models = ["deeplog", "deeplog_1layer", "mscred", "deeplog_int8", "deeplog_1layer_int8", "mscred_int8"]
    broken = {name for name in full if name not in models}
    # Each model whole and four prefixes of it, and one int8 model broken in each way the engine
    # refuses (zero, negative, NaN, infinite or too few scales; short int8 bytes; a zero point).
    assert sorted(models) == sorted(set(full) - broken) and len(broken) == 7
    assert len(seeds) == 5 * len(models) + len(broken)
    for name, path in full.items():
        report = json.loads(subprocess.run([str(mutate), str(path), "0"], capture_output=True, text=True,
                                           check=True).stdout)
        assert (report["full"] == "ok") == (name not in broken), (path.name, report["full"])
    for path in seeds:
        assert 0 < path.stat().st_size <= harness.max_len, path.name
        whole = full[path.name.split(".")[0]].read_bytes()
        assert whole.startswith(path.read_bytes()) and (path in full.values()) == (len(whole) == path.stat().st_size)


@needs_clang
def test_short_fuzz_run_statistics_and_section(tmp_path):
    """Drives fuzz_match for one second through the benchmark: libFuzzer's statistics are parsed
    from the real output and land in the results section."""
    from alog_detect.bench import fuzz

    (harness,) = [h for h in fuzz.HARNESSES if h.name == "fuzz_match"]
    stats = fuzz.run_harness(harness, cbuild.build_fuzzer("fuzz_match"), 1, tmp_path / "work")
    assert stats.seeds == len(fuzz.MATCH_SEEDS) and not stats.crashes and stats.summary == ""
    assert stats.executions > 100 and stats.exec_per_sec > 0 and 0 < stats.cov <= stats.ft
    assert stats.corpus_units >= 1 and re.fullmatch(r"\d+(b|Kb|Mb)", stats.corpus_size)
    assert stats.new_units >= 0 and stats.peak_rss_mb > 0
    log = (tmp_path / "work" / "libfuzzer.log").read_text()
    assert f"stat::number_of_executed_units: {stats.executions}" in log
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["artifacts", "corpus", "libfuzzer.log"]

    results = tmp_path / "results.md"
    results.write_text("# Results\n\n<!-- fuzz:begin -->\nold\n<!-- fuzz:end -->\n\n<!-- other:begin -->\nkept\n"
                       "<!-- other:end -->\n")
    fuzz.update_section(results, fuzz.SECTION, fuzz.section([stats], "python -m alog_detect.bench.fuzz --seconds 1"))
    text = results.read_text()
    row = (f"| `fuzz_match` | {harness.what} | {stats.seeds} | {stats.seconds:.0f} | {stats.executions:,} | "
           f"{stats.exec_per_sec:,} | {stats.cov:,} | {stats.ft:,} | {stats.corpus_units:,} / {stats.corpus_size} | ")
    assert row in text and "old" not in text and "kept" in text
    assert "Command: `python -m alog_detect.bench.fuzz --seconds 1`" in text and "No crash" in text


def test_statistics_without_libfuzzer_output_is_a_clear_error():
    from alog_detect.bench.fuzz import parse_stats

    with pytest.raises(UserError, match="fuzz_model: no libFuzzer statistics in its output .*Segmentation fault"):
        parse_stats("fuzz_model", 3, 1.0, "INFO: Seed: 1\nSegmentation fault\n", ())


def test_a_crash_is_counted_with_the_sanitizers_first_report():
    from alog_detect.bench.fuzz import parse_stats, section

    log = ("#4096\tpulse  cov: 900 ft: 2500 corp: 300/2101Kb lim: 65536 exec/s: 2048 rss: 400Mb\n"
           "cengine/src/model.c:154:42: runtime error: null pointer passed as argument 1\n"
           "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior cengine/src/model.c:154:42 in\n"
           "==42== ERROR: libFuzzer: deadly signal\n"
           "stat::number_of_executed_units: 4100\nstat::average_exec_per_sec:     2050\n"
           "stat::new_units_added:          12\nstat::peak_rss_mb:              401\n")
    stats = parse_stats("fuzz_model", 15, 2.0, log, ("crash-abc",))
    assert (stats.executions, stats.exec_per_sec, stats.cov, stats.ft) == (4100, 2050, 900, 2500)
    assert (stats.corpus_units, stats.corpus_size, stats.new_units, stats.peak_rss_mb) == (300, "2101Kb", 12, 401)
    assert stats.summary == "cengine/src/model.c:154:42: runtime error: null pointer passed as argument 1"
    assert ("Crashes: `fuzz_model` after 2 s: cengine/src/model.c:154:42: runtime error: null pointer"
            in section([stats], "cmd"))
