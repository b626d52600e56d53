"""`log_format=auto`: the common shapes of log lines, and picking one from a log's first lines.

Each shape is a log format (docs/matching.md 2.2) plus what its fields must look like. Detection
reads the first DETECT_LINES non-blank lines of the input and counts, for every shape, the lines
that fit its format *and* whose fields pass its checks (so that a loose format such as
``<Date> <Time> <Content>`` does not win over a precise one only because everything fits it). The
shape with the most such lines wins, the earlier one in SHAPES on a tie (they are listed from
specific to general); it must cover at least half of the lines read, otherwise there is no format
and whole lines are mined (the previous behaviour). The timestamp of the chosen shape is its
fields' template, read with the first of sessions.KNOWN_TIMESTAMP_FORMATS that reads most of those
lines (none: the line-start rule). The checks serve detection only; frontend.json records the
chosen format, its name (``log_format_source`` ``auto:<name>``) and the timestamp rule.

The loghub formats are those of logparser's benchmark settings (LOGHUB_FORMATS, with their source).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Iterable

from .logformat import LogFormat
from .masking import strip_line_end
from .sessions import KNOWN_TIMESTAMP_FORMATS, TimestampRule, line_head

DETECT_LINES = 200
MIN_SHARE = 0.5

# logpai/logparser, benchmark settings of Drain (logparser/Drain/benchmark.py; the same
# log_format strings in every parser's benchmark.py of the repository, at commit c82e548,
# https://github.com/logpai/logparser/blob/main/logparser/Drain/benchmark.py): the log format of
# each loghub 2k set. Their text is regex syntax, of which these use only what docs/matching.md 2.2
# reads: escaped brackets and pipes, and logparser's optional groups `(...)?`.
LOGHUB_FORMATS = {
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    "HPC": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "Thunderbird": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: "
                   "<Content>",
    "Windows": "<Date> <Time>, <Level>                  <Component>    <Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Android": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    "HealthApp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "Proxifier": r"\[<Time>\] <Program> - <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "OpenStack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "Mac": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
}

_LEVEL = (rb"(?i:trace|debug|info|information|notice|warn|warning|error|err|fatal|critical|crit|severe|"
          rb"fine|finer|finest|alert|emerg|emergency|[vdiwefa])")
_WORD = rb"\S+"
_INT = rb"[0-9]+"
_MONTH = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_HMS = rb"[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
_HMS_FRACTION = _HMS + rb"(?:[.,:][0-9]+)?"
_ISO_DATE = rb"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_ISO8601 = _ISO_DATE + rb"T" + _HMS_FRACTION + rb"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"


@dataclasses.dataclass(frozen=True)
class Shape:
    name: str
    log_format: str
    checks: dict[str, bytes]       # field -> a bytes regex its whole value must match
    timestamp: str = ""            # the fields' template ("": the line-start rule)

    def compiled(self) -> tuple[LogFormat, dict[str, re.Pattern]]:
        return LogFormat(self.log_format), {k: re.compile(v) for k, v in self.checks.items()}


SHAPES = (
    Shape("hdfs", LOGHUB_FORMATS["HDFS"],
          {"Date": rb"[0-9]{6}", "Time": rb"[0-9]{6}", "Pid": _INT, "Level": _LEVEL, "Component": _WORD},
          "<Date> <Time>"),
    Shape("log4j-thread", LOGHUB_FORMATS["Hadoop"],
          {"Date": _ISO_DATE, "Time": _HMS_FRACTION, "Level": _LEVEL, "Component": _WORD}, "<Date> <Time>"),
    Shape("openstack", LOGHUB_FORMATS["OpenStack"],
          {"Logrecord": _WORD, "Date": _ISO_DATE, "Time": _HMS_FRACTION, "Pid": _INT, "Level": _LEVEL,
           "Component": _WORD}, "<Date> <Time>"),
    Shape("python-oslo", r"<Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
          {"Date": _ISO_DATE, "Time": _HMS_FRACTION, "Pid": _INT, "Level": _LEVEL, "Component": _WORD},
          "<Date> <Time>"),
    Shape("thunderbird", LOGHUB_FORMATS["Thunderbird"],
          {"Label": _WORD, "Timestamp": rb"[0-9]{9,11}", "Date": rb"[0-9]{4}\.[0-9]{2}\.[0-9]{2}",
           "User": _WORD, "Month": _MONTH, "Day": rb"[0-9]{1,2}", "Time": _HMS, "Location": _WORD},
          "<Date> <Time>"),
    Shape("bgl", LOGHUB_FORMATS["BGL"],
          {"Label": _WORD, "Timestamp": rb"[0-9]{9,11}", "Date": rb"[0-9]{4}\.[0-9]{2}\.[0-9]{2}",
           "Node": _WORD, "Time": rb"[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]+",
           "Level": _LEVEL}, "<Timestamp>"),
    Shape("hpc", LOGHUB_FORMATS["HPC"],
          {"LogId": _INT, "Node": _WORD, "Component": _WORD, "State": _WORD, "Time": rb"[0-9]{9,11}",
           "Flag": rb"[0-9]"}, "<Time>"),
    Shape("android-logcat", LOGHUB_FORMATS["Android"],
          {"Date": rb"[0-9]{2}-[0-9]{2}", "Time": _HMS_FRACTION, "Pid": _INT, "Tid": _INT,
           "Level": rb"[VDIWEFA]"}, "<Date> <Time>"),
    Shape("windows-cbs", LOGHUB_FORMATS["Windows"],
          {"Date": _ISO_DATE, "Time": _HMS, "Level": rb"[A-Za-z]+", "Component": _WORD}, "<Date> <Time>"),
    Shape("zookeeper", LOGHUB_FORMATS["Zookeeper"],
          {"Date": _ISO_DATE, "Time": _HMS_FRACTION, "Level": _LEVEL}, "<Date> <Time>"),
    Shape("healthapp", LOGHUB_FORMATS["HealthApp"],
          {"Time": rb"[0-9]{8}-[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,3}", "Component": _WORD, "Pid": _INT},
          "<Time>"),
    Shape("apache-error", LOGHUB_FORMATS["Apache"],
          {"Time": rb"[A-Za-z]{3} " + _MONTH + rb" [0-9]{1,2} " + _HMS_FRACTION + rb" [0-9]{4}",
           "Level": rb"[A-Za-z]+(?::[A-Za-z]+)?"}, "<Time>"),
    Shape("proxifier", LOGHUB_FORMATS["Proxifier"],
          {"Time": rb"[0-9]{2}\.[0-9]{2} " + _HMS, "Program": _WORD}, "<Time>"),
    Shape("syslog-pid", r"<Month> <Day> <Time> <Host> <Component>\[<Pid>\]( \(<Address>\))?: <Content>",
          {"Month": _MONTH, "Day": rb"[0-9]{1,2}", "Time": _HMS, "Host": _WORD, "Pid": _INT},
          "<Month> <Day> <Time>"),
    Shape("syslog", r"<Month> <Day> <Time> <Host> <Component>(\[<Pid>\])?: <Content>",
          {"Month": _MONTH, "Day": rb"[0-9]{1,2}", "Time": _HMS, "Host": _WORD, "Component": _WORD,
           "Pid": _INT}, "<Month> <Day> <Time>"),
    Shape("iso-syslog", r"<Date> <Time> <Host> <Component>(\[<Pid>\])?: <Content>",
          {"Date": _ISO_DATE, "Time": _HMS_FRACTION, "Host": _WORD, "Component": _WORD, "Pid": _INT},
          "<Date> <Time>"),
    Shape("log4j", LOGHUB_FORMATS["Spark"],
          {"Date": rb"[0-9]{2,4}[-/.][0-9]{2}[-/.][0-9]{2}", "Time": _HMS_FRACTION, "Level": _LEVEL,
           "Component": _WORD}, "<Date> <Time>"),
    Shape("iso-level", "<Date> <Time> <Level> <Content>",
          {"Date": _ISO_DATE, "Time": _HMS_FRACTION + rb"Z?", "Level": rb"\[?" + _LEVEL + rb"\]?:?"},
          "<Date> <Time>"),
    Shape("iso", "<Date> <Time> <Content>", {"Date": _ISO_DATE, "Time": _HMS_FRACTION + rb"Z?"},
          "<Date> <Time>"),
    Shape("iso8601-level", "<Timestamp> <Level> <Content>",
          {"Timestamp": _ISO8601, "Level": rb"\[?" + _LEVEL + rb"\]?:?"}, "<Timestamp>"),
    Shape("iso8601", "<Timestamp> <Content>", {"Timestamp": _ISO8601}, "<Timestamp>"),
)


@dataclasses.dataclass(frozen=True)
class Detection:
    shape: Shape | None       # None: no shape covers enough lines (whole lines are mined)
    fitting: int              # lines of the sample the shape fits (with its checks)
    sampled: int              # non-blank lines read
    timestamp: TimestampRule  # the timestamp rule that goes with it

    @property
    def log_format(self) -> str:
        return self.shape.log_format if self.shape else ""

    @property
    def source(self) -> str:
        return "auto:" + (self.shape.name if self.shape else "none")

    def describe(self) -> str:
        if self.shape is None:
            return (f"log_format=auto: no known shape fits at least half of the first {self.sampled} lines; "
                    "whole lines are mined")
        ts = (f"timestamp {self.timestamp.template!r} as {self.timestamp.pattern!r}"
              if self.timestamp.from_fields else "timestamp by the line-start rule")
        return (f"log_format=auto: {self.shape.name} '{self.shape.log_format}' ({self.fitting} of the first "
                f"{self.sampled} lines fit; {ts})")


def first_lines(paths: Iterable[str | Path], limit: int = DETECT_LINES) -> list[bytes]:
    """The first `limit` non-blank lines of the files (in order), without their line ends."""
    lines: list[bytes] = []
    for path in paths:
        with open(path, "rb") as f:
            for raw in f:
                line = strip_line_end(raw)
                if line.strip():
                    lines.append(line)
                    if len(lines) >= limit:
                        return lines
    return lines


def _fits(fmt: LogFormat, checks: dict[str, re.Pattern], line: bytes) -> dict[str, bytes | None] | None:
    spans = fmt.split(line)
    if spans is None:
        return None
    values = {name: (line[s[0]:s[1]] if s else None) for name, s in zip(fmt.names, spans)}
    for name, pattern in checks.items():
        value = values.get(name)
        if value is not None and pattern.fullmatch(value) is None:
            return None
    return values


def pick_timestamp_format(template: str, values: list[dict[str, bytes | None]]) -> TimestampRule | None:
    """The field timestamp rule with the first known pattern that reads the most of these lines'
    values (None when none reads any)."""
    best, best_count = None, 0
    for pattern in KNOWN_TIMESTAMP_FORMATS:
        rule = TimestampRule(template, pattern)
        count = sum(rule.seconds(b"", v) is not None for v in values)
        if count > best_count:
            best, best_count = rule, count
    return best


def detect(lines: list[bytes]) -> Detection:
    """The shape that fits these lines best (module doc)."""
    heads = [strip_line_end(line_head(line)) for line in lines]
    best: tuple[Shape, list] | None = None
    for shape in SHAPES:
        fmt, checks = shape.compiled()
        fitting = [v for v in (_fits(fmt, checks, line) for line in heads) if v is not None]
        if best is None or len(fitting) > len(best[1]):
            best = (shape, fitting)
    if best is None or not heads or len(best[1]) < MIN_SHARE * len(heads) or not best[1]:
        return Detection(None, 0, len(heads), TimestampRule())
    shape, fitting = best
    timestamp = (pick_timestamp_format(shape.timestamp, fitting) if shape.timestamp else None) or TimestampRule()
    return Detection(shape, len(fitting), len(heads), timestamp)
