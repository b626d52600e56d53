"""The two vocabulary formats, their validation, their hash, and the id-keyed repair.

* Training vocabulary (``build-deeplog`` output, ``deeplog-train --vocab``):
  ``{"<template>": index}`` with indices ``0..V-1``; written in index order.
* Engine vocabulary (in the model directory): ``{"0": "<template>", ...}``, keys the decimal
  indices ``0..V-1`` in order.

Both describe the same thing, a list of templates where position = index, so they share one hash:

    vocab_sha256 = SHA-256 of the UTF-8 bytes of json.dumps(templates_in_index_order,
                   ensure_ascii=False, separators=(",", ":"))

i.e. a canonical serialization, not the file bytes: re-indenting a file or converting it between
the two formats does not change the hash; changing a template, an index or the size does.

A vocabulary keyed by template *ids* (``{"E5": 0}``, ``{"5": 0}``, ``{"T12": 3}``: loghub event
ids or Drain3 cluster ids, as older pipelines wrote them) is refused everywhere with an error that
names ``alog-detect fix-vocab``, which rebuilds it from a parsed file's ``template_id -> template``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from . import atomic
from .errors import UserError

# An id key: optional short alphabetic prefix (E, T, id-, cluster_), then digits.
_ID_KEY = re.compile(r"^(?:[A-Za-z]{1,8}[-_]?)?(\d+)$")
_FIX_VOCAB_HINT = ("convert it with `alog-detect fix-vocab --parsed parsed.parquet --old-vocab {path} "
                   "--output vocab.json`")


def vocab_sha256(templates: Sequence[str]) -> str:
    """The canonical hash of a vocabulary given as templates in index order (see module doc)."""
    text = json.dumps(list(templates), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_json_object(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError("vocabulary file not found", path,
                        "run `alog-detect build-deeplog` or pass the right --vocab") from None
    except OSError as exc:
        raise UserError(f"cannot read vocabulary ({exc.strerror})", path, "check the path") from None
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"not a JSON vocabulary ({exc})", path,
                        "regenerate it with `alog-detect build-deeplog`") from None
    if not isinstance(obj, dict) or not obj:
        raise UserError("a vocabulary must be a non-empty JSON object", path,
                        "regenerate it with `alog-detect build-deeplog`")
    return obj


def looks_id_keyed(keys: Iterable[str]) -> bool:
    """True when every key looks like a template id (E5, 5, T12, a Drain3 cluster id)."""
    keys = list(keys)
    return bool(keys) and all(_ID_KEY.match(k) for k in keys)


def _check_dense(indices: list[int], path: Path, fix: str) -> None:
    if sorted(indices) != list(range(len(indices))):
        raise UserError(f"vocabulary indices must be exactly 0..{len(indices) - 1} without gaps or "
                        "repeats", path, fix)


@dataclass(frozen=True)
class Vocab:
    """A vocabulary: ``templates[i]`` is the template of index ``i``."""

    templates: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.templates)

    @property
    def sha256(self) -> str:
        return vocab_sha256(self.templates)

    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.templates)}

    def training_format(self) -> dict[str, int]:
        return self.index()

    def engine_format(self) -> dict[str, str]:
        return {str(i): t for i, t in enumerate(self.templates)}

    @classmethod
    def from_counts(cls, counts: dict[str, int]) -> "Vocab":
        """Indices by descending count, then template text (the training order)."""
        return cls(tuple(sorted(counts, key=lambda t: (-counts[t], t))))


def _from_training(obj: dict, path: Path) -> Vocab:
    fix = "regenerate it with `alog-detect build-deeplog`"
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in obj.values()):
        raise UserError("training vocabulary values must be integer indices", path, fix)
    _check_dense(list(obj.values()), path, fix)
    templates = [""] * len(obj)
    for template, index in obj.items():
        templates[index] = template
    return Vocab(tuple(templates))


def _from_engine(obj: dict, path: Path) -> Vocab:
    fix = "regenerate the model directory with `alog-detect convert-onnx`"
    if not all(k.isdigit() and isinstance(v, str) for k, v in obj.items()):
        raise UserError("engine vocabulary must map decimal indices to template strings", path, fix)
    _check_dense([int(k) for k in obj], path, fix)
    return Vocab(tuple(obj[str(i)] for i in range(len(obj))))


def _is_engine_format(obj: dict) -> bool:
    return all(isinstance(v, str) for v in obj.values())


def load_vocab(path: str | Path) -> Vocab:
    """Load a training vocabulary; refuse id-keyed and engine-format files with their fix."""
    path = Path(path)
    obj = _read_json_object(path)
    if _is_engine_format(obj):
        raise UserError("this is an engine vocabulary ({\"0\": \"<template>\"}), not a training "
                        "vocabulary ({\"<template>\": index})", path,
                        "pass the vocab.json written by `alog-detect build-deeplog`")
    if looks_id_keyed(obj):
        raise UserError("vocabulary is keyed by template ids (e.g. "
                        f"{next(iter(obj))!r}), not by template strings", path,
                        _FIX_VOCAB_HINT.format(path=path))
    return _from_training(obj, path)


def load_engine_vocab(path: str | Path) -> Vocab:
    path = Path(path)
    obj = _read_json_object(path)
    if not _is_engine_format(obj):
        raise UserError("this is not an engine vocabulary ({\"0\": \"<template>\"})", path,
                        "pass the vocab.json of a model directory (`alog-detect convert-onnx`)")
    return _from_engine(obj, path)


def load_any_vocab(path: str | Path) -> Vocab:
    """Either format (both hash the same): for code that accepts a model directory or a build."""
    path = Path(path)
    obj = _read_json_object(path)
    return load_engine_vocab(path) if _is_engine_format(obj) else load_vocab(path)


def _json_text(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def training_vocab_text(vocab: Vocab) -> str:
    return _json_text(vocab.training_format())


def save_vocab(path: str | Path, vocab: Vocab) -> Path:
    return atomic.write_text(path, training_vocab_text(vocab))


def save_engine_vocab(path: str | Path, vocab: Vocab) -> Path:
    return atomic.write_text(path, _json_text(vocab.engine_format()))


# ---- fix-vocab -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FixVocabConfig:
    parsed: Path
    old_vocab: Path
    output: Path


def _id_to_template(parsed: Path) -> dict[int, str]:
    """template_id -> template from a parsed file; a cluster's last template wins (Drain3 refines
    a cluster's template as it mines, and the last one is the one the model was trained on)."""
    from .deeplog_data import read_parsed_columns

    table = read_parsed_columns(parsed, ["template_id", "template"],
                                fix="pass the parsed.parquet the old vocabulary was built from")
    mapping: dict[int, str] = {}
    for tid, template in zip(table["template_id"], table["template"]):
        if tid is not None and template is not None:
            mapping[int(tid)] = template
    return mapping


def fix_vocab(config: FixVocabConfig) -> Vocab:
    """Convert an id-keyed vocabulary (``{"E5": 0}``) into a training vocabulary keeping every
    index, so a model trained with the old file keeps working."""
    obj = _read_json_object(config.old_vocab)
    if not looks_id_keyed(obj):
        raise UserError("vocabulary is not keyed by template ids; nothing to fix", config.old_vocab,
                        "use it as it is")
    fix = "pass the vocabulary written by the old pipeline"
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in obj.values()):
        raise UserError("id-keyed vocabulary values must be integer indices", config.old_vocab, fix)
    _check_dense(list(obj.values()), config.old_vocab, fix)

    mapping = _id_to_template(config.parsed)
    templates = [""] * len(obj)
    missing = []
    for key, index in obj.items():
        tid = int(_ID_KEY.match(key).group(1))
        if tid not in mapping:
            missing.append(key)
        else:
            templates[index] = mapping[tid]
    if missing:
        raise UserError(f"template ids {', '.join(sorted(missing)[:5])} not found in the parsed "
                        f"file's template_id column", config.parsed,
                        "pass the parsed.parquet the old vocabulary was built from")
    if len(set(templates)) != len(templates):
        raise UserError("two template ids map to the same template", config.parsed,
                        "pass the parsed.parquet the old vocabulary was built from")
    vocab = Vocab(tuple(templates))
    save_vocab(config.output, vocab)
    return vocab
