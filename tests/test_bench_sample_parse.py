"""The sample parsing benchmark: its figure is loghub's grouping accuracy of the parse against
sample_events.csv, recomputed here from the two files; its section alone is rewritten."""

from __future__ import annotations

import collections
import csv

import pyarrow.parquet as pq
import pytest

from alog_detect.bench import sample_parse as bench

LINES = 3000


def _accuracy_from_files(parquet, events_csv) -> float:
    """Grouping accuracy written out the long way: each line's group as a set of lines against its
    true event's set of lines."""
    table = pq.read_table(parquet, columns=["line_no", "template_id"]).to_pydict()
    group = dict(zip(table["line_no"], table["template_id"]))
    with open(events_csv, newline="", encoding="utf-8") as f:
        event = {int(r["line_no"]): r["event"] for r in csv.DictReader(f)}
    members_of_group, members_of_event = collections.defaultdict(set), collections.defaultdict(set)
    for line in event:
        members_of_group[group[line]].add(line)
        members_of_event[event[line]].add(line)
    correct = sum(members_of_group[group[line]] == members_of_event[event[line]] for line in event)
    return correct / len(event)


def test_measure_is_the_grouping_accuracy_of_the_parse(tmp_path):
    settings = {"session_key": "prefix:ses_", "header_tokens": 4, "sim_th": 0.4}
    measured = bench.measure(tmp_path, seed=3, lines=LINES, parse_settings=settings)
    assert measured.lines == LINES
    assert measured.accuracy == pytest.approx(_accuracy_from_files(measured.parquet, measured.events_csv))
    wrong_lines = sum(n for _, n, _ in measured.wrong)
    assert wrong_lines == sum(measured.causes.values())
    assert round((1 - measured.accuracy) * LINES) == wrong_lines
    # Whole lines mined at the same threshold lump many more steps: the figure tells settings apart.
    whole = bench.measure(tmp_path / "whole", seed=3, lines=LINES, parse_settings={**settings, "header_tokens": 0})
    assert whole.accuracy < measured.accuracy - 0.2


def test_run_rewrites_only_its_section(tmp_path, capsys):
    results = tmp_path / "results.md"
    results.write_text("# Results\n\n<!-- other:begin -->\nkeep me\n<!-- other:end -->\n\n"
                       "<!-- sample-parse:begin -->\nstale\n<!-- sample-parse:end -->\n", encoding="utf-8")
    assert bench.main(["--seeds", "2", "--lines", str(LINES), "--results", str(results)]) == 0
    text = results.read_text(encoding="utf-8")
    assert "<!-- other:begin -->\nkeep me\n<!-- other:end -->" in text and "stale" not in text
    section = text.split("<!-- sample-parse:begin -->")[1].split("<!-- sample-parse:end -->")[0]
    assert f"`python -m alog_detect.bench.sample_parse --seeds 2 --lines {LINES} --results" in section
    assert "session_key prefix:ses_, header_tokens 4, sim_th 0.4" in section
    printed = capsys.readouterr().out
    assert "seed 2: 3000 lines" in printed and "grouping accuracy" in printed


@pytest.mark.parametrize("bad", ["", "1,1", "a", "1,,2"])
def test_bad_seeds_are_refused_before_any_work(bad, tmp_path):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--seeds", bad, "--results", str(tmp_path / "r.md")])
    assert exc.value.code == 2
    assert not (tmp_path / "r.md").exists()


def test_too_few_lines_is_one_error_line_and_exit_2(tmp_path, capsys):
    assert bench.main(["--seeds", "1", "--lines", "10", "--results", str(tmp_path / "r.md")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "r.md").exists()
