"""alog_runtime (packaging/runtime/), the ctypes binding over libalog.so, against alog-engine.

- Its structures are alog.h's (sizeof and every offset, as the C compiler lays them out), its
  constants and version are the header's and alog_detect's.
- `python -m alog_runtime` prints alog-engine's bytes on the built-in sample and HDFS_20k (every
  verdict and anomalies only, from a file and from stdin, lines over 1 MiB), answers line by line
  behind `tail -F`, ends quietly on a closed pipe, and fails like alog-engine: the same exit
  code and the same one-line message, on the same broken model directories and command lines.
- The Python API gives the same verdicts (feed, feed_many, feed_event), Verdict.to_json() the same
  bytes, and raises alog_runtime.Error subclasses on misuse.
- The wheel alog_detect.package.wheel.build_runtime_wheel builds from the host libalog.so is
  reproducible, its RECORD holds, auditwheel agrees with its tag, and installed alone in a fresh
  venv (no torch, no alog_detect) it prints alog-engine's bytes.
"""

from __future__ import annotations

import ast
import base64
import csv
import ctypes
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

import cbuild
from engine_helpers import HDFS_KEY, SAMPLE_KEY, assert_answers_line_by_line, assert_same_stream, run_engine
from engine_helpers import engine, hdfs, sample  # noqa: F401 (session fixtures)
from test_verdict_parity import overlong_lines

import alog_detect
from alog_detect.errors import UserError
from alog_detect.package.wheel import (RUNTIME_SOURCE, RuntimeWheelConfig, build_runtime_wheel,
                                       check_with_auditwheel, host_platform_tag, tag_is_consistent,
                                       wheel_filename)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(RUNTIME_SOURCE))
import alog_runtime  # noqa: E402
from alog_runtime import _capi  # noqa: E402

EXIT_USAGE, EXIT_MODELS, EXIT_IO = 2, 3, 4


# ---- fixtures and runners ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def library():
    """build/host/lib/libalog.so (`scons lib`), the library every test here loads."""
    path = cbuild.build_shared_library()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(_capi.LIBRARY_ENV, str(path))
        yield path


def runtime_env(library: Path) -> dict[str, str]:
    """The environment of a `python -m alog_runtime` run from this checkout."""
    path = os.pathsep.join(p for p in (str(RUNTIME_SOURCE), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, _capi.LIBRARY_ENV: str(library)}


def run_runtime(library: Path, *args: str, input: bytes = b"", timeout: float = 300,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alog_runtime", *map(str, args)], input=input,
                          capture_output=True, timeout=timeout, env=env or runtime_env(library))


def run_plain(binary: Path, *args: str, input: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *map(str, args)], input=input, capture_output=True, timeout=120)


def assert_same_bytes(ours: subprocess.CompletedProcess, theirs: subprocess.CompletedProcess) -> None:
    assert_same_stream(ours, theirs, ("alog_runtime", "alog-engine"))


def api_verdicts(models: Path, lines, **options) -> list[alog_runtime.Verdict]:
    """Every verdict of the lines, and of the end of the input (finish), as alog-engine prints them."""
    with alog_runtime.Detector(models, **options) as detector:
        return list(detector.feed_many(lines)) + detector.finish()


def as_json_lines(verdicts) -> bytes:
    return b"".join(v.to_json() + b"\n" for v in verdicts)


# ---- the binding matches alog.h --------------------------------------------------------------------

def layout_program(tmp_path: Path) -> dict[str, str]:
    """A C program compiled against alog.h printing, for every structure the binding declares,
    its size and each member's offset and size, and alog.h's constants and status values."""
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "alog.h"',
             '#define MEMBER(s, m) printf(#s "." #m " %zu %zu\\n", offsetof(s, m), sizeof(((s *)0)->m))',
             'int main(void) {']
    for struct in _capi.STRUCTURES:
        lines.append(f'    printf("{struct.__name__} %zu\\n", sizeof({struct.__name__}));')
        lines += [f"    MEMBER({struct.__name__}, {name});" for name, *_ in struct._fields_]
    for name in _capi.STATUS_NAMES + ("ALOG_STATUS_COUNT",):
        lines.append(f'    printf("{name} %d\\n", (int){name});')
    for name in ("ALOG_MESSAGE_LEN", "ALOG_MAX_RANK", "ALOG_MSCRED_MAX_SCALES", "ALOG_MAX_LINE",
                 "ALOG_ISA_AVX2", "ALOG_ISA_AVX512", "ALOG_MODEL_DEEPLOG", "ALOG_MODEL_MSCRED",
                 "ALOG_RULE_TOPK", "ALOG_RULE_PROBABILITY"):
        lines.append(f'    printf("{name} %llu\\n", (unsigned long long){name});')
    lines += ['    printf("ALOG_VERSION_STRING %s\\n", ALOG_VERSION_STRING);', "    return 0;", "}"]
    source = tmp_path / "layout.c"
    source.write_text("\n".join(lines) + "\n")
    cc = cbuild.compiler("cc") or cbuild.compiler("gcc")
    binary = tmp_path / "layout"
    proc = subprocess.run([cc, *cbuild.STRICT_FLAGS, f"-I{REPO / 'cengine' / 'include'}", str(source),
                           "-o", str(binary)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def test_structures_constants_and_version_are_alog_hs(tmp_path):
    c = layout_program(tmp_path)
    for struct in _capi.STRUCTURES:
        assert int(c[struct.__name__]) == ctypes.sizeof(struct), struct.__name__
        for name, *_ in struct._fields_:
            member = getattr(struct, name)
            assert c[f"{struct.__name__}.{name}"] == f"{member.offset} {member.size}", \
                f"{struct.__name__}.{name}: C says offset, size {c[f'{struct.__name__}.{name}']}"
    assert [int(c[name]) for name in _capi.STATUS_NAMES] == list(range(len(_capi.STATUS_NAMES)))
    assert int(c["ALOG_STATUS_COUNT"]) == len(_capi.STATUS_NAMES)
    for name in ("ALOG_MESSAGE_LEN", "ALOG_MAX_RANK", "ALOG_MSCRED_MAX_SCALES", "ALOG_MAX_LINE",
                 "ALOG_ISA_AVX2", "ALOG_ISA_AVX512", "ALOG_MODEL_DEEPLOG", "ALOG_MODEL_MSCRED",
                 "ALOG_RULE_TOPK", "ALOG_RULE_PROBABILITY"):
        assert int(c[name]) == getattr(_capi, name), name
    assert c["ALOG_VERSION_STRING"] == _capi.ALOG_VERSION_STRING == alog_runtime.__version__ \
        == alog_detect.__version__


def test_every_declared_function_is_in_alog_h():
    """The binding calls the public API only: each function it declares is declared in alog.h."""
    header = (REPO / "cengine" / "include" / "alog.h").read_text()
    for name in _capi.PROTOTYPES:
        assert f" {name}(" in header or f"*{name}(" in header, name


def test_the_package_is_standard_library_python_3_8():
    """Devices run old Pythons and have nothing installed: every module parses as Python 3.8 and
    imports only the standard library and itself."""
    for path in sorted((RUNTIME_SOURCE / "alog_runtime").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", f"{path.name}: {name}"
    assert (RUNTIME_SOURCE / "alog_runtime" / "py.typed").is_file()


# ---- parity on the built-in sample -----------------------------------------------------------------

@pytest.mark.parametrize("all_verdicts", [True, False], ids=["all", "anomalies"])
def test_command_line_prints_alog_engines_bytes(engine, library, sample, all_verdicts):
    log, models = sample
    flags = ["--all"] if all_verdicts else []
    ours = run_runtime(library, "--models", models, *flags, log)
    theirs = run_engine(engine, models, log, all_verdicts=all_verdicts)
    assert_same_bytes(ours, theirs)
    verdicts = [json.loads(v) for v in ours.stdout.splitlines()]
    assert {v["model"] for v in verdicts} == {"deeplog", "mscred"}
    if all_verdicts:
        assert {v["reason"] for v in verdicts} >= {"ok", "not_in_topk"}
    else:
        assert verdicts and all(v["anomaly"] for v in verdicts)


def test_command_line_overrides_and_standard_input(engine, library, sample):
    """--session-key, --header-tokens, --max-sessions and --isa as alog-engine takes them, and
    standard input read as the file is."""
    log, models = sample
    options = ("--session-key", "none", "--header-tokens", "2", "--max-sessions", "3", "--isa", "baseline")
    ours = run_runtime(library, "--models", models, "--all", *options, log)
    assert_same_bytes(ours, run_engine(engine, models, log, extra=options))
    default = run_runtime(library, "--models", models, "--all", log)
    assert ours.stdout != default.stdout  # the overrides changed the verdicts
    assert {json.loads(v)["session"] for v in ours.stdout.splitlines()} >= {"all"}
    piped = run_runtime(library, "--models", models, "--all", "-", input=log.read_bytes())
    assert piped.returncode == 0 and piped.stdout == default.stdout


def test_api_gives_alog_engines_verdicts_and_bytes(engine, library, sample):
    log, models = sample
    expected = run_engine(engine, models, log).stdout
    verdicts = api_verdicts(models, log.open("rb"))
    assert [v.to_dict() for v in verdicts] == [json.loads(v) for v in expected.splitlines()]
    assert as_json_lines(verdicts) == expected
    # feed(), line by line, gives the same stream, and str lines the same as their bytes.
    with alog_runtime.Detector(models) as detector:
        one_by_one = [v for line in log.read_text().splitlines() for v in detector.feed(line)]
        assert detector.lines_fed == len(log.read_bytes().splitlines())
        one_by_one += detector.finish()
        assert detector.finish() == []  # every session closed already
    assert one_by_one == verdicts
    mscred = next(v for v in verdicts if v.model == "mscred")
    assert mscred.session is None and mscred.topk == () and isinstance(mscred.score, int)
    deeplog = next(v for v in verdicts if v.model == "deeplog" and v.template >= 0)
    assert isinstance(deeplog.topk, tuple) and deeplog.score is None
    with pytest.raises(AttributeError):
        deeplog.line = 0  # frozen


@pytest.mark.parametrize("options", [("--session-timeout", "7"), ("--session-timeout", "2.5s"),
                                     ("--rule", "probability"), ("--max-sessions", "3", "--rule", "topk")],
                         ids=["lines", "seconds", "probability", "evictions"])
def test_session_ends_and_rules_give_alog_engines_bytes(engine, library, sample, options):
    """--session-timeout, --rule and the closes at eviction and at the end of the input: the
    command line and the API (close_session, finish) print alog-engine's bytes."""
    log, models = sample
    head = b"".join(log.read_bytes().splitlines(keepends=True)[:600])
    theirs = run_engine(engine, models, "-", extra=options, input=head)
    assert_same_bytes(run_runtime(library, "--models", models, "--all", *options, "-", input=head), theirs)
    keywords = {"--session-timeout": lambda v: ({"session_timeout_seconds": float(v[:-1])} if v.endswith("s")
                                                else {"session_timeout_lines": int(v)}),
                "--rule": lambda v: {"rule": v}, "--max-sessions": lambda v: {"max_sessions": int(v)}}
    kwargs = {}
    for flag, value in zip(options[::2], options[1::2]):
        kwargs.update(keywords[flag](value))
    assert as_json_lines(api_verdicts(models, head.splitlines(), **kwargs)) == theirs.stdout
    got = [json.loads(v) for v in theirs.stdout.splitlines()]
    end = len(json.loads((models / "vocab.json").read_text()))
    closes = [v for v in got if v["model"] == "deeplog" and v["template"] == end]
    assert closes and {v["reason"] for v in closes} <= {"ok", "early_end"}
    if options[0] != "--rule":  # sessions closed before the end of the input, not only by finish
        is_end = [v["model"] == "deeplog" and v["template"] == end for v in got]
        assert is_end.index(True) < len(is_end) - 1 - is_end[::-1].index(False)
    if "probability" in options:
        assert "low_probability" in {v["reason"] for v in got}


def test_close_session_judges_that_session_alone(library, sample):
    log, models = sample
    lines = log.read_bytes().splitlines()[:200]
    end = len(json.loads((models / "vocab.json").read_text()))
    with alog_runtime.Detector(models) as detector:
        verdicts = list(detector.feed_many(lines))
        session = next(v.session for v in verdicts if v.model == "deeplog" and v.template >= 0)
        closed = detector.close_session(session)
        assert detector.close_session(session) == [] and detector.close_session("never-seen") == []
        rest = detector.finish()
    assert [(v.session, v.template) for v in closed] == [(session, end)]
    assert closed[0].line == max(v.line for v in verdicts if v.session == session and v.template >= 0)
    assert session not in {v.session for v in rest} and rest and all(v.template == end for v in rest)
    with pytest.raises(alog_runtime.ArgumentTypeError):
        alog_runtime.Detector(models).close_session(3)  # type: ignore[arg-type]


def test_end_threshold_from_the_model_directory(engine, library, sample, tmp_path):
    """The metadata's end_threshold judges END under the probability rule (the events keep
    prob_threshold): a raised one gives alog-engine's bytes, with more early ENDs; a null one
    refuses the probability rule, as alog-engine does."""
    log, models = sample
    head = b"".join(log.read_bytes().splitlines(keepends=True)[:600])
    raised = tmp_path / "raised"
    shutil.copytree(models, raised)
    path = raised / "deeplog.onnx.meta.json"
    meta = json.loads(path.read_text())
    assert meta["deeplog"]["end_key"] and meta["deeplog"]["end_threshold"] is not None
    meta["deeplog"]["end_threshold"] = 0.5
    path.write_text(json.dumps(meta))
    theirs = run_engine(engine, raised, "-", extra=("--rule", "probability"), input=head)
    assert as_json_lines(api_verdicts(raised, head.splitlines(), rule="probability")) == theirs.stdout
    calibrated = as_json_lines(api_verdicts(models, head.splitlines(), rule="probability"))
    assert theirs.stdout.count(b'"early_end"') > calibrated.count(b'"early_end"')
    assert theirs.stdout.count(b'"low_probability"') == calibrated.count(b'"low_probability"')
    meta["deeplog"]["end_threshold"] = None
    path.write_text(json.dumps(meta))
    with pytest.raises(alog_runtime.ArgumentError, match="end_threshold"):
        alog_runtime.Detector(raised, rule="probability")
    alog_runtime.Detector(raised, rule="topk").close()


@pytest.mark.parametrize("kwargs", [{"rule": "best"}, {"session_timeout_lines": 0},
                                    {"session_timeout_lines": True}, {"session_timeout_seconds": -1.0},
                                    {"session_timeout_seconds": float("nan")},
                                    {"session_timeout_lines": 3, "session_timeout_seconds": 2.0}])
def test_bad_session_end_and_rule_arguments(library, sample, kwargs):
    with pytest.raises(alog_runtime.ArgumentError):
        alog_runtime.Detector(sample[1], **kwargs)


def test_to_json_of_a_verdict_made_in_python(library):
    """to_json() writes any Verdict through the library, escapes included, without its LF."""
    verdict = alog_runtime.Verdict(model="deeplog", session='a"b\\c\x01\udcff', line=7, template=3,
                                   topk=(3, 1), score=None, anomaly=False, reason="ok")
    # docs/detection.md: Python's json.dumps(obj, separators=(",", ":")), ASCII output.
    assert verdict.to_json() == json.dumps(verdict.to_dict(), separators=(",", ":")).encode()
    assert b"\\udcff" in verdict.to_json() and b"\\u0001" in verdict.to_json()
    mscred = alog_runtime.Verdict(model="mscred", session=None, line=840, template=-1, topk=(),
                                  score=16, anomaly=True, reason="residual")
    assert mscred.to_json() == json.dumps(mscred.to_dict(), separators=(",", ":")).encode()


def test_feed_event_judges_events_as_their_lines(engine, library, sample):
    """The sample's events replayed as (session, template index) give the verdicts of its lines
    (the sample has no blank line, so event numbers are line numbers)."""
    log, models = sample
    assert all(line.strip() for line in log.read_bytes().splitlines())
    lines_verdicts = api_verdicts(models, log.open("rb"))
    end = len(json.loads((models / "vocab.json").read_text()))   # END verdicts: template V
    with alog_runtime.Detector(models) as detector:
        replayed = [v for e in lines_verdicts if e.model == "deeplog" and e.template != end
                    for v in detector.feed_event(e.session, e.template)]
        replayed += detector.finish()
    assert replayed == lines_verdicts
    assert any(v.model == "mscred" for v in replayed) and any(v.template == -1 for v in replayed)


@pytest.mark.parametrize("from_stdin", [False, True], ids=["file", "stdin"])
def test_lines_over_1_mib(engine, library, sample, tmp_path, from_stdin):
    """Heads of overlong lines are judged as alog-engine's reader passes them (feed_line_head);
    feed() with the whole line gives the same verdicts."""
    log, models = sample
    lines = overlong_lines(log.read_bytes().splitlines())
    data = b"\n".join(lines)
    path = tmp_path / "long.log"
    path.write_bytes(data)
    source, stdin = ("-", data) if from_stdin else (path, b"")
    theirs = run_engine(engine, models, source, session_key=SAMPLE_KEY, input=stdin)
    assert_same_bytes(run_runtime(library, "--models", models, "--all", "--session-key", SAMPLE_KEY,
                                  source, input=stdin), theirs)
    assert b'"reason":"unseen"' in theirs.stdout
    if not from_stdin:
        assert as_json_lines(api_verdicts(models, lines, session_key=SAMPLE_KEY)) == theirs.stdout


# ---- parity on HDFS_20k ----------------------------------------------------------------------------

@pytest.mark.slow
def test_hdfs_20k(engine, library, hdfs):
    log, models = hdfs
    for flags in ((), ("--all",)):
        theirs = run_engine(engine, models, log, all_verdicts=bool(flags), session_key=HDFS_KEY)
        assert_same_bytes(run_runtime(library, "--models", models, *flags, log), theirs)
    every_verdict = theirs.stdout
    verdicts = api_verdicts(models, log.open("rb"))
    assert as_json_lines(verdicts) == every_verdict
    assert [v.to_dict() for v in verdicts] == [json.loads(v) for v in every_verdict.splitlines()]
    end = len(json.loads((models / "vocab.json").read_text()))  # END verdicts: template V
    assert sum(v.model == "deeplog" and v.template != end for v in verdicts) == 20000


# ---- streams -----------------------------------------------------------------------------------------

def test_answers_each_line_before_the_input_ends(library, sample):
    """Behind `tail -F` the input never ends: each verdict comes out while stdin stays open."""
    assert_answers_line_by_line([sys.executable, "-m", "alog_runtime", "--models", str(sample[1]), "-"],
                                runtime_env(library))


def test_closed_output_pipe_ends_quietly(library, sample):
    log, models = sample
    data = log.read_bytes() * 20
    proc = subprocess.Popen([sys.executable, "-m", "alog_runtime", "--models", str(models), "--all", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=runtime_env(library))

    def feed():
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # it stopped reading: what this test wants

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    writer.join(timeout=60)
    assert proc.stderr.read() == b""


def test_unwritable_output_exits_4_like_alog_engine(engine, library, sample):
    log, models = sample
    results = []
    for cmd, env in (([str(engine)], None),
                     ([sys.executable, "-m", "alog_runtime"], runtime_env(library))):
        with open("/dev/full", "wb") as full:
            proc = subprocess.run([*cmd, "--models", str(models), "--all", str(log)], stdout=full,
                                  stderr=subprocess.PIPE, env=env, timeout=120)
        results.append((proc.returncode, proc.stderr.split(b": ", 1)[1]))
    assert results[0] == results[1] == (EXIT_IO, b"error: standard output: No space left on device\n")


# ---- failures: alog-engine's exit codes and messages ---------------------------------------------

def same_failure(engine, library, engine_args, runtime_args=None, input=b"a line\n"):
    """Both programs fail with the same exit code and the same first stderr line (after the
    program's name). Returns (exit code, that line)."""
    theirs = run_plain(engine, *engine_args, input=input)
    ours = run_runtime(library, *(engine_args if runtime_args is None else runtime_args), input=input)
    assert ours.stdout == theirs.stdout == b""
    first = [p.stderr.decode().splitlines()[0] for p in (theirs, ours)]
    assert first[0].startswith("alog-engine: error: ") and first[1].startswith("alog-runtime: error: ")
    assert first[0].split(": ", 1)[1] == first[1].split(": ", 1)[1], first
    assert ours.returncode == theirs.returncode
    return ours.returncode, first[1]


def break_models(models: Path, how: str) -> None:
    """Spoil a copy of a model directory in one of the ways alog-engine refuses."""
    def meta(kind):
        return json.loads((models / f"{kind}.onnx.meta.json").read_text())

    def write_meta(kind, value):
        (models / f"{kind}.onnx.meta.json").write_text(json.dumps(value))

    if how == "no_vocab":
        (models / "vocab.json").unlink()
    elif how == "truncated_vocab":
        (models / "vocab.json").write_bytes((models / "vocab.json").read_bytes()[:40])
    elif how == "vocab_with_a_gap":
        vocab = json.loads((models / "vocab.json").read_text())
        vocab[str(len(vocab))] = vocab.pop("0")
        (models / "vocab.json").write_text(json.dumps(vocab))
    elif how == "other_vocabulary":
        vocab = json.loads((models / "vocab.json").read_text())
        vocab["0"] += " changed"
        (models / "vocab.json").write_text(json.dumps(vocab))
    elif how == "onnx_bit_flip":
        data = bytearray((models / "deeplog.onnx").read_bytes())
        data[len(data) // 2] ^= 1
        (models / "deeplog.onnx").write_bytes(bytes(data))
    elif how == "truncated_onnx_with_its_hash":
        data = (models / "deeplog.onnx").read_bytes()[:300]
        (models / "deeplog.onnx").write_bytes(data)
        write_meta("deeplog", {**meta("deeplog"), "sha256": hashlib.sha256(data).hexdigest()})
    elif how == "no_meta":
        (models / "mscred.onnx.meta.json").unlink()
    elif how == "meta_format_3":
        write_meta("deeplog", {**meta("deeplog"), "format_version": 3})
    elif how == "meta_of_another_kind":
        write_meta("mscred", {**meta("mscred"), "kind": "deeplog"})
    elif how == "repeated_window_sizes":  # the signature rule, judged by the library
        value = meta("mscred")
        value["mscred"]["window_sizes"] = [2, 2]
        write_meta("mscred", value)
    elif how == "deeplog_of_another_size":
        value = meta("deeplog")
        value["deeplog"]["vocab_size"] += 1
        write_meta("deeplog", value)
    elif how == "no_model":
        for kind in ("deeplog", "mscred"):
            (models / f"{kind}.onnx").unlink()
    elif how == "frontend_bad_rule":
        (models / "frontend.json").write_text(json.dumps(
            {**json.loads((models / "frontend.json").read_text()), "session_rule": "regex:x"}))
    elif how == "frontend_repeated_field":  # the C reader counts members, repeats included
        text = (models / "frontend.json").read_text()
        (models / "frontend.json").write_text(text.replace("{", '{"kind": "frontend", ', 1))
    elif how == "frontend_unknown_field":
        (models / "frontend.json").write_text(json.dumps(
            {**json.loads((models / "frontend.json").read_text()), "extra": 1}))
    else:
        raise AssertionError(how)


BROKEN = ["no_vocab", "truncated_vocab", "vocab_with_a_gap", "other_vocabulary", "onnx_bit_flip",
          "truncated_onnx_with_its_hash", "no_meta", "meta_format_3", "meta_of_another_kind",
          "repeated_window_sizes", "deeplog_of_another_size", "no_model", "frontend_bad_rule",
          "frontend_repeated_field", "frontend_unknown_field"]


@pytest.mark.parametrize("how", BROKEN)
def test_broken_model_directory_fails_like_alog_engine(engine, library, sample, tmp_path, how):
    models = Path(shutil.copytree(sample[1], tmp_path / "models"))
    break_models(models, how)
    code, line = same_failure(engine, library, ["--models", str(models), "-"])
    assert code == EXIT_MODELS and str(models) in line
    with pytest.raises(alog_runtime.ModelDirError) as caught:
        alog_runtime.Detector(models)
    assert f"alog-runtime: error: {caught.value}" == line
    assert isinstance(caught.value, alog_runtime.Error) and caught.value.status_name.startswith("ALOG_ERR_")


def test_missing_model_directory_and_input_file(engine, library, sample, tmp_path):
    code, line = same_failure(engine, library, ["--models", str(tmp_path / "nowhere"), "-"])
    assert code == EXIT_MODELS and "model directory not found (fix: " in line
    # The checkout's package has no models inside: the default directory is missing.
    assert not (RUNTIME_SOURCE / "alog_runtime" / "models").exists()
    with pytest.raises(alog_runtime.ModelDirError, match="installed without models"):
        alog_runtime.Detector()
    default = run_runtime(library, "-")
    assert default.returncode == EXIT_MODELS and b"installed without models" in default.stderr
    code, line = same_failure(engine, library, ["--models", str(sample[1]), str(tmp_path / "absent.log")])
    assert code == EXIT_IO and "absent.log: No such file or directory (fix: " in line


@pytest.mark.parametrize("args, message", [
    (["--models", "m", "--bogus"], "unknown option: --bogus"),
    (["--models"], "option needs a value: --models"),
    (["--models", "m", "--session-key", "prefix:a b"], "--session-key"),
    (["--models", "m", "--session-key", "byhost"], "--session-key"),
    (["--models", "m", "--max-sessions", "0"], "--max-sessions"),
    (["--models", "m", "--max-sessions", "12x"], "--max-sessions"),
    (["--models", "m", "--header-tokens", "-1"], "--header-tokens"),
    (["--models", "m", "a.log", "b.log"], "one input only"),
    (["--models", "m", "--isa", "sse9"], "--isa must be auto, avx2 or baseline: sse9"),
    *[(["--models", "m", "--session-timeout", bad], "--session-timeout needs a whole number")
      for bad in ("0", "-3", "abc", "0s", "nans", "1e999s", "2.5", "0x10s", "1es", ".s", "99999999999999999999")],
    (["--models", "m", "--rule", "best"], "--rule must be topk or probability: best"),
])
def test_bad_command_line_fails_like_alog_engine(engine, library, args, message):
    code, line = same_failure(engine, library, args)
    assert code == EXIT_USAGE and message in line
    assert "usage: alog-runtime" in run_runtime(library, *args).stderr.decode()


def test_help_and_version(library):
    help_text = run_runtime(library, "--help")
    assert help_text.returncode == 0
    for option in ("--models", "--all", "--session-key", "--max-sessions", "--isa", "exit codes"):
        assert option in help_text.stdout.decode()
    version = run_runtime(library, "--version").stdout.decode().splitlines()
    assert version[0] == f"alog-runtime {alog_detect.__version__}"
    assert version[1] == f"library  {library}"


def test_missing_or_foreign_library_is_a_clean_error(library, sample, tmp_path, monkeypatch):
    text_file = tmp_path / "libalog.so"
    text_file.write_text("not a library\n")
    for path, fragment in ((tmp_path / "absent.so", "not found"), (text_file, "cannot be loaded")):
        monkeypatch.setenv(_capi.LIBRARY_ENV, str(path))
        with pytest.raises(alog_runtime.LibraryError, match=fragment) as caught:
            alog_runtime.Detector(sample[1])
        assert str(path) in str(caught.value) and "(fix: " in str(caught.value)
        proc = run_runtime(library, "--models", sample[1], env={**runtime_env(library),
                                                                  _capi.LIBRARY_ENV: str(path)})
        assert proc.returncode == EXIT_MODELS and proc.stdout == b""
        assert proc.stderr.decode() == f"alog-runtime: error: {caught.value}\n"


# ---- the Python API on misuse ----------------------------------------------------------------------

def test_detector_lifetime_and_bad_arguments(library, sample):
    log, models = sample
    detector = alog_runtime.Detector(models)
    assert detector.models == ("deeplog", "mscred") and detector.session_rule == SAMPLE_KEY
    with pytest.raises(alog_runtime.ArgumentTypeError):
        detector.feed(12)
    with pytest.raises(TypeError):
        detector.feed(None)
    with pytest.raises(alog_runtime.ArgumentError, match="line feed"):
        detector.feed(b"one\ntwo")
    assert detector.feed(b"") == [] and detector.feed(b"  \r\n") == []
    fed = detector.lines_fed
    for index in (10 ** 6, -2, 2 ** 40):
        with pytest.raises(alog_runtime.ArgumentError, match="template_index"):
            detector.feed_event("ses_1", index)
    with pytest.raises(alog_runtime.ArgumentTypeError):
        detector.feed_event(3, 0)
    assert detector.lines_fed == fed and len(detector.feed_event(b"ses_1", -1)) == 1
    detector.close()
    detector.close()
    assert detector.closed
    for call in (lambda: detector.feed(b"x"), lambda: list(detector.feed_many([b"x"])),
                 lambda: detector.feed_event(None, 0), lambda: detector.models):
        with pytest.raises(alog_runtime.ClosedError):
            call()
    with alog_runtime.Detector(models) as inside:
        assert inside.feed(log.read_bytes().splitlines()[0])
    assert inside.closed
    for options in ({"max_sessions": 0}, {"max_sessions": 1 << 25}, {"isa": "sse9"},
                    {"session_key": "byhost"}, {"header_tokens": -1}, {"max_sessions": True}):
        with pytest.raises(alog_runtime.ArgumentError):
            alog_runtime.Detector(models, **options)


def test_an_exception_inside_a_callback_reaches_the_caller(library, sample, monkeypatch):
    """ctypes would print and drop an exception raised in a callback (Ctrl-C arriving there, say),
    and the verdict with it: the detector raises it once the C call has returned."""
    log, models = sample
    line = log.read_bytes().splitlines()[0]
    with alog_runtime.Detector(models) as detector:
        def boom(verdict):
            raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            patch.setattr(alog_runtime.detector, "_verdict_from_c", boom)
            with pytest.raises(KeyboardInterrupt):
                detector.feed(line)
        assert detector.feed(line)  # the next line is judged as usual


def resident_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def test_feeding_allocates_nothing_that_stays(library, sample):
    """40,000 lines after a warm-up leave the resident size where it was (less than 1 MiB more;
    a 32-byte bytearray kept per call made it 1.18 MiB); 1,000,000 lines were measured flat too
    (docs/runtime.md)."""
    log, models = sample
    lines = log.read_bytes().splitlines()
    with alog_runtime.Detector(models) as detector:
        for i in range(10_000):
            detector.feed(lines[i % len(lines)])
        before = resident_mib()
        verdicts = 0
        for i in range(40_000):
            verdicts += len(detector.feed(lines[i % len(lines)]))
        grown = resident_mib() - before
    assert verdicts >= 40_000 and grown < 1.0, f"{grown:.2f} MiB more after 40,000 lines"


def test_every_isa_gives_the_same_verdicts(library, sample):
    log, models = sample
    lines = log.read_bytes().splitlines()[:600]
    runs = {isa: api_verdicts(models, lines, isa=isa) for isa in ("auto", "avx2", "baseline")}
    assert runs["auto"] and runs["avx2"] == runs["auto"] == runs["baseline"]


# ---- the wheel ----------------------------------------------------------------------------------------

def record_problems(wheel: Path) -> list[str]:
    """What is wrong with a wheel's RECORD: every member but RECORD listed once with its size
    and urlsafe-base64 SHA-256, nothing else listed."""
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        rows = list(csv.reader(io.StringIO(archive.read(record_name).decode())))
        listed = {row[0]: row for row in rows}
        if len(listed) != len(rows):
            problems.append("a file listed twice")
        for name in names:
            if name == record_name:
                continue
            data = archive.read(name)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if listed.get(name) != [name, f"sha256={digest}", str(len(data))]:
                problems.append(f"{name}: {listed.get(name)}")
        problems += [f"{n}: listed, not in the wheel" for n in set(listed) - set(names)]
    return problems


@pytest.fixture(scope="module")
def wheel(library, sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    return build_runtime_wheel(RuntimeWheelConfig(library=library, models=sample[1],
                                                  platform_tag=host_platform_tag(), out_dir=out))


def test_wheel_name_contents_and_record(wheel, library, sample):
    assert wheel.name == wheel_filename(host_platform_tag()) == \
        f"alog_runtime-{alog_detect.__version__}-py3-none-{host_platform_tag()}.whl"
    assert record_problems(wheel) == []
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("alog_runtime/libalog.so") == library.read_bytes()
        for name in ("vocab.json", "frontend.json", "deeplog.onnx", "mscred.onnx.meta.json"):
            assert archive.read(f"alog_runtime/models/{name}") == (sample[1] / name).read_bytes()
        wheel_info = archive.read(f"alog_runtime-{alog_detect.__version__}.dist-info/WHEEL").decode()
        assert f"Tag: py3-none-{host_platform_tag()}" in wheel_info.splitlines()
        metadata = archive.read(f"alog_runtime-{alog_detect.__version__}.dist-info/METADATA").decode()
        assert "Requires-Dist" not in metadata and "pip install alog_runtime" in metadata
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_a_broken_record_is_noticed(wheel, tmp_path):
    """record_problems() can fail: one byte added to a member, RECORD left as it was."""
    spoiled = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(spoiled, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data + b"#" if info.filename == "alog_runtime/cli.py" else data)
    problems = record_problems(spoiled)
    assert len(problems) == 1 and problems[0].startswith("alog_runtime/cli.py: ")


def test_wheel_builds_are_byte_identical(wheel, library, sample, tmp_path):
    again = build_runtime_wheel(RuntimeWheelConfig(library=library, models=sample[1],
                                                   platform_tag=host_platform_tag(), out_dir=tmp_path))
    assert again.read_bytes() == wheel.read_bytes()
    later = build_runtime_wheel(RuntimeWheelConfig(library=library, models=sample[1],
                                                   platform_tag=host_platform_tag(),
                                                   out_dir=tmp_path / "later", source_date_epoch=1700000000))
    assert later.read_bytes() != wheel.read_bytes()  # the epoch is what fixes the timestamps


def test_auditwheel_agrees_with_the_tag(wheel, library, sample, tmp_path):
    """auditwheel show measures the host library's glibc needs; the linux_<arch> tag claims none,
    so it is consistent; the same wheel tagged with an older manylinux than measured is refused."""
    measured = check_with_auditwheel(wheel)
    arch = host_platform_tag().split("_", 1)[1]
    assert measured.endswith(f"_{arch}") and tag_is_consistent(wheel.name.split("-")[-1][:-4], measured)
    if measured.startswith("manylinux_"):
        older = build_runtime_wheel(RuntimeWheelConfig(library=library, models=sample[1],
                                                       platform_tag=f"manylinux_2_5_{arch}", out_dir=tmp_path))
        with pytest.raises(UserError, match=f"tagged manylinux_2_5_{arch}, but auditwheel measures"):
            check_with_auditwheel(older)
        assert check_with_auditwheel(older.rename(older.with_name(wheel_filename(measured)))) == measured


def test_tag_consistency_rule():
    assert tag_is_consistent("linux_x86_64", "manylinux_2_17_x86_64")
    assert tag_is_consistent("manylinux_2_28_aarch64", "manylinux_2_17_aarch64")
    assert tag_is_consistent("manylinux_2_17_aarch64", "manylinux_2_17_aarch64")
    assert not tag_is_consistent("manylinux_2_5_x86_64", "manylinux_2_17_x86_64")
    assert not tag_is_consistent("linux_aarch64", "manylinux_2_17_x86_64")
    assert not tag_is_consistent("manylinux_2_17_x86_64", "linux_x86_64")
    assert not tag_is_consistent("musllinux_1_2_x86_64", "manylinux_2_17_x86_64")


def elf_header(elf_class: int, machine: int, elf_type: int = 3) -> bytes:
    """The first 64 bytes of a little-endian ELF file with no program headers."""
    header = bytearray(64)
    header[:4], header[4], header[5], header[6] = b"\x7fELF", elf_class, 1, 1
    header[16:18], header[18:20] = elf_type.to_bytes(2, "little"), machine.to_bytes(2, "little")
    return bytes(header)


@pytest.mark.parametrize("case", ["aarch64_library", "armv7_library", "program", "text", "bad_tag",
                                  "no_vocab", "onnx_without_meta"])
def test_bad_wheel_inputs_are_refused_and_nothing_is_written(library, sample, engine, tmp_path, case):
    models = Path(shutil.copytree(sample[1], tmp_path / "models"))
    so, tag = tmp_path / "libalog.so", host_platform_tag()
    so.write_bytes(library.read_bytes())
    if case == "aarch64_library":
        so.write_bytes(elf_header(2, 183))
    elif case == "armv7_library":
        so.write_bytes(elf_header(1, 40))
    elif case == "program":
        so.write_bytes(engine.read_bytes())
    elif case == "text":
        so.write_text("hello\n")
    elif case == "bad_tag":
        tag = "win_amd64"
    elif case == "no_vocab":
        (models / "vocab.json").unlink()
    elif case == "onnx_without_meta":
        (models / "deeplog.onnx.meta.json").unlink()
    out = tmp_path / "dist"
    with pytest.raises(UserError) as caught:
        build_runtime_wheel(RuntimeWheelConfig(library=so, models=models, platform_tag=tag, out_dir=out))
    message = caught.value.one_line()
    assert "(fix: " in message and (str(so) in message or str(models) in message or "win_amd64" in message)
    assert not out.exists() or list(out.iterdir()) == []


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A fresh venv with the wheel installed from the file alone (no index)."""
    where = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, capture_output=True)
    python = where / "bin" / "python"
    proc = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--disable-pip-version-check",
                           "--quiet", str(wheel)], capture_output=True, text=True, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    return where


def clean_env() -> dict[str, str]:
    """Nothing of this checkout: no PYTHONPATH, no library override."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LC_ALL": "C.UTF-8"}


VENV_API_SCRIPT = """
import sys
from alog_runtime import Detector
with Detector() as detector:
    fed = [v for line in open(sys.argv[1], "rb") for v in detector.feed(line)] + detector.finish()
with Detector() as detector:
    many = list(detector.feed_many(open(sys.argv[1], "rb"))) + detector.finish()
assert fed == many, "feed and feed_many differ"
sys.stdout.buffer.write(b"".join(v.to_json() + b"\\n" for v in many))
"""


def test_installed_wheel_alone_gives_alog_engines_bytes(venv, engine, sample, tmp_path):
    log, models = sample
    python = venv / "bin" / "python"
    theirs = run_engine(engine, models, log)
    for module in ("torch", "alog_detect", "numpy"):
        proc = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, env=clean_env())
        assert proc.returncode != 0 and b"ModuleNotFoundError" in proc.stderr, module
    cli = subprocess.run([str(python), "-m", "alog_runtime", "--all", str(log)], capture_output=True,
                         env=clean_env(), cwd=tmp_path, timeout=300)
    assert_same_bytes(cli, theirs)
    script = tmp_path / "api.py"
    script.write_text(VENV_API_SCRIPT)
    api = subprocess.run([str(python), str(script), str(log)], capture_output=True, env=clean_env(),
                         cwd=tmp_path, timeout=300)
    assert_same_bytes(api, theirs)
    anomalies = subprocess.run([str(venv / "bin" / "alog-runtime"), str(log)], capture_output=True,
                               env=clean_env(), cwd=tmp_path, timeout=300)
    assert_same_bytes(anomalies, run_engine(engine, models, log, all_verdicts=False))
    where = subprocess.run([str(python), "-c", "import alog_runtime; print(alog_runtime.__file__)"],
                           capture_output=True, text=True, env=clean_env(), cwd=tmp_path, check=True)
    assert Path(where.stdout.strip()).is_relative_to(venv)


# ---- cibuildwheel: the same wheels on CI runners with containers ---------------------------------

def _zig_target_machines() -> list[str]:
    """The `uname -m` of each Linux cross target (toolchains/<t>.py's TARGET), whose wheels SCons builds."""
    sys.path.insert(0, str(REPO / "site_scons"))
    try:
        import importlib.util

        machines = []
        for path in sorted((REPO / "toolchains").glob("*.py")):
            spec = importlib.util.spec_from_file_location(f"toolchain_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            if hasattr(module, "TARGET"):
                machines.append(module.TARGET.machine)
    finally:
        sys.path.remove(str(REPO / "site_scons"))
    return machines


def test_cibuildwheel_configuration_builds_one_wheel_per_linux_target():
    proc = subprocess.run([sys.executable, "-m", "cibuildwheel", "--print-build-identifiers", "--platform", "linux",
                           str(RUNTIME_SOURCE)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    identifiers = proc.stdout.split()
    # One CPython per platform: the wheel is py3-none-<platform>.
    assert all(i.startswith("cp311-manylinux_") for i in identifiers)
    assert sorted(i.removeprefix("cp311-manylinux_") for i in identifiers) == sorted(_zig_target_machines())


def test_wheels_workflow_is_valid_yaml_and_runs_that_configuration():
    import yaml

    workflow = yaml.safe_load((REPO / ".github/workflows/wheels.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    models, wheels = workflow["jobs"]["models"], workflow["jobs"]["wheels"]
    assert wheels["needs"] == "models"
    assert sorted(wheels["strategy"]["matrix"]["arch"]) == sorted(_zig_target_machines())
    commands = [step.get("run", "") for step in wheels["steps"]]
    assert any("cibuildwheel --platform linux --archs ${{ matrix.arch }}" in c and c.endswith(" packaging/runtime")
               for c in commands)
    assert any("SCons -Q models" in step.get("run", "") for step in models["steps"])
    uploads = [s for s in models["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    downloads = [s for s in wheels["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
    assert uploads[0]["with"]["path"] == downloads[0]["with"]["path"] == "build/common/models/"


def test_cibuildwheel_before_build_refuses_a_checkout_without_models(tmp_path):
    """Inside the container the model directory must already be there; without it: one line, exit 2."""
    script = RUNTIME_SOURCE / "cibw_before_build.sh"
    proc = subprocess.run(["bash", script, tmp_path], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("cibw_before_build: build/common/models/vocab.json: no model directory "
                                   "(fix: run scons models first, or download the workflow's models artifact there)")
