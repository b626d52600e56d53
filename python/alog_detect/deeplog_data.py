"""build-deeplog: parsed.parquet -> vocab.json (template -> index) + sequences.parquet + frontend.json.

``sequences.parquet``: one row per session, sessions in order of first appearance:

* ``session`` (string), ``keys`` (list<int32>, the session's template indices in line order),
  ``n_events`` (int32), ``lines`` (list<int64>, each event's ``line_no``).
* schema metadata ``alog.format_version``, ``alog.vocab_sha256`` (the vocabulary the keys index
  into), ``alog.window_size`` (the default window for ``deeplog-train``), ``alog.template_col``.

Rows whose session is null or empty belong to no session and are left out (and counted).

``frontend.json`` (``alog_detect.frontend``): the mask rules, session rule and header tokens the
templates were mined with, taken from the parquet's schema metadata (``alog.frontend``, written by
parse into the very file the templates come from, so it cannot go stale or be separated from them
as a ``templates.json`` beside it could); a parquet without it gets the defaults. The export copies
the file into the model directory, so the detectors need not be told these settings again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import atomic
from .errors import UserError
from .frontend import FRONTEND_NAME, Frontend, from_parquet_metadata, frontend_text
from .vocab import Vocab, training_vocab_text

SEQUENCES_FORMAT_VERSION = 1
_META_PREFIX = "alog."


@dataclass(frozen=True)
class BuildDeepLogConfig:
    parsed: Path
    out_dir: Path
    template_col: str = "template"
    window_size: int = 10
    session_col: str = "session"

    def __post_init__(self):
        if self.window_size < 1:
            raise UserError(f"--window-size must be >= 1, got {self.window_size}", None,
                            "pass a positive window size")


@dataclass(frozen=True)
class SessionSequences:
    """Sessions and their key sequences, as stored in sequences.parquet."""

    sessions: tuple[str, ...]
    keys: tuple[tuple[int, ...], ...]
    lines: tuple[tuple[int, ...], ...]
    vocab_sha256: str
    window_size: int


@dataclass(frozen=True)
class BuildDeepLogResult:
    vocab_path: Path
    sequences_path: Path
    frontend_path: Path
    frontend_recorded: bool   # False: the parquet recorded no settings, frontend.json has the defaults
    vocab: Vocab
    n_sessions: int
    n_events: int
    n_rows_without_session: int


# ---- reading parquet -------------------------------------------------------------------------

def _open_schema(path: Path, fix: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise UserError("file not found", path, fix)
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"not a readable parquet file ({exc})", path, fix) from None


def read_parsed_columns(path: str | Path, columns: Sequence[str], fix: str,
                        column_fixes: dict[str, str] | None = None) -> dict[str, list]:
    """Read ``columns`` of a parquet file as Python lists; a missing column is a UserError naming
    the column, the columns present and the fix (``column_fixes[col]`` or ``fix``)."""
    import pyarrow.parquet as pq

    path = Path(path)
    schema = _open_schema(path, fix)
    for col in columns:
        if col not in schema.names:
            raise UserError(f"no column {col!r} (columns: {', '.join(schema.names)})", path,
                            (column_fixes or {}).get(col, fix))
    table = pq.read_table(path, columns=list(columns))
    return {col: table.column(col).to_pylist() for col in columns}


# ---- grouping --------------------------------------------------------------------------------

def group_sessions(sessions: Sequence, templates: Sequence, lines: Sequence[int]
                   ) -> tuple[dict[str, list[str]], dict[str, list[int]], int]:
    """Group rows by session in order of first appearance, keeping row order inside a session.
    Returns (session -> templates, session -> line numbers, rows without a session)."""
    by_session: dict[str, list[str]] = {}
    lines_by_session: dict[str, list[int]] = {}
    skipped = 0
    for session, template, line in zip(sessions, templates, lines):
        if not session:
            skipped += 1
            continue
        by_session.setdefault(session, []).append(template)
        lines_by_session.setdefault(session, []).append(line)
    return by_session, lines_by_session, skipped


def vocab_from_sessions(templates_by_session: dict[str, list[str]]) -> Vocab:
    counts: dict[str, int] = {}
    for templates in templates_by_session.values():
        for t in templates:
            counts[t] = counts.get(t, 0) + 1
    return Vocab.from_counts(counts)


def encode_sessions(templates_by_session: dict[str, list[str]], lines_by_session: dict[str, list[int]],
                    vocab: Vocab, window_size: int) -> SessionSequences:
    index = vocab.index()
    names = tuple(templates_by_session)
    return SessionSequences(
        sessions=names,
        keys=tuple(tuple(index[t] for t in templates_by_session[s]) for s in names),
        lines=tuple(tuple(lines_by_session[s]) for s in names),
        vocab_sha256=vocab.sha256,
        window_size=window_size,
    )


# ---- sequences.parquet -----------------------------------------------------------------------

def write_sequences(path: str | Path, seqs: SessionSequences, template_col: str = "template") -> Path:
    with atomic.atomic_path(path) as tmp:
        _write_sequences_table(tmp, seqs, template_col)
    return Path(path)


def _sequences_schema(vocab_sha256: str, window_size: int, template_col: str):
    import pyarrow as pa

    return pa.schema(
        [("session", pa.string()), ("keys", pa.list_(pa.int32())), ("n_events", pa.int32()),
         ("lines", pa.list_(pa.int64()))],
        metadata={f"{_META_PREFIX}format_version": str(SEQUENCES_FORMAT_VERSION),
                  f"{_META_PREFIX}vocab_sha256": vocab_sha256,
                  f"{_META_PREFIX}window_size": str(window_size),
                  f"{_META_PREFIX}template_col": template_col})


def _write_sequences_table(path: Path, seqs: SessionSequences, template_col: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _sequences_schema(seqs.vocab_sha256, seqs.window_size, template_col)
    table = pa.table({"session": list(seqs.sessions), "keys": [list(k) for k in seqs.keys],
                      "n_events": [len(k) for k in seqs.keys], "lines": [list(x) for x in seqs.lines]},
                     schema=schema)
    pq.write_table(table, path)


def read_sequences(path: str | Path, lines: bool = True) -> SessionSequences:
    """The sessions of a sequences.parquet; with ``lines`` False their line numbers are left out
    (empty tuples), which training does not need."""
    path = Path(path)
    fix = "regenerate it with `alog-detect build-deeplog`"
    schema = _open_schema(path, fix)
    meta = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    version = meta.get(f"{_META_PREFIX}format_version")
    if version is None:
        raise UserError("not a sequences.parquet written by build-deeplog (no alog metadata)", path, fix)
    if int(version) > SEQUENCES_FORMAT_VERSION:
        raise UserError(f"sequences format_version {version} is newer than this alog-detect "
                        f"understands ({SEQUENCES_FORMAT_VERSION})", path, "upgrade alog-detect")
    cols = read_parsed_columns(path, ["session", "keys", "lines"] if lines else ["session", "keys"], fix)
    return SessionSequences(
        sessions=tuple(cols["session"]),
        keys=tuple(tuple(k) for k in cols["keys"]),
        lines=tuple(tuple(x) for x in cols["lines"]) if lines else ((),) * len(cols["session"]),
        vocab_sha256=meta[f"{_META_PREFIX}vocab_sha256"],
        window_size=int(meta[f"{_META_PREFIX}window_size"]),
    )


def recorded_frontend(path: str | Path) -> Frontend | None:
    """The front-end settings parse recorded in a parquet file, or None."""
    return from_parquet_metadata(_open_schema(Path(path), "re-run `alog-detect parse`").metadata, path)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---- the stage -------------------------------------------------------------------------------

# Rows read from parsed.parquet at a time: build-deeplog holds a batch of strings, not the file's.
READ_BATCH_ROWS = 1 << 16


class _SessionKeys:
    """Every session's events as compact arrays (template numbers in order of first sight, line
    numbers): memory grows by 12 bytes an event, not by the Python objects of every row."""

    def __init__(self):
        from array import array

        self._array = array
        self.names: dict[str, int] = {}       # session -> its number, in order of first appearance
        self.keys: list = []                  # per session: array('i') of template numbers
        self.lines: list = []                 # per session: array('q') of line numbers
        self.templates: dict[str, int] = {}   # template -> its number, in order of first sight
        self.counts: list[int] = []
        self.skipped = 0

    def add(self, sessions: list, templates: list, lines: list) -> None:
        names, numbers, counts = self.names, self.templates, self.counts
        for session, template, line in zip(sessions, templates, lines):
            if not session:
                self.skipped += 1
                continue
            s = names.get(session)
            if s is None:
                s = names[session] = len(names)
                self.keys.append(self._array("i"))
                self.lines.append(self._array("q"))
            t = numbers.get(template)
            if t is None:
                t = numbers[template] = len(numbers)
                counts.append(0)
            counts[t] += 1
            self.keys[s].append(t)
            self.lines[s].append(line)


def _read_session_keys(config: BuildDeepLogConfig, rerun: str) -> _SessionKeys:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [config.session_col, config.template_col, "line_no"]
    schema = _open_schema(Path(config.parsed), rerun)
    for col in columns:
        if col not in schema.names:
            raise UserError(f"no column {col!r} (columns: {', '.join(schema.names)})", config.parsed,
                            "name the column holding the template strings with --template-col"
                            if col == config.template_col else rerun)
    kind = schema.field(config.template_col).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)):
        raise UserError(f"column {config.template_col!r} holds {kind} values, not template strings", config.parsed,
                        "name the column holding the template strings with --template-col")
    found = _SessionKeys()
    for batch in pq.ParquetFile(config.parsed).iter_batches(batch_size=READ_BATCH_ROWS, columns=columns):
        templates = batch.column(1)
        if templates.null_count:
            raise UserError(f"column {config.template_col!r} has null templates", config.parsed,
                            "name a column holding template strings with --template-col, or re-run parse")
        found.add(batch.column(0).to_pylist(), templates.to_pylist(), batch.column(2).to_pylist())
    return found


def _sequences_table(found: _SessionKeys, vocab: Vocab, window_size: int, template_col: str):
    """sequences.parquet's table, built from flat arrays (no Python object per event)."""
    import numpy as np
    import pyarrow as pa

    index = vocab.index()
    to_vocab = np.array([index[t] for t in found.templates], dtype=np.int32)
    sizes = np.array([len(k) for k in found.keys], dtype=np.int64)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    keys = to_vocab[np.concatenate([np.frombuffer(k, dtype=np.int32) for k in found.keys])]
    lines = np.concatenate([np.frombuffer(x, dtype=np.int64) for x in found.lines])
    schema = _sequences_schema(vocab.sha256, window_size, template_col)
    return pa.table({"session": pa.array(list(found.names), pa.string()),
                     "keys": pa.ListArray.from_arrays(pa.array(offsets), pa.array(keys, pa.int32())),
                     "n_events": pa.array(sizes.astype(np.int32)),
                     "lines": pa.ListArray.from_arrays(pa.array(offsets), pa.array(lines, pa.int64()))},
                    schema=schema)


def build_deeplog(config: BuildDeepLogConfig) -> BuildDeepLogResult:
    import pyarrow.parquet as pq

    rerun = "re-run `alog-detect parse` to produce it"
    found = _read_session_keys(config, rerun)
    if not found.names:
        raise UserError("no session has any event (empty file or every session key is empty)",
                        config.parsed, "parse non-empty logs with a --session-key that matches them")
    vocab = Vocab.from_counts(dict(zip(found.templates, found.counts)))
    table = _sequences_table(found, vocab, config.window_size, config.template_col)
    recorded = recorded_frontend(config.parsed)

    out = Path(config.out_dir)
    vocab_path, seq_path, frontend_path = out / "vocab.json", out / "sequences.parquet", out / FRONTEND_NAME
    # All files or none: the renames happen only once all are fully written.
    with atomic.atomic_path(seq_path) as seq_tmp, atomic.atomic_path(vocab_path) as vocab_tmp, \
            atomic.atomic_path(frontend_path) as frontend_tmp:
        pq.write_table(table, seq_tmp)
        vocab_tmp.write_text(training_vocab_text(vocab), encoding="utf-8")
        frontend_tmp.write_text(frontend_text(recorded or Frontend()), encoding="utf-8")
    return BuildDeepLogResult(vocab_path, seq_path, frontend_path, recorded is not None, vocab,
                              len(found.names), sum(found.counts), found.skipped)
