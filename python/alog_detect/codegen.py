"""Generate the engine's C headers from a model directory with jinja2 (templates/*.j2).

Outputs (each from the template of the same name plus ``.j2``):

* ``alog_vocab.h``: the vocabulary as C tables, so the matcher needs no JSON on the device.
* ``alog_model_meta.h``: shapes, top-k, MSCRED threshold, arena bounds, file hashes, versions.
* ``alog_model_data.c``: the .onnx bytes as 16-byte aligned const arrays (targets that embed).
* ``alog_ops_config.h``: which of the engine's operators the models use, and whether their front
  end reads a log format (or a field timestamp), for a build that keeps only those
  (``-DALOG_OPS_CONFIG``: a firmware image).

Same inputs give the same bytes: no timestamps, no absolute paths (the banner names inputs by their
path relative to ``CodegenConfig.root``), sorted iteration, C escaping done here in Python.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from . import __version__, atomic
from .errors import UserError

OUTPUTS = ("alog_vocab.h", "alog_model_meta.h", "alog_model_data.c", "alog_ops_config.h")
MODELS = ("deeplog", "mscred")
VOCAB_FILE = "vocab.json"
FRONTEND_FILE = "frontend.json"
# The files of the model directory that each output is generated from.
INPUTS = {
    "alog_vocab.h": (VOCAB_FILE, FRONTEND_FILE),
    "alog_model_meta.h": (VOCAB_FILE, "deeplog.onnx", "deeplog.onnx.meta.json", "mscred.onnx",
                          "mscred.onnx.meta.json"),
    "alog_model_data.c": ("deeplog.onnx", "mscred.onnx"),
    "alog_ops_config.h": ("deeplog.onnx", "mscred.onnx", FRONTEND_FILE),
}
HEADER_FORMAT_VERSION = 1
# C99 only promises string literals up to 4095 characters (-pedantic enforces it).
MAX_C_STRING_BYTES = 4095
BYTES_PER_ROW = 16
TENSOR_ALIGNMENT = 64
# The engine reads weights in place from the embedded arrays.
MODEL_DATA_ALIGNMENT = 16


@dataclasses.dataclass(frozen=True)
class CodegenConfig:
    model_dir: Path                       # the convert-onnx output directory
    out_dir: Path
    outputs: tuple[str, ...] = OUTPUTS    # which files to render
    root: Path = Path(".")                # banner paths are relative to this directory


@dataclasses.dataclass(frozen=True)
class CodegenResult:
    written: tuple[Path, ...]


# ---- filters: names and escaping live here, not in templates --------------------------------

_PLAIN_BYTES = frozenset(range(0x20, 0x7F)) - {ord('"'), ord("\\"), ord("?")}


def c_string(text: str) -> str:
    """A C string literal holding the UTF-8 bytes of `text`.

    Printable ASCII stays as is except `"`, `\\` and `?` (trigraphs); every other byte becomes a
    three-digit octal escape, which, unlike `\\x`, cannot swallow the characters that follow.
    """
    data = text.encode("utf-8")
    if len(data) > MAX_C_STRING_BYTES:
        raise UserError(f"a string of {len(data)} bytes is longer than a C99 string literal may be "
                        f"({MAX_C_STRING_BYTES})", None, "shorten the log template")
    body = "".join(chr(b) if b in _PLAIN_BYTES else f"\\{b:03o}" for b in data)
    return f'"{body}"'


def c_ident(text: str) -> str:
    """A valid C identifier made from `text`: other characters become `_`."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", str(text))
    return ident if ident and not ident[0].isdigit() else f"n{ident}"


def c_double(value: float) -> str:
    """A double literal that reads back to exactly `value`."""
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        raise UserError(f"{text} has no C literal", None, "check the model metadata")
    return text if any(c in text for c in ".e") else f"{text}.0"


def c_byte_rows(data: bytes) -> list[str]:
    """`data` as rows of `0x..` initializers, BYTES_PER_ROW a row."""
    return [", ".join(f"0x{b:02x}" for b in data[i:i + BYTES_PER_ROW]) + ","
            for i in range(0, len(data), BYTES_PER_ROW)]


def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("alog_detect", "templates"),
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(c_string=c_string, c_ident=c_ident, c_double=c_double,
                       c_byte_rows=c_byte_rows, c_comment=c_comment)
    return env


def data_dependencies(name: str) -> list[Path]:
    """Files besides the models and templates that output `name` is made from: the engine's
    operator list for alog_ops_config.h (a build must redo the header when an operator is added)."""
    from .export.portable import supported_ops_path

    return [supported_ops_path()] if name == "alog_ops_config.h" else []


def template_dependencies(name: str) -> list[str]:
    """The template `name` and every template it extends, includes or imports, sorted."""
    import jinja2.meta

    env = environment()
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        source = env.loader.get_source(env, current)[0]
        pending.extend(n for n in jinja2.meta.find_referenced_templates(env.parse(source)) if n)
    return sorted(seen)


def c_comment(text: str) -> str:
    """`text` made safe inside a /* */ comment on one line."""
    return " ".join(str(text).replace("*/", "* /").split())


# ---- context: what the templates see ------------------------------------------------------------

def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def _inputs(model_dir: Path, names: tuple[str, ...], root: Path) -> list[dict]:
    from .deeplog_data import file_sha256

    files = sorted((model_dir / name for name in names if (model_dir / name).is_file()),
                   key=lambda p: _relative(p, root))
    return [{"path": _relative(p, root), "sha256": file_sha256(p)} for p in files]


def _vocab_context(model_dir: Path) -> dict:
    from .deeplog_data import file_sha256
    from .vocab import load_engine_vocab

    path = model_dir / VOCAB_FILE
    vocab = load_engine_vocab(path)
    return {
        "size": vocab.size,
        "sha256": vocab.sha256,
        "file_sha256": file_sha256(path),
        "entries": [{"index": i, "template": t, "length": len(t.encode("utf-8"))}
                    for i, t in enumerate(vocab.templates)],
    }


def _present_models(model_dir: Path) -> list[str]:
    present = [name for name in MODELS if (model_dir / f"{name}.onnx").is_file()]
    if not present:
        raise UserError("no deeplog.onnx or mscred.onnx in the model directory", model_dir,
                        "run `alog-detect convert-onnx` into it first")
    return present


def _symbol(name: str) -> str:
    return f"alog_model_{c_ident(name)}_onnx"


def arena_bound(onnx_path: Path) -> int:
    """Bytes of every graph input and intermediate tensor at batch 1, each rounded up to
    TENSOR_ALIGNMENT: what a planner that reuses nothing would need, so never less than the engine's."""
    import onnx
    from onnx import helper, shape_inference

    model = onnx.load(str(onnx_path), load_external_data=False)
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    for value in graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.Clear()
                dim.dim_value = 1            # the dynamic batch axis
    inferred = shape_inference.infer_shapes(model, strict_mode=True).graph
    tensors = {v.name: v for v in list(inferred.input) + list(inferred.value_info) + list(inferred.output)}
    total = 0
    for name, value in sorted(tensors.items()):
        if name in initializers:
            continue
        tensor_type = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
        if None in dims:
            raise UserError(f"tensor {name!r} has no static shape at batch 1", onnx_path,
                            "re-export with `alog-detect convert-onnx --portable`")
        count = 1
        for d in dims:
            count *= d
        size = count * helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).itemsize
        total += -(-size // TENSOR_ALIGNMENT) * TENSOR_ALIGNMENT
    return total


# ---- the model metadata ---------------------------------------------------------------------------

def _int_list(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


# ALOG_META_DEEPLOG_RULE: the model's default rule as a number.
DEEPLOG_RULE_CODES = {"topk": 0, "probability": 1}


def _rule_code(rule: str) -> int:
    return DEEPLOG_RULE_CODES[rule]


def _optional_double(value: float | None) -> str:
    """A double literal, 0.0 for null (the HAS_ macro beside it says which)."""
    return c_double(0.0 if value is None else value)


# Per model: (macro suffix, key path in the meta file's section for that model, C literal maker).
# read_model_meta fills a version-1 deeplog section in (no END key, rule topk, null thresholds).
SECTION_MACROS = {
    "deeplog": (("SEQ_LEN", "seq_len", int), ("TOP_K", "top_k", int), ("NUM_KEYS", "num_keys", int),
                ("PAD_INDEX", "pad_index", int), ("END_KEY", "end_key", int), ("OUTPUTS", "outputs", int),
                ("RULE", "rule", _rule_code),
                ("HAS_PROB_THRESHOLD", "prob_threshold", lambda v: int(v is not None)),
                ("PROB_THRESHOLD", "prob_threshold", _optional_double),
                ("HAS_END_THRESHOLD", "end_threshold", lambda v: int(v is not None)),
                ("END_THRESHOLD", "end_threshold", _optional_double)),
    "mscred": (("N", "n", int), ("STEPS", "steps", int), ("SCALES", "scales", int),
               ("WINDOW_SIZES", "window_sizes", _int_list), ("STEP", "step", int),
               ("BUCKET_UNIT", "bucket.unit", c_string), ("BUCKET_SIZE", "bucket.size", int),
               ("NORM", "norm", int), ("CELL_THRESHOLD", "cell_threshold", c_double),
               ("ANOMALY_THRESHOLD", "anomaly_threshold", int)),
}


def _lookup(meta: dict, dotted: str, path: Path):
    value = meta
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise UserError(f"model metadata has no {dotted!r}", path,
                            "re-export with `alog-detect convert-onnx`")
        value = value[key]
    return value


def _model_context(model_dir: Path, name: str, vocab_sha256: str) -> dict:
    from .export.meta import read_model_meta

    onnx_path = model_dir / f"{name}.onnx"
    meta_path = model_dir / f"{name}.onnx.meta.json"
    meta = read_model_meta(onnx_path, name, vocab_sha256)  # checked against both files
    sha256 = meta["sha256"]
    section = meta[name]
    return {
        "name": name,
        "macro": c_ident(name).upper(),
        "file": onnx_path.name,
        "symbol": _symbol(name),
        "sha256": sha256,
        "size": onnx_path.stat().st_size,
        "opset": int(_lookup(meta, "opset", meta_path)),
        "arena_bound": arena_bound(onnx_path),
        "shape_macros": sorted((macro, literal(_lookup(section, key, meta_path)))
                               for macro, key, literal in SECTION_MACROS[name]),
    }


def _frontend_context(model_dir: Path) -> dict:
    """The line front end's settings as C string literals the engine parses with the same functions
    it uses for frontend.json (alog_mask_rule_bit, alog_frontend_init)."""
    from .frontend import read_frontend

    settings = read_frontend(model_dir / FRONTEND_FILE).to_json()
    return {"mask_rules": ",".join(settings["mask_rules"]), "session_rule": settings["session_rule"],
            "header_tokens": settings["header_tokens"], "log_format": settings["log_format"],
            "timestamp": settings["timestamp"], "timestamp_format": settings["timestamp_format"]}


# ---- the operator selection ----------------------------------------------------------------------

def op_macro(op_type: str) -> str:
    """The alog_ops_config.h macro of an operator (cengine/src/ops/registry.c uses the same)."""
    return f"ALOG_OP_{c_ident(op_type).upper()}"


def model_op_types(model_dir: Path) -> dict[str, list[str]]:
    """{"deeplog.onnx": [op_type, ...]} for each model present, from the graphs themselves; an
    operator the engine does not implement is an error naming the file."""
    import onnx

    from .export.portable import load_supported_ops, op_types

    supported = load_supported_ops()
    used = {}
    for name in _present_models(model_dir):
        path = model_dir / f"{name}.onnx"
        ops = op_types(onnx.load(str(path), load_external_data=False))
        unknown = sorted(set(ops) - supported)
        if unknown:
            raise UserError(f"the model uses operator(s) the engine does not implement: "
                            f"{', '.join(unknown)}", path,
                            "re-export with `alog-detect convert-onnx --portable`")
        used[path.name] = ops
    return used


def uses_log_format(model_dir: Path) -> bool:
    """Does the model directory's front end read a log format or a field timestamp (a timestamp
    other than line-start and none)? A build for it must keep that code (ALOG_WITH_LOG_FORMAT)."""
    settings = _frontend_context(model_dir)
    return settings["log_format"] != "" or settings["timestamp"] not in ("line-start", "none")


def _ops_context(model_dir: Path) -> dict:
    from .export.portable import load_supported_ops

    used = model_op_types(model_dir)
    kept = {op for ops in used.values() for op in ops}
    return {"ops": [{"macro": op_macro(op), "kept": op in kept} for op in sorted(load_supported_ops())],
            "log_format": uses_log_format(model_dir)}


# ---- rendering --------------------------------------------------------------------------------------

def _context(config: CodegenConfig, output: str) -> dict:
    model_dir = Path(config.model_dir)
    context = {"output": output, "template": f"{output}.j2", "version": __version__,
               "format_version": HEADER_FORMAT_VERSION, "alignment": MODEL_DATA_ALIGNMENT,
               "inputs": _inputs(model_dir, INPUTS[output], Path(config.root))}
    present = _present_models(model_dir)
    if output == "alog_ops_config.h":
        context.update(_ops_context(model_dir))
        return context
    if output == "alog_model_data.c":
        context["models"] = [{"symbol": _symbol(name), "size": len(data), "data": data}
                             for name in present
                             for data in [(model_dir / f"{name}.onnx").read_bytes()]]
        return context
    context["vocab"] = _vocab_context(model_dir)
    if output == "alog_vocab.h":
        context["frontend"] = _frontend_context(model_dir)
    if output == "alog_model_meta.h":
        context["models"] = [_model_context(model_dir, name, context["vocab"]["sha256"])
                             for name in present]
        context["absent_models"] = [name for name in MODELS if name not in present]
    return context


def render_headers(config: CodegenConfig) -> CodegenResult:
    """Render config.outputs from config.model_dir into config.out_dir (each written atomically)."""
    unknown = sorted(set(config.outputs) - set(OUTPUTS))
    if unknown:
        raise UserError(f"unknown generated file(s) {', '.join(unknown)}", None,
                        f"choose from {', '.join(OUTPUTS)}")
    env = environment()
    written = []
    for output in sorted(config.outputs):
        text = env.get_template(f"{output}.j2").render(_context(config, output))
        written.append(atomic.write_text(Path(config.out_dir) / output, text))
    return CodegenResult(tuple(written))
