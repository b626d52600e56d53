"""The session key rule and the timestamp rule of docs/matching.md (sections 5 and 6).

Both read the raw line (not the masked one) as bytes, and only its head (section 0): the first
LINE_HEAD_BYTES bytes, all a streaming reader with a bounded buffer holds of an overlong line. The
C engine implements the same rules in cengine/src/match/sessionkey.c and tests/test_match_parity.py
holds the two equal.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from .errors import UserError
from .masking import _WHITESPACE, MAX_LINE_BYTES, to_bytes, to_text

SESSION_ALL = "all"
SESSION_NO_KEY = "<nokey>"

# Bytes that end a key besides whitespace, control bytes and non-ASCII bytes: a key is a run of
# printable ASCII, so it is valid UTF-8 and needs no escaping in JSON ('"' and '\\' end it).
KEY_DELIMITERS = b"\"'(),./:;<=>[\\]{|}"
_KEY_BYTE = bytes(b for b in range(0x21, 0x7F) if b not in KEY_DELIMITERS)
_IS_KEY_BYTE = tuple(b in _KEY_BYTE for b in range(256))

# The longest line the matcher takes, plus the CR it strips: a line up to this long is read whole,
# and of a longer one (never matched) only this much is kept.
LINE_HEAD_BYTES = MAX_LINE_BYTES + 1

RULE_HELP = ("'none' (the whole stream is one session), 'prefix:<p>' (for example prefix:blk_) or "
             "'field:<Name>' (a field of the log format, for example field:Pid)")
FIELD_PREFIX = "field:"


@dataclasses.dataclass(frozen=True)
class SessionRule:
    """`prefix` and `field` are both None for the rule `none`; at most one is set."""
    prefix: bytes | None = None
    field: str | None = None

    def __str__(self) -> str:
        if self.field is not None:
            return FIELD_PREFIX + self.field
        return "none" if self.prefix is None else "prefix:" + self.prefix.decode("ascii")

    def key(self, line: str | bytes, field_value: bytes | None = None) -> str:
        """The session a raw line belongs to; under `field:<Name>` the caller passes the field's
        bytes (None when the line has no such field: it does not fit the format, or the field's
        optional group was skipped)."""
        if self.field is not None:
            return SESSION_NO_KEY if not field_value else to_text(field_value)
        if self.prefix is None:
            return SESSION_ALL
        found = find_key(line_head(line), self.prefix)
        return SESSION_NO_KEY if found is None else found.decode("ascii")


def line_head(line: str | bytes) -> bytes:
    """The bytes of a raw line the key, timestamp and blank-line rules read."""
    return to_bytes(line)[:LINE_HEAD_BYTES]


def parse_session_rule(text: str | None, source: str | None = None) -> SessionRule:
    """Parse `none` (also None), `prefix:<p>` or `field:<Name>` (also `field:<<Name>>`, the way a
    log format writes the field); `source` names where the text came from."""
    where = source or "--session-key"
    if text is None or text == "none":
        return SessionRule()
    if text.startswith("prefix:"):
        prefix = text[len("prefix:"):].encode("utf-8", "surrogateescape")
        if prefix and all(_IS_KEY_BYTE[b] for b in prefix):
            return SessionRule(prefix)
        raise UserError(f"session key prefix {prefix!r} must be non-empty printable ASCII without "
                        f"spaces or any of {KEY_DELIMITERS.decode()}", where,
                        "use a prefix such as prefix:blk_")
    if text.startswith(FIELD_PREFIX):
        name = text[len(FIELD_PREFIX):]
        if name.startswith("<") and name.endswith(">"):
            name = name[1:-1]
        if is_field_name(name):
            return SessionRule(field=name)
        raise UserError(f"session key field {name!r} is not a field name", where,
                        "name a field of the log format, for example field:Pid")
    raise UserError(f"unknown session key rule {text!r}", where, f"use {RULE_HELP}")


def is_field_name(name: str) -> bool:
    """A log format field name: a letter or '_', then letters, digits or '_', at most 32 bytes."""
    return (0 < len(name) <= 32 and name.isascii() and (name[0].isalpha() or name[0] == "_")
            and all(c.isalnum() or c == "_" for c in name))


def find_key(line: bytes, prefix: bytes) -> bytes | None:
    """The first maximal run of key bytes that starts with `prefix` and is longer than it."""
    n = len(line)
    start = line.find(prefix)
    while start >= 0:
        if start == 0 or not _IS_KEY_BYTE[line[start - 1]]:
            end = start + len(prefix)
            while end < n and _IS_KEY_BYTE[line[end]]:
                end += 1
            if end > start + len(prefix):
                return line[start:end]
            start = end
        start = line.find(prefix, start + 1)
    return None


# ---- timestamps -----------------------------------------------------------------------------

SYSLOG_YEAR = 2000
_MONTHS = {name: i + 1 for i, name in enumerate(
    (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"))}
_MAX_FRACTION_DIGITS = 9


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _digits(line: bytes, pos: int, count: int) -> int | None:
    """The value of exactly `count` ASCII digits at pos, or None."""
    chunk = line[pos:pos + count]
    if len(chunk) != count or not all(0x30 <= b <= 0x39 for b in chunk):
        return None
    return int(chunk)


def _at(line: bytes, pos: int, byte: bytes) -> bool:
    return line[pos:pos + 1] == byte


def _no_digit_at(line: bytes, pos: int) -> bool:
    return pos >= len(line) or not 0x30 <= line[pos] <= 0x39


def _fields(line: bytes, pos: int, layout: str) -> list[int] | None:
    """Read `layout` at pos: 'dd' is a 2-digit field, 'dddd' a 4-digit one, any other character
    must appear literally, '?' stands for ' ' or 'T'. Returns the fields or None."""
    values: list[int] = []
    i = 0
    while i < len(layout):
        if layout[i] == "d":
            width = len(layout) - i - len(layout[i:].lstrip("d"))
            value = _digits(line, pos, width)
            if value is None:
                return None
            values.append(value)
            pos += width
            i += width
            continue
        wanted = (b" ", b"T") if layout[i] == "?" else (layout[i].encode(),)
        if line[pos:pos + 1] not in wanted:
            return None
        pos += 1
        i += 1
    return values


def _seconds(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int | None:
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)
            and hour <= 23 and minute <= 59 and second <= 59):
        return None
    return _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


@functools.lru_cache(maxsize=4096)
def _iso_whole(head: bytes) -> int | None:
    """The whole seconds of YYYY-MM-DD[ T]HH:MM:SS, a function of these 19 bytes alone: cached,
    because consecutive lines mostly share their second (a third of parse's time without)."""
    fields = _fields(head, 0, "dddd-dd-dd?dd:dd:dd")
    return None if fields is None else _seconds(*fields)


def _iso(line: bytes) -> float | None:
    """YYYY-MM-DD[ T]HH:MM:SS, then optionally [.,] and digits (the first 9 count)."""
    whole = _iso_whole(line[:19])
    pos = 19
    if whole is None:
        return None
    if line[pos:pos + 1] in (b".", b",") and not _no_digit_at(line, pos + 1):
        end = pos + 1
        while not _no_digit_at(line, end):
            end += 1
        digits = line[pos + 1:min(end, pos + 1 + _MAX_FRACTION_DIGITS)]
        return whole + int(digits) / 10 ** len(digits)
    return float(whole) if _no_digit_at(line, pos) else None


def _hdfs(line: bytes) -> float | None:
    """yymmdd HHMMSS (years 2000-2099)."""
    fields = _fields(line, 0, "dddddd dddddd")
    if fields is None or not _no_digit_at(line, 13):
        return None
    date, time = fields
    whole = _seconds(2000 + date // 10000, date // 100 % 100, date % 100,
                     time // 10000, time // 100 % 100, time % 100)
    return None if whole is None else float(whole)


def _syslog(line: bytes) -> float | None:
    """Mmm dd HH:MM:SS, the day as 2 digits or a space-padded digit, in the year SYSLOG_YEAR."""
    month = _MONTHS.get(line[:3])
    if month is None or not _at(line, 3, b" "):
        return None
    day = _digits(line, 4, 2)
    if day is None and _at(line, 4, b" "):
        day = _digits(line, 5, 1)
    fields = _fields(line, 6, " dd:dd:dd")
    if day is None or fields is None or not _no_digit_at(line, 15):
        return None
    whole = _seconds(SYSLOG_YEAR, month, day, *fields)
    return None if whole is None else float(whole)


def parse_timestamp(line: str | bytes) -> float | None:
    """Seconds since 1970-01-01 UTC of the timestamp a raw line starts with, or None."""
    data = line_head(line)
    for reader in (_iso, _hdfs, _syslog):
        value = reader(data)
        if value is not None:
            return value
    return None


# ---- timestamps from named fields ---------------------------------------------------------------
#
# `timestamp` is "line-start" (the rule above), "none", or a template over the log format's fields
# such as "<Date> <Time>"; `timestamp_format` is then a strftime-style pattern for the text the
# template gives (docs/matching.md, 6.1). cengine/src/match/timestamp.c implements the same rules.

TIMESTAMP_LINE_START = "line-start"
TIMESTAMP_NONE = "none"
MAX_TIMESTAMP_TEXT = 256   # bytes of a template's text; a longer one gives no timestamp
MAX_TIMESTAMP_FORMAT = 64  # bytes of a pattern
MAX_TIMESTAMP_TEMPLATE = 128  # bytes of a template
_WS_RUN = re.compile(rb"(?:" + _WHITESPACE + rb")+")
_FULL_MONTHS = (b"january", b"february", b"march", b"april", b"may", b"june", b"july", b"august",
                b"september", b"october", b"november", b"december")
_WEEKDAYS = (b"monday", b"tuesday", b"wednesday", b"thursday", b"friday", b"saturday", b"sunday")
# Directive -> what it reads (the pattern's letters after '%').
_DATE_DIRECTIVES = set("YymdbBHMS")
_DIRECTIVES = _DATE_DIRECTIVES | set("fsaA")
_ALIASES = {"e": "d", "h": "b"}


class TimestampError(ValueError):
    """A timestamp template or pattern that cannot be used (one line)."""


def _setting_bytes(text: str, what: str, limit: int) -> bytes:
    """The UTF-8 bytes of a setting's text: at most ``limit`` of them, no NUL (else TimestampError)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise TimestampError(f"{what} is not valid UTF-8 text") from None
    if len(data) > limit or b"\0" in data:
        raise TimestampError(f"{what} is longer than {limit} bytes or holds a NUL byte")
    return data


def _compile_template(text: str) -> tuple[tuple[str, object], ...]:
    """'<Date> <Time>' -> (("field", "Date"), ("lit", b" "), ("field", "Time")): fields, literal
    bytes (backslash escapes the next byte), and each run of spaces or tabs as one space."""
    data = _setting_bytes(text, "timestamp template", MAX_TIMESTAMP_TEMPLATE)
    parts: list[tuple[str, object]] = []
    i = 0
    while i < len(data):
        c = data[i:i + 1]
        if c == b"\\":
            if i + 1 >= len(data):
                raise TimestampError("timestamp template ends with a lone backslash")
            parts.append(("lit", data[i + 1:i + 2]))
            i += 2
        elif c == b"<":
            end = data.find(b">", i + 1)
            name = data[i + 1:end].decode("utf-8") if end > 0 else ""
            if end < 0 or not is_field_name(name):
                raise TimestampError(f"timestamp template {text!r}: '<' at byte {i + 1} must start a "
                                     "field such as <Date>")
            parts.append(("field", name))
            i = end + 1
        elif c == b">":
            raise TimestampError(f"timestamp template {text!r}: '>' at byte {i + 1} closes no '<'")
        elif c in (b" ", b"\t"):
            while data[i:i + 1] in (b" ", b"\t"):
                i += 1
            parts.append(("lit", b" "))
        else:
            parts.append(("lit", c))
            i += 1
    if not any(kind == "field" for kind, _ in parts):
        raise TimestampError(f"timestamp template {text!r} names no field (fix: name fields of the log "
                             "format, e.g. <Date> <Time>)")
    return tuple(parts)


def _compile_pattern(text: str) -> tuple[tuple[str, bytes], ...]:
    """A strftime-style pattern -> directives ("Y", b""), literal bytes ("lit", b"x") and
    whitespace runs ("ws", b"")."""
    data = _setting_bytes(text, "timestamp format", MAX_TIMESTAMP_FORMAT)
    out: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    i = 0
    while i < len(data):
        c = data[i:i + 1]
        if c == b"%":
            letter = data[i + 1:i + 2].decode("ascii", "replace")
            if letter == "%":
                out.append(("lit", b"%"))
            elif letter == "T":
                for d in "HMS":
                    if d in seen:
                        raise TimestampError(f"timestamp format {text!r} reads %{d} twice")
                    seen.add(d)
                out += [("H", b""), ("lit", b":"), ("M", b""), ("lit", b":"), ("S", b"")]
            else:
                d = _ALIASES.get(letter, letter)
                if d not in _DIRECTIVES:
                    raise TimestampError(f"timestamp format {text!r}: unknown directive %{letter} (use "
                                         "%Y %y %m %d %e %b %B %a %A %H %M %S %T %f %s %%)")
                if d in seen or (d in "bB" and {"b", "B", "m"} & seen) or (d == "m" and {"b", "B"} & seen) \
                        or (d in "aA" and {"a", "A"} & seen):
                    raise TimestampError(f"timestamp format {text!r} reads %{letter} twice")
                seen.add(d)
                out.append((d, b""))
            i += 2
        elif c in (b" ", b"\t"):
            while data[i:i + 1] in (b" ", b"\t"):
                i += 1
            out.append(("ws", b""))
        else:
            out.append(("lit", c))
            i += 1
    if not seen:
        raise TimestampError(f"timestamp format {text!r} has no directive (fix: e.g. %Y-%m-%d %H:%M:%S)")
    if "s" in seen and seen & _DATE_DIRECTIVES:
        raise TimestampError(f"timestamp format {text!r}: %s (seconds since 1970) cannot be mixed with "
                             "date or time directives")
    if "s" in seen and seen & set("aA"):
        raise TimestampError(f"timestamp format {text!r}: %s cannot be mixed with weekday names")
    return tuple(out)


def _name_at(text: bytes, pos: int, names: tuple[bytes, ...], abbreviated: bool) -> tuple[int, int] | None:
    """(index, end) of the (3-letter abbreviated or full) English name at pos, ASCII case ignored."""
    for index, name in enumerate(names):
        want = name[:3] if abbreviated else name
        if text[pos:pos + len(want)].lower() == want:
            return index, pos + len(want)
    return None


def _digit_run(text: bytes, pos: int, lo: int, hi: int) -> tuple[int, int] | None:
    """(value, end) of lo..hi ASCII digits at pos (as many as there are, up to hi)."""
    end = pos
    while end < len(text) and end - pos < hi and 0x30 <= text[end] <= 0x39:
        end += 1
    if end - pos < lo:
        return None
    return int(text[pos:end]), end


def parse_with_pattern(text: bytes, pattern: tuple[tuple[str, bytes], ...]) -> float | None:
    """Seconds since 1970-01-01 UTC of `text` read with a compiled pattern, or None."""
    year, month, day, hour, minute, second = SYSLOG_YEAR, 1, 1, 0, 0, 0
    epoch: int | None = None
    fraction = b""
    pos = 0
    for kind, lit in pattern:
        if kind == "lit":
            if text[pos:pos + 1] != lit:
                return None
            pos += 1
            continue
        if kind == "ws":
            m = _WS_RUN.match(text, pos)
            if m is None:
                return None
            pos = m.end()
            continue
        if kind in "bB":
            got = _name_at(text, pos, _FULL_MONTHS, kind == "b")
            if got is None:
                return None
            month, pos = got[0] + 1, got[1]
            continue
        if kind in "aA":
            got = _name_at(text, pos, _WEEKDAYS, kind == "a")
            if got is None:
                return None
            pos = got[1]
            continue
        lo, hi = {"Y": (4, 4), "y": (2, 2), "f": (1, 1 << 30), "s": (1, 12)}.get(kind, (1, 2))
        got = _digit_run(text, pos, lo, hi)
        if got is None:
            return None
        value, end = got
        if kind == "f":
            fraction = text[pos:min(end, pos + _MAX_FRACTION_DIGITS)]
        elif kind == "Y":
            year = value
        elif kind == "y":
            year = 2000 + value if value < 69 else 1900 + value
        elif kind == "m":
            month = value
        elif kind == "d":
            day = value
        elif kind == "H":
            hour = value
        elif kind == "M":
            minute = value
        elif kind == "S":
            second = value
        else:
            epoch = value
        pos = end
    if pos != len(text):
        return None
    whole = epoch if epoch is not None else _seconds(year, month, day, hour, minute, second)
    if whole is None:
        return None
    return whole + int(fraction) / 10 ** len(fraction) if fraction else float(whole)


@dataclasses.dataclass(frozen=True)
class TimestampRule:
    """`template` is "line-start", "none" or a field template; `pattern` the strftime-style
    pattern of a field template ("" otherwise)."""
    template: str = TIMESTAMP_LINE_START
    pattern: str = ""

    def __post_init__(self):
        if self.template in (TIMESTAMP_LINE_START, TIMESTAMP_NONE):
            if self.pattern:
                raise TimestampError(f"timestamp {self.template} takes no timestamp format "
                                     f"(got {self.pattern!r})")
            object.__setattr__(self, "_parts", ())
            object.__setattr__(self, "_pattern", ())
            return
        object.__setattr__(self, "_parts", _compile_template(self.template))
        if not self.pattern:
            raise TimestampError(f"timestamp {self.template!r} needs a timestamp format such as "
                                 "%Y-%m-%d %H:%M:%S")
        object.__setattr__(self, "_pattern", _compile_pattern(self.pattern))

    @property
    def from_fields(self) -> bool:
        return bool(self._parts)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for kind, name in self._parts if kind == "field")

    def text(self, values: dict[str, bytes | None]) -> bytes | None:
        """The template's text from field values (None: a field has no value, or the text is longer
        than MAX_TIMESTAMP_TEXT)."""
        out = []
        for kind, value in self._parts:
            if kind == "field":
                value = values.get(value)
                if value is None:
                    return None
            out.append(value)
        text = b"".join(out)
        return text if len(text) <= MAX_TIMESTAMP_TEXT else None

    def seconds(self, line: str | bytes, values: dict[str, bytes | None] | None = None) -> float | None:
        """The timestamp of a raw line: by the line-start rule, none, or from its field values
        (None for a line that does not fit the format)."""
        if self.template == TIMESTAMP_LINE_START:
            return parse_timestamp(line)
        if self.template == TIMESTAMP_NONE or values is None:
            return None
        text = self.text(values)
        return None if text is None else parse_with_pattern(text, self._pattern)


# Patterns `timestamp_format=auto` tries, in order, on the text of the first lines.
KNOWN_TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S,%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y/%m/%d %H:%M:%S", "%Y.%m.%d %H:%M:%S", "%y%m%d %H%M%S",
    "%y/%m/%d %H:%M:%S", "%m-%d %H:%M:%S.%f", "%m.%d %H:%M:%S", "%b %d %H:%M:%S",
    "%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M:%S.%f %Y", "%d/%b/%Y:%H:%M:%S", "%Y%m%d-%H:%M:%S:%f",
    "%Y%m%d %H:%M:%S", "%H:%M:%S.%f", "%H:%M:%S,%f", "%H:%M:%S", "%s.%f", "%s",
)
