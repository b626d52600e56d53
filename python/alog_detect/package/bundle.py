"""The Linux bundle: `dist/alog-engine-<version>-<target>.tar.gz` (docs/build.md, "Bundles").

Under one top directory named like the tarball:

    bin/alog-engine                   the engine bound to the models (static on cross targets)
    lib/libalog.a, lib/libalog.so     the library
    lib/pkgconfig/alog.pc             pkg-config, relocatable (${pcfiledir})
    lib/cmake/alog/                   alogConfig.cmake (imported target alog::alog) + version file
    include/                          alog.h and the headers generated for the models
    share/alog/models/                the model directory
    share/alog/examples/linux/        a program linked through either file above
    README                            for the device: check, run, link
    manifest.json                     target, triple, CPU flags, compiler, model and vocabulary
                                      hashes, memory (arenas), each binary's size
    SHA256SUMS                        every other file, for `sha256sum -c SHA256SUMS`

build_bundle() renders the generated members from templates/bundle/ (jinja2, like codegen) and
writes the tarball through alog_detect.atomic: nothing half-written. The same inputs give the
same bytes (alog_detect.package.archive).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from .. import __version__
from ..errors import UserError
from .contents import (jinja_environment, manifest_bytes, model_hashes, read_files, sha256,
                       sha256sums, write_tarball)

MANIFEST_FORMAT_VERSION = 1
# Files the bundle generates itself, beside the ones it is given.
GENERATED = ("README", "lib/pkgconfig/alog.pc", "lib/cmake/alog/alogConfig.cmake",
             "lib/cmake/alog/alogConfigVersion.cmake", "manifest.json", "SHA256SUMS")
TEMPLATES = {"README": "README.j2", "lib/pkgconfig/alog.pc": "alog.pc.j2",
             "lib/cmake/alog/alogConfig.cmake": "alogConfig.cmake.j2",
             "lib/cmake/alog/alogConfigVersion.cmake": "alogConfigVersion.cmake.j2"}
BINARIES = ("bin/alog-engine", "lib/libalog.a", "lib/libalog.so")
MODELS_DIR = "share/alog/models"


@dataclasses.dataclass(frozen=True)
class BundleConfig:
    out: Path                       # dist/<top>.tar.gz
    top: str                        # the directory every member sits in
    target: str                     # toolchains/<target>.py
    platform: dict                  # the toolchain's ALOG_PLATFORM (docs/build.md)
    files: dict                     # path inside `top` -> file to ship (bin/, lib/, include/, share/)
    executables: frozenset = frozenset()  # paths of `files` that get mode 0755
    memory: dict | None = None      # what `alog-engine --memory` printed for the models, measured
                                    # on the target (None: not measured)


def _models(contents: dict[str, bytes]) -> dict:
    """The model directory's hashes, as the manifest records them."""
    prefix = f"{MODELS_DIR}/"
    return model_hashes({name[len(prefix):]: data for name, data in contents.items()
                         if name.startswith(prefix)},
                        f"the bundle has no model directory ({MODELS_DIR}/vocab.json)",
                        "give build_bundle the files of a convert-onnx output directory")


def _environment():
    import jinja2

    return jinja_environment(jinja2.PackageLoader("alog_detect", "templates/bundle"))


def _glibc(triple: str) -> str:
    match = re.search(r"-gnu\w*\.(\d+\.\d+)$", triple)
    return match.group(1) if match else ""


def _bytes_text(n: int) -> str:
    return f"{n:,} bytes ({n / (1 << 20):.1f} MiB)"


def _context(config: BundleConfig, contents: dict[str, bytes]) -> dict:
    platform = config.platform
    static_musl = platform["triple"].endswith(("-musl", "-musleabihf"))
    return {
        "version": __version__, "target": config.target, "top": config.top,
        "machine": platform["machine"], "triple": platform["triple"],
        # "aarch64-linux-gnu.2.17" -> "2.17": the oldest glibc libalog.so runs with
        "glibc": _glibc(platform["shared_library_triple"]),
        "libc": "musl's C library linked in" if static_musl else "",
        "cpu": platform["cpu"], "cpu_flags": " ".join(platform["cpu_flags"]),
        "compiler": platform["compiler"], "compiler_version": platform["compiler_version"],
        "pointer_size": platform["pointer_size"],
        "shared": "lib/libalog.so" in contents,
        "memory_total": _bytes_text(config.memory["total"]) if config.memory else "(not measured)",
    }


def manifest(config: BundleConfig, contents: dict[str, bytes]) -> dict:
    return {
        "format_version": MANIFEST_FORMAT_VERSION,
        "name": config.top,
        "version": __version__,
        "target": config.target,
        "platform": dict(sorted(config.platform.items())),
        "models": _models(contents),
        "memory": config.memory,
        "binaries": {name: {"size": len(contents[name]), "sha256": sha256(contents[name])}
                     for name in BINARIES if name in contents},
    }


def bundle_members(config: BundleConfig) -> dict[str, tuple[bytes, bool]]:
    """Every file of the bundle: {path inside the top directory: (bytes, executable)}."""
    clash = sorted(set(config.files) & set(GENERATED))
    if clash:
        raise UserError(f"the bundle generates {', '.join(clash)} itself", None,
                        "do not pass these among the files")
    contents = read_files(config.files, "the bundle")
    env = _environment()
    context = _context(config, contents)
    for name, template in TEMPLATES.items():
        contents[name] = env.get_template(template).render(context).encode("utf-8")
    contents["manifest.json"] = manifest_bytes(manifest(config, contents))
    contents["SHA256SUMS"] = sha256sums(contents)
    return {name: (data, name in config.executables) for name, data in contents.items()}


def build_bundle(config: BundleConfig) -> Path:
    return write_tarball(config.out, config.top, bundle_members(config))
