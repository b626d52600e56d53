"""Parse stage: raw log files (or loghub structured CSVs) -> ``parsed.parquet`` + templates.

Each line's first ``header_tokens`` tokens (the line header: date, time, host, ``service[pid]:``)
are dropped, the rest is masked by ``alog_detect.masking`` (the same rules the C engine applies, see
docs/matching.md), then mined with Drain3 (in-memory configuration, no persistence, nothing read
from the current directory), whose prefix tree skips log levels and session keys and whose similarity
leaves levels out and counts a session key as a parameter (docs/matching.md 3.2). After the last line every line gets its cluster's final template.
With ``mine_lines`` M (``--mine-lines``) Drain3 mines only the first M lines (and lines no template
matches) and every line gets what match mode gives over the final templates (docs/matching.md 3.1).

Memory does not grow with the input: rows are written ROW_GROUP_ROWS at a time to a staged parquet
file beside the output (without the template, known only at the end), which is then copied row
group by row group into the output with each row's final template.

Columns of the parquet file (docs/architecture.md): ``line_no`` (1-based in its file; ``LineId``
for loghub CSVs), ``source`` (the path as given or as matched by the glob), ``timestamp`` (seconds
since the epoch by the timestamp rule of docs/matching.md, null when the line has none),
``session`` (the session rule of docs/matching.md: ``none`` by default, e.g. ``prefix:ses_`` for
the built-in sample), ``template``, ``template_id`` (Drain3
cluster id), ``content`` (for raw logs the whole line without its line ending, header included;
for loghub CSVs the ``Content`` column). Timestamp and session are read from the whole line.
Blank lines carry no event and are skipped; line numbers still count them. A line with no more
tokens than the header has an empty content, which Drain3 mines as the empty template.

The front-end settings (mask rules, session rule, header tokens: ``alog_detect.frontend``) go into
the parquet's schema metadata as ``alog.frontend`` (the text of a frontend.json), so they travel
with the lines they describe. Beside ``X.parquet`` goes ``X.templates.json``: ``format_version``
(2), the Drain3 settings, the same front-end settings (``frontend``), and every template with its
id and line count.

With ``header_tokens`` 0 whole raw lines are mined, so headers are tokens that raise Drain's
similarity between different messages; whole-line mining wants a higher ``sim_th`` than content
only (docs/results.md, loghub section, measures both; 0.7 suits the built-in sample). Giving the
header's token count instead lets the default 0.4 work (docs/matching.md, 2.1).

Input is rejected (UserError, nothing written) when a file is missing or empty, a glob matches
nothing, or a line holds a NUL byte, is longer than 1 MiB, or is not valid UTF-8.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import io
import os
import re
import sys
from pathlib import Path
from typing import Iterable, Iterator

from . import atomic
from .errors import UserError
from .frontend import SOURCE_GIVEN, SOURCE_NONE, Frontend, compile_log_format, compile_timestamp, parquet_metadata

FORMATS = ("raw", "loghub-structured")
MAX_LINE_BYTES = 1 << 20
TEMPLATES_FORMAT_VERSION = 2
# Below this many lines a progress bar is noise.
PROGRESS_MIN_LINES = 20_000
# How many rows parse holds before writing them as one parquet row group: memory stays bounded
# by this, not by the input's length (tests/test_parse.py checks the row groups).
ROW_GROUP_ROWS = 1 << 16
# --mine-lines 0: Drain3 mines every line.
MINE_ALL = 0


AUTO = "auto"
# How many non-blank first lines an explicit timestamp pattern must read at least one of.
TIMESTAMP_CHECK_LINES = 200


@dataclasses.dataclass(frozen=True)
class OptionNames:
    """How the user names the front-end settings, so that an error names what they typed: the
    CLI's flags, or the scons options."""
    log_format: str
    session_key: str
    header_tokens: str
    timestamp: str
    timestamp_format: str

    def set(self, option: str, value: str) -> str:
        """How to write option=value the way the user does ("--timestamp X" or "timestamp=X")."""
        name = getattr(self, option)
        return f"{name} {value}" if name.startswith("--") else f"{name}={value}"


CLI_NAMES = OptionNames("--log-format", "--session-key", "--header-tokens", "--timestamp", "--timestamp-format")
SCONS_NAMES = OptionNames("log_format", "session_key", "header_tokens", "timestamp", "timestamp_format")
NAMES = {"cli": CLI_NAMES, "scons": SCONS_NAMES}


@dataclasses.dataclass(frozen=True)
class ParseConfig:
    logs: tuple[str, ...]
    out: Path
    format: str = "raw"
    masking_config: Path | None = None
    session_key: str = "none"
    # Tokens of a raw line's header, dropped before masking and mining; recorded but not applied
    # for loghub-structured input (its Content column is already the message).
    header_tokens: int = 0
    # A log format (docs/matching.md 2.2): "" none, "auto" detected from the first lines; its
    # <Content> field is mined instead of the line without its header tokens.
    log_format: str = ""
    # "auto" (the detected shape's fields with log_format=auto, else "line-start"), "line-start",
    # "none", or a template over the log format's fields such as "<Date> <Time>" ...
    timestamp: str = AUTO
    # ... read with this strftime-style pattern ("auto": the known pattern that reads the first lines).
    timestamp_format: str = AUTO
    names: str = "cli"                # what errors call the settings above: NAMES[names]
    depth: int = 4
    sim_th: float = 0.4
    max_children: int = 100
    # "drain3": Drain3's clustering; "key-aware": levels and session keys do not make two messages
    # similar (docs/matching.md 3.2).
    mining: str = "drain3"
    progress: bool | None = None  # None: on when stderr is a terminal and the input is long
    # 0: Drain3 mines every line. M > 0: Drain3 mines the first M lines only and every line is
    # assigned by match mode against the templates (lines they miss are mined as well): faster
    # on large inputs, and the assignment is the engine's (docs/matching.md, "Mining a sample").
    mine_lines: int = MINE_ALL


@dataclasses.dataclass(frozen=True)
class ParseResult:
    parquet: Path
    templates: Path
    lines: int
    num_templates: int
    frontend: Frontend = Frontend()
    detection: object | None = None   # known_formats.Detection with log_format=auto
    unfit_lines: int = 0              # lines that do not fit the log format (mined whole)
    lines_mined: int = 0              # lines Drain3 saw (all of them unless mine_lines)

    def notes(self) -> list[str]:
        """What a user should read about the parse: the detected format, the lines that did not fit."""
        out = [self.detection.describe()] if self.detection is not None else []
        if self.frontend.log_format is not None and self.unfit_lines:
            out.append(f"{self.unfit_lines} of {self.lines} lines do not fit the log format; each is mined "
                       "as a whole line (docs/matching.md 2.2)")
        return out


@dataclasses.dataclass(frozen=True)
class _Record:
    source: str
    line_no: int
    content: str


# ---- input ------------------------------------------------------------------------------------

def expand_logs(patterns: Iterable[str]) -> list[str]:
    """Paths as given; a pattern with glob characters expands to its sorted matches."""
    paths: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(p for p in glob.glob(pattern) if Path(p).is_file())
            if not matches:
                raise UserError("glob matches no file", pattern, "check the pattern and quote it in the shell")
            paths.extend(matches)
        elif not Path(pattern).is_file():
            raise UserError("no such log file", pattern, "give an existing file or a glob")
        else:
            paths.append(pattern)
    return paths


def _check_line(raw: bytes, source: str, line_no: int) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise UserError(f"line {line_no} is longer than 1 MiB ({len(raw)} bytes)", source,
                        "split or drop the oversized line")
    if b"\0" in raw:
        raise UserError(f"line {line_no} contains a NUL byte", source,
                        "remove NUL bytes, e.g. tr -d '\\000' < in > out")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"line {line_no} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                        f"{exc.start + 1})", source,
                        "convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8") from None


def _read_raw(source: str) -> Iterator[_Record]:
    with open(source, "rb") as f:
        line_no = 0
        for line_no, raw in enumerate(f, 1):
            raw = raw.removesuffix(b"\n").removesuffix(b"\r")
            content = _check_line(raw, source, line_no)
            if content.strip():
                yield _Record(source, line_no, content)
    if line_no == 0:
        raise UserError("log file is empty", source, "give a file with log lines")


def _read_structured(source: str) -> Iterator[_Record]:
    data = Path(source).read_bytes()
    if not data.strip():
        raise UserError("log file is empty", source, "give a loghub *_structured.csv file")
    # Validate bytes line by line first so that errors name a line, as for raw logs.
    for line_no, raw in enumerate(data.split(b"\n"), 1):
        _check_line(raw.removesuffix(b"\r"), source, line_no)
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    missing = {"LineId", "Content"} - set(reader.fieldnames or ())
    if missing:
        raise UserError(f"not a loghub structured CSV (missing column {', '.join(sorted(missing))})",
                        source, "give a *_structured.csv file or use --format raw")
    for row in reader:
        try:
            line_no = int(row["LineId"])
        except (TypeError, ValueError):
            raise UserError(f"LineId {row['LineId']!r} is not an integer (record {reader.line_num})",
                            source, "give an unmodified loghub structured CSV") from None
        content = row["Content"] or ""
        if content.strip():
            yield _Record(source, line_no, content)


def read_records(paths: list[str], fmt: str) -> Iterator[_Record]:
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}", None, f"use one of {', '.join(FORMATS)}")
    reader = _read_raw if fmt == "raw" else _read_structured
    for path in paths:
        yield from reader(path)


# ---- mining -----------------------------------------------------------------------------------

# Log levels as whole tokens (docs/matching.md 3.2): the same few words begin most lines of a log,
# so they say nothing about which message a line is.
LEVEL_TOKENS = frozenset(("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR", "CRITICAL",
                          "CRIT", "FATAL", "ALERT", "EMERG", "SEVERE"))


def _key_aware_drain_class():
    """Drain3's Drain with the two rules of docs/matching.md 3.2 (a function, so that importing
    parse does not import drain3)."""
    from drain3.drain import Drain, Node

    class KeyAwareDrain(Drain):
        """Drain3's clustering with two kinds of tokens that do not tell messages apart. A level
        token (LEVEL_TOKENS) is skipped by the prefix tree and left out of the similarity. A
        session key token (a token that begins with the session prefix and is longer than it) is
        skipped by the prefix tree and counts in the similarity as a parameter: in the length,
        never as a shared token. Otherwise this is Drain3's code, and on lines without such
        tokens it decides exactly as Drain3 does."""

        def __init__(self, *args, session_prefix: str | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.session_prefix = session_prefix

        def is_session_key(self, token: str) -> bool:
            prefix = self.session_prefix
            return prefix is not None and len(token) > len(prefix) and token.startswith(prefix)

        def tree_keys(self, tokens) -> list[str]:
            """The tokens the prefix tree is walked with: all but levels and session keys."""
            return [t for t in tokens if t not in LEVEL_TOKENS and not self.is_session_key(t)]

        def tree_search(self, root_node, tokens, sim_th, include_params):
            token_count = len(tokens)
            cur_node = root_node.key_to_child_node.get(str(token_count))
            if cur_node is None:
                return None
            if token_count == 0:
                return self.id_to_cluster.get(cur_node.cluster_ids[0])
            keys = self.tree_keys(tokens)
            cur_node_depth = 1
            for token in keys:
                if cur_node_depth >= self.max_node_depth or cur_node_depth == len(keys):
                    break
                key_to_child_node = cur_node.key_to_child_node
                cur_node = key_to_child_node.get(token)
                if cur_node is None:
                    cur_node = key_to_child_node.get(self.param_str)
                if cur_node is None:
                    return None
                cur_node_depth += 1
            return self.fast_match(cur_node.cluster_ids, tokens, sim_th, include_params)

        def add_seq_to_prefix_tree(self, root_node, cluster):
            token_count = len(cluster.log_template_tokens)
            cur_node = root_node.key_to_child_node.get(str(token_count))
            if cur_node is None:
                cur_node = root_node.key_to_child_node[str(token_count)] = Node()
            if token_count == 0:
                cur_node.cluster_ids = [cluster.cluster_id]
                return
            keys = self.tree_keys(cluster.log_template_tokens)
            current_depth = 1
            for token in keys + [None]:
                if token is None or current_depth >= self.max_node_depth or current_depth >= len(keys):
                    cur_node.cluster_ids = [cid for cid in cur_node.cluster_ids if cid in self.id_to_cluster]
                    cur_node.cluster_ids.append(cluster.cluster_id)
                    break
                children = cur_node.key_to_child_node
                if token in children:
                    cur_node = children[token]
                elif self.parametrize_numeric_tokens and self.has_numbers(token):
                    cur_node = children.setdefault(self.param_str, Node())
                elif self.param_str in children:
                    cur_node = (children.setdefault(token, Node()) if len(children) < self.max_children
                                else children[self.param_str])
                elif len(children) + 1 < self.max_children:
                    cur_node = children.setdefault(token, Node())
                elif len(children) + 1 == self.max_children:
                    cur_node = children.setdefault(self.param_str, Node())
                else:
                    cur_node = children[self.param_str]
                current_depth += 1

        def get_seq_distance(self, seq1, seq2, include_params: bool):
            """seq1 a template, seq2 a line's tokens. Matching (include_params, Drain3's `match`)
            keeps Drain3's measure."""
            if include_params:
                return super().get_seq_distance(seq1, seq2, include_params)
            counted = sim_tokens = param_count = 0
            for token1, token2 in zip(seq1, seq2, strict=True):
                if token1 in LEVEL_TOKENS or token2 in LEVEL_TOKENS:
                    continue
                counted += 1
                if token1 == self.param_str:
                    param_count += 1
                elif token1 == token2 and not self.is_session_key(token2):
                    sim_tokens += 1
            return (sim_tokens / counted if counted else 1.0), param_count

    return KeyAwareDrain


MINING_MODES = ("drain3", "key-aware")


def new_template_miner(depth: int, sim_th: float, max_children: int, session_prefix: str | None = None,
                       key_aware: bool = False):
    """A Drain3 TemplateMiner configured only from these arguments (never from drain3.ini); with
    ``key_aware`` its clustering is Drain3's with the rules of docs/matching.md 3.2
    (`session_prefix`: the session rule's prefix, None without a prefix rule)."""
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    if depth < 3:
        raise UserError(f"--depth must be at least 3 (got {depth})", None, "use --depth 3 or more")
    if not 0.0 <= sim_th <= 1.0:
        raise UserError(f"--sim-th must be within [0, 1] (got {sim_th})", None, "use e.g. --sim-th 0.4")
    config = TemplateMinerConfig()
    config.drain_depth = depth
    config.drain_sim_th = sim_th
    config.drain_max_children = max_children
    config.masking_instructions = []  # masking is ours (alog_detect.masking), applied beforehand
    config.profiling_enabled = False
    miner = TemplateMiner(persistence_handler=None, config=config)
    if not key_aware:
        return miner
    drain = miner.drain
    miner.drain = _key_aware_drain_class()(
        depth=depth, sim_th=sim_th, max_children=max_children, max_clusters=drain.max_clusters,
        extra_delimiters=drain.extra_delimiters, profiler=drain.profiler, param_str=drain.param_str,
        parametrize_numeric_tokens=drain.parametrize_numeric_tokens, session_prefix=session_prefix)
    return miner


def session_prefix_of(frontend: Frontend) -> str | None:
    """The session prefix as Drain3's tokens spell it (None unless the rule is prefix:)."""
    from .masking import to_text

    prefix = frontend.session_rule.prefix
    return None if prefix is None else to_text(prefix)


def _progress(records: Iterator[_Record], paths: list[str], enabled: bool | None):
    """Wrap records in a tqdm bar on stderr: on request, or by default on a terminal for long input."""
    from tqdm import tqdm

    total = None
    if enabled is None and sys.stderr.isatty():
        total = _count_lines(paths)
        enabled = total >= PROGRESS_MIN_LINES
    return tqdm(records, total=total, disable=not enabled, file=sys.stderr, unit=" lines", desc="parse",
                mininterval=0.5)


def _count_lines(paths: list[str]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as f:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return total


def frontend_for(config: ParseConfig, paths: list[str] | None = None) -> tuple[Frontend, object | None]:
    """The front-end settings of a parse (shared with match mode and the engine), `auto` settings
    resolved on the first lines of `paths`, and the format detection (None unless log_format=auto).
    Settings that cannot work are a UserError, naming the options as `config.names` says, before
    anything is read past the first lines."""
    try:
        return _frontend_for(config, paths)
    except UserError as exc:
        names = NAMES[config.names]
        if names == CLI_NAMES:
            raise
        where = {getattr(CLI_NAMES, option): getattr(names, option) for option in OPTIONS}.get(exc.path, exc.path)
        raise UserError(_rename_flags(exc.message, names), where, _rename_flags(exc.fix, names)) from None


OPTIONS = ("timestamp_format", "log_format", "session_key", "header_tokens", "timestamp")


def _rename_flags(text: str | None, names: OptionNames) -> str | None:
    """A text written with the CLI's flags ("--timestamp-format X"), in the words of `names`
    ("timestamp_format=X")."""
    if text is None:
        return text
    for option in OPTIONS:  # longest flag first: --timestamp-format before --timestamp
        text = re.sub(re.escape(getattr(CLI_NAMES, option)) + r"(?:[ =](?=\S))?", getattr(names, option) + "=", text)
    return text


def _frontend_for(config: ParseConfig, paths: list[str] | None) -> tuple[Frontend, object | None]:
    from .known_formats import detect, first_lines, pick_timestamp_format

    names = NAMES[config.names]
    fmt_text = config.log_format
    detection = None
    lines: list[bytes] | None = None
    if fmt_text == AUTO:
        if config.header_tokens:
            raise UserError(f"{names.set('log_format', 'auto')} and {names.set('header_tokens', config.header_tokens)} "
                            "both say where the message starts", None, "give one of them")
        if paths is None or config.format != "raw":
            fmt_text = ""
        else:
            lines = first_lines(paths, TIMESTAMP_CHECK_LINES)
            detection = detect(lines)
            fmt_text = detection.log_format
    if fmt_text and config.header_tokens:
        raise UserError(f"{names.set('log_format', repr(fmt_text))} and {names.set('header_tokens', config.header_tokens)} "
                        "both say where the message starts", None,
                        f"give one of them: the log format with {names.set('header_tokens', 0)}, or no log format")
    source = detection.source if detection is not None else (SOURCE_GIVEN if fmt_text else SOURCE_NONE)
    template, pattern = config.timestamp, config.timestamp_format
    if template == AUTO:
        if detection is not None:
            template, pattern = detection.timestamp.template, detection.timestamp.pattern
        else:
            template = "line-start"
    if template in ("line-start", "none") and pattern == AUTO:
        pattern = ""
    base = Frontend().with_options(masking_config=config.masking_config, session_key=config.session_key,
                                   header_tokens=config.header_tokens, log_format=fmt_text,
                                   log_format_source=source)
    if template not in ("line-start", "none"):
        # The template's syntax and fields (and an explicit pattern's syntax), before any line.
        base.with_options(timestamp=template, timestamp_format="%s" if pattern == AUTO else pattern)
    if template not in ("line-start", "none") and paths is not None and config.format == "raw":
        lines = lines if lines is not None else first_lines(paths, TIMESTAMP_CHECK_LINES)
        values = [view.fields for view in map(base.view, lines) if view.fields is not None]
        if pattern == AUTO:
            chosen = pick_timestamp_format(template, values) if values else None
            if chosen is None:
                raise UserError(f"no known timestamp format reads {names.set('timestamp', repr(template))} on the "
                                f"first {len(lines)} lines", paths[0],
                                f"give {names.set('timestamp_format', repr('%Y-%m-%d %H:%M:%S'))} (the pattern of "
                                "those fields' text)")
            pattern = chosen.pattern
        else:
            rule = compile_timestamp(template, pattern, names.timestamp_format)
            if not any(rule.seconds(b"", v) is not None for v in values):
                raise UserError(f"{names.set('timestamp', repr(template))} with {names.set('timestamp_format', repr(pattern))} "
                                f"reads no timestamp on the first {len(lines)} lines", paths[0],
                                f"give the pattern of the fields' text, e.g. "
                                f"{names.set('timestamp_format', repr('%Y-%m-%d %H:%M:%S,%f'))}, or "
                                f"{names.set('timestamp', 'line-start')}")
    elif pattern == AUTO:
        pattern = ""
    try:
        return base.with_options(timestamp=template, timestamp_format=pattern), detection
    except UserError as exc:
        raise UserError(exc.message, exc.path if exc.path else names.timestamp, exc.fix) from None


_STAGE_COLUMNS = ("line_no", "source", "timestamp", "session", "template_id", "content")


def _stage_schema(masked: bool = False):
    """The columns parse writes while it mines: the final ones but the template (known at the
    end), and with `masked` each line's masked content (to match it again without masking)."""
    import pyarrow as pa

    fields = [("line_no", pa.int64()), ("source", pa.string()), ("timestamp", pa.float64()),
              ("session", pa.string()), ("template_id", pa.int64()), ("content", pa.string())]
    return pa.schema(fields + ([("masked", pa.binary())] if masked else []))


class _RowGroupWriter:
    """Rows appended one at a time, written to a parquet file ROW_GROUP_ROWS at a time."""

    def __init__(self, path: Path, schema):
        import pyarrow.parquet as pq

        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema)
        self.columns: dict[str, list] = {name: [] for name in schema.names}
        self.rows = 0

    def add(self, *values) -> None:
        for column, value in zip(self.columns.values(), values):
            column.append(value)
        self.rows += 1
        if len(self.columns["line_no"]) >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.columns["line_no"]:
            self.writer.write_table(pa.table(self.columns, schema=self.schema), row_group_size=ROW_GROUP_ROWS)
            self.columns = {name: [] for name in self.schema.names}

    def close(self) -> None:
        self.flush()
        self.writer.close()


@dataclasses.dataclass
class _Mined:
    """What the mining pass leaves for the write: the Drain3 miner and its counts."""
    miner: object
    unfit: int = 0
    lines_mined: int = 0         # lines Drain3 saw
    rematch_before: int = 0      # rows before this one are assigned again by match mode at the write


class _LineMasker:
    """A record's content as parse masks it: with the log format's view, or without its header."""

    def __init__(self, config: ParseConfig, frontend: Frontend):
        raw = config.format == "raw"
        self.header = config.header_tokens if raw else 0
        self.fmt = frontend.log_format if raw else None
        self.frontend = frontend

    def __call__(self, record: _Record):
        """(view or None, masked tokens)."""
        if self.fmt is not None:
            view = self.frontend.view(record.content)
            return view, self.frontend.masker.mask_tokens(view.content)
        return None, self.frontend.masker.mask_tokens(record.content, self.header)


def _mine_all(records: Iterable[_Record], config: ParseConfig, frontend: Frontend, rows: _RowGroupWriter) -> _Mined:
    """Drain3 over every line; each row gets its cluster id."""
    from .masking import to_text

    mined = _Mined(new_template_miner(config.depth, config.sim_th, config.max_children, session_prefix_of(frontend),
                                      key_aware=config.mining == "key-aware"))
    masked = _LineMasker(config, frontend)
    add = mined.miner.add_log_message
    for record in records:
        view, tokens = masked(record)
        mined.unfit += masked.fmt is not None and view.fields is None
        cluster_id = add(to_text(b" ".join(tokens)))["cluster_id"]
        rows.add(record.line_no, record.source, frontend.seconds(record.content, view),
                 frontend.session(record.content, view), cluster_id, record.content)
    mined.lines_mined = rows.rows
    return mined


class _ClusterMatcher:
    """Match mode over a miner's current templates, answering with cluster ids; rebuilt after the
    miner changes."""

    def __init__(self, miner, frontend: Frontend):
        self.miner, self.frontend = miner, frontend
        self.stale = True

    def match(self, tokens: list[bytes]) -> int | None:
        from .matching import UNKNOWN

        if self.stale:
            clusters = sorted(self.miner.drain.clusters, key=lambda c: c.cluster_id)
            self.ids = [c.cluster_id for c in clusters]
            self.matcher = self.frontend.matcher([c.get_template() for c in clusters])
            self.stale = False
        index = self.matcher.match_tokens(tokens)
        return None if index == UNKNOWN else self.ids[index]


def _mine_sample(paths: list[str], records: Iterable[_Record], config: ParseConfig, frontend: Frontend,
                 rows: _RowGroupWriter) -> _Mined:
    """Drain3 over the first `config.mine_lines` lines, then match mode over every line (docs/matching.md);
    a line no template matches is mined too, and the lines before the last such line are matched
    again at the write, so that every row holds what match mode gives over the final templates."""
    from .masking import to_text

    mined = _Mined(new_template_miner(config.depth, config.sim_th, config.max_children, session_prefix_of(frontend),
                                      key_aware=config.mining == "key-aware"))
    masked = _LineMasker(config, frontend)
    add = mined.miner.add_log_message
    for record in _first(read_records(paths, config.format), config.mine_lines):
        add(to_text(b" ".join(masked(record)[1])))
        mined.lines_mined += 1
    matcher = _ClusterMatcher(mined.miner, frontend)
    for record in records:
        view, tokens = masked(record)
        mined.unfit += masked.fmt is not None and view.fields is None
        cluster_id = matcher.match(tokens)
        if cluster_id is None:
            cluster_id = add(to_text(b" ".join(tokens)))["cluster_id"]
            mined.lines_mined += 1
            mined.rematch_before = rows.rows
            matcher.stale = True
        rows.add(record.line_no, record.source, frontend.seconds(record.content, view),
                 frontend.session(record.content, view), cluster_id, record.content, b" ".join(tokens))
    return mined


def _first(records: Iterable[_Record], n: int) -> Iterator[_Record]:
    for i, record in enumerate(records):
        if i >= n:
            return
        yield record


def _final_templates(miner) -> dict[int, str]:
    return {cluster.cluster_id: cluster.get_template() for cluster in miner.drain.clusters}


def _write_final(stage: Path, out: Path, templates: dict[int, str], mined: _Mined, config: ParseConfig,
                 frontend: Frontend) -> dict[int, int]:
    """Copy the staged rows to the parquet file one row group at a time, adding each row's final
    template (and assigning again by match mode the rows before `mined.rematch_before`). Returns
    the line count of every cluster id."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = sorted(templates)
    position = np.full(max(ids) + 1, -1, dtype=np.int64)
    position[ids] = np.arange(len(ids))
    texts = pa.array([templates[i] for i in ids], pa.string())
    schema = _stage_schema().insert(4, pa.field("template", pa.string())).with_metadata(parquet_metadata(frontend))
    rematch = _ClusterMatcher(mined.miner, frontend) if mined.rematch_before else None
    counts = np.zeros(len(ids), dtype=np.int64)
    done = 0
    with atomic.atomic_path(out) as tmp:
        writer = pq.ParquetWriter(tmp, schema)
        try:
            for batch in pq.ParquetFile(stage).iter_batches(batch_size=ROW_GROUP_ROWS):
                cluster = batch.column("template_id").to_numpy()
                if rematch is not None and done < mined.rematch_before:
                    cluster = cluster.copy()
                    masked = batch.column("masked").to_pylist()
                    for i in range(min(len(masked), mined.rematch_before - done)):
                        found = rematch.match(masked[i].split(b" ") if masked[i] else [])
                        cluster[i] = cluster[i] if found is None else found
                done += len(cluster)
                pos = position[cluster]
                counts += np.bincount(pos, minlength=len(ids))
                columns = [batch.column(name) for name in _STAGE_COLUMNS]
                columns[4] = pa.array(cluster, pa.int64())
                columns.insert(4, texts.take(pa.array(pos)))
                writer.write_table(pa.Table.from_arrays(columns, schema=schema), row_group_size=ROW_GROUP_ROWS)
        finally:
            writer.close()
    return {cid: int(n) for cid, n in zip(ids, counts)}


def templates_path_for(parquet: Path) -> Path:
    return parquet.with_name(parquet.stem + ".templates.json")


def parse_logs(config: ParseConfig) -> ParseResult:
    import tempfile

    if isinstance(config.mine_lines, bool) or not isinstance(config.mine_lines, int) or config.mine_lines < 0:
        raise UserError(f"--mine-lines must be a whole number >= 0, got {config.mine_lines!r}", None,
                        "give 0 (Drain3 mines every line) or a line count such as 200000")
    if config.mining not in MINING_MODES:
        raise UserError(f"--mining must be one of {', '.join(MINING_MODES)}, got {config.mining!r}", None,
                        "give drain3 (the default) or key-aware")
    paths = expand_logs(config.logs)
    frontend, detection = frontend_for(config, paths)
    records = _progress(read_records(paths, config.format), paths, config.progress)
    out = Path(config.out)
    atomic._prepare_parent(out)
    fd, stage_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".stage", dir=out.parent)
    os.close(fd)
    stage = Path(stage_name)
    try:
        rows = _RowGroupWriter(stage, _stage_schema(masked=config.mine_lines != MINE_ALL))
        try:
            if config.mine_lines == MINE_ALL:
                mined = _mine_all(records, config, frontend, rows)
            else:
                mined = _mine_sample(paths, records, config, frontend, rows)
        finally:
            rows.close()
        if not rows.rows:
            raise UserError("no log lines (only blank lines)", paths[0], "give files with log lines")
        templates = _final_templates(mined.miner)
        templates_json = templates_path_for(out)
        counts = _write_final(stage, out, templates, mined, config, frontend)
    finally:
        stage.unlink(missing_ok=True)
    try:
        atomic.write_json(templates_json, {
            "format_version": TEMPLATES_FORMAT_VERSION,
            "drain": {"depth": config.depth, "sim_th": config.sim_th, "max_children": config.max_children},
            "mining": {"mode": config.mining, "mine_lines": config.mine_lines, "lines_mined": mined.lines_mined},
            "frontend": frontend.to_json(),
            "lines_not_fitting": mined.unfit,
            "templates": [{"id": cid, "template": templates[cid], "count": counts[cid]}
                          for cid in sorted(templates)],
        })
    except BaseException:
        # The pair is one output: never leave a parquet without its templates file.
        out.unlink(missing_ok=True)
        raise
    return ParseResult(parquet=out, templates=templates_json, lines=rows.rows,
                       num_templates=len(templates), frontend=frontend, detection=detection,
                       unfit_lines=mined.unfit, lines_mined=mined.lines_mined)
