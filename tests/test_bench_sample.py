"""The sample benchmark end to end on a tiny configuration: its own section rewritten, the rest of
the results file kept, and a confusion matrix that covers every labelled session."""

from __future__ import annotations

import csv
import re

import pytest

from alog_detect.bench import sample as bench
from alog_detect.sample import SampleConfig, generate_sample

LINES = 3000


def test_tiny_run_rewrites_only_its_section_and_counts_every_session(tmp_path, capsys):
    results = tmp_path / "results.md"
    results.write_text("# Results\n\n<!-- other:begin -->\nkeep me\n<!-- other:end -->\n\n"
                       "<!-- sample:begin -->\nstale table\n<!-- sample:end -->\n", encoding="utf-8")

    assert bench.main(["--lines", str(LINES), "--settings", "5:2", "--no-mscred",
                       "--results", str(results)]) == 0

    text = results.read_text(encoding="utf-8")
    assert "<!-- other:begin -->\nkeep me\n<!-- other:end -->" in text
    assert "stale table" not in text
    section = text.split("<!-- sample:begin -->")[1].split("<!-- sample:end -->")[0]
    assert f"`python -m alog_detect.bench.sample --lines {LINES} --settings 5:2 --no-mscred" in section
    assert "session_key prefix:ses_, header_tokens 4" in section
    rows = re.findall(r"^\| 5 \| 2 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|",
                      section, re.M)
    assert len(rows) == 1
    tp, fp, fn, tn = map(int, rows[0][3:])
    # The same seed regenerates the same sample: its labels are the population evaluated.
    labels = generate_sample(SampleConfig(out_dir=tmp_path / "again", lines=LINES)).labels
    with open(labels, newline="", encoding="utf-8") as f:
        actual = [row["label"] for row in csv.DictReader(f)]
    assert (tp + fn, fp + tn) == (actual.count("Anomaly"), actual.count("Normal"))
    assert f"{len(actual):,} sessions of which {actual.count('Anomaly'):,} anomalous" in section
    assert "MSCRED" not in section
    assert '"model": "deeplog", "top_k": 5, "epochs": 2' in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["5", "5:0", "a:3", "5:30,"])
def test_malformed_settings_are_refused_before_any_work(bad, tmp_path):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--settings", bad, "--results", str(tmp_path / "r.md")])
    assert exc.value.code == 2
    assert not (tmp_path / "r.md").exists()
