"""Run a firmware image under QEMU and hold its verdicts to the host engine's.

The image (cengine/examples/firmware/ on board_mps2.c) runs on QEMU's mps2-an386 (Cortex-M4F);
semihosting carries its output to QEMU's stdout (the verdicts) and stderr (its notes), and its
exit status out as QEMU's:

    qemu-system-arm -M mps2-an386 -nographic -semihosting-config enable=on,target=native \\
        -kernel IMAGE

``check_image`` is the check (`scons target=cortex-m4 check`, tests/test_firmware.py): the image
must exit 0 within the timeout and print exactly the bytes ``alog-engine --all`` prints for the
same input (the bytes compiled into the image, inputs.input_bytes), with the same session limit.
A fault (exit status 5, startup.c), another exit status, a timeout or the first differing
verdict fails it with a UserError that says which.

``measure_probe`` runs a probe image (the example built with large arenas and an empty input)
and reads the exact arena and detector sizes the engine reports on the device itself: sizes
measured on the 64-bit host differ (pointers are 8 bytes there), so a device build takes them
from the device. ``render_memory_header`` writes them as example_memory.h.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import time
from pathlib import Path

from .. import atomic
from ..errors import UserError

QEMU = "qemu-system-arm"
# Words put before the image to run it (the toolchain's ALOG_RUNNER): the image follows -kernel.
# -icount shift=0: virtual time is the instruction count (1 ns each), so the image's SysTick
# readings count instructions and a run is the same on a loaded machine as on an idle one.
RUNNER = (QEMU, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
          "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel")
# Under that clock, instructions per SysTick tick: the AN386 clocks SysTick at 25 MHz (40 ns).
INSTRUCTIONS_PER_TICK = 40
EXIT_OK, EXIT_SETUP, EXIT_RUN, EXIT_FAULT = 0, 3, 4, 5  # main.c and startup.c
DEFAULT_TIMEOUT = 60.0
# The example's arenas while it measures itself: generous, and together (with the stack)
# within the board's 4 MiB of RAM: a model that needs more than its share does not fit anyway.
PROBE_MEMORY = {"EXAMPLE_DEEPLOG_ARENA": 512 << 10, "EXAMPLE_MSCRED_ARENA": 3 << 20,
                "EXAMPLE_DETECTOR_MEMORY": 448 << 10}

_SIZE_NOTE = re.compile(r"firmware: (EXAMPLE_[A-Z_]+): (\d+) of (\d+) bytes")
_SIZE_FIX = re.compile(r"-D(EXAMPLE_[A-Z_]+)=(\d+)\)")
_STACK_NOTE = re.compile(r"firmware: stack used (\d+) of (\d+) bytes")
_WINDOW_NOTE = re.compile(r"firmware: deeplog window: (\d+) ticks")


@dataclasses.dataclass(frozen=True)
class ImageRun:
    status: int
    stdout: bytes   # the verdicts
    stderr: str     # the image's notes
    seconds: float  # wall time of the whole QEMU run

    @property
    def window_ticks(self) -> int | None:
        """SysTick ticks of one DeepLog window (main.c times one at start-up; None without)."""
        found = _WINDOW_NOTE.search(self.stderr)
        return int(found.group(1)) if found else None

    @property
    def stack_used(self) -> int | None:
        """The deepest the stack went (startup.c paints it before main and reads it after)."""
        found = _STACK_NOTE.search(self.stderr)
        return int(found.group(1)) if found else None


def run_image(image: Path, *, timeout: float = DEFAULT_TIMEOUT,
              runner: tuple[str, ...] = RUNNER) -> ImageRun:
    """Run `image` to its end; a UserError when QEMU is missing or the run outlasts `timeout`."""
    cmd = [*runner, str(image)]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise UserError(f"{runner[0]} was not found", image,
                        "install the Debian package qemu-system-arm (./setup.sh)") from None
    except subprocess.TimeoutExpired:  # subprocess.run has killed QEMU
        raise UserError(f"the image did not finish within {timeout:g} s under {runner[0]}", image,
                        "look for a hang (a fault handler that returns, a loop), or give it a "
                        "longer timeout") from None
    return ImageRun(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"),
                    time.monotonic() - start)


def _last_note(run: ImageRun) -> str:
    """The image's last message (startup.c's report of the stack depth left aside)."""
    notes = [line for line in run.stderr.splitlines()
             if line.strip() and not _STACK_NOTE.search(line)]
    return notes[-1] if notes else "(no message)"


def expect_success(image: Path, run: ImageRun) -> None:
    """A UserError unless the run exited 0; a fault and the image's own failures are told apart."""
    if run.status == EXIT_FAULT:
        fault = next((l for l in run.stderr.splitlines() if "fault" in l or "exception" in l),
                     _last_note(run))
        raise UserError(f"the image stopped at a fault: {fault}", image,
                        "look up the pc in the image's map or with arm-none-eabi-addr2line")
    if run.status != EXIT_OK:
        raise UserError(f"the image exited {run.status}: {_last_note(run)}", image, None)


def host_verdicts(engine: Path, models: Path, data: bytes, max_sessions: int,
                  timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """What `alog-engine --all` prints for `data` with the image's session limit."""
    cmd = [str(engine), "--models", str(models), "--all", "--max-sessions", str(max_sessions), "-"]
    proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise UserError(f"alog-engine exited {proc.returncode}: "
                        f"{proc.stderr.decode('utf-8', 'replace').strip()}", engine, None)
    return proc.stdout


def compare_verdicts(image: Path, run: ImageRun, expected: bytes) -> None:
    """A UserError naming the first verdict where the image's output differs from `expected`."""
    if run.stdout != expected:
        got, want = run.stdout.splitlines(), expected.splitlines()
        index = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
        raise UserError(
            f"verdict {index + 1} differs from alog-engine's: the image printed "
            f"{got[index] if index < len(got) else b'nothing more'!r}, alog-engine "
            f"{want[index] if index < len(want) else b'nothing more'!r} ({len(got)} verdicts, "
            f"alog-engine {len(want)})", image,
            "build the image and the host engine from the same model directory and input")


def check_image(image: Path, engine: Path, models: Path, data: bytes, *, max_sessions: int,
                timeout: float = DEFAULT_TIMEOUT, runner: tuple[str, ...] = RUNNER) -> ImageRun:
    """Run `image` (built with `data` as its input and `max_sessions` sessions) and compare its
    verdicts with the host engine's on the same bytes; a UserError on any difference."""
    run = run_image(image, timeout=timeout, runner=runner)
    expect_success(image, run)
    compare_verdicts(image, run, host_verdicts(engine, models, data, max_sessions, timeout))
    return run


# ---- exact memory sizes, measured on the device ---------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ProbeMeasurement:
    sizes: dict                 # {"EXAMPLE_DEEPLOG_ARENA": bytes, ...}
    window_ticks: int | None    # one DeepLog window on SysTick (None: no DeepLog in the image)

    def timing(self) -> dict:
        """What the manifest records of the window: its ticks and, under RUNNER's -icount
        shift=0, the instructions they stand for."""
        if self.window_ticks is None:
            return {}
        return {"deeplog_window_ticks": self.window_ticks,
                "deeplog_window_instructions": self.window_ticks * INSTRUCTIONS_PER_TICK}


def measure_probe(probe: Path, *, timeout: float = DEFAULT_TIMEOUT,
                  runner: tuple[str, ...] = RUNNER) -> ProbeMeasurement:
    """{"EXAMPLE_DEEPLOG_ARENA": bytes, ...}: what the engine needs on the device, read from the
    notes of a probe image (the example built with PROBE_MEMORY and an empty input), and the time
    of one DeepLog window, from that one run."""
    run = run_image(probe, timeout=timeout, runner=runner)
    sizes = {name: int(need) for name, need, _ in _SIZE_NOTE.findall(run.stderr)}
    too_small = dict((name, int(need)) for name, need in _SIZE_FIX.findall(run.stderr))
    if too_small:
        name, need = next(iter(too_small.items()))
        raise UserError(f"{name}: the engine needs {need} bytes on the device, more than the "
                        f"{PROBE_MEMORY.get(name, 0)} the board can give it", probe,
                        "a smaller model or fewer sessions")
    if run.status != EXIT_OK or "EXAMPLE_DETECTOR_MEMORY" not in sizes:
        raise UserError(f"the probe image exited {run.status}: {_last_note(run)}", probe, None)
    return ProbeMeasurement(sizes, run.window_ticks)


def render_memory_header(sizes: dict[str, int], out: Path, settings: dict[str, int] | None = None) -> Path:
    """example_memory.h: the exact sizes as the EXAMPLE_* constants main.c reads, and the
    `settings` (EXAMPLE_MAX_SESSIONS, ...) the probe measured them with: the detector's memory
    depends on them, so the image must be built with the same."""
    lines = ["/* example_memory.h: generated, do not edit. The sizes the engine reported on the",
             " * device (alog_detect.firmware.qemu.measure_probe), for cengine/examples/firmware/main.c. */",
             "#ifndef EXAMPLE_MEMORY_H", "#define EXAMPLE_MEMORY_H", ""]
    if settings:
        lines += ["/* The example's settings, which the sizes below were measured with. */"]
        lines += [f"#define {name} {settings[name]}u" for name in sorted(settings)]
        lines += [""]
    lines += [f"#define {name} {sizes[name]}u" for name in sorted(sizes)]
    lines += ["", "#endif /* EXAMPLE_MEMORY_H */", ""]
    return atomic.write_text(out, "\n".join(lines))
