"""python -m alog_detect.bench.peers: its drivers give the peers' real outputs (the declared OrtApi
layout against the installed onnxruntime, the emx-onnx-cgen program against onnxruntime), a
missing peer becomes a "not installed" row, and the goal is judged from the figures. The timings
themselves are the benchmark's business, not a test's."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from alog_detect.bench import peers


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> peers.Model:
    """A small DeepLog exported with the pipeline's recipe."""
    import onnx
    import torch

    from alog_detect.export.exporters import GraphSignature, export_graph, installed_exporters
    from alog_detect.export.portable import serialize_aligned, simplify
    from alog_detect.models import DeepLog, DeepLogConfig

    out = tmp_path_factory.mktemp("peers")
    torch.manual_seed(1)
    config = DeepLogConfig(vocab_size=peers.VOCAB, window=4, embed_dim=8, hidden=16, layers=1)
    path = out / "deeplog.onnx"
    exporters = installed_exporters()
    export_graph(DeepLog(config).eval(), torch.zeros(1, 4, dtype=torch.long), path, GraphSignature("keys", "logits"),
                 exporters.choose(), 17, exporters)
    path.write_bytes(serialize_aligned(simplify(onnx.load(str(path)), path), path))
    return peers.Model("deeplog", path, "keys", "logits", "int64", (4,), (peers.VOCAB,))


def _compiler() -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler"
    return cc


def _ort_outputs(model: peers.Model, batch: int, out: Path) -> np.ndarray:
    runner = peers.ort_python_runner(model, batch)
    runner.run(1, out)
    return np.fromfile(out, np.float32)


@pytest.mark.parametrize("batch", [1, 3])
def test_ort_driver_gives_the_python_apis_outputs(tiny, tmp_path, batch):
    library = peers.onnxruntime_library()
    assert library is not None and library.is_file(), "the onnxruntime wheel ships libonnxruntime.so"
    driver = peers.build_ort_driver(_compiler(), tmp_path)
    assert isinstance(driver, Path), driver
    x = tmp_path / "in.bin"
    tiny.inputs(batch).tofile(x)
    runner = peers.ort_c_runner(driver, library, tiny, batch, x)
    seconds = runner.run(5, tmp_path / "c.bin")
    assert 0 < seconds < 1
    got = np.fromfile(tmp_path / "c.bin", np.float32)
    want = _ort_outputs(tiny, batch, tmp_path / "py.bin")
    assert got.shape == want.shape == (batch * peers.VOCAB,)
    assert np.array_equal(got, want)


def test_ort_driver_reports_onnxruntimes_error(tiny, tmp_path):
    driver = peers.build_ort_driver(_compiler(), tmp_path)
    x = tmp_path / "in.bin"
    tiny.inputs(1).tofile(x)
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    proc = subprocess.run([str(driver), str(peers.onnxruntime_library()), str(bad), "--input", "keys:int64:1,4",
                           "--output", f"logits:1,{peers.VOCAB}", "-i", str(x)], capture_output=True, text=True)
    assert proc.returncode == 1 and "ort_driver: CreateSession: " in proc.stderr
    # An input file of the wrong size is refused before onnxruntime sees it.
    proc = subprocess.run([str(driver), str(peers.onnxruntime_library()), str(tiny.path), "--input", "keys:int64:2,4",
                           "--output", f"logits:2,{peers.VOCAB}", "-i", str(x)], capture_output=True, text=True)
    assert proc.returncode == 2 and "must hold exactly 64 bytes" in proc.stderr


def test_emx_program_agrees_with_onnxruntime(tiny, tmp_path):
    command = peers.emx_command()
    assert command is not None, "emx-onnx-cgen is a test dependency (pyproject test extra, ./setup.sh)"
    x = tmp_path / "in.bin"
    tiny.inputs(3).tofile(x)
    built = peers.emx_build(command, _compiler(), tiny, 3, x, tmp_path / "emx")
    assert built.runner.error is None, built.runner.error
    assert built.object_bytes > 0
    built.runner.run(2, tmp_path / "emx.bin")
    got = np.fromfile(tmp_path / "emx.bin", np.float32)
    want = _ort_outputs(tiny, 3, tmp_path / "py.bin")
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-5


def test_a_missing_peer_is_not_installed(tiny, tmp_path):
    assert peers.ort_c_runner(tmp_path / "driver", None, tiny, 1, tmp_path / "x").error == peers.NOT_INSTALLED
    assert peers.emx_build(None, "cc", tiny, 1, tmp_path / "x", tmp_path / "w").runner.error == peers.NOT_INSTALLED


def test_emx_generation_errors_become_the_rows_text(tiny, tmp_path):
    fake = tmp_path / "emx-onnx-cgen"
    fake.write_text("#!/bin/sh\necho 'Unsupported op LSTM' >&2\nexit 1\n")
    fake.chmod(0o755)
    built = peers.emx_build([str(fake)], "cc", tiny, 1, tmp_path / "x", tmp_path / "w")
    assert built.runner.error == "cannot generate C: Unsupported op LSTM"


def _cells(medians: dict) -> dict:
    cells = {}
    for model in ("deeplog", "mscred"):
        for batch in peers.BATCHES:
            for peer in peers.PEERS:
                value = medians.get((model, batch, peer), 10.0)
                cells[(model, batch, peer)] = (peers.Cell(error=value) if isinstance(value, str)
                                               else peers.Cell(rates=[value * 0.9, value, value * 1.2]))
    return cells


def test_goal_is_judged_per_model_and_batch_from_the_medians():
    models = [peers.Model(n, Path(f"{n}.onnx"), "i", "o", "float32", (1,), (1,)) for n in ("deeplog", "mscred")]
    cells = _cells({("deeplog", 1, "engine"): 20.0, ("deeplog", 64, "engine"): 10.0,
                    ("mscred", 1, "engine"): 10.0, ("mscred", 64, "engine"): 9.0,
                    ("mscred", 64, "ort-c"): 12.0, ("deeplog", 1, "emx"): peers.NOT_INSTALLED})
    lines = peers.goal(cells, models)
    assert lines[0].startswith("deeplog, batch 1: **met**")          # 20 vs 10
    assert lines[1].startswith("deeplog, batch 64: **met**")         # a tie is not behind
    assert lines[2].startswith("mscred, batch 1: **not met**")       # a tie is not ahead
    assert lines[3].startswith("mscred, batch 64: **not met**") and "onnxruntime's C API 12.0/s" in lines[3]
    args = argparse.Namespace(rounds=3, seconds=0.5)
    text = peers.render(cells, models, [("libonnxruntime.so", peers.NOT_INSTALLED), ("alog-engine", 1234)], args,
                        {"ort": "1.0", "emx": "1.0"}, 1.0)
    assert "| deeplog | 1 | emx-onnx-cgen 1.0 C, gcc -O2 | not installed | | | |" in text
    assert "| deeplog | 1 | alog engine, as shipped | 20.0 | 18.0 - 24.0 | 1.00x |" in text
    assert "| libonnxruntime.so | not installed |" in text and "| alog-engine | 1,234 |" in text
    assert "median of 3 interleaved rounds" in text and "shared" in text
