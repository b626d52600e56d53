"""Parsing accuracy of `parse` on the built-in sample, against each line's true event.

The sample generator knows which workflow step or background message wrote each line and says so
in ``sample_events.csv`` (``line_no,event``, events named ``service:step``). For each generator
seed this generates the sample as SCons does (60,000 lines), parses it with the SCons defaults
(site_scons/alog_options.py, read through ``bench.sample.scons_defaults``) and scores the parse
with loghub's grouping accuracy (``bench.loghub.grouping_accuracy``: a line is correct when the
set of lines in its parsed group is the set of lines of its true event). Wrong lines are counted
by cause (``bench.loghub.what_limits``), and the true events whose lines are wrong are listed with
the templates they went to and the events they share them with.

Writes the ``sample-parse`` section of docs/results.md.

    python -m alog_detect.bench.sample_parse [--seeds 1,2,...] [--lines N] [--results PATH] [--no-write]
"""

from __future__ import annotations

import argparse
import collections
import csv
import dataclasses
import sys
import tempfile
from pathlib import Path

from ..errors import UserError
from ..parse import MINING_MODES
from .loghub import _parsed_groups, grouping_accuracy, what_limits
from .results_md import update_section

REPO = Path(__file__).resolve().parents[3]
DEFAULT_RESULTS = REPO / "docs" / "results.md"
SECTION = "sample-parse"
COMMAND = "python -m alog_detect.bench.sample_parse"
# Ten seeds: where two steps differ in one word of three (cache hit/miss) the 0.4 threshold keeps them
# apart only when the first lines of one already made its template general; the seeds show how often.
DEFAULT_SEEDS = tuple(range(1, 11))
GOAL = 0.99


@dataclasses.dataclass(frozen=True)
class Measured:
    seed: int
    lines: int
    events: int
    templates: int
    accuracy: float
    causes: dict
    wrong: list          # [(event, lines, [(template, {other event: lines})])], most lines first
    parquet: Path
    events_csv: Path


def read_events(path: Path) -> dict[int, str]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["line_no", "event"]:
            raise UserError("not a sample_events.csv (header line_no,event expected)", path,
                            "regenerate it with alog-detect sample")
        return {int(row["line_no"]): row["event"] for row in reader}


def _wrong_events(truth: dict[int, str], parquet: Path) -> list:
    import pyarrow.parquet as pq

    table = pq.read_table(parquet, columns=["line_no", "template_id", "template"]).to_pydict()
    group = dict(zip(table["line_no"], table["template_id"]))
    text = dict(zip(table["template_id"], table["template"]))
    by_group: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)
    by_event: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line, event in truth.items():
        by_group[group[line]][event] += 1
        by_event[event][group[line]] += 1
    wrong = []
    for event, groups in by_event.items():
        if len(groups) == 1 and len(by_group[next(iter(groups))]) == 1:
            continue
        parts = [(text[g], {e: n for e, n in by_group[g].items() if e != event}) for g, _ in groups.most_common()]
        wrong.append((event, sum(groups.values()), parts))
    return sorted(wrong, key=lambda w: (-w[1], w[0]))


def measure(work: Path, seed: int, lines: int, parse_settings: dict) -> Measured:
    """Generate the sample (`seed`, `lines`) in `work`, parse it with `parse_settings`, score it."""
    from ..parse import ParseConfig, parse_logs
    from ..sample import SampleConfig, generate_sample

    sample = generate_sample(SampleConfig(out_dir=work / f"sample-{seed}", lines=lines, seed=seed))
    parsed = parse_logs(ParseConfig(logs=(str(sample.log),), out=work / f"parsed-{seed}.parquet", progress=False,
                                    **parse_settings))
    truth = read_events(sample.events)
    groups = _parsed_groups(parsed.parquet)
    ids = sorted(truth)
    accuracy = grouping_accuracy([truth[i] for i in ids], [groups.get(i) for i in ids])
    return Measured(seed, len(truth), len(set(truth.values())), parsed.num_templates, accuracy,
                    what_limits(truth, parsed.parquet), _wrong_events(truth, parsed.parquet), parsed.parquet,
                    sample.events)


def _template_cell(template: str, others: dict) -> str:
    shared = ", ".join(f"{e} {n:,}" for e, n in sorted(others.items(), key=lambda x: (-x[1], x[0])))
    return f"`{template}`".replace("|", "\\|") + (f" (with {shared})" if shared else "")


def section(rows: list[Measured], parse_settings: dict, command: str) -> str:
    from ..parse import ParseConfig

    causes = sorted({c for r in rows for c in r.causes})
    mean = sum(r.accuracy for r in rows) / len(rows)
    lines = [
        "## Parsing accuracy on the built-in sample" + (f" (parse --mining {parse_settings['mining']})"
                                                         if parse_settings.get("mining", "drain3") != "drain3" else ""),
        "",
        f"Command: `{command}`. For each generator seed the sample is generated as `scons` does "
        f"({rows[0].lines:,} lines) and parsed with the SCons defaults (session_key "
        f"{parse_settings['session_key']}, header_tokens {parse_settings['header_tokens']}, sim_th "
        f"{parse_settings['sim_th']}, depth {ParseConfig.depth}, mining {parse_settings.get('mining', 'drain3')}); the truth is `sample_events.csv`, each line's workflow step "
        "or background message (`service:step`). Grouping accuracy as on loghub: a line is correct when its "
        "parsed group holds exactly the lines of its true event. Wrong lines by cause as in the loghub "
        "section (`merged`: the event shares a template with another; `lengths`: its lines have different "
        "token counts; `split`: one length, several templates).",
        "",
        "| seed | true events | templates | grouping accuracy | " + " | ".join(f"wrong: {c}" for c in causes) + " |",
        "| ---: | ---: | ---: | ---: |" + " ---: |" * len(causes),
    ]
    for r in rows:
        lines.append(f"| {r.seed} | {r.events} | {r.templates} | {r.accuracy:.4f} | "
                     + " | ".join(f"{r.causes.get(c, 0):,}" for c in causes) + " |")
    worst = min(rows, key=lambda r: r.accuracy)
    lines += ["", f"Mean grouping accuracy {mean:.4f}, worst {worst.accuracy:.4f} (seed {worst.seed}); goal {GOAL}: "
              f"{'met' if mean >= GOAL else 'not met'}. "
              + ("Mining is Drain3's with the rules of docs/matching.md 3.2 (the log level and the session key "
                 "do not make two messages similar). " if parse_settings.get("mining") == "key-aware" else
                 "Mining is Drain3's (`parse --mining drain3`, the default): the level and the session key count "
                 "toward similarity, so distinct steps of one length share a template (docs/matching.md 3.2). ")
              + "Two kinds of events no template can get right: events whose "
              "lines differ only in numbers from another event's (masking makes them one text: a `merged` "
              "pair), and events with a part of varying token count (Drain3 groups lines of one length: "
              "`lengths`). And at sim_th 0.4 two steps whose lines share half of the tokens that count "
              "(`cache hit key=X` and `cache miss key=X`) are lumped when their first lines meet before either "
              "template has a `<*>`: Drain3's clustering depends on the order of the lines.", ""]
    first = rows[0]
    lines += ["The events with wrong lines (the first seed and the worst), the templates their lines went to "
              "and the events sharing those:", "",
              "| seed | event | lines | templates |", "| ---: | --- | ---: | --- |"]
    for r, event, n, parts in [(r, *w) for r in ([first] if worst is first else [first, worst]) for w in r.wrong]:
        shown = parts[:3]
        more = f"; and {len(parts) - 3} more" if len(parts) > 3 else ""
        lines.append(f"| {r.seed} | {event} | {n:,} | " + "; ".join(_template_cell(t, o) for t, o in shown) + more + " |")
    return "\n".join(lines) + "\n"


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part, 10) for part in text.split(","))
    except ValueError:
        seeds = ()
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: expected distinct integer seeds separated by commas, e.g. 1,2,3")
    return seeds


def main(argv: list[str] | None = None) -> int:
    from ..sample import SampleConfig
    from .sample import scons_defaults

    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=_seeds, default=DEFAULT_SEEDS,
                   help="generator seeds, comma-separated (default " + ",".join(map(str, DEFAULT_SEEDS)) + ")")
    p.add_argument("--lines", type=int, default=SampleConfig.lines, help="sample lines (SCons: %(default)s)")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="the results file to update")
    p.add_argument("--mining", choices=MINING_MODES, default=MINING_MODES[0],
                   help="parse --mining (default %(default)s, as SCons); key-aware writes its own section")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    args = p.parse_args(argv)
    settings = {**scons_defaults()["parse"], "mining": args.mining}
    try:
        with tempfile.TemporaryDirectory(prefix="alog-bench-sample-parse-") as tmp:
            rows = []
            for seed in args.seeds:
                rows.append(measure(Path(tmp), seed, args.lines, settings))
                r = rows[-1]
                print(f"seed {seed}: {r.lines} lines, {r.events} true events, {r.templates} templates, "
                      f"grouping accuracy {r.accuracy:.4f}, wrong lines {r.causes}", flush=True)
    except UserError as exc:
        print(f"{COMMAND}: error: {exc.one_line()}", file=sys.stderr)
        return 2
    command = " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])])
    text = section(rows, settings, command)
    print(text)
    if not args.no_write:
        update_section(args.results, SECTION if args.mining == MINING_MODES[0] else f"{SECTION}-{args.mining}", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
