"""The firmware's flash, RAM and stack on the Cortex-M4F, and which models fit: each row is
`scons target=cortex-m4 bundle check` in a copy of this checkout's build files, the figures read
back from the firmware tarball's manifest.json and the check's output. Writes the ``firmware``
section of docs/results.md.

Rows: the default DeepLog alone (the firmware's default, `firmware_models=deeplog`), then DeepLog
with MSCRED at four encoder sizes (`firmware_models=deeplog+mscred mscred_channels=...`, the
paper's last), on the built-in sample with the default DeepLog settings. MSCRED is trained for
one epoch (`mscred_epochs=1`): sizes do not depend on training. A row that does not fit is the
build's own one-line refusal.

    python -m alog_detect.bench.firmware [--work-dir DIR] [--results FILE] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import UserError
from .results_md import update_section

REPO = Path(__file__).resolve().parents[3]
DEFAULT_WORK = REPO / "build" / "bench" / "firmware"
DEFAULT_RESULTS = REPO / "docs" / "results.md"
SECTION = "firmware"
COMMAND = "python -m alog_detect.bench.firmware"
TARGET = "cortex-m4"
PACKAGE = f"alog-firmware-{__version__}-{TARGET}"
# Not copied into the work tree: outputs, and what git keeps.
SKIPPED = ("build", "dist", ".git", ".sconsign.dblite", ".scons_cache", "__pycache__", "*.egg-info")
MSCRED_CHANNELS = ("4,4,4,4", "8,16,32,64", "16,32,64,128", "32,64,128,256")
MSCRED_SMALL = MSCRED_CHANNELS[0]  # trained beside the DeepLog-only row, which does not hold it
# The steps whose failure means "does not fit": the models' bytes against the flash, the probe's
# measurement (an arena larger than the board), the linked image against the budgets.
REFUSALS = re.compile(rf"scons: \*\*\* \[build/{TARGET}/firmware/(models_fit\.json|memory/example_memory\.h|"
                      r"budget\.json)\] ")
# The goals for the default DeepLog (TensorFlow Lite Micro's smallest examples: ~57 KB).
TEXT_GOAL = 40 * 1024        # engine code without weights: .text
RAM_GOAL = 32 * 1024         # arena + worst-case stack


@dataclass(frozen=True)
class Row:
    label: str
    words: tuple[str, ...]       # the scons options
    manifest: dict | None        # None: the build refused
    refusal: str = ""            # the build's error line
    stack_used: int | None = None  # the deepest the stack went in the check's run
    check_seconds: float = 0.0   # wall time of the QEMU run
    verdicts: dict | None = None   # the check's verdicts by model


def copy_tree(work: Path) -> Path:
    """This checkout's build files in work/tree (refreshed; SCons' own records kept, so a rerun
    rebuilds only what changed)."""
    tree = work / "tree"
    for path in REPO.iterdir():
        if path.name in SKIPPED[:5]:
            continue
        target = tree / path.name
        if path.is_dir():
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(path, target, symlinks=True, ignore=shutil.ignore_patterns(*SKIPPED[5:]))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return tree


def run_row(tree: Path, label: str, words: tuple[str, ...]) -> Row:
    cmd = [sys.executable, "-m", "SCons", "-Q", f"target={TARGET}", *words, "bundle", "check"]
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines()
                  if line.startswith("scons: ***") and not re.search(r"\] Error \d+$", line)]
        if not errors or not REFUSALS.match(errors[0]):
            raise UserError(f"scons {' '.join(cmd[4:])} failed: "
                            f"{(errors or proc.stderr.splitlines() or ['no output'])[-1]}", tree,
                            "run the same scons command in the work tree to see why")
        return Row(label, words, None, refusal=errors[0].split("] ", 1)[1])
    with tarfile.open(tree / "dist" / f"{PACKAGE}.tar.gz") as tar:
        manifest = json.load(tar.extractfile(f"{PACKAGE}/manifest.json"))
    output = (tree / "build" / TARGET / "check" / "firmware.log").read_text(errors="replace")
    passed = re.search(r"^PASS firmware \(.*; ([\d.]+) s under QEMU\)$", proc.stdout, re.M)
    used = re.search(r"^firmware: stack used (\d+) of", output, re.M)
    if not passed or not used:
        raise UserError(f"scons {' '.join(cmd[4:])}: no PASS line or stack report from the check",
                        tree, "run the same scons command in the work tree to see why")
    verdicts = {model: len(re.findall(rf'^{{"model":"{model}"', output, re.M)) for model in ("deeplog", "mscred")}
    return Row(label, words, manifest, stack_used=int(used.group(1)), check_seconds=float(passed.group(1)),
               verdicts=verdicts)


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def render(rows: list[Row], seconds: float, compiler: str) -> str:
    out = ["## Firmware: flash, RAM and stack on the Cortex-M4F (QEMU's mps2-an386)", "",
           f"Command: `{COMMAND}` ({seconds:.0f} s in all). Each row is `scons target=cortex-m4 "
           "bundle check` with the options shown, in a copy of the build files, on the built-in "
           "sample (DeepLog: window 10, hidden 64, 2 layers, the defaults; MSCRED trained one "
           "epoch: sizes do not depend on training); every figure is read back from the firmware "
           "tarball's manifest.json: sections from `arm-none-eabi-size -A` of the example image, "
           "arenas and detector measured on the device (the probe image under QEMU), the "
           "worst-case stack summed over gcc's call graph (`-fstack-usage`, a fault on top). "
           f"Built by {compiler}, optimize=size. The example image holds 64 DeepLog sessions, a "
           "1 KiB line buffer, the first 200 lines of the log (in `.rodata`) and a 16 KiB stack; "
           "every fitting row passed the check: its verdicts, counted per model in the last "
           "column, are the host alog-engine's (in 200 lines MSCRED judges nothing: with the default "
           "`mscred_windows=10,30,60` its first input closes at line 2,000 of the sample; "
           "tests/test_firmware.py checks a small MSCRED's verdicts on 1,000 lines).", "",
           "| models (options) | .onnx bytes (flash) | arenas (RAM) | detector | .text | .rodata | "
           ".data + .bss | image flash | image RAM | worst-case stack (measured) | fits | checked "
           "verdicts (DeepLog + MSCRED) |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for row in rows:
        options = " ".join(f"`{w}`" for w in row.words)
        if row.manifest is None:
            out.append(f"| {row.label} ({options}) | | | | | | | | | | no: {row.refusal} | |")
            continue
        m = row.manifest
        sections, memory = m["image"]["sections"], m["memory"]
        onnx = " + ".join(_n(m["models"][k]["size"]) for k in ("deeplog", "mscred") if k in m["models"])
        arenas = " + ".join(_n(memory[k]) for k in ("deeplog_arena", "mscred_arena") if k in memory)
        out.append(
            f"| {row.label} ({options}) | {onnx} | {arenas} | {_n(memory['detector'])} | "
            f"{_n(sections['.text'])} | {_n(sections['.rodata'])} | "
            f"{_n(sections.get('.data', 0) + sections['.bss'])} | {_n(m['image']['flash_bytes'])} | "
            f"{_n(m['image']['ram_bytes'])} | {_n(m['stack']['worst_case_bytes'])} "
            f"({_n(row.stack_used)}) | yes | {row.verdicts['deeplog']} + {row.verdicts['mscred']} |")
    default = rows[0].manifest
    if default is not None:
        text = default["image"]["sections"][".text"]
        arena = default["memory"]["deeplog_arena"]
        stack = default["stack"]["worst_case_bytes"]
        out += ["", "Goals for the default DeepLog (issue 11):", "",
                f"- engine code without weights, `.text` (the whole example image: engine, matcher, "
                f"detector, start-up, the C library functions): {_n(text)} bytes, goal "
                f"<= {_n(TEXT_GOAL)}: {'met' if text <= TEXT_GOAL else 'missed'};",
                f"- arena plus worst-case stack: {_n(arena)} + {_n(stack)} = {_n(arena + stack)} bytes "
                f"of RAM, goal <= {_n(RAM_GOAL)}: {'met' if arena + stack <= RAM_GOAL else 'missed'} "
                f"(the detector's {_n(default['memory']['detector'])} bytes for 64 sessions come on "
                "top); the weights stay in flash.",
                f"- the check's QEMU run of the 200 lines took {rows[0].check_seconds:.1f} s of wall "
                "time (emulated, not a measure of a board's speed)."]
        timing = default.get("timing") or {}
        if timing:
            out += [f"- one DeepLog window (the probe image times one at start-up on SysTick, QEMU run with "
                    f"`-icount shift=0`, where each instruction is 1 ns of the board's 25 MHz clock): "
                    f"{_n(timing['deeplog_window_ticks'])} ticks, {_n(timing['deeplog_window_instructions'])} "
                    "instructions, for the record (a board's cycles also count memory wait states and "
                    "the FPU's latencies; the firmware prints the ticks on a board, where they are "
                    "cycles)."]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args(argv)
    start = time.monotonic()
    try:
        tree = copy_tree(args.work_dir)
        rows = [run_row(tree, "DeepLog", ("mscred_epochs=1", f"mscred_channels={MSCRED_SMALL}"))]
        rows += [run_row(tree, f"DeepLog + MSCRED {channels}",
                         ("mscred_epochs=1", f"mscred_channels={channels}", "firmware_models=deeplog+mscred"))
                 for channels in MSCRED_CHANNELS]
        compiler = next(f"{r.manifest['platform']['compiler']} {r.manifest['platform']['compiler_version']}"
                        for r in rows if r.manifest)
        table = render(rows, time.monotonic() - start, compiler)
        print(table)
        if not args.no_write:
            update_section(args.results, SECTION, table)
    except UserError as exc:
        print(f"firmware: error: {exc.one_line()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
