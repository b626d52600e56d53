"""The build report: one self-contained HTML page about a build's models and what it shipped.

``build_report(ReportConfig)`` writes ``dist/report.html`` (SCons: ``scons report``, and at the end
of the default build) from the build's own files; nothing is recomputed here but charts:

* settings: the build options, the front end and Drain settings the templates were mined with,
  the training settings the checkpoints record, and the SHA-256 of every input and model file;
* training curves of both models (the losses the checkpoints record);
* the template vocabulary: each template's index, how many lines it matched in the parsed logs
  and the first raw line it came from;
* DeepLog's top-k accuracy on its training windows and on held-out windows
  (``alog_detect.report.evaluation``);
* MSCRED's score timeline with its anomaly threshold and the labelled windows;
* precision, recall and F1 (``alog-detect evaluate``'s figures), or "no labels";
* convert-onnx's validation table (PyTorch vs onnxruntime vs the C engine);
* the bundles in dist/: each one's manifest (target, CPU, compiler, memory) and its files with sizes.

A model directory without MSCRED (or DeepLog) says so in that model's sections. The page has no
script and loads nothing: charts are PNG data: URIs, the style sheet is inline. Same inputs give
the same bytes (no timestamp, no absolute path).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__, atomic
from ..errors import UserError
from . import figures
from .evaluation import (METRICS_NAME, NO_LABELS, TOPK_NAME, VERDICTS_NAME, EvaluationConfig, EvaluationResult,
                         HeldOutSample, evaluate_build)

__all__ = ["ReportConfig", "build_report", "EvaluationConfig", "EvaluationResult", "HeldOutSample",
           "evaluate_build", "NO_LABELS", "SECTIONS"]

TEMPLATE = "report.html.j2"
# (id, title): the page's sections, in order; every one is always present.
SECTIONS = (("settings", "Settings and inputs"), ("training", "Training curves"),
            ("vocabulary", "Template vocabulary"), ("topk", "DeepLog: top-k accuracy"),
            ("mscred", "MSCRED: score timeline"), ("metrics", "Precision, recall, F1"),
            ("validation", "Validation: PyTorch vs onnxruntime vs the C engine"),
            ("bundles", "Bundles built so far"))
MAX_VOCAB_ROWS = 500
MAX_EXAMPLE_CHARS = 300


@dataclass(frozen=True)
class ReportConfig:
    out: Path                               # dist/report.html
    models: Path                            # the model directory
    evaluation: Path                        # evaluate_build's out_dir
    root: Path                              # paths in the page are shown relative to this
    logs: tuple[Path, ...] = ()
    parsed: Path | None = None              # parsed.parquet (counts and example lines)
    validation: Path | None = None          # <model dir>.validation.json
    deeplog_checkpoint: Path | None = None
    mscred_checkpoint: Path | None = None
    session_labels: Path | None = None
    window_labels: Path | None = None
    bundles: tuple[Path, ...] = ()
    settings: dict = field(default_factory=dict)   # the build options, shown as given


# ---- helpers ------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _shown(path: Path, root: Path) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return path.name


def _json(path: Path, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{what} not found", path, "build it first: scons report") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {what} ({exc})", path, "rebuild it: scons report") from None


def _checkpoint(path: Path | None, kind: str) -> dict | None:
    if path is None or not Path(path).is_file():
        return None
    from ..train import read_checkpoint

    return read_checkpoint(Path(path), kind, 2 if kind == "mscred" else 1, {"config", "training"},
                           f"retrain it with `alog-detect {kind}-train`")


# ---- sections -----------------------------------------------------------------------------------

def _settings(config: ReportConfig, deeplog: dict | None, mscred: dict | None) -> dict:
    root = config.root
    frontend = _json(config.models / "frontend.json", "frontend.json") \
        if (config.models / "frontend.json").is_file() else None
    drain = None
    if config.parsed is not None:
        templates_json = Path(config.parsed).with_name(Path(config.parsed).stem + ".templates.json")
        if templates_json.is_file():
            drain = _json(templates_json, "the parse stage's templates file").get("drain")
    inputs = []
    for log in config.logs:
        data = Path(log).read_bytes()
        inputs.append({"role": "log", "path": _shown(log, root), "bytes": len(data),
                       "lines": data.count(b"\n"), "sha256": hashlib.sha256(data).hexdigest()})
    for role, path in (("session labels", config.session_labels), ("window labels", config.window_labels)):
        if path is not None:
            inputs.append({"role": role, "path": _shown(path, root), "bytes": Path(path).stat().st_size,
                           "lines": None, "sha256": _sha256(Path(path))})
    model_files = [{"path": _shown(p, root), "bytes": p.stat().st_size, "sha256": _sha256(p)}
                   for p in sorted(Path(config.models).iterdir()) if p.is_file()]
    return {"options": dict(sorted(config.settings.items())), "frontend": frontend, "drain": drain,
            "deeplog": deeplog["config"] if deeplog else None, "mscred": mscred["config"] if mscred else None,
            "inputs": inputs, "model_files": model_files, "version": __version__}


def _training(deeplog: dict | None, mscred: dict | None) -> dict:
    dl = list(deeplog["training"]["losses"]) if deeplog else None
    ms_train = list(mscred["training"]["train_losses"]) if mscred else None
    ms_valid = list(mscred["training"].get("valid_losses", [])) if mscred else None
    chart = figures.training_curves(dl, ms_train, ms_valid) if (dl or ms_train) else None
    return {"chart": chart,
            "deeplog": {"epochs": len(dl), "first": dl[0], "final": dl[-1]} if dl else None,
            "mscred": {"epochs": len(ms_train), "final": ms_train[-1],
                       "final_valid": ms_valid[-1] if ms_valid else None} if ms_train else None}


def _raw_lines(wanted: dict[str, set[int]], root: Path) -> dict[tuple[str, int], str]:
    """The raw text of (source, line_no) pairs, reading each source once."""
    found = {}
    for source, numbers in wanted.items():
        path = Path(source) if Path(source).is_absolute() else Path(root) / source
        if not path.is_file():
            continue
        last = max(numbers)
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                if n in numbers:
                    found[(source, n)] = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                if n >= last:
                    break
    return found


def _vocabulary(config: ReportConfig) -> dict:
    from ..vocab import load_any_vocab

    vocab = load_any_vocab(Path(config.models) / "vocab.json")
    counts, first = {}, {}
    if config.parsed is not None and Path(config.parsed).is_file():
        import pyarrow.parquet as pq

        table = pq.read_table(config.parsed, columns=["template", "source", "line_no"]).to_pydict()
        for template, source, line in zip(table["template"], table["source"], table["line_no"]):
            counts[template] = counts.get(template, 0) + 1
            first.setdefault(template, (source, line))
    wanted: dict[str, set[int]] = {}
    for template in vocab.templates[:MAX_VOCAB_ROWS]:
        if template in first:
            source, line = first[template]
            wanted.setdefault(source, set()).add(line)
    raw = _raw_lines(wanted, config.root)
    rows = []
    for index, template in enumerate(vocab.templates[:MAX_VOCAB_ROWS]):
        where = first.get(template)
        example = raw.get(where) if where else None
        if example is not None and len(example) > MAX_EXAMPLE_CHARS:
            example = example[:MAX_EXAMPLE_CHARS] + " ..."
        rows.append({"index": index, "template": template, "count": counts.get(template),
                     "where": f"{where[0]}:{where[1]}" if where else None, "example": example})
    return {"size": vocab.size, "sha256": vocab.sha256, "rows": rows,
            "more": max(0, vocab.size - MAX_VOCAB_ROWS), "total_lines": sum(counts.values()) if counts else None}


def _topk(topk: dict) -> dict:
    if not topk.get("available"):
        return {"available": False, "reason": topk.get("reason")}
    series = {}
    if topk.get("training"):
        series["training windows"] = topk["training"]["accuracy"]
    if topk.get("heldout"):
        series["held-out windows"] = topk["heldout"]["accuracy"]
    chart = figures.topk_curve(topk["k"], series, topk["top_k"]) if series else None
    return {**topk, "chart": chart}


def _mscred(config: ReportConfig, verdicts: Path) -> dict:
    meta_path = Path(config.models) / "mscred.onnx.meta.json"
    if not (Path(config.models) / "mscred.onnx").is_file():
        return {"available": False, "reason": f"no MSCRED model in {_shown(config.models, config.root)}"}
    meta = _json(meta_path, "MSCRED's metadata")["mscred"]
    lines, scores, flags = [], [], []
    with open(verdicts, encoding="utf-8") as f:
        for text in f:
            if '"model":"mscred"' not in text:
                continue
            v = json.loads(text)
            lines.append(int(v["line"]))
            scores.append(int(v["score"]))
            flags.append(bool(v["anomaly"]))
    windows = []
    if config.window_labels is not None:
        from ..evaluate import WindowLabels, read_labels

        labels = read_labels(config.window_labels)
        if isinstance(labels, WindowLabels):
            windows = [w for w, a in zip(labels.windows, labels.anomalous or [True] * len(labels.windows)) if a]
    threshold = int(meta["anomaly_threshold"])
    chart = figures.score_timeline(lines, scores, flags, threshold, windows) if lines else None
    return {"available": True, "threshold": threshold, "cell_threshold": meta["cell_threshold"],
            "inputs": len(lines), "anomalies": sum(flags), "max_score": max(scores) if scores else None,
            "windows": windows, "chart": chart,
            "labels": _shown(config.window_labels, config.root) if config.window_labels else None,
            "spec": {k: meta[k] for k in ("window_sizes", "step", "steps", "n", "bucket") if k in meta}}


def _validation(config: ReportConfig) -> dict:
    if config.validation is None or not Path(config.validation).is_file():
        return {"available": False,
                "reason": "no validation figures (convert-onnx ran without --validate)"}
    data = _json(config.validation, "the validation figures")
    return {"available": True, **data}


def _bundle(path: Path, root: Path) -> dict:
    try:
        with tarfile.open(path) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            manifest_member = next((m for m in members if m.name.endswith("/manifest.json")
                                    and m.name.count("/") == 1), None)
            manifest = json.load(tar.extractfile(manifest_member)) if manifest_member else None
    except (OSError, tarfile.TarError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read the bundle ({exc})", path, "rebuild it: scons bundle") from None
    top = members[0].name.split("/", 1)[0] if members else ""
    files = [{"path": m.name.split("/", 1)[1] if "/" in m.name else m.name, "bytes": m.size} for m in members]
    return {"name": Path(path).name, "path": _shown(path, root), "bytes": Path(path).stat().st_size,
            "sha256": _sha256(Path(path)), "top": top, "manifest": manifest,
            "files": sorted(files, key=lambda f: f["path"]), "total": sum(f["bytes"] for f in files)}


# ---- the page -----------------------------------------------------------------------------------

def render(context: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("alog_detect", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v, digits=4: "" if v is None else (
        f"{v:,}" if isinstance(v, int) else f"{v:.{digits}f}")
    env.filters["sci"] = lambda v: "" if v is None else f"{v:.2e}"
    return env.get_template(TEMPLATE).render(**context)


def build_report(config: ReportConfig) -> Path:
    """Write ``config.out``; returns its path."""
    evaluation = Path(config.evaluation)
    deeplog = _checkpoint(config.deeplog_checkpoint, "deeplog")
    mscred = _checkpoint(config.mscred_checkpoint, "mscred")
    models = Path(config.models)
    has = {"deeplog": (models / "deeplog.onnx").is_file(), "mscred": (models / "mscred.onnx").is_file()}
    context = {
        "sections": SECTIONS, "version": __version__, "models_dir": _shown(models, config.root),
        "has": has, "no_labels": NO_LABELS,
        "settings": _settings(config, deeplog, mscred),
        "training": _training(deeplog if has["deeplog"] else None, mscred if has["mscred"] else None),
        "vocabulary": _vocabulary(config),
        "topk": _topk(_json(evaluation / TOPK_NAME, "the top-k figures")),
        "mscred": _mscred(config, evaluation / VERDICTS_NAME),
        "metrics": _json(evaluation / METRICS_NAME, "the metrics"),
        "validation": _validation(config),
        "bundles": [_bundle(Path(b), config.root) for b in sorted(config.bundles, key=lambda p: Path(p).name)],
    }
    return atomic.write_text(config.out, render(context))
