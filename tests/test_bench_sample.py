"""The sample benchmark end to end on a tiny configuration: its own section rewritten, the rest of
the results file kept, and a confusion matrix that covers every labelled session."""

from __future__ import annotations

import csv
import json
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


def test_tiny_protocol_writes_its_section_with_mean_and_worst(tmp_path, capsys):
    results = tmp_path / "results.md"
    results.write_text("# Results\n\n<!-- sample:begin -->\nkeep me\n<!-- sample:end -->\n", encoding="utf-8")
    assert bench.main(["--protocol", "--lines", str(LINES), "--seeds", "4", "--train-seeds", "0,1",
                       "--results", str(results)]) == 0
    text = results.read_text(encoding="utf-8")
    assert "<!-- sample:begin -->\nkeep me\n<!-- sample:end -->" in text
    section = text.split("<!-- sample-protocol:begin -->")[1].split("<!-- sample-protocol:end -->")[0]
    assert "for each generator seed (4; `scons` itself uses 1)" in section
    assert "`deeplog-train --seed` (0, 1)" in section
    # one table per decision rule, the default first; check the default's
    assert "### Rule `topk` (the default" in section and "### Rule `probability`" in section
    assert re.search(r"^Higher mean F1 here: `(topk|probability)`", section, re.M)
    section = section.split("### Rule `topk`")[1].split("### Rule")[0]
    runs = re.findall(r"^\| 4 \| (\d) \| ([\d,]+) \| ([\d,]+) \| \d+ \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \| "
                      r"(\d+) \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", section, re.M)
    assert [r[0] for r in runs] == ["0", "1"]
    labels = generate_sample(SampleConfig(out_dir=tmp_path / "again", lines=LINES, seed=4)).labels
    with open(labels, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in runs:
        tp, fp, fn, tn = map(int, r[6:10])
        assert (tp + fn, fp + tn) == (sum(x["label"] == "Anomaly" for x in rows),
                                      sum(x["label"] == "Normal" for x in rows))
        assert int(r[2].replace(",", "")) == tp + fn
    f1s = [float(r[5]) for r in runs]
    mean = re.search(r"^\| \*\*mean\*\* \|(?: \|){4} ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", section, re.M)
    worst = re.search(r"^\| \*\*worst\*\* \|(?: \|){4} ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", section, re.M)
    assert abs(float(mean.group(3)) - sum(f1s) / 2) <= 0.0015 and float(worst.group(3)) == min(f1s)
    assert "Goal (issue 13): mean F1 >= 0.90, worst >= 0.85:" in section
    printed = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [(p["train_seed"], p["rule"]) for p in printed] == [(0, "topk"), (0, "probability"), (1, "topk"), (1, "probability")]
    assert set(printed[0]["kinds"]) <= {"skipped_step", "swapped_steps", "rare_error"}


def test_score_timeline_and_delay_by_hand(tmp_path):
    windows = tmp_path / "w.csv"
    windows.write_text("first_line,last_line,kind\n100,200,error_storm\n500,600,api_outage\n")
    verdicts = tmp_path / "v.jsonl"
    verdicts.write_text("".join(json.dumps({"model": "mscred", "session": None, "line": line, "template": -1,
                                            "topk": [], "score": score, "anomaly": score > 9, "reason": "ok"}) + "\n"
                                for line, score in ((50, 1), (150, 20), (250, 12), (400, 3), (550, 30), (700, 2),
                                                    (900, 5))))
    t = bench.score_timeline(verdicts, windows, delay=120)
    assert t["inside"]["n"] == 2 and (t["inside"]["min"], t["inside"]["max"]) == (20, 30)
    assert t["after"]["n"] == 2 and (t["after"]["min"], t["after"]["max"]) == (2, 12)
    assert t["normal"]["n"] == 3 and t["normal"]["p50"] == 3 and t["first_verdict_line"] == 50
    defaults = bench.scons_defaults()
    assert bench.mscred_delay(defaults) == max(defaults["mscred_windows"]) * int(defaults["mscred_bucket"].split(":")[1])


@pytest.mark.parametrize("bad", ["1,1", "x", "-1", ""])
def test_malformed_seeds_are_refused_before_any_work(bad, tmp_path):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--protocol", "--seeds", bad, "--results", str(tmp_path / "r.md")])
    assert exc.value.code == 2
    assert not (tmp_path / "r.md").exists()


def test_mscred_tables_have_as_many_cells_as_their_headers(tmp_path):
    from pathlib import Path

    from alog_detect.evaluate import Confusion
    from alog_detect.sample import SampleResult

    defaults = bench.scons_defaults()
    sample = SampleResult(log=Path("s.log"), labels=Path("l.csv"), windows=Path("w.csv"), events=Path("e.csv"), lines=60000,
                          sessions=9000, anomalous_sessions=300, mix_windows=15)
    prep = bench.Prepared(sample, Path("v"), Path("q"), Path("m"), 54)
    q = {"n": 3, "min": 1, "p10": 1, "p50": 2, "p90": 3, "p99": 3, "max": 3}
    timeline = {"inside": q, "after": q, "normal": {"n": 0}, "first_verdict_line": 2000,
                "anomaly_threshold": 3, "cell_threshold": 0.1, "valid_inputs": 50}
    rows = [bench.MSCREDRow(f"{seed} | 10,30,60 | 8,16,32,64 (default) | 1,000 | 3", Confusion(14, 0, 1, 121), 1.0,
                            {"error_storm": {"anomalies": 5, "detected": 5, "recall": 1.0}}, 136,
                            Confusion(9, 7, 6, 173), timeline) for seed in (1, 2)]
    deeplog = [bench.Row("5 | 30", Confusion(1, 0, 2, 9), 1.0,
                         {"rare_error": {"anomalies": 3, "detected": 1, "recall": 0.333333}})]
    section = bench._section(prep, defaults, deeplog, rows, "cmd", 1.0)
    tables: list[list[str]] = []
    for line in section.splitlines():
        if line.startswith("|"):
            if not tables or not tables[-1]:
                tables.append([])
            tables[-1].append(line)
        elif tables and tables[-1]:
            tables.append([])
    tables = [t for t in tables if t]
    assert len(tables) == 5
    for table in tables:
        assert len({line.count("|") for line in table}) == 1, table
    assert "| 2 | 10,30,60 | 8,16,32,64 (default) | 1,000 | 3 | 136 | 1.000 | 0.933 | 0.966 | 14 | 0 | 1 | 121 | 0.581 |" \
        in section
    assert "--delay 1200" in section and "at line 2,000" in section
