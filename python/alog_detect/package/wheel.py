"""The device-side wheel: `alog_runtime` with a target's libalog.so and a model directory inside.

    build_runtime_wheel(RuntimeWheelConfig(library=Path("build/arm64/lib/libalog.so"),
                                           models=Path("build/common/models"),
                                           platform_tag="manylinux_2_17_aarch64",
                                           out_dir=Path("dist")))
    -> dist/alog_runtime-0.1.0-py3-none-manylinux_2_17_aarch64.whl

packaging/runtime/ (the pure-Python package and its pyproject.toml) is staged in a temporary
directory with the library as alog_runtime/libalog.so and the model files under
alog_runtime/models/; setuptools builds the wheel through `pip wheel` (PEP 517, no build
isolation, no index), `wheel tags` gives it the tags py3-none-<platform> (ctypes: no CPython ABI,
llama-cpp-python's pattern), and the wheel is read back with the `wheel` package, which checks
every file against RECORD. Nothing is zipped by hand.

The result is written atomically (a temporary file beside it, then a rename), and the same inputs
give the same bytes: every staged file gets a fixed mode, and SOURCE_DATE_EPOCH fixes every
timestamp in the archive. The version is alog_detect's; the build fails if the staged package
says otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from .. import __version__
from ..atomic import atomic_path
from ..errors import UserError

RUNTIME_SOURCE = Path(__file__).resolve().parents[3] / "packaging" / "runtime"
PACKAGE = "alog_runtime"
LIBRARY_NAME = "libalog.so"
# The files of a model directory the runtime reads (docs/formats.md, "Model directory").
MODEL_FILES = ("vocab.json", "frontend.json", "deeplog.onnx", "deeplog.onnx.meta.json",
               "mscred.onnx", "mscred.onnx.meta.json")
# ZIP's earliest date (1980-01-01): the archive's timestamps when SOURCE_DATE_EPOCH is not set.
DEFAULT_SOURCE_DATE_EPOCH = 315532800
FILE_MODE, LIBRARY_MODE = 0o644, 0o755

# Platform tags this project builds (docs/runtime.md): the architecture ends the tag, and the
# library inside must be an ELF shared object for it.
_PLATFORM_TAG = re.compile(r"(linux|manylinux_\d+_\d+|musllinux_\d+_\d+)_(x86_64|aarch64|armv7l|riscv64|i686)\Z")
_ELF_CLASS_64, _ELF_CLASS_32 = 2, 1
_ELF_LITTLE_ENDIAN = 1
_ELF_SHARED_OBJECT = 3
# architecture -> (ELF class, e_machine)
_ELF_ARCH = {"x86_64": (_ELF_CLASS_64, 62), "aarch64": (_ELF_CLASS_64, 183),
             "armv7l": (_ELF_CLASS_32, 40), "riscv64": (_ELF_CLASS_64, 243),
             "i686": (_ELF_CLASS_32, 3)}


@dataclasses.dataclass(frozen=True)
class RuntimeWheelConfig:
    library: Path                        # the target's libalog.so
    models: Path                         # a model directory (`alog-detect convert-onnx --output-dir`)
    platform_tag: str                    # e.g. manylinux_2_17_aarch64, linux_x86_64
    out_dir: Path                        # the wheel is written here
    source: Path = RUNTIME_SOURCE        # packaging/runtime/ of this checkout
    source_date_epoch: int | None = None  # None: $SOURCE_DATE_EPOCH, else DEFAULT_SOURCE_DATE_EPOCH
    audit: bool = False                  # refuse a wheel whose tag auditwheel does not confirm


def host_platform_tag() -> str:
    """The wheel platform tag of this machine (linux_x86_64 here), as toolchains/host.py has it."""
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def wheel_filename(platform_tag: str, version: str = __version__) -> str:
    """alog_runtime-<version>-py3-none-<platform>.whl: what build_runtime_wheel writes."""
    return f"{PACKAGE}-{version}-py3-none-{platform_tag}.whl"


def runtime_source_files(source: Path = RUNTIME_SOURCE) -> tuple[Path, ...]:
    """The files of packaging/runtime/ that go into the wheel (also the build's dependencies)."""
    package = source / PACKAGE
    files = [source / "pyproject.toml", source / "setup.py", source / "README.md", package / "py.typed",
             *package.glob("*.py")]
    return tuple(sorted(files))


def model_files(models: Path) -> tuple[Path, ...]:
    """The files of a model directory that go into the wheel: those of MODEL_FILES present."""
    return tuple(models / name for name in MODEL_FILES if (models / name).is_file())


# ---- checks ---------------------------------------------------------------------------------------

def _check_platform_tag(tag: str) -> str:
    match = _PLATFORM_TAG.match(tag)
    if not match:
        raise UserError(f"not a platform tag this project builds: {tag!r}", None,
                        "give linux_<arch>, manylinux_<glibc major>_<minor>_<arch> or "
                        "musllinux_<major>_<minor>_<arch>, arch one of " + ", ".join(_ELF_ARCH))
    return match.group(2)


def _check_library(library: Path, arch: str) -> None:
    """An ELF shared library for the tag's architecture: a wheel must never carry another
    architecture's, nor a program (a position-independent executable is an ELF shared object
    too, but asks for a program interpreter, and dlopen refuses it)."""
    try:
        data = library.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the library ({exc.strerror})", library,
                        "build it first (scons lib target=<t>) and pass its libalog.so") from None
    fix = f"pass the libalog.so built for {arch} (build/<target>/lib/libalog.so)"
    if len(data) < 52 or data[:4] != b"\x7fELF":
        raise UserError("not an ELF shared library", library, fix)
    elf_class, byte_order = data[4], data[5]
    if byte_order != _ELF_LITTLE_ENDIAN:
        raise UserError("a big-endian ELF file; every target here is little-endian", library, fix)
    elf_type = int.from_bytes(data[16:18], "little")
    machine = int.from_bytes(data[18:20], "little")
    if elf_type != _ELF_SHARED_OBJECT or _PT_INTERP in _program_header_types(data, elf_class):
        raise UserError("an ELF file that is not a shared library (a program?)", library, fix)
    if (elf_class, machine) != _ELF_ARCH[arch]:
        found = next((name for name, spec in _ELF_ARCH.items() if spec == (elf_class, machine)),
                     f"ELF machine {machine}")
        raise UserError(f"a library for {found}, not for {arch} as the platform tag says",
                        library, fix)


_PT_INTERP = 3


def _program_header_types(data: bytes, elf_class: int) -> list[int]:
    """p_type of each program header (ELF32 or ELF64, little-endian); [] if they lie outside."""
    if elf_class == _ELF_CLASS_64:
        offset, size, count = (int.from_bytes(data[0x20:0x28], "little"),
                               int.from_bytes(data[0x36:0x38], "little"),
                               int.from_bytes(data[0x38:0x3A], "little"))
    else:
        offset, size, count = (int.from_bytes(data[0x1C:0x20], "little"),
                               int.from_bytes(data[0x2A:0x2C], "little"),
                               int.from_bytes(data[0x2C:0x2E], "little"))
    if size < 4 or offset + size * count > len(data):
        return []
    return [int.from_bytes(data[offset + i * size:offset + i * size + 4], "little")
            for i in range(count)]


def _check_models(models: Path) -> tuple[Path, ...]:
    fix = "pass a directory from `alog-detect convert-onnx --output-dir`"
    if not models.is_dir():
        raise UserError("model directory not found", models, fix)
    if not (models / "vocab.json").is_file():
        raise UserError("model directory has no vocab.json", models, fix)
    for kind in ("deeplog", "mscred"):
        if (models / f"{kind}.onnx").is_file() and not (models / f"{kind}.onnx.meta.json").is_file():
            raise UserError(f"{kind}.onnx without its {kind}.onnx.meta.json", models, fix)
    if not any((models / f"{kind}.onnx").is_file() for kind in ("deeplog", "mscred")):
        raise UserError("model directory holds no exported model (deeplog.onnx, mscred.onnx)",
                        models, "export it with `alog-detect convert-onnx`")
    return model_files(models)


# ---- the build ------------------------------------------------------------------------------------

def _copy(source: Path, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, mode)


def _stage(config: RuntimeWheelConfig, models: tuple[Path, ...], stage: Path) -> None:
    for path in runtime_source_files(config.source):
        _copy(path, stage / path.relative_to(config.source), FILE_MODE)
    _copy(config.library, stage / PACKAGE / LIBRARY_NAME, LIBRARY_MODE)
    for path in models:
        _copy(path, stage / PACKAGE / "models" / path.name, FILE_MODE)


def _run(cmd: list[str], env: dict[str, str], what: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise UserError(f"{what} failed: {detail[-1] if detail else f'exit code {proc.returncode}'}",
                        None, "install the pinned build tools: pip install -c constraints.txt "
                              "setuptools wheel")
    return proc.stdout


def _verify(wheel: Path, models: tuple[Path, ...]) -> None:
    """Read every file back through the `wheel` package, which checks each against its RECORD
    hash, and check that the library and the models are inside."""
    from wheel.wheelfile import WheelFile

    with WheelFile(wheel) as archive:
        names = set(archive.namelist())
        for name in sorted(names):
            archive.read(name)
    wanted = {f"{PACKAGE}/{LIBRARY_NAME}", f"{PACKAGE}/py.typed",
              *(f"{PACKAGE}/models/{path.name}" for path in models)}
    missing = sorted(wanted - names)
    if missing:
        raise UserError(f"the built wheel lacks {', '.join(missing)}", wheel,
                        "check packaging/runtime/pyproject.toml's package-data")


# ---- auditwheel -----------------------------------------------------------------------------------

_AUDITWHEEL_TAG = re.compile(r'following\s+platform\s+tag:\s+"([^"]+)"')
_POLICY_TAG = re.compile(r"(manylinux|musllinux)_(\d+)_(\d+)_(\w+)\Z")


def _split_tag(tag: str) -> tuple[str, tuple[int, int] | None, str]:
    """(family, C library version or None, architecture) of a platform tag."""
    policy = _POLICY_TAG.match(tag)
    if policy:
        return policy.group(1), (int(policy.group(2)), int(policy.group(3))), policy.group(4)
    family, _, arch = tag.partition("_")
    return family, None, arch


def tag_is_consistent(platform_tag: str, measured: str) -> bool:
    """Whether a wheel tagged `platform_tag` may carry a library auditwheel measured as `measured`
    (the tag it reports): the same architecture, and a manylinux or musllinux tag no older than
    the C library versions the library needs; a plain linux_<arch> tag claims no C library."""
    family, version, arch = _split_tag(platform_tag)
    measured_family, measured_version, measured_arch = _split_tag(measured)
    if arch != measured_arch:
        return False
    if family == "linux":
        return True
    return family == measured_family and version is not None and measured_version is not None \
        and version >= measured_version


def check_with_auditwheel(wheel: Path) -> str:
    """Run `auditwheel show` on a built wheel and return the platform tag it measures; raise
    UserError when the wheel's own tag claims more than that (auditwheel itself exits 0 then)."""
    proc = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)],
                          capture_output=True, text=True)
    match = _AUDITWHEEL_TAG.search(proc.stdout)
    if proc.returncode != 0 or match is None:
        detail = (proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}")
        raise UserError(f"auditwheel show found no platform tag: {detail.splitlines()[-1]}", wheel,
                        "install auditwheel (pip install -c constraints.txt auditwheel) and "
                        "pass a wheel from build_runtime_wheel")
    measured = match.group(1)
    platform_tag = wheel.name[:-len(".whl")].split("-")[-1]
    if not tag_is_consistent(platform_tag, measured):
        raise UserError(f"tagged {platform_tag}, but auditwheel measures its library as {measured}",
                        wheel, "build the library against an older C library (zig cc -target "
                               "<arch>-linux-gnu.2.17) or tag the wheel " + measured)
    return measured


def build_runtime_wheel(config: RuntimeWheelConfig) -> Path:
    """Build dist/alog_runtime-<version>-py3-none-<platform>.whl from config (see module doc);
    returns its path. Raises UserError naming the input at fault; on failure nothing is written."""
    arch = _check_platform_tag(config.platform_tag)
    _check_library(config.library, arch)
    models = _check_models(config.models)
    if not (config.source / "pyproject.toml").is_file():
        raise UserError("no pyproject.toml: not the runtime package's source", config.source,
                        "run from an alog-detect checkout (packaging/runtime/)")
    epoch = config.source_date_epoch
    if epoch is None:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH))
    name = wheel_filename(config.platform_tag)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PIP_NO_INPUT": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="alog-runtime-wheel-") as tmp:
        stage, built = Path(tmp) / "stage", Path(tmp) / "dist"
        _stage(config, models, stage)
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
              "--no-cache-dir", "--disable-pip-version-check", "--quiet", "--wheel-dir", str(built),
              str(stage)], env, "pip wheel (setuptools)")
        wheels = sorted(built.glob("*.whl"))
        if len(wheels) != 1:
            raise UserError(f"pip wheel wrote {len(wheels)} wheels instead of one", built,
                            "check packaging/runtime/pyproject.toml")
        _run([sys.executable, "-m", "wheel", "tags", "--python-tag", "py3", "--abi-tag", "none",
              "--platform-tag", config.platform_tag, "--remove", str(wheels[0])], env, "wheel tags")
        wheel = built / name
        if not wheel.is_file():
            found = ", ".join(p.name for p in built.glob("*.whl"))
            raise UserError(f"expected {name}, the build made {found}", config.source / PACKAGE,
                            f"alog_runtime.__version__ must be alog_detect's ({__version__})")
        _verify(wheel, models)
        if config.audit:
            check_with_auditwheel(wheel)
        target = config.out_dir / name
        with atomic_path(target) as partial:
            shutil.copyfile(wheel, partial)
    return target
