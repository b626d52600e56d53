"""Builds firmware images for tests/test_firmware.py with the cortex-m4 target's own flags.

The flags come from toolchains/cortex-m4.py and site_scons/site_tools/alog_flags.py (the files
SCons reads), so these builds compile exactly as `scons target=cortex-m4` does:

    library   every engine source but src/cli/, -DALOG_REFERENCE_KERNELS, into objects once per
              test session (they do not depend on the models); registry.c once more per model
              directory with -DALOG_OPS_CONFIG and that directory's alog_ops_config.h
    image     the example (main.c, board_mps2.c, semihost.c, startup.c), the generated
              example_input.c and alog_model_data.c, linked with mps2_an386.ld
    probe     the same image with the arenas of alog_detect.firmware.qemu.PROBE_MEMORY and an
              empty input: run once, it reports the exact sizes the final image is built with
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from alog_detect.codegen import CodegenConfig, render_headers
from alog_detect.firmware import qemu
from alog_detect.firmware.inputs import InputConfig, input_bytes, render_input

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "cengine"
EXAMPLE = ENGINE / "examples" / "firmware"
EXAMPLE_SOURCES = ("main.c", "board_mps2.c", "semihost.c", "startup.c")
# What a small device keeps: DeepLog sessions at once and remembered windows (main.c).
MAX_SESSIONS = 64
CACHE_ENTRIES = 64
LINE_MAX = 1024


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOLCHAIN = _load(REPO / "toolchains" / "cortex-m4.py", "alog_toolchain_cortex_m4")
_FLAGS = _load(REPO / "site_scons" / "site_tools" / "alog_flags.py", "alog_flags")
CC = TOOLCHAIN.PREFIX + "gcc"
AR = TOOLCHAIN.PREFIX + "ar"
COMPILE = [CC, *_FLAGS.LANGUAGE_FLAGS, *_FLAGS.OPTIMIZE_FLAGS[TOOLCHAIN.OPTIMIZE_DEFAULT],
           *TOOLCHAIN.COMPILE_FLAGS, *(f"-D{d}" for d in TOOLCHAIN.DEFINES)]


def available() -> str | None:
    """None when the cross compiler and QEMU are installed, else what is missing."""
    missing = [tool for tool in (CC, AR, TOOLCHAIN.PREFIX + "size", qemu.QEMU) if not shutil.which(tool)]
    return f"{', '.join(missing)} not installed ({TOOLCHAIN.INSTALL_HINT})" if missing else None


def compile_c(source: Path, obj: Path, *flags: str) -> Path:
    obj.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*COMPILE, *flags, f"-I{ENGINE / 'include'}", f"-I{ENGINE / 'src'}", "-c", str(source),
           "-o", str(obj)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return obj


def library_sources() -> list[Path]:
    """The library: src/*.c and src/*/*.c except src/cli/ (as cengine/SConscript globs it)."""
    return sorted(p for p in [*ENGINE.glob("src/*.c"), *ENGINE.glob("src/*/*.c")]
                  if p.parent.name != "cli")


def _object_name(source: Path) -> str:
    return str(source.relative_to(ENGINE / "src").with_suffix(".o")).replace("/", "_")


def compile_library(out: Path, *flags: str) -> list[Path]:
    """Every library source compiled into `out` (two at a time: the machine has two cores)."""
    sources = library_sources()
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda s: compile_c(s, out / _object_name(s), *flags), sources))


@dataclass(frozen=True)
class Image:
    path: Path
    objects: tuple[Path, ...]   # every object linked in (the stack analysis reads their .ci)
    data: bytes                 # the input compiled into it


def generate(models: Path, gen: Path) -> Path:
    """The generated headers and model source of `models` in `gen`."""
    render_headers(CodegenConfig(model_dir=models, out_dir=gen, root=REPO))
    return gen


def link_image(work: Path, library: list[Path], gen: Path, *, log: Path | None, lines: int | None,
               memory: dict[str, int], events: bool = False, ops_gen: Path | None = None,
               defines: tuple[str, ...] = (), stack_size: int | None = None) -> Image:
    """The example image in `work`: the library objects (their registry.o replaced by one
    compiled with the alog_ops_config.h of `ops_gen`, default `gen`), the example's sources with
    `memory` (EXAMPLE_* sizes) and `defines`, and the first `lines` lines of `log` (None: empty)."""
    work.mkdir(parents=True, exist_ok=True)
    registry = compile_c(ENGINE / "src" / "ops" / "registry.c", work / "ops_registry.o",
                         "-DALOG_OPS_CONFIG", f"-I{ops_gen or gen}")
    objects = [o for o in library if o.name != "ops_registry.o"] + [registry]
    sizes = [f"-D{name}={value}" for name, value in memory.items()]
    settings = [f"-DEXAMPLE_MAX_SESSIONS={MAX_SESSIONS}", f"-DEXAMPLE_CACHE_ENTRIES={CACHE_ENTRIES}",
                f"-DEXAMPLE_LINE_MAX={LINE_MAX}"]
    example = [compile_c(EXAMPLE / name, work / f"example_{Path(name).stem}.o", *settings, *sizes,
                         *(f"-D{d}" for d in defines), f"-I{gen}", f"-I{EXAMPLE}")
               for name in EXAMPLE_SOURCES]
    if log is None:
        log = work / "empty.log"
        log.write_bytes(b"")
    render_input(InputConfig(log=log, out=work / "example_input.c", lines=lines, events=events,
                             root=REPO))
    data = (work / "example_input.c").read_bytes()
    generated = [compile_c(work / "example_input.c", work / "example_input.o", f"-I{EXAMPLE}"),
                 compile_c(gen / "alog_model_data.c", work / "alog_model_data.o", f"-I{gen}")]
    image = work / "firmware.elf"
    link(image, example + generated, objects, stack_size)
    return Image(image, tuple(example + generated + objects), input_bytes(log, lines))


def link(image: Path, objects: list[Path], library: list[Path], stack_size: int | None = None) -> Path:
    """Objects first, then the library as an archive (members pulled in only when referenced)."""
    archive = image.with_name("libalog.a")
    archive.unlink(missing_ok=True)
    subprocess.run([AR, "rcsD", str(archive), *map(str, library)], check=True)
    cmd = [CC, *TOOLCHAIN.LINK_FLAGS, f"-T{REPO / TOOLCHAIN.LINKER_SCRIPT}",
           *([f"-Wl,--defsym=STACK_SIZE={stack_size}"] if stack_size else []),
           f"-Wl,-Map={image.with_suffix('.map')}", *map(str, objects), str(archive), "-o", str(image)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return image


def build_firmware(work: Path, library: list[Path], models: Path, log: Path, lines: int,
                   events: bool = False) -> tuple[Image, dict[str, int]]:
    """Generate, build the probe, measure on the device, build the image with exact sizes."""
    gen = generate(models, work / "gen")
    probe = link_image(work / "probe", library, gen, log=None, lines=0, memory=qemu.PROBE_MEMORY)
    memory = qemu.measure_memory(probe.path)
    image = link_image(work / "image", library, gen, log=log, lines=lines, memory=memory,
                       events=events)
    return image, memory
