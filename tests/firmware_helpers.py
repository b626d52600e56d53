"""`scons target=cortex-m4` in temporary trees for tests/test_firmware.py, and relinks of what it
built for the cases the build itself never makes (another input, a short arena, a small stack).

    build_tree(root, *words) -> FirmwareTree   a copy of the build files with the real engine and a
                                               small log (tests/scons_trees.py), built with the tiny
                                               options plus `words`
    FirmwareTree                               where that build put each thing
    link_image(...)                            the example relinked from the tree's library objects
                                               with the target's own flags

The flags come from toolchains/cortex-m4.py and site_scons/site_tools/alog_flags.py (the files
SCons reads), so a relink compiles exactly as `scons target=cortex-m4` does.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alog_detect import __version__
from alog_detect.codegen import CodegenConfig, render_headers
from alog_detect.firmware import qemu
from alog_detect.firmware.inputs import InputConfig, input_bytes, render_input
from scons_trees import TINY_OPTIONS, copy_build_files, scons, write_small_log

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_SOURCES = ("main.c", "board_mps2.c", "semihost.c", "startup.c")
TARGET = "cortex-m4"
OPTIONS = (f"target={TARGET}", *TINY_OPTIONS)
PACKAGE = f"alog-firmware-{__version__}-{TARGET}"


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
RUNNER = tuple(TOOLCHAIN.RUNNER)


def _config_objects() -> tuple[str, ...]:
    """alog_firmware.py's CONFIG_OBJECTS (the objects compiled again with alog_ops_config.h), read
    from its source: the module itself needs SCons to import."""
    import ast

    tree = ast.parse((REPO / "site_scons" / "site_tools" / "alog_firmware.py").read_text())
    return next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "CONFIG_OBJECTS" for t in node.targets))


# object name -> its source under cengine/src
CONFIGURED = {Path(o).name: str(Path(o).relative_to("src").with_suffix(".c")) for o in _config_objects()}


def available() -> str | None:
    """None when the cross compiler, newlib and QEMU are installed, else what is missing."""
    missing = [tool for tool in (CC, AR, TOOLCHAIN.PREFIX + "size", qemu.QEMU) if not shutil.which(tool)]
    return f"{', '.join(missing)} not installed ({TOOLCHAIN.INSTALL_HINT})" if missing else None


# ---- the SCons build ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FirmwareTree:
    root: Path

    @property
    def build(self) -> Path:
        return self.root / "build" / TARGET

    @property
    def firmware(self) -> Path:
        return self.build / "firmware"

    @property
    def tarball(self) -> Path:
        return self.root / "dist" / f"{PACKAGE}.tar.gz"

    @property
    def image(self) -> Path:
        return self.firmware / "firmware.elf"

    @property
    def gen(self) -> Path:
        return self.build / "gen"

    @property
    def check_log(self) -> Path:
        return self.build / "check" / "firmware.log"

    @property
    def host_engine(self) -> Path:
        return self.root / "build" / "host" / "tools" / "alog-engine"

    def models(self, names: str = "deeplog") -> Path:
        """The model directory the image holds: DeepLog's, or both (the export's)."""
        common = self.root / "build" / "common"
        return common / "models" if names == "deeplog+mscred" else common / f"models-{names}"

    def example_memory(self) -> dict[str, int]:
        """example_memory.h's constants: the example's settings and the sizes measured with them."""
        text = (self.firmware / "memory" / "example_memory.h").read_text()
        return {name: int(value) for name, value in re.findall(r"#define (EXAMPLE_\w+) (\d+)u", text)}

    def library_objects(self) -> list[Path]:
        """The target's library objects as SCons compiled them (every operator: the generic
        registry), for relinks."""
        return sorted((self.build / "cengine" / "src").rglob("*.o"))

    def scons(self, *words: str, check: bool = True):
        return scons(self.root, *OPTIONS, *words, check=check)


def build_tree(root: Path, *words: str) -> tuple[FirmwareTree, subprocess.CompletedProcess]:
    """The build files and a small log in `root`, then `scons -j2 target=cortex-m4 <tiny> WORDS`."""
    copy_build_files(root)
    write_small_log(root)
    tree = FirmwareTree(root)
    return tree, tree.scons("-j2", *words)


# ---- relinks of the tree's objects ---------------------------------------------------------------

def compile_c(source: Path, obj: Path, *flags: str) -> Path:
    obj.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*COMPILE, *flags, f"-I{REPO / 'cengine/include'}", f"-I{REPO / 'cengine/src'}", "-c",
           str(source), "-o", str(obj)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return obj


def library_sources() -> list[Path]:
    """The library: src/*.c and src/*/*.c except src/cli/ (as cengine/SConscript globs it)."""
    engine = REPO / "cengine"
    return sorted(p for p in [*engine.glob("src/*.c"), *engine.glob("src/*/*.c")]
                  if p.parent.name != "cli")


@dataclass(frozen=True)
class Image:
    path: Path
    objects: tuple[Path, ...]   # every object linked in (the stack analysis reads their .ci)
    data: bytes                 # the input compiled into it


def generate(models: Path, gen: Path) -> Path:
    """The generated headers and model source of `models` in `gen`."""
    render_headers(CodegenConfig(model_dir=models, out_dir=gen, root=REPO))
    return gen


def link_image(work: Path, tree: FirmwareTree, gen: Path, *, log: Path | None, lines: int | None,
               memory: dict[str, int], events: bool = False, ops_gen: Path | None = None,
               stack_size: int | None = None) -> Image:
    """The example in `work`: the tree's library objects (CONFIG_OBJECTS of
    site_scons/site_tools/alog_firmware.py recompiled with the alog_ops_config.h of `ops_gen`,
    default `gen`, as SCons does), the example's sources with the generated
    files of `gen` and `memory` (EXAMPLE_* settings and sizes: FirmwareTree.example_memory()),
    and the first `lines` lines of `log` (None: empty)."""
    work.mkdir(parents=True, exist_ok=True)
    example = REPO / "cengine" / "examples" / "firmware"
    library = [o for o in tree.library_objects() if o.name not in CONFIGURED] + [
        compile_c(REPO / "cengine/src" / source, work / f"ops_{name}", "-DALOG_OPS_CONFIG",
                  f"-I{ops_gen or gen}") for name, source in CONFIGURED.items()]
    defines = [f"-D{name}={value}" for name, value in memory.items()]
    objects = [compile_c(example / name, work / f"example_{Path(name).stem}.o", *defines, f"-I{gen}",
                         f"-I{example}") for name in EXAMPLE_SOURCES]
    if log is None:
        log = work / "empty.log"
        log.write_bytes(b"")
    render_input(InputConfig(log=log, out=work / "example_input.c", lines=lines, events=events, root=REPO))
    objects += [compile_c(work / "example_input.c", work / "example_input.o", f"-I{example}"),
                compile_c(gen / "alog_model_data.c", work / "alog_model_data.o", f"-I{gen}")]
    image = link(work / "firmware.elf", objects, library, stack_size)
    return Image(image, tuple(objects + library), input_bytes(log, lines))


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
