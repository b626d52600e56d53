"""The size table's script: its rendering states the goal's outcome from the figures it is given,
and bad arguments stop it before any build (the measuring itself runs builds of every target:
`python -m alog_detect.bench.sizes`, not part of the suite)."""

from __future__ import annotations

import pytest

from alog_detect.bench import sizes

MEMORY = {"deeplog_arena": 1000, "mscred_arena": 2000, "detector": 3000}


def _row(target: str, engine: int) -> sizes.TargetSizes:
    return sizes.TargetSizes(target, engine, 250_000, 130_000, MEMORY)


def test_goal_met_lists_the_sections_only():
    text = sizes.render([_row("host", 150_000), _row("arm64", 170_000)], [(".text", 120_000)], [("lstm.o", 7000)])
    assert "| arm64 | 170,000 | 250,000 | 130,000 | 1,000 | 2,000 | 3,000 |" in text
    assert "170,000 (166.0 KiB), met." in text and "| .text | 120,000 |" in text
    assert "lstm.o" not in text


def test_goal_missed_says_what_takes_the_space():
    text = sizes.render([_row("arm64", 300_000)], [(".text", 250_000)], [("lstm.o", 7000), ("model.o", 6500)])
    assert "300,000 (293.0 KiB), not met." in text
    assert text.index("| lstm.o | 7,000 |") < text.index("| model.o | 6,500 |")


@pytest.mark.parametrize("bad", ["sparc", "arm64,sparc", ""])
def test_unknown_targets_are_refused_before_any_build(bad, tmp_path):
    with pytest.raises(SystemExit) as exc:
        sizes.main(["--targets", bad, "--results", str(tmp_path / "r.md")])
    assert exc.value.code == 2
    assert not (tmp_path / "r.md").exists()
