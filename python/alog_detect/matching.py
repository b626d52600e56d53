"""Match mode: a raw line -> the index of the template it matches, or UNKNOWN (docs/matching.md).

Deterministic and read-only (never Drain3's online clustering, which mutates). With a log format
the line's <Content> field is matched (the whole line when it does not fit the format); without
one, the first `header_tokens` tokens of a line are its header and take no part (0: the whole line
is matched).
A line matches a template with as many content tokens when every template token is `<*>` or equals
the masked line token byte for byte; among the templates a line matches, the one with the most non-`<*>` tokens wins,
then the lowest index. The C engine (cengine/src/match/) implements the same rules.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

from .logformat import LogFormat
from .masking import DEFAULT_MASKER, MAX_LINE_BYTES, Masker, strip_line_end, to_bytes, tokenize

UNKNOWN = -1
# Masked contents (up to MATCH_CACHE_BYTES long) remembered with their answer: most lines repeat
# a few masked shapes, and the wildcard scan costs as much as Drain3's. Forgotten all at once when
# full, so the cache holds at most about 16 MiB.
MATCH_CACHE_ENTRIES = 1 << 14
MATCH_CACHE_BYTES = 1024
WILDCARD = b"<*>"

REASON_OK = "ok"
REASON_UNMATCHED = "unmatched"
REASON_TOO_LONG = "line_too_long"


@dataclasses.dataclass(frozen=True)
class _Template:
    index: int
    literals: tuple[tuple[int, bytes], ...]  # (position, token) of every non-wildcard token

    @property
    def rank(self) -> tuple[int, int]:
        """Smaller is preferred: more literal tokens, then a lower index."""
        return (-len(self.literals), self.index)

    def matches(self, tokens: Sequence[bytes]) -> bool:
        return all(tokens[pos] == token for pos, token in self.literals)


class Matcher:
    """Templates indexed by token count and first token; build with `from_templates`."""

    def __init__(self, templates: Sequence[bytes], masker: Masker = DEFAULT_MASKER, header_tokens: int = 0,
                 log_format: LogFormat | None = None):
        if isinstance(header_tokens, bool) or not isinstance(header_tokens, int) or header_tokens < 0:
            raise ValueError(f"header_tokens must be an integer >= 0, got {header_tokens!r}")
        if log_format is not None and header_tokens:
            raise ValueError("a log format and header_tokens cannot both apply")
        self.templates = tuple(templates)
        self.masker = masker
        self.header_tokens = header_tokens
        self.log_format = log_format
        # Templates without a wildcard, by their exact tokens (the best possible match: every
        # token is literal); the lowest index keeps its place when two are equal.
        self._exact: dict[tuple[bytes, ...], int] = {}
        # (token count, first token or WILDCARD) -> templates in rank order.
        self._candidates: dict[tuple[int, bytes], list[_Template]] = {}
        for index, text in enumerate(self.templates):
            tokens = tokenize(text)
            if WILDCARD not in tokens:
                self._exact.setdefault(tuple(tokens), index)
            literals = tuple((pos, tok) for pos, tok in enumerate(tokens) if tok != WILDCARD)
            first = tokens[0] if tokens else WILDCARD
            self._candidates.setdefault((len(tokens), first), []).append(_Template(index, literals))
        for group in self._candidates.values():
            group.sort(key=lambda t: t.rank)
        self._cache: dict[bytes, int] = {}

    @classmethod
    def from_templates(cls, templates: Iterable[str | bytes], masker: Masker = DEFAULT_MASKER,
                       header_tokens: int = 0, log_format: LogFormat | None = None) -> "Matcher":
        """Templates in vocabulary order (index i = the i-th template), masked text as parse
        stores it; they are tokenized but not masked again."""
        return cls([to_bytes(t) for t in templates], masker, header_tokens, log_format)

    def _best(self, tokens: list[bytes]) -> int:
        key = b" ".join(tokens)
        if len(key) > MATCH_CACHE_BYTES:
            return self._scan(tuple(tokens))
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= MATCH_CACHE_ENTRIES:
                self._cache.clear()
            found = self._cache[key] = self._scan(tuple(tokens))
        return found

    def _scan(self, tokens: tuple[bytes, ...]) -> int:
        exact = self._exact.get(tokens)
        if exact is not None:
            return exact
        n = len(tokens)
        best: _Template | None = None
        groups = [self._candidates.get((n, WILDCARD), ())]
        if tokens:
            groups.append(self._candidates.get((n, tokens[0]), ()))
        for group in groups:
            for template in group:
                if best is not None and template.rank > best.rank:
                    break
                if template.matches(tokens):
                    best = template
                    break
        return UNKNOWN if best is None else best.index

    def match_reason(self, line: str | bytes) -> tuple[int, str]:
        """(template index or UNKNOWN, reason): reason is "ok", "unmatched" or "line_too_long"."""
        data = strip_line_end(to_bytes(line))
        if len(data) > MAX_LINE_BYTES:
            return UNKNOWN, REASON_TOO_LONG
        if self.log_format is not None:
            tokens = self.masker.mask_tokens(self.log_format.content(data))
        else:
            tokens = self.masker.mask_tokens(data, self.header_tokens)
        index = self._best(tokens)
        return index, REASON_OK if index != UNKNOWN else REASON_UNMATCHED

    def match_content(self, data: bytes, content: bytes) -> int:
        """`match` for a line already split: `data` the line without its line end, `content` its
        content (frontend.Frontend.view)."""
        if len(data) > MAX_LINE_BYTES:
            return UNKNOWN
        return self._best(self.masker.mask_tokens(content))

    def match_tokens(self, tokens: list[bytes]) -> int:
        """`match` for a line's content already masked (`Masker.mask_tokens`); no length check."""
        return self._best(tokens)

    def match(self, line: str | bytes) -> int:
        """The index of the template a raw line matches, or UNKNOWN (-1)."""
        return self.match_reason(line)[0]

    def match_many(self, lines: Iterable[str | bytes]) -> list[int]:
        return [self.match(line) for line in lines]
