"""The firmware tarball: `dist/alog-firmware-<version>-<target>.tar.gz` (docs/build.md, "The
firmware target: cortex-m4").

Under one top directory named like the tarball:

    lib/libalog.a                 the engine with only the models' operators (no model inside)
    include/                      alog.h and the headers generated for the models (alog_vocab.h,
                                  alog_model_meta.h, alog_ops_config.h)
    src/alog_model_data.c         the models as 16-byte aligned const arrays, kept out of the
                                  library: the image compiles it once
    example/                      the example firmware for QEMU's mps2-an386: its sources, linker
                                  script and start-up code, the generated example_input.c and
                                  example_memory.h, and the image the build ran (firmware.elf)
    README.md                     adding it to a firmware (packaging/firmware/README.md.j2)
    manifest.json                 target, compiler, CPU flags, model and vocabulary hashes, the
                                  arenas and detector measured on the device, the example image's
                                  sections, flash, RAM and worst-case stack, the budgets
    SHA256SUMS                    every other file, for `sha256sum -c SHA256SUMS`

The figures come from the build's budget step (site_scons/site_tools/alog_firmware.py: its
budget.json, `FirmwareConfig.report`); build_firmware_package() only arranges them. The same
inputs give the same bytes (alog_detect.package.archive); the tarball is written atomically.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .. import __version__
from ..errors import UserError
from .contents import (jinja_environment, manifest_bytes, model_hashes, read_files, sha256,
                       sha256sums, write_tarball)

MANIFEST_FORMAT_VERSION = 1
GENERATED = ("README.md", "manifest.json", "SHA256SUMS")
LIBRARY = "lib/libalog.a"
IMAGE = "example/firmware.elf"
BINARIES = (LIBRARY, IMAGE)
# The example's constants (cengine/examples/firmware/main.c) -> the manifest's names.
MEMORY_NAMES = {"EXAMPLE_DEEPLOG_ARENA": "deeplog_arena", "EXAMPLE_MSCRED_ARENA": "mscred_arena",
                "EXAMPLE_DETECTOR_MEMORY": "detector"}


@dataclasses.dataclass(frozen=True)
class FirmwareConfig:
    out: Path            # dist/<top>.tar.gz
    top: str             # the directory every member sits in
    target: str          # toolchains/<target>.py
    platform: dict       # the toolchain's ALOG_PLATFORM
    optimize: str        # the optimize= level the library was built at
    files: dict          # path inside `top` -> file to ship (lib/, include/, src/, example/)
    models: dict         # the model directory's files the image holds: file name -> path (their
                         # hashes go into the manifest; their bytes ship in src/alog_model_data.c)
    readme: Path         # the README's jinja2 template
    report: dict         # the budget step's report: "budgets", "image" (sections, flash_bytes,
                         # ram_bytes), "stack", "memory" (EXAMPLE_* -> bytes), "example" (settings)


def _memory(report: dict) -> dict:
    return {MEMORY_NAMES[name]: size for name, size in sorted(report["memory"].items())}


def manifest(config: FirmwareConfig, contents: dict[str, bytes]) -> dict:
    report = config.report
    models = read_files(config.models, "the firmware tarball")
    return {
        "format_version": MANIFEST_FORMAT_VERSION,
        "name": config.top,
        "version": __version__,
        "target": config.target,
        "platform": dict(sorted(config.platform.items())),
        "optimize": config.optimize,
        "models": model_hashes(models, "the firmware has no model directory (vocab.json)",
                               "give build_firmware_package the model directory's files"),
        # Measured on the device (the probe image under QEMU), bytes.
        "memory": _memory(report),
        "example": dict(sorted(report["example"].items())),
        "image": report["image"],
        "stack": report["stack"],
        # One DeepLog window on SysTick, in the probe run under QEMU -icount shift=0 (for the
        # record: the instruction count, not a board's time).
        "timing": report["timing"],
        "budgets": report["budgets"],
        "binaries": {name: {"size": len(contents[name]), "sha256": sha256(contents[name])}
                     for name in BINARIES if name in contents},
    }


def _context(config: FirmwareConfig, manifest_data: dict) -> dict:
    platform = config.platform
    image = manifest_data["image"]
    return {
        "version": __version__, "target": config.target, "top": config.top,
        "cpu_flags": " ".join(platform["cpu_flags"]), "compiler": platform["compiler"],
        "compiler_version": platform["compiler_version"], "optimize": config.optimize,
        "models": manifest_data["models"], "memory": manifest_data["memory"],
        "example": manifest_data["example"], "sections": image["sections"],
        "flash": image["flash_bytes"], "ram": image["ram_bytes"],
        "stack": manifest_data["stack"], "budgets": manifest_data["budgets"],
    }


def _readme(config: FirmwareConfig, manifest_data: dict) -> bytes:
    import jinja2

    try:
        source = Path(config.readme).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read the README template ({exc.strerror})", config.readme,
                        "restore packaging/firmware/README.md.j2") from None
    env = jinja_environment(jinja2.DictLoader({"README.md": source}))
    env.filters["thousands"] = lambda n: f"{n:,}"
    return env.get_template("README.md").render(_context(config, manifest_data)).encode("utf-8")


def firmware_members(config: FirmwareConfig) -> dict[str, tuple[bytes, bool]]:
    """Every file of the tarball: {path inside the top directory: (bytes, executable)}."""
    clash = sorted(set(config.files) & set(GENERATED))
    if clash:
        raise UserError(f"the firmware tarball generates {', '.join(clash)} itself", None,
                        "do not pass these among the files")
    missing = [name for name in BINARIES if name not in config.files]
    if missing:
        raise UserError(f"the firmware tarball needs {', '.join(missing)}", None,
                        "pass the library and the example image among the files")
    contents = read_files(config.files, "the firmware tarball")
    manifest_data = manifest(config, contents)
    contents["README.md"] = _readme(config, manifest_data)
    contents["manifest.json"] = manifest_bytes(manifest_data)
    contents["SHA256SUMS"] = sha256sums(contents)
    return {name: (data, False) for name, data in contents.items()}


def build_firmware_package(config: FirmwareConfig) -> Path:
    return write_tarball(config.out, config.top, firmware_members(config))
