"""The line front end's settings, which travel with the models: ``frontend.json``.

Besides the template list, match mode (docs/matching.md) depends on these settings: which mask
rules apply, the log format that splits a raw line into fields and its content (or else how many
header tokens a line starts with), the session key rule and the timestamp rule. Whoever mines
templates and whoever matches lines against them must use the same ones, so they are written down
once and carried along:

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
from .jsonfile import read_json_of_kind
from .logformat import FormatError, LogFormat, parse_log_format
from .masking import DEFAULT_MASKER, MASK_RULES, MAX_LINE_BYTES, Masker, load_masking, strip_line_end, to_bytes
from .matching import Matcher
from .sessions import (RULE_HELP, TIMESTAMP_LINE_START, SessionRule, TimestampError, TimestampRule, line_head,
                       parse_session_rule)

FRONTEND_NAME = "frontend.json"
FRONTEND_KIND = "frontend"
FRONTEND_FORMAT_VERSION = 2
# Version 1 had no log format and no timestamp settings: it reads as "", "line-start", "".
READABLE_VERSIONS = (1, 2)
# The engine keeps the count in a uint32_t; any count above the tokens a line can hold means the
# same (every content is empty), so the bound costs nothing.
MAX_HEADER_TOKENS = 0xFFFFFFFF
MAX_SOURCE_BYTES = 64
PARQUET_METADATA_KEY = b"alog.frontend"
FIELDS_V1 = ("format_version", "kind", "mask_rules", "session_rule", "header_tokens")
FIELDS = ("format_version", "kind", "log_format", "log_format_source", "mask_rules", "session_rule",
          "header_tokens", "timestamp", "timestamp_format")
# log_format_source: how the log format was chosen (docs/formats.md).
SOURCE_NONE = "none"          # no log format: header_tokens decides the content
SOURCE_GIVEN = "given"        # log_format=... / --log-format
SOURCE_AUTO_PREFIX = "auto:"  # log_format=auto: "auto:<shape>", or "auto:none" when none fitted
_FIX = "write it again with `alog-detect build-deeplog`, or see docs/formats.md (frontend.json)"


def check_header_tokens(value, where: str | Path | None = "--header-tokens") -> int:
    """``value`` if it is a header token count (an integer 0..MAX_HEADER_TOKENS), else UserError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_HEADER_TOKENS:
        raise UserError(f"header_tokens must be an integer from 0 to {MAX_HEADER_TOKENS}, got {value!r}",
                        where, "give the number of tokens before each line's message, e.g. 4")
    return value


def compile_log_format(text: str, where: str | Path | None = "--log-format") -> LogFormat | None:
    """The compiled log format ("" or None: no format), else UserError naming `where`."""
    if not text:
        return None
    try:
        return parse_log_format(text)
    except FormatError as exc:
        raise UserError(f"log format {text!r}: {exc}", where,
                        "write fields as <Name> with text between them and one <Content>, e.g. "
                        "'<Date> <Time> <Level> <Component>: <Content>' (docs/matching.md 2.2)") from None


def compile_timestamp(template: str, pattern: str, where: str | Path | None = "--timestamp") -> TimestampRule:
    try:
        return TimestampRule(template, pattern)
    except TimestampError as exc:
        raise UserError(str(exc), where, "give --timestamp line-start, none, or fields such as '<Date> <Time>' "
                        "with --timestamp-format such as '%Y-%m-%d %H:%M:%S' (docs/matching.md 6.1)") from None


@dataclasses.dataclass(frozen=True)
class LineView:
    """One raw line as the front end sees it: the content to mask and match, and its fields."""
    data: bytes                         # the line without its line end
    content: bytes
    fields: dict[str, bytes | None] | None   # None: no log format, or the line does not fit


@dataclasses.dataclass(frozen=True)
class Frontend:
    """The settings of the line front end; the defaults are what parse and detect use unasked."""
    masker: Masker = DEFAULT_MASKER
    session_rule: SessionRule = SessionRule()
    header_tokens: int = 0
    log_format: LogFormat | None = None
    timestamp: TimestampRule = TimestampRule()
    log_format_source: str = SOURCE_NONE

    def __post_init__(self):
        check_header_tokens(self.header_tokens, None)
        self.check(None)

    def check(self, where: str | Path | None) -> None:
        """The settings fit together: a header count or a log format, not both; a field session key
        and a field timestamp name fields of the log format."""
        names = self.log_format.names if self.log_format is not None else ()
        if self.log_format is not None and self.header_tokens:
            raise UserError(f"header_tokens {self.header_tokens} and a log format both say where the "
                            "message starts", where or "--log-format", "give one: the log format (header tokens 0), or "
                            "header tokens without a log format")
        if self.session_rule.field is not None and self.session_rule.field not in names:
            raise UserError(f"session key field:{self.session_rule.field} names no field of the log format "
                            f"({', '.join(names) or 'none given'})", where or "--session-key",
                            "name one of the log format's fields, or give a log format that has it")
        missing = [name for name in self.timestamp.fields if name not in names]
        if missing:
            raise UserError(f"timestamp {self.timestamp.template!r} names {', '.join(missing)}, not a field of "
                            f"the log format ({', '.join(names) or 'none given'})", where or "--timestamp",
                            "name fields of the log format, or use --timestamp line-start")
        if len(self.log_format_source.encode()) > MAX_SOURCE_BYTES:
            raise UserError(f"log_format_source is longer than {MAX_SOURCE_BYTES} bytes", where, _FIX)

    def to_json(self) -> dict:
        """The settings as frontend.json holds them (keys in FIELDS order)."""
        return {"format_version": FRONTEND_FORMAT_VERSION, "kind": FRONTEND_KIND,
                "log_format": str(self.log_format) if self.log_format is not None else "",
                "log_format_source": self.log_format_source,
                "mask_rules": list(self.masker.rules), "session_rule": str(self.session_rule),
                "header_tokens": self.header_tokens, "timestamp": self.timestamp.template,
                "timestamp_format": self.timestamp.pattern}

    @classmethod
    def from_json(cls, obj, source: str | Path, fix: str = _FIX) -> "Frontend":
        """Settings from a frontend.json object; anything else is a UserError naming ``source``.
        Unknown fields are refused: a setting a reader cannot apply would change matching."""
        if not isinstance(obj, dict) or obj.get("kind") != FRONTEND_KIND:
            raise UserError(f"not front-end settings (kind {FRONTEND_KIND!r} expected)", source, fix)
        version = obj.get("format_version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            raise UserError(f"front-end settings format_version {version!r} is not supported (this "
                            f"alog-detect reads {' and '.join(map(str, READABLE_VERSIONS))})", source, fix)
        fields = FIELDS if version == 2 else FIELDS_V1
        if set(obj) != set(fields):
            raise UserError(f"front-end settings need exactly the fields {', '.join(fields)} (format_version "
                            f"{version}; got {', '.join(sorted(obj))})", source, fix)
        if version == 1:
            obj = {**obj, "log_format": "", "log_format_source": SOURCE_NONE, "timestamp": TIMESTAMP_LINE_START,
                   "timestamp_format": ""}
        rules = obj["mask_rules"]
        if not isinstance(rules, list) or not all(isinstance(r, str) and r in MASK_RULES for r in rules):
            raise UserError(f"mask_rules must be a list of names from {', '.join(MASK_RULES)}", source, fix)
        if not isinstance(obj["session_rule"], str):
            raise UserError(f"session_rule must be a string: {RULE_HELP}", source, fix)
        for key in ("log_format", "log_format_source", "timestamp", "timestamp_format"):
            if not isinstance(obj[key], str):
                raise UserError(f"{key} must be a string", source, fix)
        parts = (Masker(tuple(rules)), parse_session_rule(obj["session_rule"], str(source)),
                 check_header_tokens(obj["header_tokens"], source), compile_log_format(obj["log_format"], source),
                 compile_timestamp(obj["timestamp"], obj["timestamp_format"], source), obj["log_format_source"])
        try:
            return cls(*parts)
        except UserError as exc:
            raise UserError(exc.message, source, fix) from None

    def with_options(self, *, masking_config: str | Path | None = None, session_key: str | None = None,
                     header_tokens: int | None = None, log_format: str | None = None,
                     timestamp: str | None = None, timestamp_format: str | None = None,
                     log_format_source: str | None = None) -> "Frontend":
        """These settings with each given option in place of its setting (None keeps it): how
        parse turns its flags into settings and how detect lays its flags over frontend.json."""
        fmt = self.log_format if log_format is None else compile_log_format(log_format)
        if log_format_source is None:
            log_format_source = self.log_format_source if log_format is None else (
                SOURCE_GIVEN if fmt is not None else SOURCE_NONE)
        if timestamp is None and timestamp_format is None:
            ts = self.timestamp
        else:
            template = self.timestamp.template if timestamp is None else timestamp
            ts = compile_timestamp(template, self.timestamp.pattern if timestamp_format is None else timestamp_format)
        return Frontend(
            self.masker if masking_config is None else load_masking(masking_config),
            self.session_rule if session_key is None else parse_session_rule(session_key),
            self.header_tokens if header_tokens is None else check_header_tokens(header_tokens),
            fmt, ts, log_format_source)

    # ---- applying them to a line ----------------------------------------------------------------

    def view(self, line: str | bytes) -> LineView:
        """The line's content and fields (docs/matching.md 2.1, 2.2). Fields are read from the
        line's head without its line end; a line that does not fit the format has the whole line
        as its content and no fields."""
        data = strip_line_end(to_bytes(line))
        if self.log_format is None:
            return LineView(data, data, None)
        head = strip_line_end(line_head(data)) if len(data) > MAX_LINE_BYTES else data
        spans = self.log_format.split(head)
        if spans is None:
            return LineView(data, data, None)
        fields = {name: (head[s[0]:s[1]] if s is not None else None)
                  for name, s in zip(self.log_format.names, spans)}
        return LineView(data, fields[self.log_format.names[self.log_format.content_index]], fields)

    def session(self, line: str | bytes, view: LineView | None = None) -> str:
        rule = self.session_rule
        if rule.field is None:
            return rule.key(line)
        view = view or self.view(line)
        return rule.key(line, view.fields.get(rule.field) if view.fields else None)

    def seconds(self, line: str | bytes, view: LineView | None = None) -> float | None:
        if not self.timestamp.from_fields:
            return self.timestamp.seconds(line)
        view = view or self.view(line)
        return self.timestamp.seconds(line, view.fields)

    def mask(self, line: str | bytes) -> str:
        """A raw line's masked content: what template mining sees."""
        if self.log_format is None:
            return self.masker.mask(line, self.header_tokens)
        return self.masker.mask(self.view(line).content)

    def matcher(self, templates: Iterable[str | bytes]) -> Matcher:
        """Match mode over ``templates`` (vocabulary order) with these settings."""
        return Matcher.from_templates(templates, self.masker, self.header_tokens, self.log_format)


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
    return Frontend.from_json(read_json_of_kind(path, FRONTEND_KIND, _FIX), path)


def load_model_frontend(models_dir: str | Path) -> Frontend | None:
    """The settings a model directory carries (its frontend.json), or None when it has none."""
    path = Path(models_dir) / FRONTEND_NAME
    return read_frontend(path) if path.exists() else None
