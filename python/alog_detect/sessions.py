"""The session key rule and the timestamp rule of docs/matching.md (sections 5 and 6).

Both read the raw line (not the masked one) as bytes, and only its head (section 0): the first
LINE_HEAD_BYTES bytes, all a streaming reader with a bounded buffer holds of an overlong line. The
C engine implements the same rules in cengine/src/match/sessionkey.c and tests/test_match_parity.py
holds the two equal.
"""

from __future__ import annotations

import dataclasses

from .errors import UserError
from .masking import MAX_LINE_BYTES, to_bytes

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

RULE_HELP = "'none' (the whole stream is one session) or 'prefix:<p>' (for example prefix:blk_)"


@dataclasses.dataclass(frozen=True)
class SessionRule:
    """`prefix` is None for the rule `none`."""
    prefix: bytes | None = None

    def __str__(self) -> str:
        return "none" if self.prefix is None else "prefix:" + self.prefix.decode("ascii")

    def key(self, line: str | bytes) -> str:
        """The session a raw line belongs to."""
        if self.prefix is None:
            return SESSION_ALL
        found = find_key(line_head(line), self.prefix)
        return SESSION_NO_KEY if found is None else found.decode("ascii")


def line_head(line: str | bytes) -> bytes:
    """The bytes of a raw line the key, timestamp and blank-line rules read."""
    return to_bytes(line)[:LINE_HEAD_BYTES]


def parse_session_rule(text: str | None, source: str | None = None) -> SessionRule:
    """Parse `none` (also None) or `prefix:<p>`; `source` names where the text came from."""
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
    raise UserError(f"unknown session key rule {text!r}", where, f"use {RULE_HELP}")


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


def _iso(line: bytes) -> float | None:
    """YYYY-MM-DD[ T]HH:MM:SS, then optionally [.,] and digits (the first 9 count)."""
    fields = _fields(line, 0, "dddd-dd-dd?dd:dd:dd")
    if fields is None:
        return None
    whole = _seconds(*fields)
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
