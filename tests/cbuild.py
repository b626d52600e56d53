"""The C engine's test programs, built with the system compiler, and a driver for onnx_runner.

scons builds the library and alog-engine, but not these tools (cengine/tests/drivers/, fuzz/),
so the tests compile them here from the same sources with the same strict flags; builds are cached
per content under the pytest session's temporary directory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "cengine"
# The inference core: everything but the front end (match/, detect/, cli/).
CORE_SOURCES = sorted([*ENGINE.glob("src/*.c"), *ENGINE.glob("src/ops/*.c"), *ENGINE.glob("src/math/*.c")])
RUNNER_SOURCE = ENGINE / "tests" / "drivers" / "onnx_runner.c"
FUZZ_DIR = ENGINE / "fuzz"
STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                # the engine's math must give the same bits on every target: no fused multiply-add
                "-ffp-contract=off"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]
EXIT_LOAD_ERROR = 1  # onnx_runner: the model failed to load


def compiler(name: str = "cc") -> str | None:
    return shutil.which(name)


def build(out_dir: Path, name: str, sources: list[Path], *, sanitize: bool = False, cc: str = "cc",
          extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile one program; reuses an earlier build of the same sources and flags."""
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


def build_runner(out_dir: Path, sanitize: bool = False) -> Path:
    return build(out_dir, "onnx_runner" + ("_san" if sanitize else ""), [*CORE_SOURCES, RUNNER_SOURCE],
                 sanitize=sanitize)


# ---- driving onnx_runner ----------------------------------------------------------------------

ONNX_TO_NUMPY = {1: np.float32, 7: np.int64}


@dataclass(frozen=True)
class EngineRun:
    returncode: int
    stderr: str
    outputs: list[np.ndarray]
    arena_size: int
    seconds_per_run: float


def run_model(runner: Path, model: Path, inputs: list[np.ndarray], work: Path, *, batch: int = 1,
              repeat: int = 1) -> EngineRun:
    """Runs `model` on `inputs` (graph order) in the engine; outputs are empty when it failed."""
    work.mkdir(parents=True, exist_ok=True)
    args = [str(runner), str(model), "--batch", str(batch), "--repeat", str(repeat), "-o", str(work)]
    for i, array in enumerate(inputs):
        path = work / f"in{i}.bin"
        np.ascontiguousarray(array).tofile(path)
        args += ["-i", str(path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return EngineRun(proc.returncode, proc.stderr, [], 0, 0.0)
    meta = json.loads(proc.stdout)
    outputs = [np.fromfile(work / f"{k}.bin", dtype=ONNX_TO_NUMPY[o["dtype"]]).reshape(o["shape"])
               for k, o in enumerate(meta["outputs"])]
    return EngineRun(0, proc.stderr, outputs, meta["arena_size"], meta["seconds_per_run"])
