"""The engine's fast paths: packed-weight LSTM and Gemm kernels and the vectorized elementary
functions. They fix the summation order in the C source, so they must give the reference kernels'
exact bits, and the same bits whatever the optimisation level, vector width or instrumentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cbuild
from test_engine_models import DEEPLOG, export
from test_engine_ops import node_cases

pytestmark = pytest.mark.skipif(cbuild.compiler() is None, reason="no C compiler (cc) on PATH")

RUNNER_SOURCES = [*cbuild.CORE_SOURCES, cbuild.RUNNER_SOURCE]
MATH_SOURCES = [cbuild.ENGINE / "src" / "math" / "alog_math.c", cbuild.ENGINE / "tests" / "drivers" / "math_check.c"]
# One program per way of compiling the fast paths: optimisation levels, the host's widest vectors,
# ASan + UBSan, and the reference kernels they must agree with.
VARIANTS = {
    "O0": dict(extra_flags=("-O0",)),
    "O2": dict(),
    "O2-native": dict(extra_flags=("-march=native",)),
    "asan+ubsan": dict(sanitize=True),
    "reference": dict(extra_flags=("-DALOG_REFERENCE_KERNELS",)),
}


@pytest.fixture(scope="module")
def runners(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runners")
    return {name: cbuild.build(out, f"onnx_runner_{name}", RUNNER_SOURCES, **kw) for name, kw in VARIANTS.items()}


@pytest.fixture(scope="module")
def deeplog(tmp_path_factory) -> Path:
    import torch

    from alog_detect.models import DeepLog, DeepLogConfig

    torch.manual_seed(3)
    model = DeepLog(DeepLogConfig(**DEEPLOG))
    keys = torch.zeros(1, DEEPLOG["window"], dtype=torch.long)
    return export(model, keys, tmp_path_factory.mktemp("deeplog") / "deeplog.onnx", "keys", "logits")


def outputs_of(runner: Path, model: Path, inputs: list[np.ndarray], work: Path, batch: int = 1) -> list[np.ndarray]:
    run = cbuild.run_model(runner, model, inputs, work, batch=batch)
    assert run.returncode == 0, run.stderr
    return run.outputs


@pytest.mark.parametrize("batch", [1, 3])
def test_deeplog_same_bits_in_every_build(runners, deeplog, tmp_path, batch):
    keys = np.random.default_rng(batch).integers(0, DEEPLOG["vocab_size"] + 1, (batch, DEEPLOG["window"]))
    results = {name: outputs_of(r, deeplog, [keys], tmp_path / name, batch) for name, r in runners.items()}
    (reference,) = results.pop("reference")
    assert np.isfinite(reference).all() and np.abs(reference).max() > 0
    for name, (logits,) in results.items():
        assert logits.tobytes() == reference.tobytes(), name


def test_packed_weights_are_in_the_arena(runners, deeplog, tmp_path):
    """The packed copies of W and R live in the arena the planner reports: the fast build needs
    at least their size more than the reference build, which uses the weights in place."""
    keys = np.zeros((1, DEEPLOG["window"]), dtype=np.int64)
    fast = cbuild.run_model(runners["O2"], deeplog, [keys], tmp_path / "fast")
    reference = cbuild.run_model(runners["reference"], deeplog, [keys], tmp_path / "reference")
    e, h, layers = DEEPLOG["embed_dim"], DEEPLOG["hidden"], DEEPLOG["layers"]
    weights = 4 * h * (e + h) + (layers - 1) * 4 * h * (h + h)
    assert fast.arena_size - reference.arena_size >= 4 * weights


# ---- node cases with constant weights: the packed paths on every attribute -------------------------

# Inputs the packed paths need as constants (the node cases feed them as graph inputs).
WEIGHT_INPUTS = {"LSTM": (1, 2, 3, 7), "Gemm": (1,)}
SEQUENCE_LENS = 4  # LSTM input; the engine has no int32 and refuses it


def constant_weights(model, inputs: list[np.ndarray]):
    """The case's model with its weights as initializers, and the inputs that remain. An LSTM's
    sequence_lens is dropped: the cases that set it use the full length, the default."""
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    (node,) = model.graph.node
    names = [i.name for i in model.graph.input]
    values = dict(zip(names, inputs))
    if node.op_type == "LSTM" and len(node.input) > SEQUENCE_LENS and node.input[SEQUENCE_LENS]:
        lens = values[node.input[SEQUENCE_LENS]]
        assert (lens == values[node.input[0]].shape[0]).all()
        node.input[SEQUENCE_LENS] = ""
    used = set(node.input)
    folded = {node.input[i] for i in WEIGHT_INPUTS[node.op_type] if i < len(node.input) and node.input[i]}
    for name in sorted(folded):
        model.graph.initializer.append(numpy_helper.from_array(values[name], name))
    kept = [i for i in model.graph.input if i.name in used and i.name not in folded]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    return model, [values[i.name] for i in kept]


def weight_cases() -> list[str]:
    return sorted(name for name, case in node_cases().items()
                  if len(case.model.graph.node) == 1 and case.model.graph.node[0].op_type in WEIGHT_INPUTS)


@pytest.mark.parametrize("name", weight_cases())
def test_node_case_with_constant_weights(runners, tmp_path, name):
    import onnx

    case = node_cases()[name]
    for k, (inputs, expected) in enumerate(case.data_sets):
        model, engine_inputs = constant_weights(case.model, list(inputs))
        path = tmp_path / f"{k}.onnx"
        onnx.save(model, str(path))
        fast = outputs_of(runners["O2"], path, engine_inputs, tmp_path / f"fast{k}")
        reference = outputs_of(runners["reference"], path, engine_inputs, tmp_path / f"ref{k}")
        assert len(fast) == len(expected)
        for e, f, r in zip(expected, fast, reference):
            np.testing.assert_allclose(f, e, rtol=case.rtol, atol=case.atol)
            assert f.tobytes() == r.tobytes()


def test_weight_cases_cover_the_packed_path_attributes():
    names = " ".join(weight_cases())
    for feature in ("lstm_batchwise", "lstm_bidirectional", "lstm_reverse", "lstm_with_initial_bias",
                    "lstm_with_peepholes", "gemm_transposeB", "gemm_all_attributes", "gemm_default_no_bias"):
        assert feature in names, feature


# ---- elementary functions -----------------------------------------------------------------------

def reference_values(function: str, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    with np.errstate(over="ignore"):
        if function == "exp":
            return np.exp(x)
        if function == "tanh":
            return np.tanh(x)
        return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("sanitize", [False, True], ids=["O2", "asan+ubsan"])
@pytest.mark.parametrize("function", ["exp", "tanh", "sigmoid"])
def test_math_arrays_equal_scalars_and_stay_accurate(tmp_path, function, sanitize):
    """Vectorized array functions give the scalar functions' bits; both within 2 ulp of the
    true value wherever it is a normal float, and within the smallest normal float elsewhere."""
    import json

    import subprocess

    program = cbuild.build(tmp_path, "math_check", MATH_SOURCES, sanitize=sanitize)
    out = tmp_path / "values.bin"
    proc = subprocess.run([str(program), function, "65537", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["mismatches"] == 0 and report["checked"] > 65536
    pairs = np.fromfile(out, dtype=np.float32).reshape(-1, 2)
    x, got = pairs[:, 0], pairs[:, 1]
    want = reference_values(function, x)
    with np.errstate(over="ignore", invalid="ignore"):
        want32 = want.astype(np.float32)
    assert np.array_equal(np.isnan(got), np.isnan(x))
    finite = np.isfinite(want32)
    assert np.array_equal(got[~finite & ~np.isnan(x)], want32[~finite & ~np.isnan(x)])
    tiny = np.finfo(np.float32).tiny
    normal = finite & (np.abs(want32) >= tiny)
    ulp = np.spacing(np.abs(want32[normal])).astype(np.float64)
    assert (np.abs(got[normal] - want[normal]) / ulp).max() <= 2.0
    assert (np.abs(got[finite & ~normal] - want[finite & ~normal])).max() < tiny
