"""Cross targets (docs/build.md, "Targets"): `scons target=<t>` builds a self-contained bundle with
zig cc, `scons target=<t> check` runs the engine's programs under qemu-user, two clean builds in
two directories give the same bytes, applications link against an extracted bundle through
pkg-config and CMake, and every target's engine prints the host engine's verdicts byte for byte.

Trees are temporary copies of the build files with the real engine and a tiny configuration
(tests/scons_trees.py); zig's libc for each target is built once per machine into its fixed
cache (site_scons/alog_zig.py), not once per tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import cbuild
from alog_detect import __version__
from engine_helpers import HDFS_KEY, SAMPLE_KEY
from engine_helpers import engine, hdfs, sample  # noqa: F401 (session fixtures)
from scons_trees import BUNDLE_FILES, REPO, TINY_OPTIONS, copy_build_files, scons, write_small_log

QEMU = {"x86_64": "qemu-x86_64", "arm64": "qemu-aarch64", "armv7": "qemu-arm", "riscv64": "qemu-riscv64"}
TRIPLES = {"x86_64": "x86_64-linux-musl", "arm64": "aarch64-linux-musl", "armv7": "arm-linux-musleabihf",
           "riscv64": "riscv64-linux-musl"}
ELF_MACHINES = {"x86_64": "Advanced Micro Devices X86-64", "arm64": "AArch64", "armv7": "ARM",
                "riscv64": "RISC-V"}
CHECKS = ("test_detect_session", "test_detect_verdict", "test_public_api", "test_session_end",
          "alog-engine-generic", "onnx_runner", "mutate_model", "alog-engine", "alog-engine-verdicts")


def bundle_name(target: str) -> str:
    return f"alog-engine-{__version__}-linux-{target}"


def _alog_zig():
    sys.path.insert(0, str(REPO / "site_scons"))
    try:
        import alog_zig
    finally:
        sys.path.remove(str(REPO / "site_scons"))
    return alog_zig


def zig() -> str:
    path = _alog_zig().zig_binary()
    assert path, "ziglang is not installed (./setup.sh installs it)"
    return path


def zig_cache() -> str:
    """The zig cache the build uses (its libc builds are reused, not paid again)."""
    return _alog_zig().cache_dir()


def extract(tarball: Path, dest: Path) -> Path:
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")
    return dest / tarball.name[:-len(".tar.gz")]


# ---- two trees: arm64 and armv7 built and checked in the first, arm64 again in the second ----------

@pytest.fixture(scope="module")
def first_tree(tmp_path_factory):
    """arm64 and armv7 bundles and checks, tiny models (build/common/ is shared by both)."""
    root = copy_build_files(tmp_path_factory.mktemp("cross_a"))
    write_small_log(root)
    runs = {target: scons(root, "-j2", f"target={target}", "bundle", "wheel", "check", *TINY_OPTIONS)
            for target in ("arm64", "armv7")}
    return root, runs


@pytest.fixture(scope="module")
def second_tree(tmp_path_factory):
    """The same arm64 bundle built from scratch in another directory (training included)."""
    root = copy_build_files(tmp_path_factory.mktemp("cross_b_elsewhere") / "deeper" / "checkout")
    write_small_log(root)
    scons(root, "-j2", "target=arm64", *TINY_OPTIONS)
    return root


@pytest.mark.parametrize("target", ["arm64", "armv7"])
def test_check_runs_every_program_under_qemu(first_tree, target):
    root, runs = first_tree
    out = runs[target].stdout
    for name in CHECKS:
        assert f"PASS {name}\n" in out, name
    assert "FAIL" not in out
    # The check's programs are the target's, run through its qemu.
    header = subprocess.run(["readelf", "-h", root / f"build/{target}/bin/alog-engine"], capture_output=True,
                            text=True, check=True).stdout
    assert re.search(rf"Machine:\s+{re.escape(ELF_MACHINES[target])}", header)


def test_changing_the_target_never_retrains(first_tree):
    root, runs = first_tree
    assert "deeplog-train:" in runs["arm64"].stdout
    assert not re.search(r"^(deeplog-train|mscred-train|convert-onnx|parse):", runs["armv7"].stdout, re.M)


def test_two_clean_builds_in_two_directories_give_the_same_bytes(first_tree, second_tree):
    root, _ = first_tree
    name = f"dist/{bundle_name('arm64')}.tar.gz"
    first, second = (root / name).read_bytes(), (second_tree / name).read_bytes()
    if first != second:
        with tarfile.open(root / name) as a, tarfile.open(second_tree / name) as b:
            ours = {m.name: a.extractfile(m).read() for m in a.getmembers() if m.isfile()}
            theirs = {m.name: b.extractfile(m).read() for m in b.getmembers() if m.isfile()}
        differ = sorted(n for n in ours.keys() | theirs.keys() if ours.get(n) != theirs.get(n))
        pytest.fail(f"the bundles differ in {differ}")
    # No path of either checkout reached any member.
    with tarfile.open(root / name) as tar:
        for member in tar.getmembers():
            if member.isfile():
                data = tar.extractfile(member).read()
                assert str(root).encode() not in data and str(second_tree).encode() not in data, member.name


@pytest.fixture(scope="module")
def arm64_bundle(first_tree, tmp_path_factory):
    """The arm64 bundle extracted into a directory of its own, far from the build tree."""
    root, _ = first_tree
    return extract(root / f"dist/{bundle_name('arm64')}.tar.gz", tmp_path_factory.mktemp("device"))


def test_bundle_holds_what_a_device_needs(first_tree, arm64_bundle):
    root, _ = first_tree
    files = sorted(str(p.relative_to(arm64_bundle)) for p in arm64_bundle.rglob("*") if p.is_file())
    assert files == BUNDLE_FILES
    engine_file = arm64_bundle / "bin/alog-engine"
    program = subprocess.run(["readelf", "-lSd", engine_file], capture_output=True, text=True).stdout
    assert "AArch64" in subprocess.run(["readelf", "-h", engine_file], capture_output=True, text=True).stdout
    assert "Requesting program interpreter" not in program and "(NEEDED)" not in program  # static
    assert ".symtab" not in program  # stripped
    assert os.access(engine_file, os.X_OK)
    library = subprocess.run(["readelf", "-W", "-d", "--dyn-syms", arm64_bundle / "lib/libalog.so"], capture_output=True,
                             text=True).stdout
    assert re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", library) == ["libc.so.6"]
    glibc = {tuple(map(int, v.split("."))) for v in re.findall(r"@GLIBC_(\d+\.\d+(?:\.\d+)?)", library)}
    assert glibc and max(glibc) <= (2, 17)
    assert " alog_detector_feed_line" in library

    manifest = json.loads((arm64_bundle / "manifest.json").read_text())
    assert manifest["target"] == "arm64" and manifest["name"] == bundle_name("arm64")
    platform = manifest["platform"]
    assert platform["triple"] == "aarch64-linux-musl" and platform["shared_library_triple"] == "aarch64-linux-gnu.2.17"
    assert platform["cpu"] == "armv8-a" and platform["cpu_flags"] == ["-mcpu=generic"]
    assert platform["compiler"] == "zig cc" and re.fullmatch(r"\d+\.\d+\.\d+.*", platform["compiler_version"])
    models = root / "build/common/models"
    for kind in ("deeplog", "mscred"):
        assert manifest["models"][kind]["sha256"] == hashlib.sha256((models / f"{kind}.onnx").read_bytes()).hexdigest()
    assert manifest["models"]["vocab"]["file_sha256"] == hashlib.sha256((models / "vocab.json").read_bytes()).hexdigest()
    for name, entry in manifest["binaries"].items():
        assert entry["size"] == (arm64_bundle / name).stat().st_size, name
    # Measured by the arm64 engine itself under qemu: what it allocates with these models.
    memory = manifest["memory"]
    measured = subprocess.run([QEMU["arm64"], engine_file, "--models", arm64_bundle / "share/alog/models", "--memory"],
                              capture_output=True, text=True, check=True).stdout
    assert memory == json.loads(measured) and memory["deeplog_arena"] > 0 and memory["mscred_arena"] > 0


def test_sha256sums_verifies_every_file_and_catches_a_changed_one(arm64_bundle, tmp_path):
    ok = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=arm64_bundle, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    listed = {line.split("  ", 1)[1] for line in (arm64_bundle / "SHA256SUMS").read_text().splitlines()}
    assert listed == {str(p.relative_to(arm64_bundle)) for p in arm64_bundle.rglob("*")
                      if p.is_file() and p.name != "SHA256SUMS"}
    copy = tmp_path / "copy"
    shutil.copytree(arm64_bundle, copy)
    vocab = copy / "share/alog/models/vocab.json"
    vocab.write_bytes(vocab.read_bytes().replace(b"{", b"{ ", 1))
    bad = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=copy, capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stdout.strip() == "share/alog/models/vocab.json: FAILED"
    # The engine refuses it too, naming the file (the bound engine checks the hashes it was built for).
    refused = subprocess.run([QEMU["arm64"], "bin/alog-engine", "--models", "share/alog/models", "-"], cwd=copy,
                             capture_output=True, text=True, input="")
    assert refused.returncode == 3 and "vocab.json" in refused.stderr and len(refused.stderr.splitlines()) == 1


def test_extracted_bundle_runs_anywhere_with_nothing_else(first_tree, arm64_bundle):
    """From the bundle's own directory, with an empty environment: the verdicts are the Python
    reference's (the check's expected output for the same head of the logs)."""
    root, _ = first_tree
    head = root / "build/common/check/head.log"
    run = subprocess.run([shutil.which(QEMU["arm64"]), "bin/alog-engine", "--models", "share/alog/models", "--all",
                          str(head)], cwd=arm64_bundle, env={}, capture_output=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == (root / "build/common/check/head.verdicts.jsonl").read_bytes()
    assert run.stdout.count(b"\n") > 1000


# ---- applications linked against the extracted bundle -------------------------------------------

def _consumer_verdicts(program: Path, bundle: Path, log: Path) -> bytes:
    run = subprocess.run([QEMU["arm64"], program, bundle / "share/alog/models"], stdin=log.open("rb"),
                         capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_pkg_config_consumer_prints_the_engines_verdicts(first_tree, arm64_bundle, tmp_path):
    root, _ = first_tree
    build = tmp_path / "make"
    shutil.copytree(arm64_bundle / "share/alog/examples/linux", build)
    flags = subprocess.run(["pkg-config", "--static", "--cflags", "--libs", "alog"], capture_output=True, text=True,
                           env={**os.environ, "PKG_CONFIG_PATH": str(arm64_bundle / "lib/pkgconfig")}, check=True).stdout
    include, *libs = flags.split()
    assert Path(include[2:]).resolve() == (arm64_bundle / "include").resolve()
    assert [w for w in libs if w.startswith("-l")] == ["-lalog", "-lm"]
    subprocess.run(["make", "-C", build, f"BUNDLE={arm64_bundle}", f"CC={zig()} cc -target {TRIPLES['arm64']}"],
                   check=True, capture_output=True, env={**os.environ, "ZIG_GLOBAL_CACHE_DIR": zig_cache()})
    head = root / "build/common/check/head.log"
    assert _consumer_verdicts(build / "detect_lines", arm64_bundle, head) == \
        (root / "build/common/check/head.verdicts.jsonl").read_bytes()


CMAKE_TOOLCHAIN = """set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER "{cc}")
set(CMAKE_AR "{ar}")
set(CMAKE_RANLIB "{ranlib}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_FIND_ROOT_PATH "{bundle}")
"""


def test_cmake_consumer_prints_the_engines_verdicts(first_tree, arm64_bundle, tmp_path):
    """find_package(alog) in the bundle, cross-compiled with zig cc through a toolchain file."""
    root, _ = first_tree
    if shutil.which("cmake") is None:
        pytest.fail("cmake is not installed (./setup.sh installs it)")
    tools = tmp_path / "bin"
    tools.mkdir()
    wrappers = {}
    for name, words in (("cc", f"cc -target {TRIPLES['arm64']}"), ("ar", "ar"), ("ranlib", "ranlib")):
        wrapper = tools / f"zig-{name}"
        wrapper.write_text(f'#!/bin/sh\nZIG_GLOBAL_CACHE_DIR="{zig_cache()}" exec "{zig()}" {words} "$@"\n')
        wrapper.chmod(0o755)
        wrappers[name] = wrapper
    toolchain = tmp_path / "aarch64.cmake"
    toolchain.write_text(CMAKE_TOOLCHAIN.format(bundle=arm64_bundle, **wrappers))
    build = tmp_path / "cmake-build"
    configure = subprocess.run(["cmake", "-S", arm64_bundle / "share/alog/examples/linux", "-B", build,
                                f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", f"-DCMAKE_PREFIX_PATH={arm64_bundle}",
                                "-DCMAKE_BUILD_TYPE=Release"], capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    built = subprocess.run(["cmake", "--build", build, "--verbose"], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    assert f"{arm64_bundle}/lib/libalog.a" in built.stdout
    head = root / "build/common/check/head.log"
    assert _consumer_verdicts(build / "detect_lines", arm64_bundle, head) == \
        (root / "build/common/check/head.verdicts.jsonl").read_bytes()


# ---- the device-side wheels ------------------------------------------------------------------------

WHEEL_TAGS = {"arm64": "manylinux_2_17_aarch64", "armv7": "manylinux_2_17_armv7l"}


@pytest.mark.parametrize("target", ["arm64", "armv7"])
def test_wheel_is_tagged_for_its_target_and_auditwheel_agrees(first_tree, target):
    from alog_detect.package.wheel import check_with_auditwheel

    root, runs = first_tree
    wheel = root / f"dist/alog_runtime-{__version__}-py3-none-{WHEEL_TAGS[target]}.whl"
    assert f"wheel: dist/{wheel.name}" in runs[target].stdout
    assert check_with_auditwheel(wheel) == WHEEL_TAGS[target]
    with zipfile.ZipFile(wheel) as archive:
        library = archive.read("alog_runtime/libalog.so")
        info = archive.read(f"alog_runtime-{__version__}.dist-info/WHEEL").decode()
    assert library == (root / f"build/{target}/lib/libalog.so").read_bytes()
    assert f"Tag: py3-none-{WHEEL_TAGS[target]}" in info and "Root-Is-Purelib: false" in info


def test_wheel_library_runs_under_glibc(first_tree, tmp_path):
    """The arm64 wheel's libalog.so, loaded by a program linked against glibc (as CPython loads
    it through ctypes on a device), prints the reference's verdicts under qemu-aarch64."""
    root, _ = first_tree
    wheel = root / f"dist/alog_runtime-{__version__}-py3-none-{WHEEL_TAGS['arm64']}.whl"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "wheel")
    package = tmp_path / "wheel" / "alog_runtime"
    program = tmp_path / "detect_lines"
    subprocess.run([zig(), "cc", "-target", "aarch64-linux-gnu.2.17", "-std=c99", "-O2",
                    f"-I{REPO / 'cengine/include'}", f"-I{root / 'build/arm64/gen'}",
                    REPO / "cengine/examples/linux/detect_lines.c", "-o", program, f"-L{package}", "-lalog"],
                   check=True, capture_output=True, env={**os.environ, "ZIG_GLOBAL_CACHE_DIR": zig_cache()})
    head = root / "build/common/check/head.log"
    run = subprocess.run([QEMU["arm64"], "-L", "/usr/aarch64-linux-gnu", "-E", f"LD_LIBRARY_PATH={package}",
                          program, package / "models"], stdin=head.open("rb"), capture_output=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout == (root / "build/common/check/head.verdicts.jsonl").read_bytes()


@pytest.mark.parametrize("target, tag", [("x86_64", "manylinux_2_17_x86_64"), ("riscv64", "manylinux_2_31_riscv64")])
def test_other_targets_wheels_are_what_auditwheel_measures(sample, tmp_path, target, tag):
    """The two targets the trees above do not build: their libalog.so (this checkout's build/),
    packaged by the same stage function SCons calls."""
    from alog_detect.package.wheel import RuntimeWheelConfig, build_runtime_wheel, check_with_auditwheel

    cbuild.scons_targets(f"target={target}", f"build/{target}/lib/libalog.so")
    wheel = build_runtime_wheel(RuntimeWheelConfig(library=cbuild.BUILD / target / "lib" / "libalog.so",
                                                   models=sample[1], platform_tag=tag, out_dir=tmp_path,
                                                   audit=True))
    assert wheel.name == f"alog_runtime-{__version__}-py3-none-{tag}.whl"
    assert check_with_auditwheel(wheel) == tag


# ---- bad input ----------------------------------------------------------------------------------------

def test_unknown_cpu_is_one_line_before_any_work(tmp_path):
    root = copy_build_files(tmp_path)
    proc = scons(root, "target=arm64", "cpu=cortex-a99", check=False)
    assert proc.returncode == 2
    assert "cpu=cortex-a99: not a CPU of target=arm64 (fix: one of armv8-a, armv8.2-a, cortex-a53" in proc.stderr
    assert not (root / "build").exists() and not (root / "dist").exists()


def test_missing_runner_is_named_before_any_work(tmp_path):
    """A check (or a bundle, whose memory is measured on the target) needs the target's qemu."""
    root = copy_build_files(tmp_path)
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    for words in (("check",), ()):
        proc = scons(root, "target=riscv64", *words, env=env, check=False)
        assert proc.returncode == 2
        assert re.search(r"target=riscv64 (check|bundle): runs its programs with qemu-riscv64, which was not found "
                         r"\(fix: install the Debian package qemu-user", proc.stderr), proc.stderr
    assert not (root / "build").exists() and not (root / "dist").exists()
    # Building the library needs no runner.
    assert scons(root, "target=riscv64", "-n", "lib", env=env).returncode == 0


def test_missing_zig_names_the_package(tmp_path):
    """Without the ziglang package (here: a stand-in package without the zig binary shadows it)."""
    root = copy_build_files(tmp_path / "tree")
    shadow = tmp_path / "shadow" / "ziglang"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])}
    proc = scons(root, "target=arm64", "-n", env=env, check=False)
    assert proc.returncode == 2
    assert "target=arm64: its compiler or archiver was not found; install the PyPI package ziglang" in proc.stderr
    assert not (root / "build").exists()


# ---- the same verdicts on every target ------------------------------------------------------------

@pytest.fixture(scope="module")
def engines(engine):
    """The generic alog-engine of the host and of each cross target (this checkout's build/)."""
    built = {"host": [engine]}
    for target, qemu in QEMU.items():
        cbuild.scons_targets(f"target={target}", f"build/{target}/tools/alog-engine")
        built[target] = [qemu, cbuild.BUILD / target / "tools" / "alog-engine"]
    return built


def _verdicts(command: list, models: Path, log: Path, key: str) -> bytes:
    proc = subprocess.run([*map(str, command), "--models", str(models), "--session-key", key, "--all", str(log)],
                          capture_output=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("data", ["sample", "hdfs_20k"])
def test_every_target_prints_the_host_engines_verdicts(engines, sample, hdfs, data):
    log, models = sample if data == "sample" else hdfs
    key = SAMPLE_KEY if data == "sample" else HDFS_KEY
    host = _verdicts(engines["host"], models, log, key)
    lines = host.splitlines()
    assert len(lines) > 2000 and b'"model":"mscred"' in host and b'"anomaly":true' in host
    for target in QEMU:
        assert _verdicts(engines[target], models, log, key) == host, target
