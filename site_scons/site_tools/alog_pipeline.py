"""The pipeline's stages as SCons builders, each calling the stage function the CLI calls.

Every builder is called with its first output as target and `params=` (the settings that decide
its outputs). The emitter adds the stage's other outputs, so SCons knows every file before it runs,
and appends the params as a Value node, so changing one (say `epochs`) rebuilds that stage and
what depends on it, nothing else. Stage modules are imported inside the actions: reading the
SConstruct never loads torch.
"""

import json
import sys
from pathlib import Path

import SCons.Action
import SCons.Builder

# ---- the stage actions: (targets, sources without the params node, params) -> None ---------------


def _sample(targets, sources, params):
    from alog_detect.sample import SampleConfig, generate_sample

    generate_sample(SampleConfig(out_dir=Path(targets[0].dir.abspath), **params))


def _parse(targets, sources, params):
    from alog_detect.parse import ParseConfig, parse_logs

    # Paths as SCons names them (relative to the top): parsed.parquet's `source` column must not
    # depend on where the checkout lives.
    result = parse_logs(ParseConfig(logs=tuple(str(s) for s in sources), out=Path(targets[0].abspath),
                                    **params))
    for note in result.notes():  # what log_format=auto chose; lines that fit no format
        print(note)


def _deeplog_data(targets, sources, params):
    from alog_detect.deeplog_data import BuildDeepLogConfig, build_deeplog

    build_deeplog(BuildDeepLogConfig(parsed=Path(sources[0].abspath),
                                     out_dir=Path(targets[0].dir.abspath), **params))


def _mscred_data(targets, sources, params):
    from alog_detect.mscred_data import BuildMSCREDConfig, build_mscred

    parsed, vocab = sources
    build_mscred(BuildMSCREDConfig(parsed=Path(parsed.abspath), vocab=Path(vocab.abspath),
                                   out_dir=Path(targets[0].dir.abspath),
                                   window_sizes=tuple(params.pop("window_sizes")), **params))


def _train_deeplog(targets, sources, params):
    from alog_detect.train.deeplog import DeepLogTrainConfig, train_deeplog

    sequences, vocab = sources
    train_deeplog(DeepLogTrainConfig(seq=Path(sequences.abspath), vocab=Path(vocab.abspath),
                                     out=Path(targets[0].abspath), progress=sys.stderr.isatty(),
                                     **params))


def _train_mscred(targets, sources, params):
    from alog_detect.train.mscred import MSCREDTrainConfig, train_mscred

    train_mscred(MSCREDTrainConfig(data=Path(sources[0].dir.abspath), out=Path(targets[0].abspath),
                                   progress=sys.stderr.isatty(), channels=tuple(params.pop("channels")),
                                   **params))


def _export(targets, sources, params):
    from alog_detect.export import ExportConfig, convert_onnx

    # Sources: vocab.json, sequences.parquet, frontend.json (read from beside vocab.json), then for
    # each of params["models"] its .pth (and MSCRED's signatures). The training data is passed
    # too: validation then uses real inputs besides random ones.
    # The last target is the validation figures, beside the model directory (the report reads them).
    chosen = params.pop("models")
    vocab, sequences = sources[:2]
    rest = list(sources[3:])
    deeplog = rest.pop(0) if "deeplog" in chosen else None
    mscred, signatures = (rest[0], rest[1]) if "mscred" in chosen else (None, None)
    convert_onnx(ExportConfig(vocab=Path(vocab.abspath), output_dir=Path(targets[0].dir.abspath),
                              deeplog_model=Path(deeplog.abspath) if deeplog else None,
                              mscred_model=Path(mscred.abspath) if mscred else None,
                              deeplog_data=Path(sequences.abspath) if deeplog else None,
                              mscred_data=Path(signatures.dir.abspath) if mscred else None,
                              validation_report=Path(targets[-1].abspath), **params))


def _beside_dir(suffix):
    """An output beside the first output's directory, named after it: ``<dir><suffix>``."""
    def node(first):
        return first.dir.up().File(first.dir.name + suffix)
    node.beside_dir = True
    return node


def _export_outputs(params):
    """The model directory's files besides the first (the first chosen model's .onnx), then the
    validation figures beside the directory."""
    chosen = params["models"]
    files = [f"{m}.onnx" for m in chosen[1:]] + [f"{m}.onnx.meta.json" for m in chosen]
    return files + ["vocab.json", "frontend.json", _beside_dir(".validation.json")]


def _codegen(targets, sources, params):
    from alog_detect.codegen import CodegenConfig, render_headers

    out = targets[0]
    # Sources: the model directory's files this output is made from, then its templates.
    render_headers(CodegenConfig(model_dir=Path(sources[0].dir.abspath), out_dir=Path(out.dir.abspath),
                                 outputs=(out.name,), root=Path(out.fs.Top.abspath)))


# builder: (what the build log calls it, action, outputs beside the first one: names, functions
# of the first one's name, or _beside_dir files; or a function of the params giving those)
STAGES = {
    "AlogSample": ("sample", _sample, ["sample_labels.csv", "sample_windows.csv", "sample_events.csv"]),
    "AlogParse": ("parse", _parse, [lambda first: first.replace(".parquet", ".templates.json")]),
    "AlogDeepLogData": ("build-deeplog", _deeplog_data, ["sequences.parquet", "frontend.json"]),
    "AlogMSCREDData": ("build-mscred", _mscred_data, ["signatures.json"]),
    "AlogTrainDeepLog": ("deeplog-train", _train_deeplog, [lambda first: first + ".png"]),
    "AlogTrainMSCRED": ("mscred-train", _train_mscred, [lambda first: first + ".png"]),
    "AlogExport": ("convert-onnx", _export, _export_outputs),
    "AlogCodegen": ("codegen", _codegen, []),
}


# What to change when a stage refuses the data, in scons options (the stage's own fix names CLI
# flags). MSCRED under a seconds bucket rule is the case the options check cannot foresee.
SCONS_FIXES = {
    _mscred_data: "more log lines, or smaller mscred_windows, mscred_step or mscred_bucket, or models=deeplog",
    _train_mscred: "more log lines, or smaller mscred_windows, mscred_step or mscred_bucket, or models=deeplog",
}


# ---- the generic builder ---------------------------------------------------------------------------

def _emitter_for(siblings):
    def emit(target, source, env):
        first = target[0]
        names = siblings(env["params"]) if callable(siblings) else siblings
        extra = [s(first) if getattr(s, "beside_dir", False)
                 else first.dir.File(s(first.name) if callable(s) else s) for s in names]
        return [first] + extra, source + [env.Value(json.dumps(env["params"], sort_keys=True))]
    return emit


def _action_for(run):
    def action(target, source, env):
        from alog_detect.errors import UserError

        try:
            run(target, source[:-1], json.loads(source[-1].read()))
        except UserError as exc:
            fix = SCONS_FIXES.get(run)
            if fix is not None:  # the stage names CLI flags; say it in scons options
                exc = UserError(exc.message, exc.path, fix)
            sys.stderr.write(f"scons: *** [{target[0]}] {exc.one_line()}\n")
            return 2
        return 0
    return action


def _describe(label):
    def describe(target, source, env):
        return f"{label}: {', '.join(str(t) for t in target)}"
    return describe


def generate(env):
    for name, (label, run, siblings) in STAGES.items():
        action = SCons.Action.Action(_action_for(run), _describe(label))
        env.Append(BUILDERS={name: SCons.Builder.Builder(action=action, emitter=_emitter_for(siblings))})


def exists(env):
    return True
