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
import hashlib
import json
from pathlib import Path

from .. import __version__, atomic
from ..errors import UserError
from .archive import tarball_bytes

MANIFEST_FORMAT_VERSION = 1
# Files the bundle generates itself, beside the ones it is given.
GENERATED = ("README", "lib/pkgconfig/alog.pc", "lib/cmake/alog/alogConfig.cmake",
             "lib/cmake/alog/alogConfigVersion.cmake", "manifest.json", "SHA256SUMS")
TEMPLATES = {"README": "README.j2", "lib/pkgconfig/alog.pc": "alog.pc.j2",
             "lib/cmake/alog/alogConfig.cmake": "alogConfig.cmake.j2",
             "lib/cmake/alog/alogConfigVersion.cmake": "alogConfigVersion.cmake.j2"}
BINARIES = ("bin/alog-engine", "lib/libalog.a", "lib/libalog.so")
MODELS_DIR = "share/alog/models"
MODEL_FILES = ("deeplog.onnx", "mscred.onnx")


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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(files: dict) -> dict[str, bytes]:
    contents = {}
    for name, path in sorted(files.items()):
        try:
            contents[name] = Path(path).read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read a file the bundle ships ({exc.strerror})", Path(path),
                            "build it first (scons builds every member before the bundle)") from None
    return contents


def _models(contents: dict[str, bytes]) -> dict:
    """The model directory's hashes, as the manifest records them."""
    vocab = contents.get(f"{MODELS_DIR}/vocab.json")
    if vocab is None:
        raise UserError("the bundle has no model directory (share/alog/models/vocab.json)", None,
                        "give build_bundle the files of a convert-onnx output directory")
    models = {"vocab": {"file": "vocab.json", "file_sha256": _sha256(vocab)}}
    for file in MODEL_FILES:
        data = contents.get(f"{MODELS_DIR}/{file}")
        if data is None:
            continue
        meta = json.loads(contents[f"{MODELS_DIR}/{file}.meta.json"])
        models[meta["kind"]] = {"file": file, "sha256": _sha256(data), "size": len(data),
                                "opset": meta["opset"]}
        models["vocab"]["sha256"] = meta["vocab"]["sha256"]
    return models


def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("alog_detect", "templates/bundle"),
                              undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def _context(config: BundleConfig, contents: dict[str, bytes]) -> dict:
    platform = config.platform
    static_musl = platform["triple"].endswith(("-musl", "-musleabihf"))
    return {
        "version": __version__, "target": config.target, "top": config.top,
        "machine": platform["machine"], "triple": platform["triple"],
        "shared_triple": platform["shared_library_triple"] if static_musl else "",
        "libc": "musl, statically linked" if static_musl else "",
        "cpu": platform["cpu"], "cpu_flags": " ".join(platform["cpu_flags"]),
        "compiler": platform["compiler"], "compiler_version": platform["compiler_version"],
        "pointer_size": platform["pointer_size"],
        "shared": "lib/libalog.so" in contents,
        "memory_total": (config.memory or {}).get("total", "(not measured)"),
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
        "binaries": {name: {"size": len(contents[name]), "sha256": _sha256(contents[name])}
                     for name in BINARIES if name in contents},
    }


def sha256sums(contents: dict[str, bytes]) -> bytes:
    """`sha256sum` output for every file, by path relative to the bundle's top directory."""
    return "".join(f"{_sha256(data)}  {name}\n" for name, data in sorted(contents.items())).encode()


def bundle_members(config: BundleConfig) -> dict[str, tuple[bytes, bool]]:
    """Every file of the bundle: {path inside the top directory: (bytes, executable)}."""
    clash = sorted(set(config.files) & set(GENERATED))
    if clash:
        raise UserError(f"the bundle generates {', '.join(clash)} itself", None,
                        "do not pass these among the files")
    contents = _read(config.files)
    env = _environment()
    context = _context(config, contents)
    for name, template in TEMPLATES.items():
        contents[name] = env.get_template(template).render(context).encode("utf-8")
    contents["manifest.json"] = (json.dumps(manifest(config, contents), indent=2) + "\n").encode()
    contents["SHA256SUMS"] = sha256sums(contents)
    return {name: (data, name in config.executables) for name, data in contents.items()}


def build_bundle(config: BundleConfig) -> Path:
    members = bundle_members(config)
    tarball = tarball_bytes({f"{config.top}/{name}": member for name, member in members.items()})
    return atomic.write_bytes(config.out, tarball)
