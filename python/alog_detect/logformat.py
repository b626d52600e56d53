"""Log formats: logparser/loghub's ``<Date> <Time> <Level> <Component>: <Content>`` syntax
(docs/matching.md, section 2.2).

A log format names the fields of a raw line's header; ``<Content>`` is what gets masked, mined and
matched, the other fields can carry the session key (``field:<Name>``) and the timestamp. The C
engine (cengine/src/match/logformat.c) parses the same text and splits lines by the same rule;
tests/test_match_parity.py holds the two equal.

Syntax (the text of ``log_format``):

* ``<Name>``: a field, Name ``[A-Za-z_][A-Za-z0-9_]*`` of at most 32 bytes; each name once;
  ``<Content>`` exactly once;
* a run of spaces or tabs: one or more whitespace sequences of the line (docs/matching.md, 2);
* ``(...)?``: an optional group (logparser's ``(\\[<PID>\\])?``), not nested, starting with text;
* ``\\x``: the byte x literally (``\\[``, ``\\|``, ``\\(``, ``\\<``); any other byte: itself;
  unescaped ``[`` and ``]`` must pair up (escape a lone one);
* two fields need text between them on every path through the groups (nothing could tell where
  one ends), and a group may not follow a group.

The split rule, linear in the line and without backtracking: the items are taken left to right
from byte 0. Text must match where the line is (a whitespace run takes every whitespace sequence
there). A field ends at the first place where what follows it matches: the next text, or for a
field before a group the group's first text (preferred at the same place) or the text after the
group, or the end of the line; text that ends the format must end exactly at the end of the line.
A group met after text is entered when its first text matches there, otherwise skipped. Once
taken, no choice is revisited: a line that then fails does not fit. A line fits when the items
reach the end of the line exactly.

A line that does not fit is handled as if there were no format: its content is the whole line,
and it has no fields (no ``field:`` session key, no field timestamp).
"""

from __future__ import annotations

import dataclasses
import re

from .masking import _WHITESPACE, to_bytes

MAX_FORMAT_BYTES = 512
MAX_FIELDS = 24
MAX_ITEMS = 96
MAX_ELEMENTS = 128   # literal runs and whitespace runs of all texts together
MAX_NAME_BYTES = 32
CONTENT = "Content"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WS_RUN = re.compile(rb"(?:" + _WHITESPACE + rb")+")
_WS_START = re.compile(_WHITESPACE)
_FORMAT_SPACE = " \t"


class FormatError(ValueError):
    """A log format that cannot be used; the message says what is wrong (one line)."""


# Program items: ("text", elements, anchored) with elements a tuple of bytes (literal) or None
# (a whitespace run); ("field", index); ("group", end) where `end` is the index of its "end" item;
# ("end",) closes a group. The C engine compiles the same items.
TEXT, FIELD, GROUP, GROUP_END = "text", "field", "group", "end"


@dataclasses.dataclass(frozen=True)
class _Stop:
    """One way a field can end: where the text at `item` matches (None: at the end of the line),
    then go on at `resume` (the item after that text)."""
    item: int | None
    resume: int


def _tokens(text: str):
    """Lexical pieces of a format: ("field", name), ("open",), ("close",), ("ws",), ("lit", byte)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise FormatError("log format is not valid UTF-8 text") from None
    if b"\0" in data:
        raise FormatError("log format holds a NUL byte")
    if len(data) > MAX_FORMAT_BYTES:
        raise FormatError(f"log format is {len(data)} bytes, longer than {MAX_FORMAT_BYTES}")
    i, n = 0, len(data)
    square = 0
    while i < n:
        c = data[i]
        if c == 0x5C:  # backslash
            if i + 1 >= n:
                raise FormatError("log format ends with a lone backslash")
            yield ("lit", data[i + 1:i + 2])
            i += 2
        elif c == 0x3C:  # <
            end = data.find(b">", i + 1)
            other = data.find(b"<", i + 1)
            if end < 0 or (0 <= other < end):
                raise FormatError(f"unbalanced brackets: '<' at byte {i + 1} has no '>' (escape a literal "
                                  "one: \\<)")
            name = data[i + 1:end].decode("utf-8")
            if not _NAME.match(name) or len(name) > MAX_NAME_BYTES:
                raise FormatError(f"field name <{name}> must be a letter or '_' then letters, digits or "
                                  f"'_', at most {MAX_NAME_BYTES} bytes")
            yield ("field", name)
            i = end + 1
        elif c == 0x3E:  # >
            raise FormatError(f"unbalanced brackets: '>' at byte {i + 1} closes no '<' (escape a literal "
                                 "one: \\>)")
        elif c == 0x28:  # (
            yield ("open",)
            i += 1
        elif c == 0x29:  # )
            if data[i + 1:i + 2] != b"?":
                raise FormatError(f"')' at byte {i + 1} must close an optional group as ')?' "
                                  "(escape a literal one: \\))")
            yield ("close",)
            i += 2
        elif chr(c) in _FORMAT_SPACE:
            while i < n and chr(data[i]) in _FORMAT_SPACE:
                i += 1
            yield ("ws",)
        else:
            if c == 0x5B:
                square += 1
            elif c == 0x5D:
                square -= 1
                if square < 0:
                    raise FormatError(f"unbalanced brackets: ']' at byte {i + 1} closes no '[' "
                                      "(escape a lone one: \\])")
            yield ("lit", data[i:i + 1])
            i += 1
    if square:
        raise FormatError("unbalanced brackets: a '[' is never closed (escape a lone one: \\[)")


def _compile(text: str) -> tuple[list[tuple], list[str]]:
    items: list[tuple] = []
    names: list[str] = []
    elements: list = []
    group_start: int | None = None

    def flush():
        if elements:
            merged: list = []
            for e in elements:
                if e is not None and merged and merged[-1] is not None:
                    merged[-1] += e
                else:
                    merged.append(e)
            items.append((TEXT, tuple(merged), False))
            elements.clear()

    for tok in _tokens(text):
        kind = tok[0]
        if kind == "lit":
            elements.append(tok[1])
        elif kind == "ws":
            elements.append(None)
        elif kind == "field":
            flush()
            if tok[1] in names:
                raise FormatError(f"field <{tok[1]}> is named twice")
            names.append(tok[1])
            if len(names) > MAX_FIELDS:
                raise FormatError(f"more than {MAX_FIELDS} fields")
            items.append((FIELD, len(names) - 1))
        elif kind == "open":
            flush()
            if group_start is not None:
                raise FormatError("optional groups cannot be nested")
            if items and items[-1][0] == GROUP_END:
                raise FormatError("an optional group cannot follow another one directly")
            group_start = len(items)
            items.append((GROUP, -1))
        else:  # close
            flush()
            if group_start is None:
                raise FormatError("unbalanced brackets: ')?' closes no '('")
            if len(items) == group_start + 1:
                raise FormatError("an optional group cannot be empty")
            if items[group_start + 1][0] != TEXT:
                raise FormatError("an optional group must start with text, not a field")
            items[group_start] = (GROUP, len(items))
            items.append((GROUP_END,))
            group_start = None
        if len(items) + (1 if elements else 0) > MAX_ITEMS:
            raise FormatError(f"log format has more than {MAX_ITEMS} parts")
    flush()
    if sum(len(item[1]) for item in items if item[0] == TEXT) > MAX_ELEMENTS:
        raise FormatError(f"log format has more than {MAX_ELEMENTS} runs of text")
    if group_start is not None:
        raise FormatError("unbalanced brackets: '(' opens a group that is never closed with ')?'")
    if CONTENT not in names:
        raise FormatError("log format has no <Content> field (the message to mine)")
    # Anchoring: text after which only group ends come must end at the end of the line.
    for i, item in enumerate(items):
        if item[0] == TEXT and all(later[0] == GROUP_END for later in items[i + 1:]):
            items[i] = (TEXT, item[1], True)
    return items, names


def _after(items: list[tuple], j: int) -> int:
    """The index of the first item at or after j that is not a group end (len(items): the end)."""
    while j < len(items) and items[j][0] == GROUP_END:
        j += 1
    return j


def _stops(items: list[tuple], names: list[str], i: int) -> tuple[_Stop, ...]:
    """The ways the field at item i can end, in order of preference."""
    n = len(items)

    def plain(j: int) -> _Stop:
        if j == n:
            return _Stop(None, n)
        if items[j][0] == FIELD:
            raise FormatError(f"fields <{names[items[i][1]]}> and <{names[items[j][1]]}> have nothing "
                              "between them")
        if items[j][0] == GROUP:
            raise FormatError("an optional group cannot follow another one directly")
        return _Stop(j, j + 1)

    j = i + 1
    if j < n and items[j][0] == GROUP:
        return (_Stop(j + 1, j + 2), plain(_after(items, items[j][1])))
    return (plain(_after(items, j)),)


@dataclasses.dataclass(frozen=True)
class LogFormat:
    """A compiled log format; `split` applies it to a raw line."""
    text: str

    def __post_init__(self):
        items, names = _compile(self.text)
        stops = {i: _stops(items, names, i) for i, item in enumerate(items) if item[0] == FIELD}
        object.__setattr__(self, "_items", tuple(items))
        object.__setattr__(self, "names", tuple(names))
        object.__setattr__(self, "_stops", stops)
        object.__setattr__(self, "content_index", names.index(CONTENT))

    def __str__(self) -> str:
        return self.text

    def field_index(self, name: str) -> int | None:
        return self.names.index(name) if name in self.names else None

    # ---- the split ----------------------------------------------------------------------------

    @staticmethod
    def _text_end(elements: tuple, line: bytes, q: int) -> int | None:
        for e in elements:
            if e is None:
                m = _WS_RUN.match(line, q)
                if m is None:
                    return None
                q = m.end()
            elif line.startswith(e, q):
                q += len(e)
            else:
                return None
        return q

    def _candidate(self, stop: _Stop, line: bytes, q: int) -> int | None:
        """The first place at or after q where the stop's text could start (None: nowhere)."""
        n = len(line)
        if stop.item is None:
            return n
        first = self._items[stop.item][1][0]
        if first is None:
            m = _WS_START.search(line, q)
            return None if m is None else m.start()
        found = line.find(first, q)
        return None if found < 0 else found

    def _matches(self, item: int, line: bytes, q: int) -> int | None:
        _, elements, anchored = self._items[item]
        end = self._text_end(elements, line, q)
        if end is None or (anchored and end != len(line)):
            return None
        return end

    def split(self, line: str | bytes) -> tuple[tuple[int, int] | None, ...] | None:
        """Each field's (start, end) in `line` (None for a field of a skipped group), or None when
        the line does not fit. `line` is taken as it is (strip its line end first)."""
        line = to_bytes(line)
        n = len(line)
        items = self._items
        spans: list[tuple[int, int] | None] = [None] * len(self.names)
        p = i = 0
        while i < len(items):
            item = items[i]
            kind = item[0]
            if kind == TEXT:
                end = self._matches(i, line, p)
                if end is None:
                    return None
                p, i = end, i + 1
            elif kind == GROUP:
                end = self._matches(i + 1, line, p)
                if end is None:
                    i = item[1] + 1
                else:
                    p, i = end, i + 2
            elif kind == GROUP_END:
                i += 1
            else:
                stops = self._stops[i]
                cands = [self._candidate(s, line, p) for s in stops]
                found = None
                while found is None:
                    live = [c for c in cands if c is not None]
                    if not live:
                        return None
                    q = min(live)
                    for k, stop in enumerate(stops):
                        if cands[k] != q:
                            continue
                        if stop.item is None:
                            found = (q, q, stop.resume)
                            break
                        end = self._matches(stop.item, line, q)
                        if end is not None:
                            found = (q, end, stop.resume)
                            break
                        cands[k] = self._candidate(stop, line, q + 1) if q < n else None
                q, end, resume = found
                spans[item[1]] = (p, q)
                p, i = end, resume
        return tuple(spans) if p == n else None

    def content(self, line: bytes) -> bytes:
        """The content of a line: its <Content> field, or the whole line when it does not fit."""
        spans = self.split(line)
        if spans is None:
            return line
        start, end = spans[self.content_index]
        return line[start:end]


def parse_log_format(text: str) -> LogFormat:
    """The compiled format; FormatError (one line) when the text is not a usable log format."""
    if not isinstance(text, str):
        raise FormatError(f"a log format is text, not {type(text).__name__}")
    return LogFormat(text)
