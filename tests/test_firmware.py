"""The firmware target through SCons: `scons target=cortex-m4` builds the library for the models,
the example image for QEMU's mps2-an386 (a probe measures the arenas on the device first), holds
it to the flash, RAM and stack budgets and packages the firmware tarball; `scons target=cortex-m4
check` runs the image under QEMU against the host engine's verdicts. Then what the build never
makes, relinked from its objects: every way the image can fail (a left-out operator, a short
arena, a long line, a fault, a hang, a small stack).

Trees are temporary copies of the build files with the real engine and the tiny options
(tests/firmware_helpers.py, tests/scons_trees.py). Skipped where the cross compiler, newlib or
QEMU is missing (./setup.sh installs them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import firmware_helpers as fw
from alog_detect.errors import UserError
from alog_detect.firmware import qemu
from alog_detect.firmware.budget import Budget, check_budgets, image_sizes
from alog_detect.firmware.inputs import input_bytes
from alog_detect.firmware.stack import analyse
from scons_trees import REPO, copy_build_files, scons

pytestmark = pytest.mark.skipif(fw.available() is not None, reason=str(fw.available()))

INPUT_LINES = 200  # the lines of the logs the example replays (alog_firmware.INPUT_LINES)
MAX_SESSIONS = 64  # the example's EXAMPLE_MAX_SESSIONS, which the check passes to alog-engine


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tree where `scons -j2 target=cortex-m4 bundle check` ran: (FirmwareTree, its output)."""
    return fw.build_tree(tmp_path_factory.mktemp("firmware_a"), "bundle", "check")


def _members(tarball: Path) -> dict[str, bytes]:
    with tarfile.open(tarball) as tar:
        return {m.name[len(fw.PACKAGE) + 1:]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _errors(proc) -> list[str]:
    """SCons' error lines, its closing "[target] Error N" left out."""
    return [line for line in proc.stderr.splitlines()
            if line.startswith("scons: ***") and not re.search(r"\] Error \d+$", line)]


def _manifest(tree) -> dict:
    return json.loads(_members(tree.tarball)["manifest.json"])


# ---- the build and the tarball ---------------------------------------------------------------------

def test_the_tarball_holds_library_headers_model_source_and_example(built):
    tree, proc = built
    assert f"bundle: dist/{fw.PACKAGE}.tar.gz" in proc.stdout
    assert f"-kernel {fw.PACKAGE}/example/firmware.elf" in proc.stdout
    with tarfile.open(tree.tarball) as tar:
        entries = tar.getmembers()
    files = sorted(m.name[len(fw.PACKAGE) + 1:] for m in entries if m.isfile())
    example = sorted(p.name for p in (REPO / "cengine/examples/firmware").iterdir())
    assert files == sorted(["README.md", "SHA256SUMS", "manifest.json", "lib/libalog.a", "include/alog.h",
                            "include/alog_config.h",
                            "include/alog_model_meta.h", "include/alog_ops_config.h", "include/alog_vocab.h",
                            "src/alog_model_data.c", "example/example_input.c", "example/example_memory.h",
                            "example/firmware.elf", *(f"example/{name}" for name in example)])
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in entries)
    assert all(m.mode == (0o755 if m.isdir() else 0o644) for m in entries)
    members = _members(tree.tarball)
    sums = dict(reversed(line.split("  ", 1)) for line in members["SHA256SUMS"].decode().splitlines())
    assert sums.keys() == set(members) - {"SHA256SUMS"}
    assert all(hashlib.sha256(members[name]).hexdigest() == digest for name, digest in sums.items())
    # No path of the machine that built it, in any member.
    for name, data in members.items():
        assert str(tree.root).encode() not in data, name
    # The library holds no model (the image compiles the model source once); the shipped model
    # source, headers and library are the build's own.
    assert members["src/alog_model_data.c"] == (tree.gen / "alog_model_data.c").read_bytes()
    assert members["lib/libalog.a"] == (tree.firmware / "lib/libalog.a").read_bytes()
    symbols = subprocess.run([fw.TOOLCHAIN.PREFIX + "nm", str(tree.firmware / "lib/libalog.a")],
                             capture_output=True, text=True, check=True).stdout
    assert "alog_model_deeplog_onnx" not in symbols and " T alog_model_open" in symbols


def test_the_manifest_records_the_build_and_what_was_measured(built):
    tree, _ = built
    manifest = _manifest(tree)
    members = _members(tree.tarball)
    version = subprocess.run([fw.CC, "-dumpfullversion", "-dumpversion"], capture_output=True, text=True,
                             check=True).stdout.strip()
    assert manifest["target"] == "cortex-m4" and manifest["optimize"] == "size"
    assert manifest["platform"]["compiler"] == fw.CC and manifest["platform"]["compiler_version"] == version
    assert manifest["platform"]["cpu_flags"] == fw.TOOLCHAIN.CPU_FLAGS
    models = tree.models("deeplog")
    assert set(manifest["models"]) == {"deeplog", "vocab"}  # DeepLog alone by default
    digest = {name: hashlib.sha256((models / name).read_bytes()).hexdigest() for name in ("deeplog.onnx", "vocab.json")}
    assert manifest["models"]["deeplog"]["sha256"] == digest["deeplog.onnx"]
    assert manifest["models"]["vocab"]["file_sha256"] == digest["vocab.json"]
    # The sizes the probe measured on the device are the ones the image was built with, and the
    # image's start-up check found them exact.
    measured = tree.example_memory()
    assert manifest["memory"] == {"deeplog_arena": measured["EXAMPLE_DEEPLOG_ARENA"],
                                  "detector": measured["EXAMPLE_DETECTOR_MEMORY"]}
    notes = tree.check_log.read_text()
    for name in ("EXAMPLE_DEEPLOG_ARENA", "EXAMPLE_DETECTOR_MEMORY"):
        assert f"firmware: {name}: {measured[name]} of {measured[name]} bytes" in notes
    # The sections are the shipped image's, as arm-none-eabi-size reads them.
    elf = tree.root / "shipped.elf"
    elf.write_bytes(members["example/firmware.elf"])
    sizes = image_sizes(elf)
    assert manifest["image"] == sizes.as_json()
    assert {".text", ".rodata", ".data", ".bss", ".stack"} <= set(manifest["image"]["sections"])
    assert manifest["image"]["sections"][".bss"] >= sum(manifest["memory"].values())  # arenas are static
    assert manifest["budgets"] == {"flash": 4 << 20, "ram": 4 << 20}
    assert manifest["example"]["input_lines"] == INPUT_LINES
    assert manifest["example"]["input_bytes"] == len(input_bytes(tree.root / "small.log", INPUT_LINES))
    stack = manifest["stack"]
    assert stack["chain"][0] == "Reset_Handler" and stack["recursion"] == []
    assert stack["worst_case_bytes"] == sum(stack["frames"].values()) + 26 * 4 + 4  # + the fault's frame
    for name in ("lib/libalog.a", "example/firmware.elf"):
        assert manifest["binaries"][name] == {"size": len(members[name]),
                                              "sha256": hashlib.sha256(members[name]).hexdigest()}
    readme = members["README.md"].decode()
    assert "{{" not in readme and f"third_party/{fw.PACKAGE}" in readme
    assert f"| DeepLog's arena | {measured['EXAMPLE_DEEPLOG_ARENA']:,} |" in readme
    assert f"`.text` | {sizes.sections['.text']:,} |" in readme


def end_verdicts(tree, verdicts: bytes) -> int:
    """The END verdicts (template V: docs/detection.md 2.2) among DeepLog's verdicts."""
    end = len(json.loads((tree.models("deeplog") / "vocab.json").read_text()))
    return sum(json.loads(v)["template"] == end for v in verdicts.splitlines())


def test_check_gives_the_host_engines_verdicts_under_qemu(built):
    tree, proc = built
    passed = re.search(r"^PASS firmware \((\d+) verdicts, the host alog-engine's; [\d.]+ s under QEMU\)$",
                       proc.stdout, re.M)
    assert passed
    verdicts = tree.check_log.read_bytes().split(b"\nfirmware: ")[0] + b"\n"
    assert verdicts == (tree.build / "check/firmware.expected.jsonl").read_bytes()
    # The reference, recomputed here: the host engine on the same first lines of the log.
    data = input_bytes(tree.root / "small.log", INPUT_LINES)
    assert verdicts == qemu.host_verdicts(tree.host_engine, tree.models("deeplog"), data, MAX_SESSIONS)
    # one DeepLog verdict per line, then (the END key) one END verdict per session at the end
    end = end_verdicts(tree, verdicts)
    assert len(verdicts.splitlines()) - end == INPUT_LINES and end > 0
    assert int(passed.group(1)) == len(verdicts.splitlines())
    header = subprocess.run(["readelf", "-h", str(tree.host_engine)], capture_output=True, text=True,
                            check=True).stdout
    assert "Advanced Micro Devices X86-64" in header or "AArch64" in header  # the host's own program


def test_the_image_has_no_malloc_no_printf_and_only_the_models_operators(built):
    tree, _ = built
    symbols = subprocess.run([fw.TOOLCHAIN.PREFIX + "nm", str(tree.image)], capture_output=True, text=True,
                             check=True).stdout.split()
    for name in ("malloc", "_malloc_r", "free", "_sbrk", "printf", "vsnprintf", "_svfprintf_r"):
        assert name not in symbols, name
    kept = {s for s in symbols if s.startswith("alog_op_")} - {"alog_op_find", "alog_op_left_out"}
    assert kept == {"alog_op_gather", "alog_op_gemm", "alog_op_lstm", "alog_op_squeeze",
                    "alog_op_transpose"}  # DeepLog's graph
    assert "alog_panel_matmul" not in symbols  # reference kernels: no packed paths


def test_nothing_is_rebuilt_when_nothing_changed(built):
    tree, _ = built
    assert tree.scons("--question", "bundle", check=False).returncode == 0


def test_the_tarball_builds_its_example_with_make_and_cmake(built, tmp_path):
    """The README's Make and CMake snippets, as example/Makefile and example/CMakeLists.txt use
    them, build an image from the extracted tarball alone that prints the shipped image's verdicts."""
    tree, _ = built
    with tarfile.open(tree.tarball) as tar:
        tar.extractall(tmp_path, filter="data")
    top = tmp_path / fw.PACKAGE
    subprocess.run(["make", "-s", "-C", str(top / "example")], check=True, capture_output=True)
    subprocess.run(["cmake", "-S", str(top / "example"), "-B", str(top / "build"),
                    f"-DCMAKE_TOOLCHAIN_FILE={top / 'example/cortex-m4.cmake'}"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(top / "build")], check=True, capture_output=True)
    shipped = qemu.run_image(top / "example/firmware.elf", runner=fw.RUNNER)
    assert shipped.status == 0
    assert len(shipped.stdout.splitlines()) - end_verdicts(tree, shipped.stdout) == INPUT_LINES
    for image in (top / "example/example.elf", top / "build/example.elf"):
        run = qemu.run_image(image, runner=fw.RUNNER)
        assert run.status == 0 and run.stdout == shipped.stdout, image


def test_two_builds_in_two_directories_give_the_same_tarball(built, tmp_path_factory):
    """The second tree shares the first one's trained models and host tools (build/common/,
    build/host/ and SCons' record of them): everything of the target, C included, is rebuilt in
    another directory."""
    tree, _ = built
    other = fw.FirmwareTree(copy_build_files(tmp_path_factory.mktemp("firmware_b") / "deeper" / "checkout"))
    shutil.copy(tree.root / "small.log", other.root / "small.log")
    for shared in ("build/common", "build/host"):
        shutil.copytree(tree.root / shared, other.root / shared)
    shutil.copy(tree.root / ".sconsign.dblite", other.root / ".sconsign.dblite")
    proc = other.scons("-j2")
    assert "deeplog-train:" not in proc.stdout and "convert-onnx:" not in proc.stdout
    assert "-o build/cortex-m4/cengine/src/api.o" in proc.stdout  # compiled here, not copied
    first, second = tree.tarball.read_bytes(), other.tarball.read_bytes()
    if first != second:
        ours, theirs = _members(tree.tarball), _members(other.tarball)
        differ = sorted(n for n in ours.keys() | theirs.keys() if ours.get(n) != theirs.get(n))
        pytest.fail(f"the tarballs differ in {differ}")


# ---- budgets --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["flash", "ram"])
def test_an_image_over_a_budget_fails_the_build_naming_the_bytes_over(built, kind):
    tree, _ = built
    before = tree.tarball.read_bytes()
    image = _manifest(tree)["image"]
    used = image[f"{kind}_bytes"]
    proc = tree.scons(f"{kind}_budget={used - 100}", check=False)
    assert proc.returncode == 2
    errors = _errors(proc)
    label = {"flash": r"flash: \d+ bytes \(\.text \d+, \.rodata \d+",
             "ram": r"RAM: \d+ bytes \(\.stack \d+"}[kind]
    assert len(errors) == 1 and re.fullmatch(
        rf"scons: \*\*\* \[build/cortex-m4/firmware/budget\.json\] build/cortex-m4/firmware/firmware\.elf: "
        rf"{label}.*\) is 100 bytes over the budget of {used - 100} \(fix: [^()]*\)", errors[0]), proc.stderr
    assert tree.tarball.read_bytes() == before  # nothing packaged from an image over budget


def test_a_model_larger_than_the_flash_budget_stops_before_it_becomes_c(built):
    tree, _ = built
    mscred = (tree.models("deeplog+mscred") / "mscred.onnx").stat().st_size
    proc = tree.scons("firmware_models=deeplog+mscred", f"flash_budget={mscred}", check=False)
    assert proc.returncode == 2
    assert re.search(r"mscred\.onnx: the models take \d+ bytes, more than the flash budget of "
                     rf"{mscred} \(mscred\.onnx: {mscred} bytes\) \(fix: DeepLog alone", proc.stderr)
    assert "codegen: build/cortex-m4/gen/alog_model_data.c" not in proc.stdout
    assert " -o build/cortex-m4/firmware/probe/probe.elf" not in proc.stdout  # nothing linked


# ---- the check fails on a wrong verdict or a fault ----------------------------------------------

@pytest.mark.parametrize("old, new, failure, output", [
    ("    alog_verdict_write(ctx, verdict);\n", "    (void)ctx;\n    (void)verdict;\n",
     r"verdict 1 differs from alog-engine's: the image printed b'nothing more'", b"firmware: stack used"),
    ("    alog_sink out;\n    size_t len;\n", "    alog_sink out;\n    size_t len;\n#ifdef EXAMPLE_HAVE_MEMORY_H\n"
     "    __builtin_trap();\n#endif\n", r"the image stopped at a fault: firmware: hard fault: pc 0x",
     b"firmware: hard fault: pc 0x"),
])
def test_a_wrong_verdict_or_a_fault_fails_the_check(built, old, new, failure, output):
    """main.c edited in the tree: the image (not the probe) prints no verdicts, or traps. The
    tree is checked again afterwards, for the tests that read its check's output."""
    tree, _ = built
    main = tree.root / "cengine/examples/firmware/main.c"
    original = main.read_text()
    assert original.count(old) == 1
    main.write_text(original.replace(old, new))
    try:
        proc = tree.scons("check", check=False)
        kept = tree.check_log.read_bytes()
    finally:
        main.write_text(original)
        tree.scons("check")
    assert proc.returncode != 0
    assert re.search(rf"^FAIL firmware \(.*{failure}.*; output in build/cortex-m4/check/firmware\.log\)$",
                     proc.stdout, re.M), proc.stdout
    assert kept.startswith(b"firmware: ") and output in kept  # no verdicts: what the image printed instead


# ---- missing tools: one line, exit 2, nothing written -------------------------------------------

@pytest.mark.parametrize("leave_out, message", [
    ("qemu-system-arm", "target=cortex-m4 bundle: runs its programs with qemu-system-arm, which was not "
                        "found (fix: install the Debian package qemu-system-arm"),
    ("arm-none-eabi-gcc", "target=cortex-m4: its compiler or archiver was not found; install the Debian "
                          "packages gcc-arm-none-eabi and libnewlib-arm-none-eabi"),
])
def test_a_missing_tool_is_named_with_its_package(tmp_path, leave_out, message):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-ar", "arm-none-eabi-size", "qemu-system-arm", "gcc", "ar"):
        if tool != leave_out:
            (bin_dir / tool).symlink_to(shutil.which(tool))
    root = copy_build_files(tmp_path / "tree", {})
    proc = scons(root, "target=cortex-m4", check=False, env={**os.environ, "PATH": str(bin_dir)})
    assert proc.returncode == 2
    errors = _errors(proc)
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert not (root / "build").exists() and not (root / "dist").exists()


# ---- what the build never makes, relinked from its objects --------------------------------------

def test_the_whole_engine_compiles_warning_free_for_cortex_m4(tmp_path):
    """Every library source with the fast paths too (the target builds the reference kernels),
    -Werror: any warning fails."""
    fast = [flag for flag in fw.COMPILE if flag != "-DALOG_REFERENCE_KERNELS"]
    assert fast != fw.COMPILE and "-Werror" in fast and "-ffp-contract=off" in fast
    for source in fw.library_sources():
        cmd = [*fast, f"-I{REPO / 'cengine/include'}", f"-I{REPO / 'cengine/src'}", "-c", str(source),
               "-o", str(tmp_path / "x.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{source}: {proc.stderr}"


def test_structured_events_give_the_same_verdicts(built, tmp_path):
    """Firmware that logs template indices: the events of the first lines ("SESSION INDEX"),
    replayed by the image, give alog-engine's verdicts on the raw lines."""
    tree, _ = built
    expected = (tree.build / "check/firmware.expected.jsonl").read_bytes()
    events = tmp_path / "events.txt"
    verdicts = [json.loads(line) for line in expected.splitlines()]
    events.write_text("".join(f"{v['session']} {v['template']}\n" for v in verdicts))
    gen = fw.generate(tree.models("deeplog"), tmp_path / "gen")
    image = fw.link_image(tmp_path / "image", tree, gen, log=events, lines=None, events=True,
                          memory=tree.example_memory())
    run = qemu.run_image(image.path, runner=fw.RUNNER)
    qemu.expect_success(image.path, run)
    assert run.stdout == expected


def test_the_device_needs_less_than_the_64_bit_host_measures(built):
    """Why the sizes come from the device: the host's pointers are 8 bytes."""
    tree, _ = built
    tree.scons("build/host/tools/arena_check")
    out = subprocess.run([str(tree.root / "build/host/tools/arena_check"), "--alignments", "1",
                          str(tree.models("deeplog") / "deeplog.onnx")], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out)["arena_size"] > tree.example_memory()["EXAMPLE_DEEPLOG_ARENA"]


def test_an_arena_one_byte_short_is_refused_naming_the_size(built, tmp_path):
    tree, _ = built
    memory = tree.example_memory()
    need = memory["EXAMPLE_DEEPLOG_ARENA"]
    image = fw.link_image(tmp_path, tree, fw.generate(tree.models("deeplog"), tmp_path / "gen"), log=None,
                          lines=0, memory=dict(memory, EXAMPLE_DEEPLOG_ARENA=need - 1))
    run = qemu.run_image(image.path, runner=fw.RUNNER)
    assert run.status == qemu.EXIT_SETUP and run.stdout == b""
    assert (f"firmware: deeplog.onnx: the model needs {need} arena bytes, the arena has {need - 1} "
            f"(fix: build with -DEXAMPLE_DEEPLOG_ARENA={need})") in run.stderr
    with pytest.raises(UserError, match="the image exited 3: firmware: deeplog.onnx: the model needs"):
        qemu.expect_success(image.path, run)


def test_a_model_needing_a_left_out_operator_fails_to_load_cleanly(built, tmp_path):
    """The operators chosen for DeepLog alone, the image given MSCRED too: a clear error, exit 3."""
    tree, _ = built
    gen = fw.generate(tree.models("deeplog+mscred"), tmp_path / "gen")
    ops_gen = fw.generate(tree.models("deeplog"), tmp_path / "ops_gen")
    image = fw.link_image(tmp_path, tree, gen, log=None, lines=0, ops_gen=ops_gen,
                          memory={**tree.example_memory(), **qemu.PROBE_MEMORY})
    run = qemu.run_image(image.path, runner=fw.RUNNER)
    assert run.status == qemu.EXIT_SETUP, run.stderr
    assert "firmware: mscred.onnx: " in run.stderr
    assert "was left out of this build, made for other models (fix: regenerate alog_ops_config.h" in run.stderr
    assert "(unsupported operator)" in run.stderr


def _with_log_format(models: Path, out: Path) -> Path:
    """A copy of the model directory `models` whose frontend.json splits lines by a log format."""
    shutil.copytree(models, out)
    frontend = json.loads((out / "frontend.json").read_text())
    frontend.update(format_version=2, log_format="<Date> <Time> <Host> <Component>: <Content>",
                    log_format_source="given", header_tokens=0, timestamp="line-start", timestamp_format="")
    (out / "frontend.json").write_text(json.dumps(frontend))
    return out


def _text_bytes(image: Path) -> int:
    return image_sizes(image, size_tool=fw.TOOLCHAIN.PREFIX + "size").sections[".text"]


def test_the_log_format_code_is_in_only_for_models_whose_front_end_reads_one(built, tmp_path):
    """alog_ops_config.h's ALOG_WITH_LOG_FORMAT: 0 for DeepLog's front end (header tokens),
    which SCons's image is built with (no log-format code in it); 1 for a log format, whose image
    holds the code and runs; the library without it refuses that front end cleanly, exit 3."""
    tree, _ = built
    plain = fw.generate(tree.models("deeplog"), tmp_path / "plain_gen")
    assert "#define ALOG_WITH_LOG_FORMAT 0" in (plain / "alog_ops_config.h").read_text()
    assert "#define ALOG_WITH_BATCH 0" in (plain / "alog_ops_config.h").read_text()  # one window at a time
    symbols = subprocess.run([fw.TOOLCHAIN.PREFIX + "nm", str(tree.image)], capture_output=True, text=True,
                             check=True).stdout.split()
    for name in ("alog_log_format_parse", "alog_log_format_split", "alog_log_format_field"):
        assert name not in symbols, name
    assert "alog_line_timestamp" in symbols  # the line-start timestamp stays

    formatted = fw.generate(_with_log_format(tree.models("deeplog"), tmp_path / "models"), tmp_path / "gen")
    assert "#define ALOG_WITH_LOG_FORMAT 1" in (formatted / "alog_ops_config.h").read_text()
    memory = {**tree.example_memory(), **qemu.PROBE_MEMORY}
    kept = fw.link_image(tmp_path / "kept", tree, formatted, log=None, lines=0, memory=memory)
    run = qemu.run_image(kept.path, runner=fw.RUNNER)
    assert run.status == qemu.EXIT_OK, run.stderr

    left_out = fw.link_image(tmp_path / "left_out", tree, formatted, log=None, lines=0, memory=memory,
                             ops_gen=plain)
    run = qemu.run_image(left_out.path, runner=fw.RUNNER)
    assert run.status == qemu.EXIT_SETUP and run.stdout == b"", run.stderr
    assert ("firmware: detector: detector: log formats and field timestamps were left out of this engine "
            "build (ALOG_WITH_LOG_FORMAT 0); regenerate alog_ops_config.h") in run.stderr
    assert _text_bytes(kept.path) > _text_bytes(left_out.path) + 2048


def test_a_line_longer_than_the_buffer_is_noted_and_judged_unseen(built, tmp_path):
    tree, _ = built
    memory = tree.example_memory()
    long_log = tmp_path / "long.log"
    long_log.write_bytes(b"2026-03-14 06:00:00.173 edge-gw-07 storaged[455]: " + b"x" * 2000 + b"\n")
    image = fw.link_image(tmp_path, tree, fw.generate(tree.models("deeplog"), tmp_path / "gen"),
                          log=long_log, lines=None, memory=memory)
    run = qemu.run_image(image.path, runner=fw.RUNNER)
    assert run.status == qemu.EXIT_OK
    assert (f"firmware: line 1 is longer than the line buffer (EXAMPLE_LINE_MAX, "
            f"{memory['EXAMPLE_LINE_MAX']} bytes): judged from its head, as unseen") in run.stderr
    assert json.loads(run.stdout)["reason"] == "unseen"


def test_the_stack_bound_covers_the_measured_depth_and_a_small_stack_fails(built, tmp_path):
    tree, _ = built
    worst = _manifest(tree)["stack"]["worst_case_bytes"]
    used = int(re.search(r"firmware: stack used (\d+) of \d+ bytes", tree.check_log.read_text()).group(1))
    assert 0 < used <= worst
    small = fw.link_image(tmp_path, tree, fw.generate(tree.models("deeplog"), tmp_path / "gen"), log=None,
                          lines=0, memory=tree.example_memory(), stack_size=1024)
    with pytest.raises(UserError, match=r"stack: the worst-case call chain needs \d+ bytes, "
                                         r"\.stack reserves 1024"):
        check_budgets(small.path, Budget(), analyse(list(small.objects), small.path))


def test_zeroed_ram_is_loaded_in_ram_not_after_the_data_in_flash(built):
    """QEMU (like a flash programmer) zero-fills each segment past its file bytes at its load
    address: .stack and .bss must be a RAM segment of their own (mps2_an386.ld's PHDRS), or a
    large .bss writes zeros past the end of flash, which wraps onto the vector table."""
    tree, _ = built
    headers = subprocess.run([fw.TOOLCHAIN.PREFIX + "readelf", "-lW", str(tree.image)], capture_output=True,
                             text=True, check=True).stdout
    loads = [line.split() for line in headers.splitlines() if line.split()[:1] == ["LOAD"]]
    assert loads
    for _, _, virtual, physical, file_size, memory_size, *_ in loads:
        if int(memory_size, 16) > int(file_size, 16):  # zero-filled by the loader
            assert virtual == physical and int(physical, 16) >= 0x20000000, loads


TRAP_MAIN = "int main(int argc, char **argv) { (void)argc; (void)argv; __builtin_trap(); }\n"
HANG_MAIN = "int main(int argc, char **argv) { (void)argc; (void)argv; for (;;) { } }\n"


def _bare_image(tmp_path: Path, main_source: str) -> Path:
    """startup.c and semihost.c around a main of the test's own."""
    example = REPO / "cengine/examples/firmware"
    (tmp_path / "main.c").write_text(main_source)
    objects = [fw.compile_c(tmp_path / "main.c", tmp_path / "main.o"),
               *(fw.compile_c(example / name, tmp_path / f"{name}.o", f"-I{example}")
                 for name in ("startup.c", "semihost.c"))]
    return fw.link(tmp_path / "bare.elf", objects, [])


def test_a_hard_fault_is_reported_and_ends_the_run_with_status_5(tmp_path):
    image = _bare_image(tmp_path, TRAP_MAIN)
    run = qemu.run_image(image, timeout=30, runner=fw.RUNNER)
    assert run.status == qemu.EXIT_FAULT
    assert "firmware: hard fault: pc 0x" in run.stderr and " cfsr 0x" in run.stderr


def test_a_hanging_image_is_stopped_at_the_timeout(tmp_path):
    image = _bare_image(tmp_path, HANG_MAIN)
    with pytest.raises(UserError, match=r"did not finish within 2 s"):
        qemu.run_image(image, timeout=2, runner=fw.RUNNER)


# ---- last: the tree's models change (DeepLog and a small MSCRED) ----------------------------------

def test_deeplog_and_a_small_mscred_fit_and_pass_the_check(built):
    """firmware_models=deeplog+mscred: the tiny MSCRED (channels 4, windows 2,4) fits the board,
    its operators are kept, and its verdicts are the host engine's too (1000 lines: MSCRED's first
    input takes 44 buckets of 20 lines)."""
    tree, _ = built
    proc = tree.scons("-j2", "firmware_models=deeplog+mscred", "firmware_lines=1000", "bundle", "check")
    assert re.search(r"^PASS firmware \(\d+ verdicts", proc.stdout, re.M)
    assert b'"model":"mscred"' in tree.check_log.read_bytes()
    manifest = _manifest(tree)
    assert set(manifest["models"]) == {"deeplog", "mscred", "vocab"}
    assert set(manifest["memory"]) == {"deeplog_arena", "mscred_arena", "detector"}
    symbols = subprocess.run([fw.TOOLCHAIN.PREFIX + "nm", str(tree.image)], capture_output=True, text=True,
                             check=True).stdout.split()
    assert {"alog_op_conv", "alog_op_lstm"} <= set(symbols)


def test_model_bytes_other_than_the_headers_describe_are_refused(built, tmp_path):
    """alog_model_data.c from another model than alog_model_meta.h was generated for: the image
    checks the bytes' SHA-256 against the header's at start-up and stops, exit 3, never a fault."""
    tree, _ = built
    models = tree.models("deeplog")
    other = tmp_path / "other"
    shutil.copytree(models, other)
    onnx = other / "deeplog.onnx"
    import onnx as onnx_lib

    changed = bytearray(onnx.read_bytes())
    weights = onnx_lib.load_model_from_string(bytes(changed)).graph.initializer[0].raw_data
    changed[changed.find(weights)] ^= 1  # the lowest bit of a weight: a valid model, another one
    onnx.write_bytes(bytes(changed))
    meta = json.loads((other / "deeplog.onnx.meta.json").read_text())
    meta["sha256"] = hashlib.sha256(changed).hexdigest()
    (other / "deeplog.onnx.meta.json").write_text(json.dumps(meta))
    gen = fw.generate(models, tmp_path / "gen")
    shutil.copy(fw.generate(other, tmp_path / "other_gen") / "alog_model_data.c", gen / "alog_model_data.c")
    image = fw.link_image(tmp_path / "work", tree, gen, log=None, lines=0, memory=tree.example_memory())
    run = qemu.run_image(image.path, runner=fw.RUNNER)
    assert run.status == qemu.EXIT_SETUP and run.stdout == b""
    original = hashlib.sha256((models / "deeplog.onnx").read_bytes()).hexdigest()
    assert (f"firmware: deeplog.onnx: the bytes in alog_model_data.c (sha256 {meta['sha256'][:12]}...) are not "
            f"the model alog_model_meta.h describes ({original[:12]}...) (fix: generate both from one model "
            "directory) (model or vocabulary mismatch)") in run.stderr


def test_int8_models_are_smaller_and_pass_the_check(built):
    """quantize=int8: the firmware library (reference kernels) reads the int8 weights in place
    from flash through DequantizeLinear, kept in the image as the models' operator; the models
    take less flash, and the verdicts under QEMU are still the host engine's on the same files."""
    tree, _ = built
    plain = {kind: entry["size"] for kind, entry in _manifest(tree)["models"].items() if kind != "vocab"}
    proc = tree.scons("-j2", "firmware_models=deeplog+mscred", "firmware_lines=1000", "quantize=int8",
                      "bundle", "check")
    assert re.search(r"^PASS firmware \(\d+ verdicts", proc.stdout, re.M)
    assert b'"model":"mscred"' in tree.check_log.read_bytes()
    quantized = {kind: entry["size"] for kind, entry in _manifest(tree)["models"].items() if kind != "vocab"}
    assert plain and all(quantized[k] < plain[k] for k in plain)
    symbols = subprocess.run([fw.TOOLCHAIN.PREFIX + "nm", str(tree.image)], capture_output=True, text=True,
                             check=True).stdout.split()
    assert {"alog_op_dequantize_linear", "alog_op_lstm", "alog_op_conv"} <= set(symbols)
