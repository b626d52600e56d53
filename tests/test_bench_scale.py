"""The scale benchmark on a tiny configuration: its section's tables, its own section only, and the
grouping agreement it reports."""

from __future__ import annotations

import re

import pytest

from alog_detect.bench import scale as bench

HDFS_LINES = (
    "081109 2036{:02d} 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_{} terminating",
    "081109 2036{:02d} 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /mnt/hadoop/job_{}/part blk_{}",
)


def _fake_loghub(root):
    """One loghub-like set (HDFS's format) with its ground truth: 40 lines of two templates."""
    raw, corrected = root / "loghub_2k" / "HDFS", root / "loghub_2k_corrected" / "HDFS"
    raw.mkdir(parents=True)
    corrected.mkdir(parents=True)
    lines, truth = [], []
    for i in range(40):
        kind = i % 2
        lines.append(HDFS_LINES[kind].format(i % 60, 1000 + i, 7000 + i) if kind else
                     HDFS_LINES[kind].format(i % 60, 1000 + i))
        truth.append(f"{i + 1},E{kind}")
    (raw / "HDFS_2k.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (corrected / "HDFS_2k.log_structured_corrected.csv").write_text(
        "LineId,EventTemplate\n" + "\n".join(truth) + "\n", encoding="utf-8")
    return root / "loghub_2k_corrected"


def test_tiny_run_writes_its_tables_into_its_own_section(tmp_path):
    results = tmp_path / "results.md"
    results.write_text("# Results\n\n<!-- other:begin -->\nkeep me\n<!-- other:end -->\n\n"
                       "<!-- scale:begin -->\nstale\n<!-- scale:end -->\n", encoding="utf-8")
    data = _fake_loghub(tmp_path / "data")
    assert bench.main(["--lines", "1000,1500", "--mine-lines", "300", "--epochs", "1", "--data", str(data),
                       "--loghub-mine-lines", "10", "--work", str(tmp_path), "--results", str(results)]) == 0
    text = results.read_text(encoding="utf-8")
    assert "<!-- other:begin -->\nkeep me\n<!-- other:end -->" in text and "stale" not in text
    section = text.split("<!-- scale:begin -->")[1].split("<!-- scale:end -->")[0]
    assert "`python -m alog_detect.bench.scale --lines 1000,1500`" in section
    for n in ("1,000", "1,500"):
        stages = re.findall(rf"^\| {n} \| ([a-z -]+) \| ([\d,]+) \| ([\d.,]+) \| ([\d,]+) \|$", section, re.M)
        assert [s[0] for s in stages] == list(bench.STAGES)
        assert all(int(s[3].replace(",", "")) > 0 for s in stages)
        both = re.findall(rf"^\| {n} \| (\d+) \| (\d+) \| ([\d,]+) \| ([\d.]+) \| ([\d.]+)x \| ([\d,]+) \|$",
                          section, re.M)
        assert len(both) == 1 and 0 < float(both[0][3]) <= 1
        assert 300 <= int(both[0][2].replace(",", "")) <= int(n.replace(",", ""))
    hdfs = re.findall(r"^\| HDFS \| 4 \| 0.5 \| ([\d.]+) \((\d+)\) \| ([\d.]+) \((\d+)\) \| (\d+) \|$", section, re.M)
    assert hdfs == [("1.000", "2", "1.000", "2", "10")]
    assert "| **mean** | | | **1.000** | **1.000** | |" in section
    # Nothing of the run is left behind in the work directory.
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("alog-scale-")]


def test_group_agreement_is_logparsers_grouping_accuracy():
    from alog_detect.bench.loghub import grouping_accuracy

    truth = [0, 0, 1, 1, 2, 2, 2, 3]
    predicted = [5, 5, 6, 7, 8, 8, 8, 8]
    assert bench.group_agreement(truth, predicted) == pytest.approx(grouping_accuracy(list(map(str, truth)), predicted))
    assert bench.group_agreement(truth, predicted) == pytest.approx(2 / 8)
    assert bench.group_agreement(truth, truth) == 1.0


@pytest.mark.parametrize("argv", [["--lines", "10"], ["--lines", "abc"], ["--mine-lines", "0"]])
def test_bad_options_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv + ["--no-write"])
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err
