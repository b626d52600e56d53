"""Shared by tests/test_matching.py and tests/test_match_parity.py: corpora and Drain3 runs (the C
match driver is built through SCons by tests/cbuild.py)."""

from __future__ import annotations

import collections
import csv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def raw_lines(path: Path) -> list[bytes]:
    """A log file's lines as the front end sees them (LF split, CR stripped)."""
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.removesuffix(b"\r") for line in lines]


LOGHUB_SETS = 13  # the loghub 2k sets in ../shared/data (SOURCES.md: no BGL, Linux, Zookeeper)


def loghub_sets(shared_data: Path) -> list[Path]:
    sets = sorted(p for p in (shared_data / "loghub_2k").iterdir() if p.is_dir())
    assert len(sets) == LOGHUB_SETS, sets
    return sets


def loghub_raw(set_dir: Path) -> list[bytes]:
    return raw_lines(set_dir / f"{set_dir.name}_2k.log")


def loghub_content(set_dir: Path) -> list[str]:
    """The Content column, what `parse --format loghub-structured` mines."""
    with open(set_dir / f"{set_dir.name}_2k.log_structured.csv", encoding="utf-8", newline="") as f:
        return [row["Content"] for row in csv.DictReader(f)]


def sample_log(out_dir: Path) -> Path:
    from alog_detect.sample import SampleConfig, generate_sample

    return generate_sample(SampleConfig(out_dir=out_dir)).log


def drain_vocabulary(lines: list[str], header_tokens: int = 0, frontend=None,
                     session_prefix: str | None = None) -> tuple[list[str], list[str]]:
    """Mine lines like parse does (header dropped, or the log format's content with `frontend`; our
    masking, parse's Drain3 settings). Returns (vocabulary in index order: descending count, then
    text; each line's final cluster template). `session_prefix`: the session rule's prefix, which
    parse gives the miner (docs/matching.md 3.2)."""
    from alog_detect.masking import DEFAULT_MASKER
    from alog_detect.parse import ParseConfig, new_template_miner

    defaults = ParseConfig(logs=(), out=Path("unused"))
    miner = new_template_miner(defaults.depth, defaults.sim_th, defaults.max_children, session_prefix,
                               key_aware=defaults.mining == "key-aware")
    if frontend is None:
        masked = [DEFAULT_MASKER.mask(line, header_tokens) for line in lines]
    else:
        masked = [frontend.mask(line) for line in lines]
    cluster_ids = [miner.add_log_message(text)["cluster_id"] for text in masked]
    final = {cluster.cluster_id: cluster.get_template() for cluster in miner.drain.clusters}
    assigned = [final[cid] for cid in cluster_ids]
    counts = collections.Counter(assigned)
    return sorted(counts, key=lambda t: (-counts[t], t)), assigned
