"""Temporary copies of the build files, for tests that run `scons` without touching the
checkout's build/ (tests/test_scons.py, tests/test_cross.py), and the tiny configuration they
build with."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD_FILES = ("SConstruct", "site_scons", "toolchains", "templates", "python",
               "cengine/SConscript", "cengine/include", "cengine/examples", "packaging", "constraints.txt")
# The real engine's sources beyond BUILD_FILES.
ENGINE_SOURCES = ("cengine/src", "cengine/tests", "cengine/fuzz")
# A configuration that trains in seconds: the tests compare builds, not models.
TINY_OPTIONS = ("logs=small.log", "epochs=1", "mscred_epochs=1", "hidden=8", "layers=1", "window=4",
                "top_k=2", "mscred_windows=2,4", "mscred_channels=4,4,4,4", "session_key=prefix:ses_",
                "header_tokens=4")
SMALL_LOG_LINES = 3000
# Every file of a Linux bundle (docs/build.md, "Targets"), by path inside its top directory.
BUNDLE_FILES = ["README", "SHA256SUMS", "bin/alog-engine", "include/alog.h", "include/alog_config.h", "include/alog_model_meta.h",
                "include/alog_vocab.h", "lib/cmake/alog/alogConfig.cmake", "lib/cmake/alog/alogConfigVersion.cmake",
                "lib/libalog.a", "lib/libalog.so", "lib/pkgconfig/alog.pc", "manifest.json",
                "share/alog/examples/linux/CMakeLists.txt", "share/alog/examples/linux/Makefile",
                "share/alog/examples/linux/detect_lines.c", "share/alog/models/deeplog.onnx",
                "share/alog/models/deeplog.onnx.meta.json", "share/alog/models/frontend.json",
                "share/alog/models/mscred.onnx", "share/alog/models/mscred.onnx.meta.json",
                "share/alog/models/vocab.json"]


def scons(tree: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", *args], cwd=tree, capture_output=True,
                          text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"scons {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-6000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc


def _copy(names, dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in names:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, symlinks=True, ignore=ignore)
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def copy_build_files(dest: Path, engine: dict[str, str] | None = None) -> Path:
    """The build files in `dest`, with `engine` ({path: text}, a stand-in engine) or, when None,
    the real engine's sources."""
    _copy(BUILD_FILES, dest)
    if engine is None:
        _copy(ENGINE_SOURCES, dest)
    else:
        for name, text in engine.items():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_text(text)
    return dest


def write_small_log(dest: Path, seed: int = 7) -> Path:
    """dest/small.log: the built-in sample's generator, SMALL_LOG_LINES lines (logs=small.log)."""
    from alog_detect.sample import SampleConfig, generate_sample

    sample = generate_sample(SampleConfig(out_dir=dest / "sample", lines=SMALL_LOG_LINES, seed=seed))
    shutil.copy(sample.log, dest / "small.log")
    shutil.rmtree(dest / "sample")
    return dest / "small.log"
