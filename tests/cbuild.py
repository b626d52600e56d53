"""The C engine's programs for the tests, built by SCons, and a driver for onnx_runner.

SCons builds everything C that needs no trained model (`scons -Q lib tools tests [san=1]`, docs/build.md)
into this checkout's build/host/ (build/host-san/ with ASan + UBSan); SCons itself decides what is
up to date, so a test session pays for a build only after a C file changed. The API:

    build_tool(name, san=False) -> Path     build/host[-san]/tools/<name>:
        "alog-engine"            the generic engine (reads any model directory; no model hashes)
        "onnx_runner"            runs one .onnx (run_model() drives it)
        "onnx_runner_reference"  the same over the reference kernels (-DALOG_REFERENCE_KERNELS)
        "match_driver"           the line front end over a file (tests/test_match_parity.py)
        "mutate_model"           every prefix and random bit flips of a model (robustness)
    build_test(name, san=False) -> Path     build/host[-san]/tests/<name> (cengine/tests/<name>.c)
    build_fuzzer(name) -> Path              build/host/fuzz/<name> (cengine/fuzz/<name>.c, libFuzzer;
                                            needs clang: skip when compiler("clang") is None)
    build_library(san=False) -> Path        build/host[-san]/lib/libalog.a
    build_shared_library() -> Path          build/host/lib/libalog.so (what the alog_runtime wheel ships)

Calls from several pytest processes at once are serialised by a lock file beside build/.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

# run_model/EngineRun speak onnx_runner's file format; its one implementation is the package's
# (convert-onnx --validate drives the runner through it too). Re-exported for the tests.
from alog_detect.export.engine_runner import EXIT_LOAD_ERROR, ONNX_TO_NUMPY, EngineRun, run_model  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "cengine"
BUILD = REPO / "build"
LOCK = BUILD / ".cbuild.lock"  # shared with alog_detect/bench/scons.py


def _scons_flags():
    """site_scons/site_tools/alog_flags.py, the one place the engine's flags are written down."""
    spec = importlib.util.spec_from_file_location("alog_flags", REPO / "site_scons" / "site_tools" / "alog_flags.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_FLAGS = _scons_flags()
STRICT_FLAGS = list(_FLAGS.LANGUAGE_FLAGS)
SANITIZE_FLAGS = list(_FLAGS.SANITIZER_FLAGS)


def compiler(name: str = "cc") -> str | None:
    return shutil.which(name)


# ---- through SCons --------------------------------------------------------------------------------

def build_dir(san: bool = False) -> Path:
    return BUILD / ("host-san" if san else "host")


@functools.cache
def _scons(*words: str) -> None:
    """`scons -Q WORDS` in the checkout, once per test process (SCons caches across processes)."""
    BUILD.mkdir(exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", *words], cwd=REPO, capture_output=True,
                              text=True)
    assert proc.returncode == 0, f"scons -Q {' '.join(words)} exited {proc.returncode}:\n" \
                                 f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"


def scons_targets(*words: str) -> None:
    """`scons -Q WORDS` in the checkout (once per test process), e.g. another target's tools:
    scons_targets("target=arm64", "build/arm64/tools/alog-engine")."""
    _scons(*words)


def _built(folder: str, name: str, san: bool, *words: str) -> Path:
    _scons("lib", "tools", "tests", *words, *(["san=1"] if san else []))
    path = build_dir(san) / folder / name
    if not path.exists():
        there = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
        raise AssertionError(f"scons built no {folder}/{name} (built: {', '.join(there) or 'nothing'})")
    return path


def build_tool(name: str, san: bool = False) -> Path:
    return _built("tools", name, san)


def build_test(name: str, san: bool = False) -> Path:
    return _built("tests", name, san)


def build_library(san: bool = False) -> Path:
    return _built("lib", "libalog.a", san)


def build_shared_library() -> Path:
    return _built("lib", "libalog.so", False)


def build_fuzzer(name: str) -> Path:
    return _built("fuzz", name, False, "fuzz", "fuzz=1")


def build_runner(out_dir: Path | None = None, sanitize: bool = False) -> Path:
    """onnx_runner (out_dir: unused, kept for older callers; SCons decides where it goes)."""
    return build_tool("onnx_runner", san=sanitize)


# ---- one-off builds SCons does not make ---------------------------------------------------------

# The inference core: everything but the front end (match/, detect/, cli/).
CORE_SOURCES = sorted([*ENGINE.glob("src/*.c"), *ENGINE.glob("src/ops/*.c"), *ENGINE.glob("src/math/*.c")])
RUNNER_SOURCE = ENGINE / "tests" / "drivers" / "onnx_runner.c"
FUZZ_DIR = ENGINE / "fuzz"


def build(out_dir: Path, name: str, sources: list[Path], *, sanitize: bool = False, cc: str = "cc",
          extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile one program with the engine's flags and `extra_flags` (for example the benchmark's
    static -Os size probe); reuses an earlier build of the same sources and flags."""
    flags = [*STRICT_FLAGS, *(SANITIZE_FLAGS if sanitize else ["-O2"]), *extra_flags,
             f"-I{ENGINE / 'include'}", f"-I{ENGINE / 'src'}"]
    key = hashlib.sha256(" ".join([cc, *flags]).encode())
    for src in sources:
        key.update(src.read_bytes())
    out = out_dir / f"{name}-{key.hexdigest()[:16]}"
    if not out.exists():
        cmd = [cc, *flags, *map(str, sources), "-o", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return out

