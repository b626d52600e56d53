"""Shared by tests/test_engine_cli.py and tests/test_verdict_parity.py: `alog-engine` built with
the system compiler (plain and ASan + UBSan), small models trained through the `alog-detect` CLI,
and runners for both detectors. The session fixtures are imported by both modules, so each is
built once per run."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cbuild
from alog_detect.sample import HEADER_TOKENS, SESSION_PREFIX

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "cengine"
# The build's own flags (site_scons/site_tools/alog_flags.py), for the one engine a test compiles
# itself: bound to a model directory of the test's own.
STRICT_FLAGS = list(cbuild.STRICT_FLAGS)
SANITIZE_FLAGS = list(cbuild.SANITIZE_FLAGS)
# Sanitizer reports must fail the run, never pass quietly.
SANITIZER_ENV = {"ASAN_OPTIONS": "abort_on_error=0:exitcode=99:detect_leaks=1",
                 "UBSAN_OPTIONS": "halt_on_error=1:exitcode=98:print_stacktrace=1"}
SANITIZER_EXIT_CODES = (98, 99)

# Tiny training settings: the tests compare detectors, they do not need good models.
DEEPLOG_TRAIN = ("--epochs", "2", "--hidden", "16", "--layers", "1", "--embed-dim", "8")
MSCRED_BUILD = ("--window-sizes", "2,4", "--step", "2", "--steps", "2", "--bucket", "lines:20")
MSCRED_TRAIN = ("--epochs", "1", "--channels", "4,4,4,4")
SAMPLE_LINES = 3000
SAMPLE_KEY = f"prefix:{SESSION_PREFIX}"
SAMPLE_HEADER_TOKENS = HEADER_TOKENS  # `2026-03-14 06:00:00.173 edge-gw-07 storaged[455]:`
HDFS_KEY = "prefix:blk_"


def engine_sources() -> list[Path]:
    """The library, the matcher, the detector and the front end: what SCons links into alog-engine."""
    return sorted(ENGINE.glob("src/*.c")) + sorted(ENGINE.glob("src/*/*.c"))


def build_engine(out: Path, sanitize: bool = False, defines: tuple[str, ...] = (),
                 include_dirs: tuple[Path, ...] = ()) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "no C compiler (cc, gcc or clang) on PATH"
    flags = STRICT_FLAGS + (SANITIZE_FLAGS if sanitize else ["-O2"])
    cmd = [cc, *flags, *(f"-D{d}" for d in defines), f"-I{ENGINE / 'include'}", f"-I{ENGINE / 'src'}",
           *(f"-I{d}" for d in include_dirs), *map(str, engine_sources()), "-o", str(out), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return out


def _cli(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "alog_detect", *map(str, args)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, f"alog-detect {' '.join(map(str, args))}:\n{proc.stderr}"


def build_models(work: Path, log: Path, session_key: str, header_tokens: int = 0,
                 parse_args: tuple[str, ...] = (), mscred_build: tuple[str, ...] = MSCRED_BUILD,
                 deeplog_train: tuple[str, ...] = ()) -> Path:
    """parse -> build-deeplog -> deeplog-train -> build-mscred -> mscred-train -> convert-onnx.
    The parse settings travel into the model directory (frontend.json)."""
    parsed, dl, ms = work / "parsed.parquet", work / "deeplog_data", work / "mscred_data"
    _cli("parse", "--logs", log, "--out", parsed, "--session-key", session_key,
         "--header-tokens", str(header_tokens), *parse_args)
    _cli("build-deeplog", "--parsed", parsed, "--out-dir", dl)
    _cli("deeplog-train", "--seq", dl / "sequences.parquet", "--vocab", dl / "vocab.json",
         "--out", work / "deeplog.pth", "--no-progress", *DEEPLOG_TRAIN, *deeplog_train)
    _cli("build-mscred", "--parsed", parsed, "--out-dir", ms, "--vocab", dl / "vocab.json", *mscred_build)
    _cli("mscred-train", "--data", ms, "--out", work / "mscred.pth", "--no-progress", *MSCRED_TRAIN)
    _cli("convert-onnx", "--deeplog-model", work / "deeplog.pth", "--mscred-model", work / "mscred.pth",
         "--vocab", dl / "vocab.json", "--output-dir", work / "models")
    return work / "models"


def run_engine(binary: Path, models: Path, log: str | Path = "-", *, all_verdicts: bool = True,
               session_key: str | None = None, extra: tuple[str, ...] = (), input: bytes = b"",
               timeout: float = 120) -> subprocess.CompletedProcess:
    """`alog-engine`; a sanitizer report fails the test whatever the exit code was meant to be.
    Without session_key, the model directory's frontend.json decides."""
    key = ["--session-key", session_key] if session_key is not None else []
    cmd = [str(binary), "--models", str(models), *key, *extra, str(log)]
    proc = subprocess.run(cmd + (["--all"] if all_verdicts else []), input=input, capture_output=True,
                          timeout=timeout, env={**os.environ, **SANITIZER_ENV})
    assert proc.returncode not in SANITIZER_EXIT_CODES, proc.stderr.decode(errors="replace")
    return proc


def run_reference(models: Path, log: str | Path = "-", *, all_verdicts: bool = True,
                  session_key: str | None = None, input: bytes = b"",
                  timeout: float = 600) -> subprocess.CompletedProcess:
    """`alog-detect detect` with the same arguments."""
    key = ["--session-key", session_key] if session_key is not None else []
    cmd = [sys.executable, "-m", "alog_detect", "detect", "--models", str(models), "--logs", str(log),
           *key]
    return subprocess.run(cmd + (["--all"] if all_verdicts else []), input=input, capture_output=True,
                          timeout=timeout)


# ---- comparing runs ----------------------------------------------------------------------------

def assert_same_stream(ours: subprocess.CompletedProcess, theirs: subprocess.CompletedProcess,
                       names: tuple[str, str] = ("engine", "reference")) -> None:
    """Two runs that succeeded and printed the same verdicts, byte for byte; the first verdict
    that differs is named."""
    assert theirs.returncode == 0, theirs.stderr.decode(errors="replace")
    assert ours.returncode == 0, ours.stderr.decode(errors="replace")
    mine, others = ours.stdout.splitlines(), theirs.stdout.splitlines()
    width = max(map(len, names))
    for i, (a, b) in enumerate(zip(mine, others)):
        assert a == b, f"verdict {i + 1} differs:\n  {names[0]:<{width}} {a!r}\n  {names[1]:<{width}} {b!r}"
    assert len(mine) == len(others)
    assert ours.stdout == theirs.stdout


def assert_answers_line_by_line(command: list[str], env: dict | None = None, lines: list[bytes] | None = None,
                                expect: str = "unseen") -> None:
    """Behind `tail -F` the input never ends: each verdict must come out while stdin stays open.
    lines: the input (default: three lines no template matches), each giving one verdict, for line
    n; expect: each verdict's reason ("unseen"), or "deeplog" for a DeepLog verdict of any reason."""
    lines = lines or [b"zzz completely unheard of line %d\n" % n for n in range(1, 4)]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    try:
        for n, line in enumerate(lines, 1):
            proc.stdin.write(line)
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            assert ready, "no verdict within 30 s while the input stays open"
            verdict = json.loads(proc.stdout.readline())
            assert verdict["line"] == n
            assert (verdict["model"] if expect == "deeplog" else verdict["reason"]) == expect
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()


# ---- session fixtures ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def engine():
    """The generic alog-engine (reads any model directory), built by `scons tools`."""
    return cbuild.build_tool("alog-engine")


@pytest.fixture(scope="session")
def engine_san():
    """The same built with ASan + UBSan (`scons tools san=1`)."""
    return cbuild.build_tool("alog-engine", san=True)


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """(sample.log, model directory): the built-in sample and models trained on it."""
    from alog_detect.sample import SampleConfig, generate_sample

    work = tmp_path_factory.mktemp("sample_models")
    log = generate_sample(SampleConfig(out_dir=work / "sample", lines=SAMPLE_LINES)).log
    return log, build_models(work, log, SAMPLE_KEY, header_tokens=SAMPLE_HEADER_TOKENS)


@pytest.fixture(scope="session")
def hdfs(tmp_path_factory, shared_data):
    """(HDFS_20k.log, model directory): the first 20,000 lines of raw HDFS and models trained on
    them, sessions keyed by block id."""
    log = shared_data / "HDFS" / "HDFS_20k.log"
    return log, build_models(tmp_path_factory.mktemp("hdfs_models"), log, HDFS_KEY)
