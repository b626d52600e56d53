"""Line front end: line ends, tokenization and masking, exactly as docs/matching.md specifies.

Everything works on bytes; text is converted with `to_bytes` (UTF-8, lone surrogates from a
``surrogateescape`` decode turned back into their original bytes), so any input is accepted and
nothing here ever raises on content. The C engine (cengine/src/match/) implements the same rules
with a byte scanner; the regular expressions below are written so that each one takes exactly the
decision that scanner takes (see the spec's "Python implementation note"), and
tests/test_match_parity.py holds the two equal.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path

from .errors import UserError

MAX_LINE_BYTES = 1 << 20

MASK_IP = "<IP>"
MASK_HEX = "<HEX>"
MASK_NUM = "<NUM>"
MASK_PATH = "<PATH>"
MASK_TOKENS = (MASK_IP, MASK_HEX, MASK_NUM, MASK_PATH)

# The separators of Python's str.split() (what Drain3 tokenizes with), as UTF-8 byte sequences, so
# that our tokens and Drain3's are the same tokens. tests/test_matching.py checks the list against
# every Unicode code point.
_WHITESPACE = (rb"[\t\n\x0b\x0c\r\x1c-\x1f ]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]"
               rb"|\xe2\x81\x9f|\xe3\x80\x80")
_WHITESPACE_RUNS = re.compile(rb"(?:" + _WHITESPACE + rb")+")

_WORD = rb"[A-Za-z0-9\x80-\xff]"
_HEXDIGIT = rb"[0-9a-fA-F]"
_PATH_BYTE = rb"[A-Za-z0-9\x80-\xff_.~+%/\-]"
_PATH_PART = re.compile(rb"[A-Za-z0-9\x80-\xff_~+%\-]")  # a path byte other than '/' and '.'
_END = rb"(?!" + _WORD + rb")"

# One alternative per mask rule, in the spec's order; the first that matches at a position wins.
# Every alternative ends at a boundary, and backtracking inside one can only retry shorter digit
# or hex runs, which then end next to another digit and fail: the outcome is the scanner's.
_RULE_PATTERNS = {
    "uuid": rb"(?P<uuid>" + _HEXDIGIT + rb"{8}-" + _HEXDIGIT + rb"{4}-" + _HEXDIGIT + rb"{4}-"
            + _HEXDIGIT + rb"{4}-" + _HEXDIGIT + rb"{12}" + _END + rb")",
    "ip": rb"(?P<ip>[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?::[0-9]+)?" + _END + rb")",
    "hex": rb"(?P<hex0x>0[xX]" + _HEXDIGIT + rb"+" + _END + rb")"
           rb"|(?P<hexlong>(?=" + _HEXDIGIT + rb"*[0-9])(?=" + _HEXDIGIT + rb"*[a-fA-F])"
           + _HEXDIGIT + rb"{8,}" + _END + rb")",
    "num": rb"(?P<num>[-+]?[0-9]+(?:\.[0-9]+)?" + _END + rb")",
    # The whole run of path bytes; whether it is a path is decided in Masker._mask_line, which
    # also keeps a failed run from being scanned again at each of its slashes.
    "path": rb"(?P<path>/" + _PATH_BYTE + rb"*)",
}
MASK_RULES = tuple(_RULE_PATTERNS)  # the spec's order
_REPLACEMENT = {
    "uuid": MASK_HEX.encode(), "ip": MASK_IP.encode(), "hex0x": MASK_HEX.encode(),
    "hexlong": MASK_HEX.encode(), "num": MASK_NUM.encode(),
}
MASKING_FORMAT_VERSION = 1


def to_bytes(text: str | bytes) -> bytes:
    """The bytes a line stands for. str is UTF-8 encoded; lone surrogates U+DC80..U+DCFF (what a
    surrogateescape decode makes of invalid bytes) become those bytes again, any other lone
    surrogate is encoded as its 3-byte form, so this never fails."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def to_text(data: bytes) -> str:
    """The inverse of `to_bytes` for any bytes: invalid UTF-8 bytes become lone surrogates."""
    return data.decode("utf-8", "surrogateescape")


def strip_line_end(line: bytes) -> bytes:
    """A line without its terminator: one trailing LF, then one trailing CR, are removed."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


def tokenize(line: str | bytes) -> list[bytes]:
    """The tokens of a line: the maximal runs of bytes between whitespace sequences."""
    return [token for token in _WHITESPACE_RUNS.split(to_bytes(line)) if token]


def content_tokens(line: str | bytes, header_tokens: int = 0) -> list[bytes]:
    """The tokens of a line's content: all but its first `header_tokens` tokens (the line header
    of docs/matching.md, 2.1); none when the line has no more tokens than that."""
    return tokenize(line)[header_tokens:]


def _path_length(run: bytes) -> int:
    """Bytes of a path-byte run starting with '/' that form a <PATH> (0: none): the run without
    its trailing dots, when that holds another '/' and a byte other than '/' and '.'."""
    body = run.rstrip(b".")
    if b"/" in body[1:] and _PATH_PART.search(body):
        return len(body)
    return 0


def _compile(rules: tuple[str, ...]) -> re.Pattern | None:
    if not rules:
        return None
    return re.compile(rb"(?<!" + _WORD + rb")(?:" + b"|".join(_RULE_PATTERNS[r] for r in rules) + rb")")


@dataclasses.dataclass(frozen=True)
class Masker:
    """Masking with a subset of the rules (always applied in the spec's order)."""
    rules: tuple[str, ...] = MASK_RULES

    def __post_init__(self):
        unknown = [r for r in self.rules if r not in _RULE_PATTERNS]
        if unknown:
            raise ValueError(f"unknown mask rules {unknown}")
        object.__setattr__(self, "rules", tuple(r for r in MASK_RULES if r in self.rules))

    @functools.cached_property
    def _patterns(self) -> tuple[re.Pattern, re.Pattern | None]:
        """(every rule, every rule but path)."""
        return _compile(self.rules), _compile(tuple(r for r in self.rules if r != "path"))

    def _mask_line(self, data: bytes) -> bytes:
        """The scanner of the spec over a line: at each position where a token may start a mask,
        the first rule that matches replaces its bytes; other bytes are copied."""
        full, no_path = self._patterns
        out: list[bytes] = []
        pos = 0
        no_path_until = 0  # a failed path run: no slash inside it can start a path either
        while True:
            if pos < no_path_until:
                m = no_path.search(data, pos) if no_path is not None else None
                if m is None or m.start() >= no_path_until:
                    m = full.search(data, no_path_until)
            else:
                m = full.search(data, pos)
            if m is None:
                out.append(data[pos:])
                return b"".join(out)
            out.append(data[pos:m.start()])
            if m.lastgroup != "path":
                out.append(_REPLACEMENT[m.lastgroup])
                pos = m.end()
                continue
            length = _path_length(m.group())
            if length:
                out.append(MASK_PATH.encode())
                pos = m.start() + length
            else:
                out.append(b"/")
                pos = m.start() + 1
                no_path_until = m.end()

    def mask_tokens(self, line: str | bytes, header_tokens: int = 0) -> list[bytes]:
        """The masked tokens of a line's content (tokenize, drop the header, then mask inside
        each token)."""
        tokens = content_tokens(line, header_tokens)
        if not tokens or not self.rules:
            return tokens
        # Joined with a space, the masks see the same boundaries as on each token alone: a space
        # is a non-word byte and no mask rule matches across one.
        return self._mask_line(b" ".join(tokens)).split(b" ")

    def mask_bytes(self, line: str | bytes, header_tokens: int = 0) -> bytes:
        """The masked content: masked tokens joined by single spaces."""
        return b" ".join(self.mask_tokens(line, header_tokens))

    def mask(self, content: str | bytes, header_tokens: int = 0) -> str:
        """The masked content as text (what template mining sees): Drain3's whitespace split of
        it gives exactly `mask_tokens`. Invalid UTF-8 survives as lone surrogates (see `to_text`)."""
        return to_text(self.mask_bytes(content, header_tokens))

    def to_json(self) -> dict:
        return {"format_version": MASKING_FORMAT_VERSION, "rules": list(self.rules)}


DEFAULT_MASKER = Masker()


def load_masking(path: str | Path | None) -> Masker:
    """The masker a masking config file asks for (None: every rule). The file is JSON:
    {"format_version": 1, "rules": [<rule names from MASK_RULES>]}."""
    if path is None:
        return DEFAULT_MASKER
    fix = f'write {{"format_version": {MASKING_FORMAT_VERSION}, "rules": {json.dumps(list(MASK_RULES))}}}'
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("masking config not found", path, "give an existing JSON file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"masking config is not readable JSON ({exc})", path, fix) from None
    if not isinstance(data, dict) or data.get("format_version") != MASKING_FORMAT_VERSION:
        raise UserError(f"masking config needs format_version {MASKING_FORMAT_VERSION}", path, fix)
    rules = data.get("rules", list(MASK_RULES))
    if (not isinstance(rules, list) or set(data) - {"format_version", "rules"}
            or not all(isinstance(r, str) and r in MASK_RULES for r in rules)):
        raise UserError(f"masking config may only hold a list 'rules' drawn from {', '.join(MASK_RULES)}",
                        path, fix)
    return Masker(tuple(rules))


def mask_tokens(line: str | bytes, header_tokens: int = 0) -> list[bytes]:
    return DEFAULT_MASKER.mask_tokens(line, header_tokens)


def mask_bytes(line: str | bytes, header_tokens: int = 0) -> bytes:
    return DEFAULT_MASKER.mask_bytes(line, header_tokens)


def mask(content: str | bytes, header_tokens: int = 0) -> str:
    return DEFAULT_MASKER.mask(content, header_tokens)
