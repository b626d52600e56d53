"""The build report, dist/report.html (alog_detect.report), and the evaluation it shows.

    env.AlogReport(target, models=..., validation=..., logs=..., parsed=..., sequences=...,
                   checkpoints=..., labels={"sessions": node, "windows": node} or {},
                   heldout={"lines": N, "seed": S} or None, bundles=[...])

makes two nodes:

* ``build/common/report/metrics.json`` (+ ``verdicts.jsonl``, ``topk.json``): the reference
  detector over the logs, ``evaluate`` against the labels, DeepLog's top-k accuracy
  (alog_detect.report.evaluation). Target-independent; reruns only when the models, the logs or
  the labels change.
* ``target``: the page, from those files, the training checkpoints, the parse output, the
  validation figures and the bundles in dist/. The build prints its path at the end (also when
  it was up to date).
"""

import atexit
import json
import sys
from pathlib import Path

import SCons.Action
import SCons.Script

EVALUATION_DIR = "#build/common/report"
# The build options the page lists (site_scons/alog_options.py defines them).
OPTIONS = ("target", "cpu", "logs", "window", "top_k", "hidden", "layers", "epochs", "mscred_windows",
           "mscred_epochs", "mscred_channels", "session_key", "header_tokens", "sim_th", "optimize",
           "embed_model")

_announced = []   # report nodes whose path is printed when the build ends


def _fail(target, exc) -> int:
    sys.stderr.write(f"scons: *** [{target[0]}] {exc.one_line()}\n")
    return 2


def _evaluate(target, source, env):
    from alog_detect.errors import UserError
    from alog_detect.report import EvaluationConfig, HeldOutSample, evaluate_build

    settings = json.loads(source[-1].read())
    nodes = dict(zip(settings["roles"], source))
    logs = [str(n) for n, role in zip(source, settings["roles"]) if role == "log"]
    try:
        evaluate_build(EvaluationConfig(
            models=Path(nodes["vocab"].dir.abspath), logs=tuple(logs), out_dir=Path(target[0].dir.abspath),
            sequences=Path(nodes["sequences"].abspath),
            session_labels=Path(nodes["sessions"].abspath) if "sessions" in nodes else None,
            window_labels=Path(nodes["windows"].abspath) if "windows" in nodes else None,
            heldout=HeldOutSample(**settings["heldout"]) if settings["heldout"] else None))
    except UserError as exc:
        return _fail(target, exc)
    return 0


def _report(target, source, env):
    from alog_detect.errors import UserError
    from alog_detect.report import ReportConfig, build_report

    settings = json.loads(source[-1].read())
    roles = settings["roles"]
    one = {role: Path(n.abspath) for n, role in zip(source, roles) if role != "bundle"}
    try:
        build_report(ReportConfig(
            out=Path(target[0].abspath), models=one["vocab"].parent, evaluation=one["metrics"].parent,
            root=Path(env.Dir("#").abspath), logs=tuple(Path(n.abspath) for n, r in zip(source, roles) if r == "log"),
            parsed=one.get("parsed"), validation=one.get("validation"),
            deeplog_checkpoint=one.get("deeplog.pth"), mscred_checkpoint=one.get("mscred.pth"),
            session_labels=one.get("sessions"), window_labels=one.get("windows"),
            bundles=tuple(Path(n.abspath) for n, r in zip(source, roles) if r == "bundle"),
            settings=settings["options"]))
    except UserError as exc:
        return _fail(target, exc)
    return 0


def _with_roles(pairs):
    """[(role, node)] -> (nodes, roles): a builder's sources and what each one is."""
    return [n for _, n in pairs], [role for role, _ in pairs]


def alog_report(env, target, models, validation, logs, parsed, sequences, checkpoints, labels, heldout,
                bundles):
    vocab = next(n for n in models if n.name == "vocab.json")
    labelled = [(role, labels[role]) for role in ("sessions", "windows") if role in labels]
    # The evaluation reads the whole model directory: every file of it is a source.
    nodes, roles = _with_roles([("vocab", vocab)] + [("model", n) for n in models if n is not vocab]
                               + [("sequences", sequences)] + [("log", n) for n in logs] + labelled)
    settings = {"roles": roles, "heldout": heldout}
    evaluation = env.Command(
        [f"{EVALUATION_DIR}/metrics.json", f"{EVALUATION_DIR}/verdicts.jsonl", f"{EVALUATION_DIR}/topk.json"],
        nodes + [env.Value(json.dumps(settings, sort_keys=True))],
        SCons.Action.Action(_evaluate, "evaluate: $TARGET"))

    by_name = {n.name: n for n in checkpoints}
    pairs = ([("vocab", vocab)] + [("model", n) for n in models if n is not vocab]
             + [("metrics", evaluation[0]), ("verdicts", evaluation[1]), ("topk", evaluation[2])]
             + [("validation", n) for n in validation] + [("parsed", parsed)]
             + [(name, by_name[name]) for name in ("deeplog.pth", "mscred.pth") if name in by_name]
             + [("log", n) for n in logs] + labelled
             + [("bundle", n) for n in sorted(bundles, key=str)])
    nodes, roles = _with_roles(pairs)
    options = {name: str(env[name]) for name in OPTIONS if name in env}
    page = env.Command(target, nodes + [env.Value(json.dumps({"roles": roles, "options": options},
                                                             sort_keys=True))],
                       SCons.Action.Action(_report, "report: $TARGET"))
    _announced.extend(page)
    return page


def _announce():
    """Say where the report is once the build is over (atexit: after the bundle's own lines)."""
    if not _announced or SCons.Script.GetBuildFailures():
        return
    if any(SCons.Script.GetOption(o) for o in ("no_exec", "clean", "question", "help")):
        return
    targets = SCons.Script.COMMAND_LINE_TARGETS
    page = _announced[0]
    if targets and not {"report", str(page)} & set(targets):
        return
    if page.exists():
        print(f"report: {page} (open it in a browser)")


def generate(env):
    env.AddMethod(alog_report, "AlogReport")
    # Registered when the tool loads, before the bundle's announcement: atexit runs last-in first-out,
    # so this line comes last.
    if not getattr(generate, "registered", False):
        atexit.register(_announce)
        generate.registered = True


def exists(env):
    return True
