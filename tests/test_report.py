"""The build report (dist/report.html, alog_detect.report): built by SCons in a temporary tree from
tiny models, then read back: every section is there, its numbers are those of the files it was made
from, it loads nothing from outside, and a real headless browser renders it without errors.

The SCons tree builds from logs= (no labels: the page must say so); a second report of the same
models is made through the stage functions with the sample's labels and a held-out sample, and a
third from a model directory without MSCRED.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from alog_detect.deeplog_rule import topk
from alog_detect.report import SECTIONS, EvaluationConfig, HeldOutSample, ReportConfig, build_report, evaluate_build
from alog_detect.report.evaluation import ranks
from alog_detect.sample import SampleConfig, generate_sample
from scons_trees import SMALL_LOG_LINES, TINY_OPTIONS, copy_build_files, scons, write_small_log
from test_scons import TINY_ENGINE

REPORT = "dist/report.html"
SMALL_LOG_SEED = 7   # write_small_log's default: regenerating with it gives the same log and its labels


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tree built with the tiny configuration (logs=small.log: no labels)."""
    root = copy_build_files(tmp_path_factory.mktemp("report_tree"), TINY_ENGINE)
    write_small_log(root, seed=SMALL_LOG_SEED)
    return root, scons(root, *TINY_OPTIONS)


@pytest.fixture(scope="module")
def labelled(built, tmp_path_factory):
    """The same models evaluated against small.log's labels and a held-out sample, and their report."""
    root, _ = built
    work = tmp_path_factory.mktemp("labelled")
    sample = generate_sample(SampleConfig(out_dir=work / "sample", lines=SMALL_LOG_LINES, seed=SMALL_LOG_SEED))
    assert sample.log.read_bytes() == (root / "small.log").read_bytes()
    common = root / "build" / "common"
    evaluate_build(EvaluationConfig(models=common / "models", logs=(str(root / "small.log"),),
                                    out_dir=work / "evaluation", sequences=common / "deeplog" / "sequences.parquet",
                                    session_labels=sample.labels, window_labels=sample.windows,
                                    heldout=HeldOutSample(lines=2000, seed=SMALL_LOG_SEED + 1)))
    out = build_report(_config(root, work / "report.html", work / "evaluation", common / "models",
                               session_labels=sample.labels, window_labels=sample.windows))
    return work, sample, out.read_text(encoding="utf-8")


def _config(root: Path, out: Path, evaluation: Path, models: Path, **extra) -> ReportConfig:
    common = root / "build" / "common"
    return ReportConfig(out=out, models=models, evaluation=evaluation, root=root, logs=(root / "small.log",),
                        parsed=common / "parsed" / "parsed.parquet", validation=common / "models.validation.json",
                        deeplog_checkpoint=common / "train" / "deeplog.pth",
                        mscred_checkpoint=common / "train" / "mscred.pth",
                        bundles=tuple(sorted((root / "dist").glob("*.tar.gz"))), **extra)


def _section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert match, f"no section {name}"
    return match.group(1)


def _cells(row_html: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S)]


def _rows(section_html: str) -> list[list[str]]:
    return [_cells(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", section_html, re.S) if "<td" in r]


# ---- through SCons ------------------------------------------------------------------------------

def test_the_default_build_writes_the_report_and_prints_its_path(built):
    root, proc = built
    assert (root / REPORT).is_file()
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == f"report: {REPORT} (open it in a browser)"
    assert "evaluate: build/common/report/metrics.json" in proc.stdout
    assert (root / "build/common/models.validation.json").is_file()
    # The validation figures are not shipped with the models.
    with tarfile.open(next((root / "dist").glob("*.tar.gz"))) as tar:
        assert not any("validation" in name for name in tar.getnames())
    assert scons(root, "--question", *TINY_OPTIONS, check=False).returncode == 0
    again = scons(root, *TINY_OPTIONS)
    assert again.stdout.strip().splitlines()[-1] == f"report: {REPORT} (open it in a browser)"


def test_scons_report_alone_rebuilds_only_the_page(built):
    root, _ = built
    (root / REPORT).unlink()
    out = scons(root, "report", "--debug=explain", *TINY_OPTIONS).stdout
    built_now = set(re.findall(r"scons: (?:re)?building `([^']+)'", out))
    assert built_now == {REPORT}
    assert out.strip().splitlines()[-1] == f"report: {REPORT} (open it in a browser)"


def test_every_section_is_present(built, labelled):
    root, _ = built
    for page in ((root / REPORT).read_text(encoding="utf-8"), labelled[2]):
        for name, title in SECTIONS:
            body = _section(page, name)
            assert f"<h2>{html.escape(title)}</h2>" in body
            assert len(re.sub(r"<[^>]+>|\s", "", body)) > len(title) + 20, name


def test_the_page_loads_nothing_from_outside(built, labelled):
    root, _ = built
    for page in ((root / REPORT).read_text(encoding="utf-8"), labelled[2]):
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.I)
        assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
        sources = re.findall(r'\bsrc="([^"]*)"', page)
        assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
        assert all(h.startswith("#") for h in re.findall(r'\bhref="([^"]*)"', page))
        assert "url(" not in page


def test_the_page_is_the_same_bytes_when_made_again(built, labelled, tmp_path):
    work, sample, page = labelled
    root, _ = built
    again = build_report(_config(root, tmp_path / "again.html", work / "evaluation", root / "build/common/models",
                                 session_labels=sample.labels, window_labels=sample.windows))
    assert again.read_text(encoding="utf-8") == page
    assert str(root) not in page and str(work) not in page


def test_a_build_without_labels_says_no_labels(built):
    root, _ = built
    page = (root / REPORT).read_text(encoding="utf-8")
    metrics = json.loads((root / "build/common/report/metrics.json").read_text())
    assert metrics["deeplog"] == {"available": False, "reason": "no labels"}
    assert metrics["mscred"] == {"available": False, "reason": "no labels"}
    rows = _rows(_section(page, "metrics"))
    assert rows == [["deeplog", "no labels"], ["mscred", "no labels"]]
    assert "no labels: no labelled windows to shade" in _section(page, "mscred")
    assert "no held-out windows" in _section(page, "topk")


def test_metrics_match_the_metrics_file_and_alog_detect_evaluate(labelled, cli):
    work, sample, page = labelled
    metrics = json.loads((work / "evaluation" / "metrics.json").read_text())
    rows = {r[0]: r for r in _rows(_section(page, "metrics"))}
    verdicts = work / "evaluation" / "verdicts.jsonl"
    for model, labels in (("deeplog", sample.labels), ("mscred", sample.windows)):
        m = metrics[model]
        assert m["available"] is True
        # The file holds what `alog-detect evaluate` computes on the same verdicts and labels.
        # MSCRED: with --delay, the lines its scored matrices span (largest window x bucket lines).
        delay = ("--delay", str(m["delay"])) if model == "mscred" else ()
        assert model == "deeplog" or m["delay"] > 0
        independent = json.loads(cli("evaluate", "--verdicts", verdicts, "--labels", labels,
                                     "--model", model, "--json", *delay).stdout_text)
        for key in ("precision", "recall", "f1", "tp", "fp", "fn", "tn", "level"):
            assert m[key] == independent[key], (model, key)
        assert rows[model] == [model, m["level"], f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}",
                               str(m["tp"]), str(m["fp"]), str(m["fn"]), str(m["tn"]), labels.name]
    assert metrics["deeplog"]["tp"] + metrics["deeplog"]["fn"] == sum(
        1 for line in sample.labels.read_text().splitlines()[1:] if line.split(",")[1] == "Anomaly")


def test_validation_table_matches_the_validation_file(built):
    root, _ = built
    page = (root / REPORT).read_text(encoding="utf-8")
    figures = json.loads((root / "build/common/models.validation.json").read_text())
    assert figures["kind"] == "validation" and figures["reference"] == "pytorch"
    rows = _rows(_section(page, "validation"))
    expected = [[m["kind"], f"{m['inputs']} ({m['real']})", p["party"], f"{p['max_abs_diff']:.2e}",
                 f"{p['max_output']:.3f}", f"{p['decisions_equal']} / {p['count']}", "agrees" if p["ok"] else "MISMATCH"]
                for m in figures["models"] for p in m["parties"]]
    assert {m["kind"] for m in figures["models"]} == {"deeplog", "mscred"}
    assert rows == expected
    # The stand-in engine has no onnx_runner: the page says why the engine took no part.
    assert any("engine: not built" in note for note in figures["notes"])
    assert "engine: not built" in _section(page, "validation")


def test_topk_table_matches_the_topk_file(labelled):
    work, _, page = labelled
    figures = json.loads((work / "evaluation" / "topk.json").read_text())
    assert figures["heldout"]["windows"] > 0 and figures["training"]["windows"] > 0
    rows = _rows(_section(page, "topk"))
    assert [r[0] for r in rows] == [str(k) for k in figures["k"]]
    for row, train, held in zip(rows, figures["training"]["accuracy"], figures["heldout"]["accuracy"]):
        assert row[1:] == [f"{train:.4f}", f"{held:.4f}"]
    for series in (figures["training"]["accuracy"], figures["heldout"]["accuracy"]):
        assert all(0.0 <= a <= 1.0 for a in series) and series == sorted(series)
    assert "seed 8" in _section(page, "topk")


def test_rank_agrees_with_the_decision_rules_top_k():
    rng = np.random.default_rng(3)
    logits = rng.integers(0, 4, (300, 9)).astype(np.float32)   # many ties
    keys = rng.integers(0, 9, 300)
    rank = ranks(logits, keys)
    for k in range(1, 10):
        in_topk = np.array([key in row for key, row in zip(keys, topk(logits, k))])
        assert np.array_equal(rank < k, in_topk), k


def test_vocabulary_counts_and_examples_come_from_the_parsed_logs(built):
    import pyarrow.parquet as pq

    root, _ = built
    page = (root / REPORT).read_text(encoding="utf-8")
    vocab = json.loads((root / "build/common/models/vocab.json").read_text())
    table = pq.read_table(root / "build/common/parsed/parsed.parquet", columns=["template", "line_no"]).to_pydict()
    log_lines = (root / "small.log").read_text().splitlines()
    rows = _rows(_section(page, "vocabulary"))
    assert len(rows) == len(vocab)
    for index, template, count, example in rows:
        assert template == vocab[index]
        numbers = [n for t, n in zip(table["template"], table["line_no"]) if t == template]
        assert int(count.replace(",", "")) == len(numbers)
        assert example == f"{log_lines[numbers[0] - 1]}small.log:{numbers[0]}"


def test_bundle_section_lists_each_bundles_files(built):
    root, _ = built
    page = (root / REPORT).read_text(encoding="utf-8")
    bundle = next((root / "dist").glob("*.tar.gz"))
    with tarfile.open(bundle) as tar:
        members = {m.name: m.size for m in tar.getmembers() if m.isfile()}
        manifest = json.load(tar.extractfile(next(n for n in members if n.endswith("/manifest.json"))))
    rows = _rows(_section(page, "bundles"))
    assert rows[0][:2] == [bundle.name, manifest["target"]]
    listed = {r[0]: int(r[1].replace(",", "")) for r in rows[1:]}
    assert listed == members


def test_a_model_directory_without_mscred_says_so(built, tmp_path):
    root, _ = built
    models = tmp_path / "models"
    shutil.copytree(root / "build/common/models", models)
    for name in ("mscred.onnx", "mscred.onnx.meta.json"):
        (models / name).unlink()
    evaluate_build(EvaluationConfig(models=models, logs=(str(root / "small.log"),), out_dir=tmp_path / "evaluation",
                                    sequences=root / "build/common/deeplog/sequences.parquet"))
    page = build_report(_config(root, tmp_path / "report.html", tmp_path / "evaluation", models)).read_text()
    for name, _ in SECTIONS:
        _section(page, name)
    assert "no MSCRED model in" in _section(page, "mscred")
    assert "no MSCRED model in this model directory" in _section(page, "training")
    assert ["mscred", "no mscred model in the model directory"] in _rows(_section(page, "metrics"))
    assert "DeepLog" in _section(page, "training") and "<img" in _section(page, "topk")


# ---- a real browser -----------------------------------------------------------------------------

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync")


def test_a_headless_browser_renders_the_page(labelled, tmp_path):
    from PIL import Image

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium not found: ./setup.sh installs Debian's chromium"
    work, _, _ = labelled
    page = (work / "report.html").resolve()
    shot = tmp_path / "shot.png"
    common = [browser, *CHROMIUM_FLAGS, "--enable-logging=stderr", "--v=0", "--window-size=1200,2400"]
    run = subprocess.run([*common, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                          page.as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-3000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
               or "net::ERR" in line or "Failed to load resource" in line]
    assert console == [], console
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (2400, 1200)
    assert pixels.std() > 20, f"the screenshot is nearly blank (std {pixels.std():.1f})"
    # The DOM after loading holds every section and every chart decoded as an image.
    dom = subprocess.run([*common, f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-3000:]
    for name, _ in SECTIONS:
        assert f'<section id="{name}">' in dom.stdout
    assert dom.stdout.count("<img ") == 3


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
