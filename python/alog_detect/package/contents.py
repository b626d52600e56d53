"""What every package of the package stage shares: its files read once, their hashes, the model
directory's hashes as a manifest records them, SHA256SUMS, the jinja2 environment of its
generated files, and the tarball under one top directory.

bundle.py (the Linux bundle) and firmware.py (the firmware tarball) build on these.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import atomic
from ..errors import UserError
from .archive import tarball_bytes

VOCAB_FILE = "vocab.json"
MODEL_FILES = ("deeplog.onnx", "mscred.onnx")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_files(files: dict, what: str) -> dict[str, bytes]:
    """{name: path} -> {name: bytes}; `what` names the package in the error (e.g. "the bundle")."""
    contents = {}
    for name, path in sorted(files.items()):
        try:
            contents[name] = Path(path).read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read a file {what} ships ({exc.strerror})", Path(path),
                            f"build it first (scons builds every member before {what})") from None
    return contents


def model_hashes(model_files: dict[str, bytes], missing: str, fix: str) -> dict:
    """The hashes of a model directory's files ({file name: bytes}), as manifests record them:
    the vocabulary's, and each model's with its size and opset. `missing`, `fix`: the error
    when there is no vocab.json."""
    vocab = model_files.get(VOCAB_FILE)
    if vocab is None:
        raise UserError(missing, None, fix)
    models = {"vocab": {"file": VOCAB_FILE, "file_sha256": sha256(vocab)}}
    for file in MODEL_FILES:
        data = model_files.get(file)
        if data is None:
            continue
        meta = json.loads(model_files[f"{file}.meta.json"])
        models[meta["kind"]] = {"file": file, "sha256": sha256(data), "size": len(data),
                                "opset": meta["opset"]}
        models["vocab"]["sha256"] = meta["vocab"]["sha256"]
    return models


def sha256sums(contents: dict[str, bytes]) -> bytes:
    """`sha256sum` output for every file, by path relative to the package's top directory."""
    return "".join(f"{sha256(data)}  {name}\n" for name, data in sorted(contents.items())).encode()


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2) + "\n").encode()


def jinja_environment(loader):
    """The package's templates: strict, no escaping, whitespace as in codegen (STYLE.md)."""
    import jinja2

    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def write_tarball(out: Path, top: str, members: dict[str, tuple[bytes, bool]]) -> Path:
    """members: {path inside `top`: (bytes, executable)} -> `out`, deterministic, written
    atomically (nothing half-written)."""
    tarball = tarball_bytes({f"{top}/{name}": member for name, member in members.items()})
    return atomic.write_bytes(out, tarball)
