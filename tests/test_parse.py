"""`alog-detect parse`: columns, template quality on the sample, loghub CSVs, and bad input."""

from __future__ import annotations

import collections
import csv
import json

import pyarrow.parquet as pq
import pytest

from alog_detect.bench.loghub import grouping_accuracy
from alog_detect.parse import ParseConfig, parse_logs
from alog_detect.sample import SampleConfig, generate_sample

COLUMNS = ["line_no", "source", "timestamp", "session", "template", "template_id", "content"]
TYPES = ["int64", "string", "double", "string", "string", "int64", "string"]

# Messages of the sample that must each land in exactly one template of their own (at the
# settings recommended for whole-line mining of the sample).
KNOWN_MESSAGES = (
    "Connection from ", "session opened for user", "session closed for user", "Received disconnect",
    "I/O error, dev sdb", "Buffer I/O error", "rate limit exceeded", "health check ok",
    "worker pool busy", "link eth0 up", "token verified", "token expired", "handshake initiated",
    "route add ", "queued id=", "started on worker", "artifacts uploaded", "snapshot requested",
    "replicating snap-", "replication of snap-", "snapshot job done", "cache hit", "cache miss",
)
SAMPLE_SETTINGS = dict(depth=4, sim_th=0.8, session_key="prefix:ses_")


@pytest.fixture(scope="module")
def parsed_sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("parse")
    sample = generate_sample(SampleConfig(out_dir=out, lines=6000, seed=2))
    result = parse_logs(ParseConfig(logs=(str(sample.log),), out=out / "parsed.parquet", **SAMPLE_SETTINGS))
    return sample, result, pq.read_table(result.parquet)


def test_columns_types_and_per_line_values(parsed_sample):
    sample, result, table = parsed_sample
    assert table.column_names == COLUMNS
    assert [str(table.schema.field(c).type) for c in COLUMNS] == TYPES
    rows = table.to_pydict()
    raw = sample.log.read_text(encoding="utf-8").splitlines()
    assert rows["line_no"] == list(range(1, len(raw) + 1))
    assert rows["content"] == raw
    assert set(rows["source"]) == {str(sample.log)}
    # 2026-03-14 06:00:00.000 UTC is 1773468000; every sample line has a millisecond timestamp.
    first = raw[0]
    assert rows["timestamp"][0] == pytest.approx(1773468000 + int(first[17:19]) + int(first[20:23]) / 1000)
    assert None not in rows["timestamp"] and rows["timestamp"] == sorted(rows["timestamp"])
    for content, session in zip(rows["content"], rows["session"]):
        token = next((t for t in content.split() if t.startswith("ses_")), "<nokey>")
        assert session == token
    labels = sample.labels.read_text().splitlines()[1:]
    assert {line.split(",")[0] for line in labels} == set(rows["session"]) - {"<nokey>"}


def test_templates_file_agrees_with_the_parquet(parsed_sample):
    _, result, table = parsed_sample
    doc = json.loads(result.templates.read_text())
    assert result.templates.name == "parsed.templates.json"
    assert doc["format_version"] == 1 and doc["session_key"] == "prefix:ses_"
    assert doc["drain"] == {"depth": 4, "sim_th": 0.8, "max_children": 100}
    by_id = {t["id"]: t for t in doc["templates"]}
    rows = table.to_pydict()
    counts = collections.Counter(rows["template_id"])
    assert {i: t["count"] for i, t in by_id.items()} == dict(counts)
    assert all(by_id[i]["template"] == t for i, t in zip(rows["template_id"], rows["template"]))


def test_sample_templates_are_masked_and_known_messages_have_one_template_each(parsed_sample):
    _, result, table = parsed_sample
    assert 40 <= result.num_templates <= 80
    rows = table.to_pydict()
    template_of = dict(zip(rows["template_id"], rows["template"]))
    for template in template_of.values():
        assert "ses_<HEX>" in template or " ses_" not in template
        assert not any(ch.isdigit() for ch in template.split()[0])  # the date is masked
    owner: dict[int, set[str]] = collections.defaultdict(set)
    for content, tid in zip(rows["content"], rows["template_id"]):
        for message in KNOWN_MESSAGES:
            if message in content:
                owner[tid].add(message)
    for message in KNOWN_MESSAGES:
        ids = {tid for tid, messages in owner.items() if message in messages}
        assert len(ids) == 1, (message, [template_of[i] for i in ids])
        assert owner[ids.pop()] == {message}, message


def test_same_input_gives_the_same_table(parsed_sample, tmp_path):
    sample, _, table = parsed_sample
    again = parse_logs(ParseConfig(logs=(str(sample.log),), out=tmp_path / "p.parquet", **SAMPLE_SETTINGS))
    assert pq.read_table(again.parquet).equals(table)


def test_globs_blank_lines_and_crlf(tmp_path, cli):
    (tmp_path / "b.log").write_bytes(b"disk sda ok temp 40\r\n\r\ndisk sdb ok temp 41\r\n")
    (tmp_path / "a.log").write_bytes(b"user alice logged in from 10.0.0.1\n   \nuser bob logged in from 10.0.0.2\n")
    cli("parse", "--logs", str(tmp_path / "*.log"), "--out", tmp_path / "out" / "p.parquet")
    rows = pq.read_table(tmp_path / "out" / "p.parquet").to_pydict()
    assert rows["source"] == [str(tmp_path / n) for n in ("a.log", "a.log", "b.log", "b.log")]
    assert rows["line_no"] == [1, 3, 1, 3]
    assert rows["content"][2] == "disk sda ok temp 40"
    assert rows["template"] == ["user <*> logged in from <IP>"] * 2 + ["disk <*> ok temp <NUM>"] * 2
    assert rows["session"] == ["all"] * 4 and rows["timestamp"] == [None] * 4


def test_loghub_structured_uses_content_and_line_ids(tmp_path):
    csv_path = tmp_path / "Tiny_2k.log_structured.csv"
    csv_path.write_text(
        "LineId,Date,Content,EventId\n"
        '7,081109,"Receiving block blk_1 src: /10.0.0.1:5 dest: /10.0.0.2:50010",E5\n'
        '9,081109,"Receiving block blk_2 src: /10.0.0.3:6 dest: /10.0.0.4:50010",E5\n'
        '12,081109,"Deleting block blk_1 file /data/current/blk_1",E7\n', encoding="utf-8")
    result = parse_logs(ParseConfig(logs=(str(csv_path),), out=tmp_path / "p.parquet",
                                    format="loghub-structured", session_key="prefix:blk_"))
    rows = pq.read_table(result.parquet).to_pydict()
    assert rows["line_no"] == [7, 9, 12]
    assert rows["session"] == ["blk_1", "blk_2", "blk_1"]
    assert rows["content"][2] == "Deleting block blk_1 file /data/current/blk_1"
    assert rows["template"][:2] == ["Receiving block blk_<NUM> src: /<IP> dest: /<IP>"] * 2
    assert rows["template_id"][0] == rows["template_id"][1] != rows["template_id"][2]


def test_hdfs_2k_grouping_accuracy(shared_data, tmp_path):
    structured = shared_data / "loghub_2k_corrected" / "HDFS" / "HDFS_2k.log_structured_corrected.csv"
    result = parse_logs(ParseConfig(logs=(str(structured),), out=tmp_path / "h.parquet",
                                    format="loghub-structured"))
    with open(structured, newline="") as f:
        truth = [row["EventTemplate"] for row in csv.DictReader(f)]
    predicted = pq.read_table(result.parquet).column("template_id").to_pylist()
    assert len(predicted) == 2000
    assert grouping_accuracy(truth, predicted) > 0.99


def test_grouping_accuracy_counts_only_exact_groups():
    truth = ["A", "A", "B", "B", "C"]
    assert grouping_accuracy(truth, [1, 1, 2, 2, 3]) == 1.0
    assert grouping_accuracy(truth, [1, 1, 2, 3, 4]) == pytest.approx(3 / 5)  # B split: both wrong
    assert grouping_accuracy(truth, [1, 1, 2, 2, 2]) == pytest.approx(2 / 5)  # B and C merged
    assert grouping_accuracy(truth, [1, 1, 2, 2, None]) == pytest.approx(4 / 5)


BAD_INPUTS = {
    "missing": (None, "no such log file"),
    "empty": (b"", "log file is empty"),
    "nul": (b"ok line\nbad \x00 line\n", "line 2 contains a NUL byte"),
    "long": (b"x" * ((1 << 20) + 1) + b"\n", "line 1 is longer than 1 MiB"),
    "latin1": (b"ok\ncaf\xe9 closed\n", "line 2 is not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_file_and_writes_nothing(case, tmp_path, cli):
    content, message = BAD_INPUTS[case]
    log = tmp_path / f"{case}.log"
    if content is not None:
        log.write_bytes(content)
    out = tmp_path / "out" / "parsed.parquet"
    proc = cli("parse", "--logs", log, "--out", out, check=False)
    assert proc.returncode == 2
    assert proc.stderr_text.count("\n") == 1
    assert proc.stderr_text.startswith(f"alog-detect: error: {log}: {message}")
    assert "(fix: " in proc.stderr_text
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_glob_without_match_and_csv_without_content_column(tmp_path, cli):
    pattern = str(tmp_path / "nothing-*.log")
    proc = cli("parse", "--logs", pattern, "--out", tmp_path / "p.parquet", check=False)
    assert proc.returncode == 2 and f"{pattern}: glob matches no file" in proc.stderr_text
    bad_csv = tmp_path / "x_structured.csv"
    bad_csv.write_text("LineId,Message\n1,hello\n")
    proc = cli("parse", "--logs", bad_csv, "--format", "loghub-structured", "--out", tmp_path / "p.parquet",
               check=False)
    assert proc.returncode == 2 and f"{bad_csv}: not a loghub structured CSV" in proc.stderr_text
    assert not (tmp_path / "p.parquet").exists()


def test_cli_prints_a_summary_and_no_progress_bar_when_not_a_tty(tmp_path, cli):
    log = tmp_path / "x.log"
    log.write_text("".join(f"job {i} finished in {i * 3} s\n" for i in range(50)))
    proc = cli("parse", "--logs", log, "--out", tmp_path / "p.parquet", "--sim-th", "0.5")
    assert "50 lines, 1 templates" in proc.stdout_text
    assert proc.stderr_text == ""
