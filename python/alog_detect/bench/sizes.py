"""Sizes per target: the stripped `alog-engine`, `libalog.a` and `libalog.so` of every Linux
target, and the memory the engine allocates for each model, measured by that target's own engine
(under its qemu) on the default pipeline's model directory. Writes the ``sizes`` section of
docs/results.md.

Everything is built through SCons in this checkout (`scons target=<t> tools lib`, the default
`scons models`): the figures are those of the files a bundle ships. The program measured is the
generic `tools/alog-engine`: the bundle's `bin/alog-engine` is the same code with the models'
hashes compiled in (a few hundred bytes), and neither holds the model (it is read from
share/alog/models). The host's programs are not stripped by the build: a stripped copy is measured.

    python -m alog_detect.bench.sizes [--targets host,x86_64,arm64,armv7,riscv64] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .results_md import update_section
from .scons import BUILD, REPO, scons

DEFAULT_RESULTS = REPO / "docs" / "results.md"
SECTION = "sizes"
COMMAND = "python -m alog_detect.bench.sizes"
TARGETS = ("host", "x86_64", "arm64", "armv7", "riscv64")
RUNNERS = {"host": [], "x86_64": ["qemu-x86_64"], "arm64": ["qemu-aarch64"], "armv7": ["qemu-arm"],
           "riscv64": ["qemu-riscv64"]}
MODELS = BUILD / "common" / "models"
# The goal for a static arm64 alog-engine without the model (ONNX Runtime's minimal build is over
# 1.3 MB; TensorFlow Lite Micro's examples are 57 to 160 KB of code).
GOAL_TARGET, GOAL_BYTES = "arm64", 200 * 1024
MSCRED_ARENA_GOAL = 4_000_000  # issue 14: the default MSCRED's arena, bytes
TOP_OBJECTS = 8


@dataclass(frozen=True)
class TargetSizes:
    target: str
    engine: int          # stripped alog-engine, bytes
    static: int          # libalog.a
    shared: int          # libalog.so (stripped)
    memory: dict         # alog-engine --memory on the default models


def _stripped_size(path: Path, target: str) -> int:
    """The size of `path` without symbols: a cross target's build strips its own (-s); the host's
    is measured on a stripped copy (the host's `strip` reads only the host's architecture)."""
    if target != "host":
        return path.stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        subprocess.run(["strip", "-o", str(copy), str(path)], check=True, capture_output=True)
        return copy.stat().st_size


def measure(target: str) -> TargetSizes:
    scons((f"target={target}", "tools", "lib"), f"build the target by hand: scons target={target} tools lib")
    out = BUILD / target
    engine, static, shared = out / "tools" / "alog-engine", out / "lib" / "libalog.a", out / "lib" / "libalog.so"
    runner = RUNNERS[target]
    if runner and shutil.which(runner[0]) is None:
        raise UserError(f"{runner[0]} not found", None, "install the Debian package qemu-user (./setup.sh)")
    proc = subprocess.run([*runner, str(engine), "--models", str(MODELS), "--memory"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise UserError(f"alog-engine --memory failed for target={target}: {proc.stderr.strip()}", engine,
                        "rebuild with scons, or rerun scons models")
    return TargetSizes(target, _stripped_size(engine, target), static.stat().st_size, _stripped_size(shared, target),
                       json.loads(proc.stdout))


def sections(program: Path) -> list[tuple[str, int]]:
    """The sections of `program` that take room in the file (`size -A`: not .bss, .tbss)."""
    proc = subprocess.run(["size", "-A", str(program)], capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0].startswith(".") and fields[1].isdigit() and int(fields[1]) > 0 \
                and fields[0] not in (".bss", ".tbss", ".comment"):
            rows.append((fields[0], int(fields[1])))
    return sorted(rows, key=lambda r: (-r[1], r[0]))


def largest_objects(target: str, count: int = TOP_OBJECTS) -> list[tuple[str, int]]:
    """libalog.a's members by code and constant data (`size`), largest first."""
    proc = subprocess.run(["size", str(BUILD / target / "lib" / "libalog.a")], capture_output=True, text=True,
                          check=True)
    rows = []
    for line in proc.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 6 and fields[0].isdigit():
            rows.append((re.sub(r" \(ex .*\)$", "", " ".join(fields[5:])), int(fields[0]) + int(fields[1])))
    return sorted(rows, key=lambda r: (-r[1], r[0]))[:count]


def _kib(n: int) -> str:
    return f"{n:,} ({n / 1024:.1f} KiB)"


def mscred_arena_goal(rows: list[TargetSizes]) -> list[str]:
    """The default MSCRED's arena against its goal, with what sets it (the matrix side n)."""
    meta_path = MODELS / "mscred.onnx.meta.json"
    if not rows or not meta_path.is_file():
        return []
    meta = json.loads(meta_path.read_text())["mscred"]
    worst = max(rows, key=lambda r: r.memory["mscred_arena"])
    arena = worst.memory["mscred_arena"]
    weights = (MODELS / "mscred.onnx").stat().st_size
    verdict = "met" if arena <= MSCRED_ARENA_GOAL else "not met"
    return ["", f"MSCRED arena, goal <= {MSCRED_ARENA_GOAL / 1e6:.0f} MB for the default MSCRED (issue 14): "
            f"{arena:,} bytes at most ({worst.target}), {verdict}, for channels "
            f"{','.join(map(str, meta['channels']))} at n = {meta['n']} (the sample's "
            f"{meta['num_templates']} templates, padded to a multiple of 8). What sets it: a copy of the "
            f"weights packed into panels (the file is {weights:,} bytes), and the tensors alive together "
            "at the first ConvLSTM's convolutions (n x n each, elementwise results written in place, "
            "`docs/engine.md` Memory), which grow with n squared (the int8 section gives the same channels' arena at n = 32)."]


def render(rows: list[TargetSizes], parts: list[tuple[str, int]], objects: list[tuple[str, int]]) -> str:
    lines = [
        "## Sizes per target",
        "",
        f"Command: `{COMMAND}` (builds every target with SCons, then runs each target's own `alog-engine "
        "--memory` under its qemu on the default pipeline's models, `build/common/models`).",
        "",
        "Bytes. `alog-engine` and `libalog.so` stripped (the cross targets' build strips them; the host's "
        "are measured on a stripped copy), without the model, which the bundle ships beside them in "
        "`share/alog/models`. Arenas: what `alog_model_arena_size` asks for at batch 1 on that target "
        "(pointer sizes differ); detector: the sessions, windows and top-k cache at alog-engine's defaults "
        "(65,536 sessions, 16,384 cached windows).",
        "",
        "| target | alog-engine | libalog.a | libalog.so | DeepLog arena | MSCRED arena | detector |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r.target} | {r.engine:,} | {r.static:,} | {r.shared:,} | "
                     f"{r.memory['deeplog_arena']:,} | {r.memory['mscred_arena']:,} | {r.memory['detector']:,} |")
    lines += mscred_arena_goal(rows)
    goal = next((r for r in rows if r.target == GOAL_TARGET), None)
    if goal is not None:
        met = goal.engine <= GOAL_BYTES
        lines += ["", f"Goal: static {GOAL_TARGET} `alog-engine` at most {GOAL_BYTES // 1024} KiB without the model: "
                  f"{_kib(goal.engine)}, {'met' if met else 'not met'}. Its sections (`size -A`; musl's "
                  "code included, the program is static):", "", "| section | bytes |", "| --- | ---: |"]
        lines += [f"| {name} | {size:,} |" for name, size in parts]
        if not met:
            lines += ["", f"What takes the space in {GOAL_TARGET}'s `libalog.a` (code + constants by object, "
                      "`size`), largest first:", "", "| object | bytes |", "| --- | ---: |"]
            lines += [f"| {name} | {size:,} |" for name, size in objects]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    p.add_argument("--targets", default=",".join(TARGETS),
                   help=f"comma-separated, from {', '.join(TARGETS)} (default: all)")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown or not targets:
        p.error(f"--targets: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(TARGETS)}")
    try:
        scons(("models",), "build the models by hand: scons models")
        rows = [measure(t) for t in targets]
        parts = sections(BUILD / GOAL_TARGET / "tools" / "alog-engine") if GOAL_TARGET in targets else []
        objects = largest_objects(GOAL_TARGET) if GOAL_TARGET in targets else []
    except UserError as exc:
        print(f"{COMMAND}: error: {exc.one_line()}", file=sys.stderr)
        return 2
    table = render(rows, parts, objects)
    print(table)
    if not args.no_write:
        update_section(args.results, SECTION, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
