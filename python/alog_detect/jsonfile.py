"""Reading the project's versioned JSON files: ``{"format_version": N, "kind": "...", ...}``."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import UserError


def read_json_of_kind(path: str | Path, kind: str, fix: str) -> dict:
    """The object in ``path``; a missing or unreadable file or another kind is a UserError naming
    the file and ``fix`` (the caller checks the version: see read_versioned_json)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("file not found", path, fix) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"not a readable {kind} JSON file ({exc})", path, fix) from None
    if not isinstance(obj, dict) or obj.get("kind") != kind:
        found = obj.get("kind") if isinstance(obj, dict) else type(obj).__name__
        raise UserError(f"not a {kind} file (kind {found!r})", path, fix)
    return obj


def read_versioned_json(path: str | Path, kind: str, format_version: int, fix: str) -> dict:
    """The object in ``path``; a missing or unreadable file, another kind or another version is a
    UserError naming the file and ``fix``."""
    obj = read_json_of_kind(path, kind, fix)
    if obj.get("format_version") != format_version:
        raise UserError(f"format_version {obj.get('format_version')!r} is not supported (this alog-detect "
                        f"reads {format_version})", Path(path), fix)
    return obj
