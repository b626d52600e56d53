"""convert-onnx: model directory contents, every flag, each exporter path, the failure modes, and
validation of both models. Models come from the real stages on a tiny parsed file (seconds)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from alog_detect.cli import main
from alog_detect.errors import UserError
from alog_detect.export import ExportConfig, convert_onnx, exporters, pipeline, portable
from alog_detect.vocab import Vocab, load_vocab, save_vocab

DEEPLOG_ALLOWED = {"Gather", "Gemm", "LSTM", "Squeeze", "Reshape", "Transpose"}
# Nine templates, so MSCRED's matrix side is 16 (the template count rounded up to a multiple of 8).
FLOWS = (["open <*>", "read <*> bytes", "close <*>"],
         ["login <*>", "open <*>", "write <*> bytes", "close <*>", "logout <*>"],
         ["probe <*>", "link up <*>", "dhcp lease <*>"])


@pytest.fixture(autouse=True)
def _without_the_engine(monkeypatch):
    """Validation here is PyTorch against onnxruntime (and the stand-in party below) whether or not
    the C engine is built; its own party is tested in test_engine_validate.py."""
    monkeypatch.setenv("ALOG_ONNX_RUNNER", str(Path(__file__).parent / "no-such-onnx-runner"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """parsed.parquet -> build-deeplog, build-mscred -> deeplog.pth, mscred.pth (tiny, 2 epochs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from alog_detect.deeplog_data import BuildDeepLogConfig, build_deeplog
    from alog_detect.mscred_data import BuildMSCREDConfig, build_mscred
    from alog_detect.train.deeplog import DeepLogTrainConfig, train_deeplog
    from alog_detect.train.mscred import MSCREDTrainConfig, train_mscred

    d = tmp_path_factory.mktemp("trained")
    sessions, templates = [], []
    for s in range(60):
        for t in FLOWS[s % 3] * (1 + s % 4):
            sessions.append(f"s{s}")
            templates.append(t)
    pq.write_table(pa.table({"session": sessions, "template": templates,
                             "line_no": pa.array(range(1, len(templates) + 1), pa.int64())}),
                   d / "parsed.parquet")
    build_deeplog(BuildDeepLogConfig(d / "parsed.parquet", d, window_size=4))
    build_mscred(BuildMSCREDConfig(d / "parsed.parquet", d / "mscred", window_sizes=(2, 4), step=1,
                                   steps=3, bucket="lines:5", vocab=d / "vocab.json"))
    train_deeplog(DeepLogTrainConfig(seq=d / "sequences.parquet", vocab=d / "vocab.json",
                                     out=d / "deeplog.pth", hidden=8, layers=1, embed_dim=4, top_k=3,
                                     epochs=2, progress=False))
    train_mscred(MSCREDTrainConfig(data=d / "mscred", out=d / "mscred.pth", epochs=2,
                                   channels=(4, 8, 8, 8), batch_size=8, progress=False))
    return d


def _config(trained: Path, out: Path, **kw) -> ExportConfig:
    base = dict(vocab=trained / "vocab.json", output_dir=out, deeplog_model=trained / "deeplog.pth",
                mscred_model=trained / "mscred.pth")
    return ExportConfig(**{**base, **kw})


def _meta(out: Path, kind: str) -> dict:
    return json.loads((out / f"{kind}.onnx.meta.json").read_text())


def _cli_error(capsys, *argv) -> str:
    """Run the CLI in-process; assert exit 2 with one line on stderr; return that line."""
    assert main(list(map(str, argv))) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("alog-detect: error: ")
    return err


# ---- the model directory ---------------------------------------------------------------------

def test_cli_portable_validate_writes_the_model_directory(trained, tmp_path, cli):
    out = tmp_path / "models"
    proc = cli("convert-onnx", "--deeplog-model", trained / "deeplog.pth", "--mscred-model",
               trained / "mscred.pth", "--vocab", trained / "vocab.json", "--output-dir", out,
               "--portable", "--validate")
    assert sorted(p.name for p in out.iterdir()) == ["deeplog.onnx", "deeplog.onnx.meta.json", "frontend.json",
                                                     "mscred.onnx", "mscred.onnx.meta.json", "vocab.json"]
    # Beside the directory, nothing but the validation figures (no temporary directory left behind).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models", "models.validation.json"]
    figures = json.loads((tmp_path / "models.validation.json").read_text())
    assert figures["kind"] == "validation" and figures["reference"] == "pytorch"
    assert [m["kind"] for m in figures["models"]] == ["deeplog", "mscred"]
    for model in figures["models"]:
        assert model["parties"][0]["party"] == "onnxruntime"
        assert all(p["ok"] and p["max_abs_diff"] <= figures["tolerance"] and p["count"] == model["inputs"]
                   for p in model["parties"])
    assert f"validation figures: {tmp_path / 'models.validation.json'}" in proc.stdout_text
    # One line says which exporter ran; torch's DeprecationWarning is not shown.
    exporter_lines = [ln for ln in proc.stdout_text.splitlines() if ln.startswith("exporter: ")]
    assert exporter_lines == ["exporter: legacy TorchScript exporter (dynamo=False; its DeprecationWarning "
                              f"is expected), torch {torch.__version__}, opset 17"]
    assert "DeprecationWarning:" not in proc.stderr_text and "TracerWarning" not in proc.stderr_text
    assert proc.stdout_text.count(": ok") == 2 and "MISMATCH" not in proc.stdout_text

    vocab = load_vocab(trained / "vocab.json")
    engine_vocab = json.loads((out / "vocab.json").read_text())
    assert engine_vocab == {str(i): t for i, t in enumerate(vocab.templates)}

    supported = portable.load_supported_ops()
    for kind in ("deeplog", "mscred"):
        meta = _meta(out, kind)
        graph = onnx.load(str(out / f"{kind}.onnx"))
        assert meta["format_version"] == 2 and meta["kind"] == kind and meta["portable"] is True
        assert meta["sha256"] == __import__("hashlib").sha256((out / f"{kind}.onnx").read_bytes()).hexdigest()
        assert meta["ops"] == sorted({n.op_type for n in graph.graph.node})
        assert set(meta["ops"]) <= supported
        assert not set(meta["ops"]) & set(portable.SHAPE_FAMILY)
        assert [(i.domain, i.version) for i in graph.opset_import] == [("", 17)] and meta["opset"] == 17
        assert not [n for n in graph.graph.node if n.op_type == "Constant" and n.attribute[0].t.dims]
        assert meta["vocab"] == {"file": "vocab.json", "size": vocab.size, "sha256": vocab.sha256}
        assert meta["producer"]["torch"] == torch.__version__ and meta["producer"]["exporter"] == "legacy"
        assert meta["training"]["checkpoint"] == f"{kind}.pth"
        assert str(tmp_path) not in json.dumps(meta) and str(trained) not in json.dumps(meta)

    deeplog = _meta(out, "deeplog")
    assert set(deeplog["ops"]) <= DEEPLOG_ALLOWED
    assert deeplog["inputs"] == [{"name": "keys", "dtype": "int64", "shape": ["batch", 4]}]
    # Trained with the END key: one output more than the vocabulary (docs/detection.md 2.2).
    assert deeplog["outputs"] == [{"name": "logits", "dtype": "float32", "shape": ["batch", vocab.size + 1]}]
    assert deeplog["dynamic_axes"] == {"keys": {"0": "batch"}, "logits": {"0": "batch"}}
    ckpt = torch.load(trained / "deeplog.pth", weights_only=True)
    threshold, end_threshold = ckpt["calibration"]["prob_threshold"], ckpt["calibration"]["end_threshold"]
    assert isinstance(threshold, float) and 0 < threshold <= 1 and ckpt["calibration"]["sessions"] == 6
    assert isinstance(end_threshold, float) and 0 < end_threshold <= 1
    assert deeplog["deeplog"] == {"seq_len": 4, "trained_window": 4, "top_k": 3, "vocab_size": vocab.size,
                                  "pad_index": vocab.size, "num_keys": vocab.size + 1, "end_key": True,
                                  "outputs": vocab.size + 1, "rule": "topk", "prob_threshold": threshold,
                                  "end_threshold": end_threshold,
                                  "calibration": {"target_fpr": 0.001, "sessions": 6, "seed": 0}}
    assert deeplog["training"]["hyperparameters"]["hidden"] == 8

    mscred = _meta(out, "mscred")
    assert mscred["inputs"][0] == {"name": "x", "dtype": "float32", "shape": ["batch", 3, 2, 16, 16]}
    assert mscred["outputs"][0] == {"name": "recon", "dtype": "float32", "shape": ["batch", 2, 16, 16]}
    block = mscred["mscred"]
    assert (block["n"], block["steps"], block["scales"], block["window_sizes"]) == (16, 3, 2, [2, 4])
    assert block["num_templates"] == vocab.size == 9
    ckpt = torch.load(trained / "mscred.pth", weights_only=True)
    assert block["cell_threshold"] == ckpt["calibration"]["cell_threshold"]
    assert block["anomaly_threshold"] == ckpt["calibration"]["anomaly_threshold"]


def test_export_is_deterministic(trained, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    convert_onnx(_config(trained, a), say=lambda line: None)
    convert_onnx(_config(trained, b), say=lambda line: None)
    for name in ("deeplog.onnx", "deeplog.onnx.meta.json", "mscred.onnx", "mscred.onnx.meta.json", "vocab.json",
                 "frontend.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_either_model_alone(trained, tmp_path):
    out = tmp_path / "only-mscred"
    result = convert_onnx(_config(trained, out, deeplog_model=None), say=lambda line: None)
    assert [m.kind for m in result.models] == ["mscred"]
    assert sorted(p.name for p in out.iterdir()) == ["frontend.json", "mscred.onnx", "mscred.onnx.meta.json",
                                                     "vocab.json"]


def test_supported_ops_file_is_sorted_and_covers_both_models(trained, tmp_path):
    doc = json.loads(portable.supported_ops_path().read_text())
    assert doc["format_version"] == 1 and doc["domain"] == ""
    assert doc["ops"] == sorted(set(doc["ops"]))
    result = convert_onnx(_config(trained, tmp_path / "m"), say=lambda line: None)
    assert set().union(*(m.ops for m in result.models)) <= set(doc["ops"])


# ---- shape flags and profile flags -----------------------------------------------------------

def test_shape_flags_override_the_checkpoint(trained, tmp_path):
    out = tmp_path / "m"
    lines = []
    convert_onnx(_config(trained, out, seq_len=7, window_size=2, feature_dim=24, validate=True), say=lines.append)
    deeplog, mscred = _meta(out, "deeplog"), _meta(out, "mscred")
    assert deeplog["inputs"][0]["shape"] == ["batch", 7]
    assert (deeplog["deeplog"]["seq_len"], deeplog["deeplog"]["trained_window"]) == (7, 4)
    assert mscred["inputs"][0]["shape"] == ["batch", 2, 2, 24, 24]
    assert mscred["outputs"][0]["shape"] == ["batch", 2, 24, 24]
    block = mscred["mscred"]
    assert (block["n"], block["trained_n"], block["steps"], block["trained_steps"]) == (24, 16, 2, 3)
    # Real windows are re-cut to the new window and zero-padded to the new side, and still agree.
    assert any("real from mscred/signatures.npz" in ln for ln in lines)
    assert sum(ln.endswith(": ok") for ln in lines) == 2


def test_cli_parses_every_flag(tmp_path):
    from alog_detect.cli import build_parser

    args = build_parser().parse_args([
        "convert-onnx", "--deeplog-model", "d.pth", "--mscred-model", "m.pth", "--vocab", "v.json",
        "--output-dir", "out", "--seq-len", "5", "--steps", "4", "--feature-dim", "24", "--opset", "13",
        "--no-portable", "--validate", "--deeplog-data", "s.parquet", "--mscred-data", "sig"])
    assert (args.seq_len, args.window_size, args.feature_dim, args.opset) == (5, 4, 24, 13)
    assert args.portable is False and args.validate is True
    assert (args.deeplog_data, args.mscred_data) == (Path("s.parquet"), Path("sig"))
    defaults = build_parser().parse_args(["convert-onnx", "--vocab", "v", "--output-dir", "o",
                                          "--window-size", "6"])
    assert defaults.portable is True and defaults.validate is False and defaults.window_size == 6


def test_no_portable_keeps_the_raw_graph_at_the_chosen_opset(trained, tmp_path):
    out = tmp_path / "raw"
    convert_onnx(_config(trained, out, mscred_model=None, portable=False, opset=13), say=lambda line: None)
    meta = _meta(out, "deeplog")
    graph = onnx.load(str(out / "deeplog.onnx"))
    assert meta["portable"] is False and meta["opset"] == 13
    assert [(i.domain, i.version) for i in graph.opset_import] == [("", 13)]
    # Unsimplified: the legacy exporter's zero-state construction is still there.
    assert "Shape" in meta["ops"] and "ConstantOfShape" in meta["ops"]


def test_portable_opset_flag(trained, tmp_path):
    out = tmp_path / "o18"
    convert_onnx(_config(trained, out, deeplog_model=None, opset=18, validate=True), say=lambda line: None)
    assert _meta(out, "mscred")["opset"] == 18


@pytest.mark.parametrize("opset", [7, 99])
def test_opset_the_exporter_cannot_honour(trained, tmp_path, capsys, opset):
    out = tmp_path / "m"
    err = _cli_error(capsys, "convert-onnx", "--deeplog-model", trained / "deeplog.pth", "--vocab",
                     trained / "vocab.json", "--output-dir", out, "--opset", opset)
    assert f"--opset {opset} cannot be honoured by the legacy exporter (it supports 13..20)" in err
    assert str(trained / "deeplog.pth") in err and "(fix: pass --opset 17" in err
    assert not out.exists()


# ---- exporter paths --------------------------------------------------------------------------

def test_installed_torch_has_both_exporters():
    found = exporters.installed_exporters()
    assert found.has_dynamo_keyword and found.has_legacy and found.choose() == exporters.LEGACY


def test_torch_without_the_dynamo_keyword_uses_the_legacy_exporter(trained, tmp_path, monkeypatch):
    real_export = torch.onnx.export
    calls = []

    def old_export(model, args, f, export_params=True, verbose=False, input_names=None, output_names=None,
                   opset_version=None, dynamic_axes=None):
        """torch.onnx.export as torch < 2.5 had it: no dynamo keyword, legacy by default."""
        calls.append({"opset_version": opset_version, "dynamic_axes": dynamic_axes})
        return real_export(model, args, f, dynamo=False, verbose=verbose, input_names=input_names,
                           output_names=output_names, opset_version=opset_version, dynamic_axes=dynamic_axes)

    monkeypatch.setattr(torch.onnx, "export", old_export)
    lines = []
    out = tmp_path / "old"
    result = convert_onnx(_config(trained, out, mscred_model=None, validate=True), say=lines.append)
    assert calls == [{"opset_version": 17, "dynamic_axes": {"keys": {0: "batch"}, "logits": {0: "batch"}}}]
    assert lines[0].startswith("exporter: legacy TorchScript exporter (this torch predates the dynamo keyword)")
    assert result.settings.exporter == exporters.LEGACY and set(result.models[0].ops) <= DEEPLOG_ALLOWED


def _pretend_no_legacy_exporter(monkeypatch):
    found = exporters.installed_exporters()
    monkeypatch.setattr(pipeline, "installed_exporters",
                        lambda: exporters.TorchExporters(True, False, found.torch_version))


def test_torch_without_the_legacy_exporter_uses_dynamo(trained, tmp_path, monkeypatch):
    _pretend_no_legacy_exporter(monkeypatch)
    out = tmp_path / "dyn"
    config = _config(trained, out, mscred_model=None, validate=True)
    if importlib.util.find_spec("onnxscript") is None:
        with pytest.raises(UserError) as exc:
            convert_onnx(config, say=lambda line: None)
        assert "needs the onnxscript package" in exc.value.one_line()
        assert "pip install onnxscript" in exc.value.one_line()
        assert not out.exists()
        return
    lines = []
    result = convert_onnx(config, say=lines.append)
    assert lines[0].startswith("exporter: dynamo exporter") and result.settings.opset == 18
    meta = _meta(out, "deeplog")
    assert meta["opset"] == 18 and meta["producer"]["exporter"] == "dynamo"
    assert set(meta["ops"]) <= DEEPLOG_ALLOWED and meta["dynamic_axes"]["keys"] == {"0": "batch"}
    assert lines[-1].endswith(": ok")


def test_dynamo_exporter_refuses_opset_17(trained, tmp_path, monkeypatch):
    _pretend_no_legacy_exporter(monkeypatch)
    with pytest.raises(UserError) as exc:
        convert_onnx(_config(trained, tmp_path / "o", opset=17), say=lambda line: None)
    assert "--opset 17 cannot be honoured by the dynamo exporter (it supports 18..23)" in exc.value.one_line()
    assert "pass --opset 18" in exc.value.one_line()


def test_exporter_failure_is_one_line_naming_the_checkpoint(trained, tmp_path, monkeypatch):
    def failing_export(*args, **kwargs):
        raise RuntimeError("Constraints violated (L['x'].size()[1])!\nthe rest of torch's report")

    monkeypatch.setattr(torch.onnx, "export", failing_export)
    out = tmp_path / "m"
    with pytest.raises(UserError) as exc:
        convert_onnx(_config(trained, out, mscred_model=None), say=lambda line: None)
    assert exc.value.one_line() == (
        f"{trained / 'deeplog.pth'}: torch.onnx.export (legacy exporter, opset 17) failed: RuntimeError: "
        "Constraints violated (L['x'].size()[1])! (fix: see docs/troubleshooting.md, 'ONNX export errors')")
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == []


# ---- bad input -------------------------------------------------------------------------------

def _args(trained: Path, out: Path, vocab: Path | None = None, deeplog: Path | None = None,
          mscred: Path | None = None) -> list:
    argv = ["convert-onnx", "--vocab", vocab or trained / "vocab.json", "--output-dir", out]
    if deeplog:
        argv += ["--deeplog-model", deeplog]
    if mscred:
        argv += ["--mscred-model", mscred]
    return argv


def test_vocabulary_of_another_size(trained, tmp_path, capsys):
    vocab = load_vocab(trained / "vocab.json")
    other = save_vocab(tmp_path / "bigger.json", Vocab(vocab.templates + ("reboot <*>",)))
    err = _cli_error(capsys, *_args(trained, tmp_path / "o", other, deeplog=trained / "deeplog.pth"))
    assert f"{other}: " in err and "another vocabulary" in err and f"size {vocab.size + 1}" in err
    assert "(fix: pass the vocab.json the model was trained with" in err
    assert not (tmp_path / "o").exists()


def test_vocabulary_with_another_hash(trained, tmp_path, capsys):
    vocab = load_vocab(trained / "vocab.json")
    swapped = save_vocab(tmp_path / "swapped.json", Vocab(tuple(reversed(vocab.templates))))
    err = _cli_error(capsys, *_args(trained, tmp_path / "o", swapped, deeplog=trained / "deeplog.pth"))
    assert "another vocabulary" in err and vocab.sha256[:12] in err
    err = _cli_error(capsys, *_args(trained, tmp_path / "o", swapped, mscred=trained / "mscred.pth"))
    assert f"{swapped}: " in err and "another template list" in err and "build-mscred --vocab" in err
    assert not (tmp_path / "o").exists()


def test_id_keyed_vocabulary_names_fix_vocab(trained, tmp_path, capsys):
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps({f"E{i}": i for i in range(9)}))
    err = _cli_error(capsys, *_args(trained, tmp_path / "o", ids, deeplog=trained / "deeplog.pth"))
    assert f"{ids}: " in err and "alog-detect fix-vocab" in err


def test_corrupt_checkpoint(trained, tmp_path, capsys):
    bad = tmp_path / "deeplog.pth"
    bad.write_bytes((trained / "deeplog.pth").read_bytes()[:300])
    err = _cli_error(capsys, *_args(trained, tmp_path / "o", deeplog=bad))
    assert f"{bad}: not a readable checkpoint" in err and "(fix: " in err
    assert not (tmp_path / "o").exists()


def test_foreign_checkpoint(trained, tmp_path, capsys):
    foreign = tmp_path / "resnet.pth"
    torch.save(torch.nn.Linear(2, 2).state_dict(), foreign)
    err = _cli_error(capsys, *_args(trained, tmp_path / "o", mscred=foreign))
    # The wording belongs to the training modules; the contract is: file, kind found, fix.
    assert f"{foreign}: " in err and "mscred checkpoint (kind none)" in err.lower() and "(fix: " in err
    swapped_kind = _cli_error(capsys, *_args(trained, tmp_path / "o", deeplog=trained / "mscred.pth"))
    assert "checkpoint (kind 'mscred')" in swapped_kind and "deeplog" in swapped_kind.lower()
    assert not (tmp_path / "o").exists()


def test_unwritable_output_directory(trained, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    err = _cli_error(capsys, *_args(trained, blocker / "models", deeplog=trained / "deeplog.pth"))
    assert str(blocker) in err and "cannot create output directory" in err and "(fix: " in err
    err = _cli_error(capsys, *_args(trained, blocker, deeplog=trained / "deeplog.pth"))
    assert f"{blocker}: output path exists and is not a directory" in err
    assert blocker.read_text() == "not a directory"


def test_bad_shape_flags(trained, tmp_path, capsys):
    err = _cli_error(capsys, *_args(trained, tmp_path / "o", mscred=trained / "mscred.pth"), "--feature-dim", 12)
    assert "--feature-dim must be a multiple of 8" in err
    err = _cli_error(capsys, *_args(trained, tmp_path / "o", mscred=trained / "mscred.pth"), "--feature-dim", 8)
    assert f"{trained / 'mscred.pth'}: --feature-dim 8 is smaller than the model's 9 templates" in err
    assert "(fix: pass --feature-dim 16 or more)" in err
    err = _cli_error(capsys, *_args(trained, tmp_path / "o", deeplog=trained / "deeplog.pth"), "--seq-len", 0)
    assert "--seq-len must be >= 1" in err
    err = _cli_error(capsys, "convert-onnx", "--vocab", trained / "vocab.json", "--output-dir", tmp_path / "o")
    assert "nothing to export" in err


def test_failure_keeps_the_previous_directory(trained, tmp_path, monkeypatch):
    out = tmp_path / "models"
    out.mkdir()
    (out / "keep.txt").write_text("previous export")
    monkeypatch.setattr(pipeline, "load_supported_ops", lambda: frozenset({"Gather", "Gemm", "Transpose"}))
    with pytest.raises(UserError) as exc:
        convert_onnx(_config(trained, out, mscred_model=None), say=lambda line: None)
    # The unsupported op is named with its node, against the final path of the graph.
    assert exc.value.one_line().startswith(f"{out / 'deeplog.onnx'}: operator LSTM (node '")
    assert "is not implemented by the C engine (supported_ops.json)" in exc.value.one_line()
    assert [p.name for p in tmp_path.iterdir()] == ["models"]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def _graph_with(op_type: str, domain: str = "", opset: int = 17):
    from onnx import TensorProto, helper

    node = helper.make_node(op_type, ["x"], ["y"], name=f"the_{op_type.lower()}", domain=domain)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, [1])])
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=imports)


def test_portable_check_names_op_node_and_reason(tmp_path):
    supported = portable.load_supported_ops()
    path = tmp_path / "m.onnx"
    portable.check_portable(_graph_with("Relu"), 17, supported, path)
    with pytest.raises(UserError, match=r"operator Shape \(node 'the_shape'\) computes a shape at run time"):
        portable.check_portable(_graph_with("Shape"), 17, supported, path)
    with pytest.raises(UserError, match=r"operator TopK \(node 'the_topk'\) is not implemented by the C engine"):
        portable.check_portable(_graph_with("TopK"), 17, supported, path)
    with pytest.raises(UserError, match=r"imports opsets .*com.microsoft"):
        portable.check_portable(_graph_with("FusedGemm", "com.microsoft"), 17, supported, path)
    with pytest.raises(UserError, match=r"allows only the default domain at opset 17"):
        portable.check_portable(_graph_with("Relu", opset=18), 17, supported, path)


# ---- validation ------------------------------------------------------------------------------

@pytest.fixture()
def engine_runner(tmp_path, monkeypatch):
    """A third party installed through $ALOG_ENGINE_RUNNER (stands in for the C engine's runner)."""
    module = tmp_path / "fake_engine_runner.py"
    module.write_text(textwrap.dedent("""
        import numpy as np
        import onnxruntime as ort

        OFFSET = 0.0

        def run(model_path, feeds):
            outputs = ort.InferenceSession(model_path).run(None, feeds)
            return [o + np.float32(OFFSET) for o in outputs]
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("ALOG_ENGINE_RUNNER", "fake_engine_runner:run")
    import fake_engine_runner

    yield fake_engine_runner
    sys.modules.pop("fake_engine_runner", None)


def test_validation_reports_each_party_on_both_models(trained, tmp_path, engine_runner):
    lines = []
    result = convert_onnx(_config(trained, tmp_path / "m", validate=True), say=lines.append)
    assert [r.kind for r in result.reports] == ["deeplog", "mscred"]
    for report in result.reports:
        assert len(report.inputs.arrays) >= 100 and report.inputs.real > 0 and report.ok
        assert [r.party for r in report.results] == ["onnxruntime", "fake_engine_runner:run"]
        assert all(r.max_abs_diff <= 1e-5 and r.decisions_equal == r.count for r in report.results)
    assert result.reports[0].inputs.source == "sequences.parquet"
    assert result.reports[1].inputs.source == "mscred/signatures.npz"
    assert "  fake_engine_runner:run: max |diff| " in "\n".join(lines)


def test_validation_mismatch_fails_and_writes_nothing(trained, tmp_path, engine_runner, capsys):
    engine_runner.OFFSET = 1e-3
    out = tmp_path / "m"
    err = _cli_error(capsys, *_args(trained, out, deeplog=trained / "deeplog.pth"), "--validate")
    assert f"{out / 'deeplog.onnx'}: validation failed" in err and "fake_engine_runner:run: max |diff| 1.00e-03" in err
    assert not out.exists()


# ---- int8 weights (--quantize int8) --------------------------------------------------------------

def test_quantize_int8_writes_int8_weights_validates_and_reports_agreement(trained, tmp_path, engine_runner):
    """Each model's LSTM/Gemm/Conv weights become int8 behind DequantizeLinear: the files shrink,
    the metadata says what changed, the engine's party is checked against onnxruntime on the int8
    file, and the int8 model's agreement with the float one is reported (not a check)."""
    from onnx import TensorProto

    plain, int8 = tmp_path / "f", tmp_path / "q"
    convert_onnx(_config(trained, plain), say=lambda line: None)
    lines = []
    result = convert_onnx(_config(trained, int8, validate=True, quantize="int8"), say=lines.append)
    for model in result.models:
        meta = _meta(int8, model.kind)
        assert model.quantized is not None and meta["quantization"]["tensors"] == model.quantized.tensors > 0
        # a byte a weight and a float scale a channel: under half on models this tiny, a quarter on real ones
        assert meta["quantization"]["int8_bytes"] < meta["quantization"]["float_bytes"] / 2
        assert "DequantizeLinear" in meta["ops"] and _meta(plain, model.kind)["quantization"] is None
        graph = onnx.load(str(model.onnx)).graph
        weights = {t.name: t for t in graph.initializer}
        dequantized = [n for n in graph.node if n.op_type == "DequantizeLinear"]
        assert len(dequantized) == model.quantized.tensors
        for node in dequantized:
            assert weights[node.input[0]].data_type == TensorProto.INT8 and len(node.input) == 2
        assert (int8 / model.onnx.name).stat().st_size < (plain / model.onnx.name).stat().st_size
    assert [r.reference for r in result.reports] == ["onnxruntime on the int8 file"] * 2
    for report in result.reports:
        assert report.ok and [r.party for r in report.results] == ["fake_engine_runner:run"]
    for agreement in result.agreements:
        (party,) = agreement.results
        assert agreement.reference == "the float model (PyTorch)" and party.count == len(agreement.inputs.arrays)
        assert 0 < party.max_abs_diff < 1.0
    text = "\n".join(lines)
    assert "quantize deeplog: " in text and "compare mscred against the float model (PyTorch): " in text


def test_quantize_int8_mismatch_with_the_engine_fails_and_writes_nothing(trained, tmp_path, engine_runner, capsys):
    engine_runner.OFFSET = 1e-3
    out = tmp_path / "m"
    err = _cli_error(capsys, *_args(trained, out, deeplog=trained / "deeplog.pth"), "--validate",
                     "--quantize", "int8")
    assert f"{out / 'deeplog.onnx'}: validation failed" in err and "fake_engine_runner:run: max |diff| 1.00e-03" in err
    assert not out.exists()


def test_quantize_choice_is_checked(trained, tmp_path):
    with pytest.raises(UserError, match="--quantize int4 is not a quantization"):
        _config(trained, tmp_path / "m", quantize="int4")


def test_validation_data_flags_and_discovery(trained, tmp_path):
    # Checkpoints and vocabulary copied away from their data: no real windows to be found ...
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    for name in ("deeplog.pth", "mscred.pth", "vocab.json"):
        shutil.copy(trained / name, lonely / name)
    result = convert_onnx(_config(lonely, tmp_path / "a", validate=True), say=lambda line: None)
    assert [r.inputs.real for r in result.reports] == [0, 0]
    assert all(len(r.inputs.arrays) == 100 and r.ok for r in result.reports)
    # ... until the flags say where the data is.
    result = convert_onnx(_config(lonely, tmp_path / "b", validate=True, deeplog_data=trained / "sequences.parquet",
                                  mscred_data=trained / "mscred"), say=lambda line: None)
    assert [r.inputs.real > 0 for r in result.reports] == [True, True]
    real = result.reports[0].inputs.arrays[:result.reports[0].inputs.real]
    assert len(np.unique(real, axis=0)) == len(real) and real.max() <= 9


def test_frontend_settings_travel_into_the_model_directory(trained, tmp_path):
    from alog_detect.frontend import FRONTEND_NAME, Frontend, read_frontend, write_frontend

    vocab_dir = tmp_path / "v"
    vocab_dir.mkdir()
    (vocab_dir / "vocab.json").write_bytes((trained / "vocab.json").read_bytes())
    settings = Frontend().with_options(session_key="prefix:ses_", header_tokens=4)
    write_frontend(vocab_dir / FRONTEND_NAME, settings)
    out = tmp_path / "m"
    convert_onnx(_config(trained, out, vocab=vocab_dir / "vocab.json"), say=lambda line: None)
    assert read_frontend(out / FRONTEND_NAME) == settings

    (vocab_dir / FRONTEND_NAME).write_text('{"format_version": 1, "kind": "frontend"}')
    with pytest.raises(UserError, match=FRONTEND_NAME):
        convert_onnx(_config(trained, tmp_path / "bad", vocab=vocab_dir / "vocab.json"), say=lambda line: None)
    assert not (tmp_path / "bad").exists()


# ---- weights at aligned offsets (a device reads them in place) ---------------------------------------

def test_portable_export_stores_every_weight_at_a_multiple_of_16(trained, tmp_path):
    convert_onnx(_config(trained, tmp_path / "m"), say=lambda line: None)
    for name in ("deeplog.onnx", "mscred.onnx"):
        data = (tmp_path / "m" / name).read_bytes()
        offsets = [o for o in portable.raw_data_offsets(data) if o is not None]
        assert offsets and all(o % portable.WEIGHT_ALIGNMENT == 0 for o in offsets), name
        model = onnx.load_from_string(data)
        assert [data[o:o + len(t.raw_data)] for o, t in zip(portable.raw_data_offsets(data),
                                                            model.graph.initializer) if o] \
            == [t.raw_data for t in model.graph.initializer if t.raw_data]


@pytest.mark.parametrize("sizes", [[1], [3, 5, 7], [17, 1, 130, 2, 255], [1000, 3] * 20])
def test_serialize_aligned_places_each_raw_data_on_16_bytes_and_keeps_the_values(sizes, tmp_path):
    """Weights of any length, one after another: each lands on a multiple of 16, whatever the
    lengths before it, and the model reads back to the same tensors."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.full(n, i, dtype=np.float32), name=f"w{i}_{'x' * (i % 3)}")
             for i, n in enumerate(sizes)]
    node = helper.make_node("Concat", [t.name for t in inits], ["y"], axis=0)
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                              [sum(sizes)])], inits)
    model = helper.make_model(graph)
    before = [numpy_helper.to_array(t).copy() for t in model.graph.initializer]
    data = portable.serialize_aligned(model, tmp_path / "m.onnx")
    assert all(o % 16 == 0 for o in portable.raw_data_offsets(data))
    again = onnx.load_from_string(data)
    for want, got in zip(before, again.graph.initializer):
        np.testing.assert_array_equal(numpy_helper.to_array(got), want)


# ---- validation: decisions at a threshold ------------------------------------------------------

def test_a_decision_that_differs_only_at_the_threshold_is_counted_not_failed():
    """Outputs 2e-7 apart decide differently where the reference sits on the threshold: counted as
    borderline, the validation passes; the same difference on an input far from it fails; and
    without a borderline rule any difference fails."""
    from alog_detect.export.validate import Decision, Party, ValidationInputs, validate_graph

    want = np.array([[0.5], [0.1], [0.9], [0.5000001]], dtype=np.float32)

    def run(outputs):
        return lambda path, feeds: [outputs[np.asarray(feeds["x"])[:, 0].astype(int)]]

    inputs = ValidationInputs(np.arange(4, dtype=np.float32).reshape(4, 1), 0, "test")
    over = Decision("over", lambda x, y: y[:, 0] > 0.5, lambda x, y, m: np.abs(y[:, 0] - 0.5) <= m)
    near = want.copy()
    near[3, 0] = 0.4999999
    report = validate_graph("t", Path("m.onnx"), "x", run(want), inputs, over, [Party("p", run(near))])
    (r,) = report.results
    assert (r.decisions_equal, r.borderline, r.ok) == (3, 1, True)
    assert "(1 other at the threshold within the difference): ok" in report.lines()[1]

    far = near.copy()
    far[1, 0] = 0.6  # 0.5 away from the reference, past the tolerance too
    assert not validate_graph("t", Path("m.onnx"), "x", run(want), inputs, over, [Party("p", run(far))]).ok
    strict = Decision("over", over.decide)
    assert not validate_graph("t", Path("m.onnx"), "x", run(want), inputs, strict, [Party("p", run(near))]).ok
