"""Real logs as users bring them (issue 12): log formats in `parse` and `scons`, log_format=auto,
field session keys and timestamps, the rule for lines that do not fit, bad input refused before
any work, model choice and the MSCRED fallback, and loghub sets through the whole chain with the
engine's verdicts equal to the reference's. The C side of the front end is held equal to these
rules by tests/test_match_parity.py."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alog_detect.errors import UserError
from alog_detect.frontend import Frontend, read_frontend
from alog_detect.known_formats import LOGHUB_FORMATS, SHAPES, detect, first_lines
from alog_detect.logformat import FormatError, parse_log_format
from alog_detect.mscred_data import (BuildMSCREDConfig, SignatureSpec, BucketRule, build_mscred,
                                     events_for_inputs, inputs_from_events)
from alog_detect.parse import ParseConfig, parse_logs
from alog_detect.sessions import TimestampRule, parse_timestamp
from match_helpers import loghub_raw, loghub_sets
from scons_trees import copy_build_files, scons

BUNDLE = "dist/alog-engine-0.1.0-host.tar.gz"
# Tiny models (the chain, not the models, is under test), without the session/header settings of
# scons_trees.TINY_OPTIONS: those are what log_format=auto replaces.
CHAIN_OPTIONS = ("epochs=1", "mscred_epochs=1", "hidden=8", "layers=1", "window=4", "top_k=2",
                 "mscred_windows=2,4", "mscred_channels=4,4,4,4")


# ---- log formats: syntax and the split rule -------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("<Date> <Time <Content>", "unbalanced brackets: '<' at byte 8 has no '>'"),
    ("<Date> Time> <Content>", "unbalanced brackets: '>' at byte 12 closes no '<'"),
    ("[<Date> <Content>", "unbalanced brackets: a '[' is never closed"),
    ("<Date>] <Content>", "unbalanced brackets: ']' at byte 7 closes no '['"),
    ("(<Date> <Content>", "'(' opens a group that is never closed"),
    ("<Date> <Content>)", "must close an optional group as ')?'"),
    ("<Date> <Level>", "no <Content> field"),
    ("<Date> <Date> <Content>", "field <Date> is named twice"),
    ("<Date><Time> <Content>", "fields <Date> and <Time> have nothing between them"),
    ("<A>( <B>)?<Content>", "fields <A> and <Content> have nothing between them"),
    ("<A>( x)?( y)? <Content>", "cannot follow another one directly"),
    ("<A>(<B> )? <Content>", "an optional group must start with text"),
    ("<A> (:<B>)?(;<C>)? <Content>", "cannot follow another one directly"),
    ("<9a> <Content>", "field name <9a>"),
    ("<Content> \\", "lone backslash"),
    ("", "no <Content> field"),
])
def test_bad_log_formats_say_what_is_wrong(text, message):
    with pytest.raises(FormatError, match=None) as err:
        parse_log_format(text)
    assert message in str(err.value)


def test_the_split_rule():
    fmt = parse_log_format(r"<Month> <Day> <Time> <Host> <Component>(\[<Pid>\])?: <Content>")
    line = b"Jun  9 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown"
    spans = fmt.split(line)
    values = {name: line[s:e] for name, (s, e) in zip(fmt.names, spans)}
    assert values == {"Month": b"Jun", "Day": b"9", "Time": b"15:16:01", "Host": b"combo",
                      "Component": b"sshd(pam_unix)", "Pid": b"19939", "Content": b"check pass; user unknown"}
    # The group is skipped where its text is not there; the field ends at the first ": ".
    spans = fmt.split(b"Jun  9 15:16:01 combo kernel: a [1]: b")
    assert spans[fmt.names.index("Pid")] is None
    assert fmt.content(b"Jun  9 15:16:01 combo kernel: a [1]: b") == b"a [1]: b"
    # No backtracking: the group was entered at the first '[', so this line does not fit...
    assert fmt.split(b"Jun  9 15:16:01 combo kern[el]x: msg") is None
    # ... and a line that does not fit is its own content (docs/matching.md 2.2).
    assert fmt.content(b"not a syslog line") == b"not a syslog line"
    # A field ends at the first place the text after it matches; text that ends the format ends
    # at the end of the line (so the last field takes the rest up to it).
    tail = parse_log_format(r"<Content> \[<Level>\]")
    assert tail.split(b"a [b] c [WARN]") == ((0, 1), (3, 13))
    assert tail.split(b"a [b] c [WARN] x") is None


def test_loghub_formats_split_every_line_like_logparser(shared_data):
    """Every line of the 13 loghub 2k sets fits its logparser format, and every field is the one in
    loghub's structured CSV (trailing spaces aside, which loghub strips from Content)."""
    import csv

    for set_dir in loghub_sets(shared_data):
        fmt = parse_log_format(LOGHUB_FORMATS[set_dir.name])
        with open(set_dir / f"{set_dir.name}_2k.log_structured.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for line, row in zip(loghub_raw(set_dir), rows, strict=True):
            spans = fmt.split(line)
            assert spans is not None, (set_dir.name, line)
            got = {n: line[s[0]:s[1]].decode() if s else "" for n, s in zip(fmt.names, spans)}
            got["Content"] = got["Content"].rstrip()
            assert got == {n: (row[n] or "").rstrip() if n == "Content" else row[n] or "" for n in fmt.names}


# ---- timestamps ------------------------------------------------------------------------------------

@pytest.mark.parametrize("template, pattern, values, expected", [
    ("<Date> <Time>", "%y%m%d %H%M%S", {"Date": b"081109", "Time": b"203615"}, "081109 203615"),
    ("<Date> <Time>", "%Y-%m-%d %H:%M:%S,%f", {"Date": b"2015-10-18", "Time": b"18:01:47,978"},
     "2015-10-18 18:01:47.978"),
    ("<T>", "%a %b %d %H:%M:%S %Y", {"T": b"Sun Dec 04 04:47:44 2005"}, "2005-12-04 04:47:44"),
    ("<T>", "%Y%m%d-%H:%M:%S:%f", {"T": b"20171224-0:0:0:240"}, "2017-12-24 00:00:00.24"),
    ("<M> <D> <T>", "%b %d %T", {"M": b"Jun", "D": b"9", "T": b"15:16:01"}, "2000-06-09 15:16:01"),
    ("<T>", "%s", {"T": b"1131566461"}, None),
])
def test_field_timestamps(template, pattern, values, expected):
    seconds = TimestampRule(template, pattern).seconds(b"", values)
    if expected is None:
        assert seconds == 1131566461.0
    else:
        assert seconds == parse_timestamp(expected.encode())


def test_timestamp_patterns_refuse_what_cannot_work():
    for pattern in ("%Y-%Q", "%s %H", "%d %d", "%b %m", "plain", "%"):
        with pytest.raises(ValueError):
            TimestampRule("<T>", pattern)
    assert TimestampRule("<T>", "%Y-%m-%d").seconds(b"", {"T": b"2024-02-30"}) is None   # no such day
    assert TimestampRule("<T>", "%Y-%m-%d").seconds(b"", None) is None                   # line does not fit


# ---- parse -----------------------------------------------------------------------------------------

def test_parse_with_a_format_a_field_key_and_field_timestamps(shared_data, tmp_path, cli):
    log = shared_data / "loghub_2k" / "HDFS" / "HDFS_2k.log"
    run = cli("parse", "--logs", log, "--out", tmp_path / "p.parquet", "--log-format", LOGHUB_FORMATS["HDFS"],
              "--session-key", "field:<Pid>", "--timestamp", "<Date> <Time>")
    assert "lines do not fit" not in run.stdout_text
    rows = pq.read_table(tmp_path / "p.parquet").to_pydict()
    lines = log.read_text().splitlines()
    assert rows["session"] == [line.split()[2] for line in lines]
    assert rows["timestamp"] == [parse_timestamp(line) for line in lines]   # as the line-start rule reads HDFS
    frontend = read_frontend_from(tmp_path / "p.templates.json")
    assert (frontend.log_format_source, str(frontend.session_rule), frontend.timestamp.pattern) == \
        ("given", "field:Pid", "%y%m%d %H%M%S")
    # The content is what was mined: no template holds the header's date, time or level.
    assert not any("INFO" in t for t in rows["template"]) and len(set(rows["template"])) == 16


def read_frontend_from(templates_json: Path) -> Frontend:
    return Frontend.from_json(json.loads(templates_json.read_text())["frontend"], templates_json)


def test_lines_that_do_not_fit_are_counted_and_mined_whole(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("2024-01-01 10:00:00 INFO job 1 done\nstack trace line\n2024-01-01 10:00:01 INFO job 2 done\n"
                   "at_frame_2\n")
    result = parse_logs(ParseConfig(logs=(str(log),), out=tmp_path / "p.parquet", log_format="<Date> <Time> "
                                    "<Level> <Content>", session_key="field:Level"))
    assert result.unfit_lines == 2
    assert result.notes() == ["2 of 4 lines do not fit the log format; each is mined as a whole line "
                              "(docs/matching.md 2.2)"]
    rows = pq.read_table(result.parquet).to_pydict()
    assert rows["session"] == ["INFO", "<nokey>", "INFO", "<nokey>"]
    assert rows["template"][0] == rows["template"][2] == "job <NUM> done"
    assert rows["template"][1] == "stack trace line" and rows["template"][3] == "at_frame_<NUM>"
    assert json.loads(result.templates.read_text())["lines_not_fitting"] == 2


def test_auto_detects_the_common_shapes(shared_data):
    """Each loghub 2k set is recognised, with field timestamps that read every one of its first lines."""
    expected = {"Android": "android-logcat", "Apache": "apache-error", "HDFS": "hdfs", "HPC": "hpc",
                "Hadoop": "log4j-thread", "HealthApp": "healthapp", "Mac": "syslog-pid", "OpenSSH": "syslog-pid",
                "OpenStack": "openstack", "Proxifier": "proxifier", "Spark": "log4j", "Thunderbird": "thunderbird",
                "Windows": "windows-cbs"}
    for set_dir in loghub_sets(shared_data):
        lines = first_lines([set_dir / f"{set_dir.name}_2k.log"])
        found = detect(lines)
        assert found.shape is not None and found.shape.name == expected[set_dir.name], set_dir.name
        assert found.fitting >= 0.95 * len(lines) and found.timestamp.from_fields, set_dir.name
        frontend = Frontend(log_format=parse_log_format(found.log_format), timestamp=found.timestamp)
        assert all(frontend.seconds(line) is not None for line in lines[:50]), set_dir.name


def test_auto_falls_back_to_whole_lines_and_knows_plain_shapes(tmp_path):
    assert detect([b"hello world", b"no header at all"]).shape is None
    assert detect([b"2024-05-01T10:00:00.123 WARN disk almost full"] * 3).shape.name == "iso8601-level"
    assert detect([b"2024-05-01 10:00:00,123 [ERROR] disk full"] * 3).shape.name == "iso-level"
    assert detect([b"May  1 10:00:00 host cron[42]: job ran", b"May  1 10:00:01 host kernel: eth0 up"]
                  ).shape.name == "syslog"
    assert {s.name for s in SHAPES} >= {"syslog", "iso-level", "log4j", "android-logcat", "apache-error",
                                        "windows-cbs"}
    log = tmp_path / "plain.log"
    log.write_text("hello world\nsomething else\n")
    result = parse_logs(ParseConfig(logs=(str(log),), out=tmp_path / "p.parquet", log_format="auto"))
    assert result.frontend.log_format is None and result.frontend.log_format_source == "auto:none"
    assert result.notes()[0].startswith("log_format=auto: no known shape fits")


@pytest.mark.parametrize("args, message", [
    (("--log-format", "<Date> <Time <Content>"), "--log-format: log format '<Date> <Time <Content>': unbalanced "
                                                  "brackets"),
    (("--log-format", "<Date> <Time> <Msg>"), "has no <Content> field"),
    (("--log-format", "<Date> <Date> <Content>"), "field <Date> is named twice"),
    (("--log-format", "auto", "--timestamp", "<Date> <Time>", "--timestamp-format", "%Y-%m-%d %H:%M:%S"),
     "reads no timestamp on the first 200 lines (fix: give the pattern"),
    (("--log-format", "auto", "--session-key", "field:Thread"), "--session-key: session key field:Thread names no "
                                                                "field"),
    (("--log-format", "auto", "--header-tokens", "5"), "--log-format auto and --header-tokens 5 both say"),
])
def test_bad_front_end_settings_fail_before_any_work(shared_data, tmp_path, cli, args, message):
    log = shared_data / "loghub_2k" / "HDFS" / "HDFS_2k.log"
    run = cli("parse", "--logs", log, "--out", tmp_path / "p.parquet", *args, check=False)
    assert run.returncode == 2 and message in run.stderr_text, run.stderr_text
    assert len(run.stderr_text.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_frontend_json_version_2_errors_name_the_file(tmp_path):
    good = Frontend(log_format=parse_log_format("<Date> <Content>")).to_json()
    for change, message in (({"log_format": "<Date> <Content"}, "unbalanced brackets"),
                            ({"session_rule": "field:Pid"}, "names no field"),
                            ({"timestamp": "<Time>", "timestamp_format": "%H"}, "names Time, not a field"),
                            ({"timestamp": "none", "timestamp_format": "%H"}, "takes no timestamp format"),
                            ({"header_tokens": 2}, "both say where the message starts"),
                            ({"log_format": None}, "log_format must be a string")):
        path = tmp_path / "frontend.json"
        path.write_text(json.dumps({**good, **change}))
        with pytest.raises(UserError) as err:
            read_frontend(path)
        assert str(err.value).startswith(str(path)) and message in str(err.value), change


# ---- MSCRED: how many lines it needs ----------------------------------------------------------------

def test_the_input_count_rule_is_build_mscreds(tmp_path):
    """inputs_from_events (what scons decides the fallback with) counts what build-mscred builds."""
    import pyarrow as pa

    spec = SignatureSpec(2, (2, 4), 3, 2, BucketRule("lines", 5))
    for events in (1, 19, 20, 34, 35, 36, 60, 61, 200):
        table = pa.table({"line_no": list(range(1, events + 1)), "template": ["a", "b"] * (events // 2) + ["a"] * (events % 2),
                          "timestamp": [None] * events})
        pq.write_table(table, tmp_path / "p.parquet")
        expected = inputs_from_events(spec, events)
        if expected == 0:
            with pytest.raises(UserError, match="not one model input"):
                build_mscred(BuildMSCREDConfig(tmp_path / "p.parquet", tmp_path / "m", (2, 4), 3, 2, "lines:5"))
            continue
        sigset = build_mscred(BuildMSCREDConfig(tmp_path / "p.parquet", tmp_path / "m", (2, 4), 3, 2, "lines:5"))
        assert len(sigset.input_ends()) == expected, events
    assert inputs_from_events(spec, events_for_inputs(spec, 3)) == 3
    assert inputs_from_events(spec, events_for_inputs(spec, 3) - 1) == 2


# ---- scons: options, model choice, the fallback -----------------------------------------------------

@pytest.fixture(scope="module")
def stand_in_tree(tmp_path_factory, shared_data) -> Path:
    """The build files with the real engine's sources (read-time checks and dry runs only here)."""
    root = copy_build_files(tmp_path_factory.mktemp("logformats_tree"))
    for name in ("HDFS", "Apache", "HealthApp", "Mac", "Windows"):
        shutil.copy(shared_data / "loghub_2k" / name / f"{name}_2k.log", root)
    return root


@pytest.mark.parametrize("options, message", [
    (("log_format=<Date> <Time <Content>",), "log_format=<Date> <Time <Content>: log format '<Date> <Time "
                                             "<Content>': unbalanced brackets"),
    (("log_format=<Date> <Time> <Msg>",), "has no <Content> field"),
    (("log_format=<A> <A> <Content>",), "field <A> is named twice"),
    (("models=deeplog,bert",), "models=deeplog,bert: unknown model 'bert' (fix: models=auto, or one of"),
    (("models=mscred",), "models=mscred: MSCRED needs at least 2400 log lines at mscred_windows=10,30,60"),
    (("mscred_bucket=minutes:3",), "mscred_bucket=minutes:3: not a bucket rule"),
    (("mscred_step=0",), "mscred_step=0: out of range"),
    (("timestamp=<Date> <Time>", "timestamp_format=%Y-%m-%d %H:%M:%S"),
     "timestamp='<Date> <Time>' with timestamp_format='%Y-%m-%d %H:%M:%S' reads no timestamp on the first 200 "
     "lines (fix: give the pattern of the fields' text, e.g. timestamp_format="),
    (("timestamp_format=%Y-%q",), "timestamp_format=%Y-%q: timestamp format '%Y-%q': unknown directive %q"),
    (("session_key=field:Thread",), "session_key: session key field:Thread names no field"),
    (("log_format=<Date> <Content>", "header_tokens=2"), "log_format='<Date> <Content>' and header_tokens=2"),
])
def test_bad_options_are_refused_before_any_work(stand_in_tree, options, message):
    proc = scons(stand_in_tree, "logs=HDFS_2k.log", *options, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert f"scons: *** " in proc.stderr and "--" not in proc.stderr.split("scons: *** ")[1].split("\n")[0]
    assert not (stand_in_tree / "build" / "common" / "parsed").exists() and not (stand_in_tree / "dist").exists()


def test_auto_drops_mscred_in_one_line_and_explicit_choices_are_kept(stand_in_tree):
    out = scons(stand_in_tree, "logs=HDFS_2k.log", "-n").stdout
    notes = [line for line in out.splitlines() if "MSCRED" in line]
    assert notes == ["scons: MSCRED needs at least 2400 log lines at mscred_windows=10,30,60 mscred_step=10 "
                     "mscred_bucket=lines:20 (3 model inputs of 5 signatures to train and calibrate on); the logs "
                     "have 2000: building DeepLog alone (models=deeplog says so; smaller mscred_windows, mscred_step "
                     "or mscred_bucket keep MSCRED)"]
    assert "deeplog-train:" in out and "mscred-train:" not in out and "build-mscred:" not in out
    assert "convert-onnx: build/common/models/deeplog.onnx, build/common/models/deeplog.onnx.meta.json," in out
    # Smaller MSCRED settings fit the same 2,000 lines: both models, no note.
    out = scons(stand_in_tree, "logs=HDFS_2k.log", "mscred_windows=2,5,10", "mscred_step=2", "-n").stdout
    assert "MSCRED needs" not in out and "mscred-train:" in out and "deeplog-train:" in out
    out = scons(stand_in_tree, "logs=HDFS_2k.log", "models=mscred", "mscred_windows=2,5,10", "mscred_step=2",
                "-n").stdout
    assert "mscred-train:" in out and "deeplog-train:" not in out
    assert "convert-onnx: build/common/models/mscred.onnx, build/common/models/mscred.onnx.meta.json," in out
    out = scons(stand_in_tree, "logs=HDFS_2k.log", "models=deeplog", "-n").stdout
    assert "MSCRED needs" not in out and "mscred-train:" not in out


# ---- loghub sets through the whole chain -------------------------------------------------------------

@pytest.mark.parametrize("name, models", [("Apache", "deeplog,mscred"), ("HealthApp", "deeplog,mscred"),
                                          ("Mac", "deeplog"), ("Windows", "deeplog"), ("HDFS", "auto")])
def test_loghub_sets_build_a_bundle_with_engine_python_parity(stand_in_tree, name, models):
    """`scons logs=<set> log_format=auto` builds the bundle, and `check` compares the bound engine's
    verdicts on the log with the Python reference's, byte for byte."""
    out = scons(stand_in_tree, f"logs={name}_2k.log", "log_format=auto", f"models={models}", *CHAIN_OPTIONS,
                *(("mscred_windows=10,30,60",) if models == "auto" else ()), "bundle", "check").stdout
    assert "log_format=auto: " in out and "PASS alog-engine-verdicts" in out
    with tarfile.open(stand_in_tree / BUNDLE) as tar:
        top = tar.getnames()[0].split("/")[0]
        files = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        frontend = json.loads(tar.extractfile(f"{top}/share/alog/models/frontend.json").read())
    assert frontend["log_format_source"].startswith("auto:") and frontend["log_format"]
    assert frontend["timestamp"] != "line-start"
    assert ("share/alog/models/mscred.onnx" in files) == (models == "deeplog,mscred")
    assert "share/alog/models/deeplog.onnx" in files
    head = (stand_in_tree / "build" / "common" / "check" / "head.verdicts.jsonl").read_text().splitlines()
    assert len(head) >= 2000
