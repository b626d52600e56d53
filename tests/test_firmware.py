"""The firmware target: the engine built for a Cortex-M4F, the example image on QEMU's mps2-an386,
its verdicts against the host engine's, its memory measured on the device, the budgets and the
stack bound, and every way it can fail (a left-out operator, a small arena, a long line, a
fault, a hang, a budget overrun).

Images are built with the target's own flags (tests/firmware_helpers.py) for the shared tiny
models (engine_helpers.sample: DeepLog and MSCRED trained for seconds on 3000 sample lines).
Skipped where the cross compiler or QEMU is missing (./setup.sh installs them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import cbuild
import firmware_helpers as fw
from alog_detect.errors import UserError
from alog_detect.firmware import qemu
from alog_detect.firmware.budget import Budget, check_budgets, check_models_fit, image_sizes
from alog_detect.firmware.inputs import input_bytes
from alog_detect.firmware.stack import analyse
from engine_helpers import engine, sample  # noqa: F401  (session fixtures)

pytestmark = pytest.mark.skipif(fw.available() is not None, reason=str(fw.available()))

LINES = 300  # the first lines of the sample log compiled into the image


@pytest.fixture(scope="session")
def library(tmp_path_factory):
    """The engine's objects for the Cortex-M4F (reference kernels), compiled once."""
    return fw.compile_library(tmp_path_factory.mktemp("cortex_m4_lib"))


@pytest.fixture(scope="session")
def deeplog_only(sample, tmp_path_factory):
    """The sample's model directory without MSCRED: the default firmware model."""
    models = tmp_path_factory.mktemp("deeplog_only") / "models"
    shutil.copytree(sample[1], models, ignore=shutil.ignore_patterns("mscred.onnx*"))
    return models


@pytest.fixture(scope="session")
def deeplog_firmware(library, deeplog_only, sample, tmp_path_factory):
    return fw.build_firmware(tmp_path_factory.mktemp("fw_deeplog"), library, deeplog_only,
                             sample[0], LINES)


# ---- the engine for the target ---------------------------------------------------------------------

def test_the_whole_engine_compiles_warning_free_for_cortex_m4(tmp_path):
    """Every library source with the fast paths too (the library fixture is the reference build),
    -Werror: any warning fails."""
    fast = [flag for flag in fw.COMPILE if flag != "-DALOG_REFERENCE_KERNELS"]
    assert fast != fw.COMPILE and "-Werror" in fast and "-ffp-contract=off" in fast
    for source in fw.library_sources():
        cmd = [*fast, f"-I{fw.ENGINE / 'include'}", f"-I{fw.ENGINE / 'src'}", "-c", str(source),
               "-o", str(tmp_path / "x.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{source}: {proc.stderr}"


def test_the_image_has_no_malloc_no_printf_and_only_the_models_operators(deeplog_firmware):
    image, _ = deeplog_firmware
    symbols = subprocess.run([fw.TOOLCHAIN.PREFIX + "nm", str(image.path)], capture_output=True,
                             text=True, check=True).stdout.split()
    for name in ("malloc", "_malloc_r", "free", "_sbrk", "printf", "vsnprintf", "_svfprintf_r"):
        assert name not in symbols, name
    kept = {s for s in symbols if s.startswith("alog_op_")} - {"alog_op_find", "alog_op_left_out"}
    assert kept == {"alog_op_gather", "alog_op_gemm", "alog_op_lstm", "alog_op_squeeze",
                    "alog_op_transpose"}  # DeepLog's graph
    assert "alog_panel_matmul" not in symbols  # reference kernels: no packed paths


# ---- verdicts: the image against alog-engine ---------------------------------------------------------

def test_deeplog_firmware_gives_alog_engines_verdicts(deeplog_firmware, engine, deeplog_only):
    image, memory = deeplog_firmware
    run = qemu.check_image(image.path, engine, deeplog_only, image.data, max_sessions=fw.MAX_SESSIONS)
    assert len(run.stdout.splitlines()) == LINES  # one DeepLog verdict per (non-blank) line
    # The arenas are the exact sizes the device reported: nothing spare.
    for name, need in memory.items():
        assert f"firmware: {name}: {need} of {need} bytes" in run.stderr


def test_deeplog_and_mscred_firmware_gives_alog_engines_verdicts(library, sample, engine, tmp_path):
    """The tiny MSCRED (channels 4, windows 2,4) fits the board too, with DeepLog."""
    log, models = sample
    image, memory = fw.build_firmware(tmp_path, library, models, log, 120)
    assert set(memory) == {"EXAMPLE_DEEPLOG_ARENA", "EXAMPLE_MSCRED_ARENA", "EXAMPLE_DETECTOR_MEMORY"}
    run = qemu.check_image(image.path, engine, models, image.data, max_sessions=fw.MAX_SESSIONS)
    assert b'"model":"mscred"' in run.stdout


def test_structured_events_give_the_same_verdicts(library, deeplog_only, sample, engine, tmp_path):
    """Firmware that logs template indices: the events of the first lines ("SESSION INDEX"),
    replayed by the image, give alog-engine's verdicts on the raw lines."""
    raw = input_bytes(sample[0], LINES)
    expected = qemu.host_verdicts(engine, deeplog_only, raw, fw.MAX_SESSIONS)
    verdicts = [json.loads(line) for line in expected.splitlines()]
    events = tmp_path / "events.txt"
    events.write_text("".join(f"{v['session']} {v['template']}\n" for v in verdicts))
    gen = fw.generate(deeplog_only, tmp_path / "gen")
    probe = fw.link_image(tmp_path / "probe", library, gen, log=None, lines=0, memory=qemu.PROBE_MEMORY)
    image = fw.link_image(tmp_path / "image", library, gen, log=events, lines=None, events=True,
                          memory=qemu.measure_memory(probe.path))
    run = qemu.run_image(image.path)
    qemu.expect_success(image.path, run)
    assert run.stdout == expected


def test_a_verdict_that_differs_fails_the_check_naming_it(deeplog_firmware, engine, deeplog_only):
    """The check compares bytes: the host engine on other input (one line dropped) disagrees."""
    image, _ = deeplog_firmware
    with pytest.raises(UserError, match=r"verdict \d+ differs from alog-engine's"):
        qemu.check_image(image.path, engine, deeplog_only, image.data.split(b"\n", 1)[1],
                         max_sessions=fw.MAX_SESSIONS)


# ---- memory: measured on the device, checked at start-up -----------------------------------------------

def test_the_device_needs_less_than_the_64_bit_host_measures(deeplog_firmware, deeplog_only, tmp_path):
    """Why the sizes come from the device: the host's pointers are 8 bytes. The device's arena
    is the size the engine reports there (one byte less is refused, next test)."""
    _, memory = deeplog_firmware
    arena_check = cbuild.build_tool("arena_check")
    out = subprocess.run([str(arena_check), "--alignments", "1", str(deeplog_only / "deeplog.onnx")],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["arena_size"] > memory["EXAMPLE_DEEPLOG_ARENA"]


def test_an_arena_one_byte_short_is_refused_naming_the_size(library, deeplog_firmware, deeplog_only,
                                                            tmp_path):
    _, memory = deeplog_firmware
    need = memory["EXAMPLE_DEEPLOG_ARENA"]
    short = dict(memory, EXAMPLE_DEEPLOG_ARENA=need - 1)
    image = fw.link_image(tmp_path, library, fw.generate(deeplog_only, tmp_path / "gen"), log=None,
                          lines=0, memory=short)
    run = qemu.run_image(image.path)
    assert run.status == qemu.EXIT_SETUP and run.stdout == b""
    assert (f"firmware: deeplog.onnx: the model needs {need} arena bytes, the arena has {need - 1} "
            f"(fix: build with -DEXAMPLE_DEEPLOG_ARENA={need})") in run.stderr
    with pytest.raises(UserError, match="the image exited 3: firmware: deeplog.onnx: the model needs"):
        qemu.expect_success(image.path, run)


def test_a_model_needing_a_left_out_operator_fails_to_load_cleanly(library, sample, deeplog_only,
                                                                   tmp_path):
    """The operators chosen for DeepLog alone, the image given MSCRED too: a clear error, exit 3."""
    gen = fw.generate(sample[1], tmp_path / "gen")
    ops_gen = fw.generate(deeplog_only, tmp_path / "ops_gen")
    image = fw.link_image(tmp_path, library, gen, log=None, lines=0, memory=qemu.PROBE_MEMORY,
                          ops_gen=ops_gen)
    run = qemu.run_image(image.path)
    assert run.status == qemu.EXIT_SETUP, run.stderr
    assert "firmware: mscred.onnx: " in run.stderr
    assert "was left out of this build, made for other models (fix: regenerate alog_ops_config.h" \
        in run.stderr
    assert "(unsupported operator)" in run.stderr


def test_a_line_longer_than_the_buffer_is_noted_and_judged_unseen(library, deeplog_only, tmp_path):
    long_log = tmp_path / "long.log"
    long_log.write_bytes(b"2026-03-14 06:00:00.173 edge-gw-07 storaged[455]: " + b"x" * 2000 + b"\n")
    image = fw.link_image(tmp_path, library, fw.generate(deeplog_only, tmp_path / "gen"),
                          log=long_log, lines=None, memory=qemu.PROBE_MEMORY)
    run = qemu.run_image(image.path)
    assert run.status == qemu.EXIT_OK
    assert (f"firmware: line 1 is longer than the line buffer (EXAMPLE_LINE_MAX, {fw.LINE_MAX} "
            "bytes): judged from its head, as unseen") in run.stderr
    assert json.loads(run.stdout)["reason"] == "unseen"


# ---- faults and hangs ------------------------------------------------------------------------------------

TRAP_MAIN = "int main(int argc, char **argv) { (void)argc; (void)argv; __builtin_trap(); }\n"
HANG_MAIN = "int main(int argc, char **argv) { (void)argc; (void)argv; for (;;) { } }\n"


def _bare_image(tmp_path: Path, main_source: str) -> Path:
    """startup.c and semihost.c around a main of the test's own."""
    (tmp_path / "main.c").write_text(main_source)
    objects = [fw.compile_c(tmp_path / "main.c", tmp_path / "main.o"),
               *(fw.compile_c(fw.EXAMPLE / name, tmp_path / f"{name}.o", f"-I{fw.EXAMPLE}")
                 for name in ("startup.c", "semihost.c"))]
    return fw.link(tmp_path / "bare.elf", objects, [])


def test_a_hard_fault_is_reported_and_ends_the_run_with_status_5(tmp_path):
    image = _bare_image(tmp_path, TRAP_MAIN)
    run = qemu.run_image(image, timeout=30)
    assert run.status == qemu.EXIT_FAULT
    assert "firmware: hard fault: pc 0x" in run.stderr and " cfsr 0x" in run.stderr
    with pytest.raises(UserError, match="the image stopped at a fault: firmware: hard fault: pc 0x"):
        qemu.expect_success(image, run)


def test_a_hanging_image_is_stopped_at_the_timeout(tmp_path):
    image = _bare_image(tmp_path, HANG_MAIN)
    with pytest.raises(UserError, match=r"did not finish within 2 s"):
        qemu.run_image(image, timeout=2)


# ---- budgets and the stack -----------------------------------------------------------------------------

def test_budgets_hold_and_name_the_bytes_over(deeplog_firmware):
    image, _ = deeplog_firmware
    stack = analyse(list(image.objects), image.path)
    sizes = check_budgets(image.path, Budget(), stack)  # the board's own memory: fits
    assert sizes.flash == sum(sizes.sections[s] for s in (".text", ".rodata", ".ARM.exidx", ".data"))
    with pytest.raises(UserError, match=rf"flash: {sizes.flash} bytes \(\.text \d+, \.rodata \d+.*\) "
                                         rf"is 1 bytes over the budget of {sizes.flash - 1}"):
        check_budgets(image.path, Budget(flash=sizes.flash - 1, ram=sizes.ram), stack)
    with pytest.raises(UserError, match=rf"RAM: {sizes.ram} bytes \(\.stack \d+, \.data \d+, \.bss "
                                         rf"\d+\) is 100 bytes over"):
        check_budgets(image.path, Budget(flash=sizes.flash, ram=sizes.ram - 100), stack)


def test_the_stack_bound_covers_the_measured_depth_and_a_small_stack_fails(library, deeplog_firmware,
                                                                          engine, deeplog_only,
                                                                          tmp_path):
    image, memory = deeplog_firmware
    stack = analyse(list(image.objects), image.path)
    assert not stack.recursion and stack.chain[0] == "Reset_Handler"
    run = qemu.check_image(image.path, engine, deeplog_only, image.data, max_sessions=fw.MAX_SESSIONS)
    assert 0 < run.stack_used <= stack.worst
    small = fw.link_image(tmp_path, library, fw.generate(deeplog_only, tmp_path / "gen"), log=None,
                          lines=0, memory=memory, stack_size=1024)
    with pytest.raises(UserError, match=rf"stack: the worst-case call chain needs {stack.worst} bytes, "
                                         r"\.stack reserves 1024"):
        check_budgets(small.path, Budget(), analyse(list(small.objects), small.path))


def test_a_model_larger_than_flash_stops_before_linking(sample, tmp_path):
    onnx = sample[1] / "mscred.onnx"
    with pytest.raises(UserError, match=r"mscred\.onnx.*more than the flash budget of 1000"):
        check_models_fit([onnx], Budget(flash=1000))
    check_models_fit([onnx], Budget())


def test_image_sizes_come_from_the_linked_image(deeplog_firmware):
    image, memory = deeplog_firmware
    sizes = image_sizes(image.path)
    assert sizes.sections[".bss"] >= sum(memory.values())  # the arenas are static
    model = (image.path.parent / "alog_model_data.o")
    assert sizes.sections[".rodata"] > 0 and model.exists()


def test_zeroed_ram_is_loaded_in_ram_not_after_the_data_in_flash(deeplog_firmware):
    """QEMU (like a flash programmer) zero-fills each segment past its file bytes at its load
    address: .stack and .bss must be a RAM segment of their own (mps2_an386.ld's PHDRS), or a
    large .bss writes zeros past the end of flash, which wraps onto the vector table."""
    image, _ = deeplog_firmware
    headers = subprocess.run([fw.TOOLCHAIN.PREFIX + "readelf", "-lW", str(image.path)],
                             capture_output=True, text=True, check=True).stdout
    loads = [line.split() for line in headers.splitlines() if line.split()[:1] == ["LOAD"]]
    for _, _, virtual, physical, file_size, memory_size, *_ in loads:
        if int(memory_size, 16) > int(file_size, 16):  # zero-filled by the loader
            assert virtual == physical and int(physical, 16) >= 0x20000000, loads
