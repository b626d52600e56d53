"""The line front end's settings, which travel with the models: ``frontend.json``.

Besides the template list, match mode (docs/matching.md) depends on three settings: which mask
rules apply, how many header tokens a raw line starts with, and the session key rule. Whoever
mines templates and whoever matches lines against them must use the same three, so they are
written down once and carried along:

    parse           records them in parsed.parquet (schema metadata ``alog.frontend``) and in
                    X.templates.json (``frontend``)
    build-deeplog   writes them as ``frontend.json`` beside ``vocab.json``
    convert-onnx    copies that file into the model directory
    detect, engine  read it from the model directory; their flags override single settings

Every copy is ``Frontend.to_json()``; every reader goes through ``Frontend.from_json``. The file
format is in docs/formats.md ("frontend.json").
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Iterable

from . import atomic
from .errors import UserError
from .jsonfile import read_versioned_json
from .masking import DEFAULT_MASKER, MASK_RULES, Masker, load_masking
from .matching import Matcher
from .sessions import RULE_HELP, SessionRule, parse_session_rule

FRONTEND_NAME = "frontend.json"
FRONTEND_KIND = "frontend"
FRONTEND_FORMAT_VERSION = 1
# The engine keeps the count in a uint32_t; any count above the tokens a line can hold means the
# same (every content is empty), so the bound costs nothing.
MAX_HEADER_TOKENS = 0xFFFFFFFF
PARQUET_METADATA_KEY = b"alog.frontend"
FIELDS = ("format_version", "kind", "mask_rules", "session_rule", "header_tokens")
_FIX = "write it again with `alog-detect build-deeplog`, or see docs/formats.md (frontend.json)"


def check_header_tokens(value, where: str | Path | None = "--header-tokens") -> int:
    """``value`` if it is a header token count (an integer 0..MAX_HEADER_TOKENS), else UserError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_HEADER_TOKENS:
        raise UserError(f"header_tokens must be an integer from 0 to {MAX_HEADER_TOKENS}, got {value!r}",
                        where, "give the number of tokens before each line's message, e.g. 4")
    return value


@dataclasses.dataclass(frozen=True)
class Frontend:
    """The settings of the line front end; the defaults are what parse and detect use unasked."""
    masker: Masker = DEFAULT_MASKER
    session_rule: SessionRule = SessionRule()
    header_tokens: int = 0

    def __post_init__(self):
        check_header_tokens(self.header_tokens, None)

    def to_json(self) -> dict:
        """The settings as frontend.json holds them (keys in FIELDS order)."""
        return {"format_version": FRONTEND_FORMAT_VERSION, "kind": FRONTEND_KIND,
                "mask_rules": list(self.masker.rules), "session_rule": str(self.session_rule),
                "header_tokens": self.header_tokens}

    @classmethod
    def from_json(cls, obj, source: str | Path, fix: str = _FIX) -> "Frontend":
        """Settings from a frontend.json object; anything else is a UserError naming ``source``.
        Unknown fields are refused: a setting a reader cannot apply would change matching."""
        if not isinstance(obj, dict) or obj.get("kind") != FRONTEND_KIND:
            raise UserError(f"not front-end settings (kind {FRONTEND_KIND!r} expected)", source, fix)
        if obj.get("format_version") != FRONTEND_FORMAT_VERSION:
            raise UserError(f"front-end settings format_version {obj.get('format_version')!r} is not "
                            f"supported (this alog-detect reads {FRONTEND_FORMAT_VERSION})", source, fix)
        if set(obj) != set(FIELDS):
            raise UserError(f"front-end settings need exactly the fields {', '.join(FIELDS)} (got "
                            f"{', '.join(sorted(obj))})", source, fix)
        rules = obj["mask_rules"]
        if not isinstance(rules, list) or not all(isinstance(r, str) and r in MASK_RULES for r in rules):
            raise UserError(f"mask_rules must be a list of names from {', '.join(MASK_RULES)}", source, fix)
        if not isinstance(obj["session_rule"], str):
            raise UserError(f"session_rule must be a string: {RULE_HELP}", source, fix)
        return cls(Masker(tuple(rules)), parse_session_rule(obj["session_rule"], str(source)),
                   check_header_tokens(obj["header_tokens"], source))

    def with_options(self, *, masking_config: str | Path | None = None, session_key: str | None = None,
                     header_tokens: int | None = None) -> "Frontend":
        """These settings with each given option in place of its setting (None keeps it): how
        parse turns its flags into settings and how detect lays its flags over frontend.json."""
        return Frontend(
            self.masker if masking_config is None else load_masking(masking_config),
            self.session_rule if session_key is None else parse_session_rule(session_key),
            self.header_tokens if header_tokens is None else check_header_tokens(header_tokens))

    def mask(self, line: str | bytes) -> str:
        """A raw line's masked content: what template mining sees."""
        return self.masker.mask(line, self.header_tokens)

    def matcher(self, templates: Iterable[str | bytes]) -> Matcher:
        """Match mode over ``templates`` (vocabulary order) with these settings."""
        return Matcher.from_templates(templates, self.masker, self.header_tokens)


def parquet_metadata(frontend: Frontend) -> dict[bytes, bytes]:
    """The schema metadata entry with which parse records the settings in parsed.parquet."""
    return {PARQUET_METADATA_KEY: frontend_text(frontend).encode("utf-8")}


def from_parquet_metadata(metadata: dict[bytes, bytes] | None, path: str | Path) -> Frontend | None:
    """The settings recorded in a parquet file's schema metadata, or None when it records none."""
    text = (metadata or {}).get(PARQUET_METADATA_KEY)
    if text is None:
        return None
    source = f"{path} (metadata {PARQUET_METADATA_KEY.decode()})"
    fix = "re-run `alog-detect parse`"
    try:
        obj = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"front-end settings are not readable JSON ({exc})", source, fix) from None
    return Frontend.from_json(obj, source, fix)


def frontend_text(frontend: Frontend) -> str:
    """The JSON text of the settings: the bytes of frontend.json, and the parquet metadata value."""
    return json.dumps(frontend.to_json(), indent=2) + "\n"


def write_frontend(path: str | Path, frontend: Frontend) -> Path:
    return atomic.write_text(path, frontend_text(frontend))


def read_frontend(path: str | Path) -> Frontend:
    path = Path(path)
    return Frontend.from_json(read_versioned_json(path, FRONTEND_KIND, FRONTEND_FORMAT_VERSION, _FIX), path)


def load_model_frontend(models_dir: str | Path) -> Frontend | None:
    """The settings a model directory carries (its frontend.json), or None when it has none."""
    path = Path(models_dir) / FRONTEND_NAME
    return read_frontend(path) if path.exists() else None
