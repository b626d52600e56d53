"""The engine's fast paths: packed-weight LSTM, Gemm, Conv and ConvTranspose kernels and the
vectorized elementary functions. They fix the summation order in the C source, so they must give
the reference kernels' exact bits, and the same bits whatever the optimisation level, vector width
or instrumentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cbuild
from test_engine_models import DEEPLOG, MSCRED, export
from test_engine_ops import node_cases

pytestmark = pytest.mark.skipif(cbuild.compiler() is None, reason="no C compiler (cc) on PATH")

RUNNER_SOURCES = [*cbuild.CORE_SOURCES, cbuild.RUNNER_SOURCE]
MATH_SOURCES = [cbuild.ENGINE / "src" / "math" / "alog_math.c", cbuild.ENGINE / "src" / "isa.c",
                cbuild.ENGINE / "tests" / "drivers" / "math_check.c"]
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


def host_flag(flag: str) -> bool:
    import platform

    cpuinfo = Path("/proc/cpuinfo")
    return platform.machine() in ("x86_64", "AMD64") and cpuinfo.is_file() and f" {flag}" in cpuinfo.read_text()


def host_isa() -> int:
    """The ALOG_ISA_* bits the engine should pick on this machine (alog.h)."""
    if not host_flag("avx2"):
        return 0
    return 1 | (2 if host_flag("avx512f") else 0)


def outputs_of(runner: Path, model: Path, inputs: list[np.ndarray], work: Path, batch: int = 1,
               isa: str = "auto") -> list[np.ndarray]:
    run = cbuild.run_model(runner, model, inputs, work, batch=batch, isa=isa)
    assert run.returncode == 0, run.stderr
    return run.outputs


def every_build(runners, model: Path, inputs: list[np.ndarray], work: Path, batch: int) -> dict[str, list[np.ndarray]]:
    """Outputs of every build, each with the vector extensions it picks at run time (the widest
    this x86-64 has), held to AVX2 (`--isa avx2`) and to its target's baseline (`--isa baseline`)."""
    results = {}
    for name, runner in runners.items():
        results[name] = outputs_of(runner, model, inputs, work / name, batch)
        if name != "reference":
            for isa in ("avx2", "baseline"):
                results[f"{name} {isa}"] = outputs_of(runner, model, inputs, work / f"{name}-{isa}", batch, isa)
    return results


@pytest.mark.parametrize("batch", [1, 3])
def test_deeplog_same_bits_in_every_build(runners, deeplog, tmp_path, batch):
    keys = np.random.default_rng(batch).integers(0, DEEPLOG["vocab_size"] + 1, (batch, DEEPLOG["window"]))
    results = every_build(runners, deeplog, [keys], tmp_path, batch)
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


# ---- MSCRED: packed convolutions ----------------------------------------------------------------

# The test models' channels, and MSCREDConfig's default ones (None): 1024-row panels at level 4.
MSCRED_CHANNELS = {"small": MSCRED["channels"], "default": None}


@pytest.fixture(scope="module", params=sorted(MSCRED_CHANNELS))
def mscred(request, tmp_path_factory) -> Path:
    import torch

    from alog_detect.models import MSCRED as MSCREDNet, MSCREDConfig

    torch.manual_seed(5)
    channels = MSCRED_CHANNELS[request.param]
    config = MSCREDConfig(n=MSCRED["n"], scales=MSCRED["scales"], steps=MSCRED["steps"],
                          **({"channels": channels} if channels else {}))
    x = torch.zeros(1, config.steps, config.scales, config.n, config.n)
    return export(MSCREDNet(config), x, tmp_path_factory.mktemp(f"mscred_{request.param}") / "mscred.onnx", "x", "recon")


@pytest.mark.parametrize("batch", [1, 3])
def test_mscred_same_bits_in_every_build(runners, mscred, tmp_path, batch):
    shape = (batch, MSCRED["steps"], MSCRED["scales"], MSCRED["n"], MSCRED["n"])
    x = np.random.default_rng(batch).random(shape, dtype=np.float32) * 4.0
    results = every_build(runners, mscred, [x], tmp_path, batch)
    (reference,) = results.pop("reference")
    assert reference.shape == (batch, MSCRED["scales"], MSCRED["n"], MSCRED["n"])
    assert np.isfinite(reference).all() and np.abs(reference).max() > 0
    for name, (recon,) in results.items():
        assert recon.tobytes() == reference.tobytes(), name


def packed_bytes(model: Path) -> int:
    """Bytes of the packed convolution weights: one copy per (operator, weight), however many
    nodes share it, each output channel group rounded up to whole panels of 32 rows."""
    import onnx

    graph = onnx.load(str(model)).graph
    weights = {t.name: tuple(t.dims) for t in graph.initializer}
    copies = set()
    for node in graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            copies.add((node.op_type, node.input[1], group))
    total = 0
    for op, name, group in copies:
        dims = weights[name]
        cout = dims[0] // group if op == "Conv" else dims[1]
        cols = dims[1] * int(np.prod(dims[2:])) if op == "Conv" else dims[0] // group * int(np.prod(dims[2:]))
        total += 4 * group * -(-cout // 32) * 32 * cols
    return total


def test_mscred_packed_weights_are_shared_and_in_the_arena(runners, mscred, tmp_path):
    """The ConvLSTM's convolutions of every step share one packed copy of their weights, which
    lives in the arena the planner reports: the fast build needs at least those bytes more than
    the reference build (and far less than a copy per node would take). ASan checks above that
    the runs stay inside an arena of exactly the reported size."""
    x = np.zeros((1, MSCRED["steps"], MSCRED["scales"], MSCRED["n"], MSCRED["n"]), dtype=np.float32)
    fast = cbuild.run_model(runners["O2"], mscred, [x], tmp_path / "fast")
    reference = cbuild.run_model(runners["reference"], mscred, [x], tmp_path / "reference")
    packed = packed_bytes(mscred)
    assert packed <= fast.arena_size - reference.arena_size < 2 * packed


# ---- node cases with constant weights: the packed paths on every attribute -------------------------

# Inputs the packed paths need as constants (the node cases feed them as graph inputs).
WEIGHT_INPUTS = {"LSTM": (1, 2, 3, 7), "Gemm": (1,), "Conv": (1, 2), "ConvTranspose": (1, 2)}
# Operators that pack whenever their weights are constants (Gemm does not when A is transposed).
ALWAYS_PACKED = {"Conv", "ConvTranspose"}
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
        fast = cbuild.run_model(runners["O2"], path, engine_inputs, tmp_path / f"fast{k}")
        reference = cbuild.run_model(runners["reference"], path, engine_inputs, tmp_path / f"ref{k}")
        assert fast.returncode == 0 and reference.returncode == 0, fast.stderr + reference.stderr
        if model.graph.node[0].op_type in ALWAYS_PACKED:
            assert fast.arena_size > reference.arena_size  # the packed copy: the fast path ran
        assert len(fast.outputs) == len(expected)
        for e, f, r in zip(expected, fast.outputs, reference.outputs):
            np.testing.assert_allclose(f, e, rtol=case.rtol, atol=case.atol)
            assert f.tobytes() == r.tobytes()


def test_weight_cases_cover_the_packed_path_attributes():
    names = " ".join(weight_cases())
    for feature in ("lstm_batchwise", "lstm_bidirectional", "lstm_reverse", "lstm_with_initial_bias",
                    "lstm_with_peepholes", "gemm_transposeB", "gemm_all_attributes", "gemm_default_no_bias",
                    "conv_with_autopad_same", "conv_with_strides_and_asymmetric_padding", "convtranspose_3d",
                    "convtranspose_dilations", "convtranspose_group_2", "convtranspose_output_shape"):
        assert feature in names, feature


# ---- convolutions beyond the node cases: bias, groups, dilations, panels and tiles ---------------

# (op, input shape, W shape, attributes): every case has a bias. Several panels with a partial
# last one (M = 40 and 70), K * pixels above the 64 Ki-float tile (several tiles per image).
CONV_CASES = {
    "conv2d_groups_dilation_bias": ("Conv", (2, 6, 9, 8), (40, 3, 3, 2),
                                    dict(group=2, dilations=[2, 1], pads=[2, 1, 1, 0], strides=[1, 2])),
    "conv1d_many_tiles": ("Conv", (1, 64, 1500), (70, 64, 3), dict(pads=[1, 1])),
    "conv3d_strided": ("Conv", (2, 3, 5, 6, 7), (33, 3, 2, 3, 2), dict(strides=[2, 1, 3], pads=[1, 0, 1, 0, 2, 1])),
    "convtranspose2d_groups_dilation_bias": ("ConvTranspose", (2, 6, 5, 4), (6, 20, 3, 2),
                                             dict(group=3, dilations=[1, 2], strides=[2, 3], pads=[1, 0, 2, 1],
                                                  output_padding=[1, 0])),
    "convtranspose1d_wide": ("ConvTranspose", (1, 48, 40), (48, 70, 4), dict(strides=[3], pads=[2, 1])),
    "convtranspose3d_same": ("ConvTranspose", (1, 4, 3, 4, 5), (4, 5, 3, 3, 2),
                             dict(strides=[2, 2, 1], auto_pad="SAME_UPPER")),
    # more taps (72) than the unfolding finds offsets for once per pixel (conv_packed.c: UNFOLD_TAPS)
    "conv2d_many_taps": ("Conv", (1, 3, 14, 13), (36, 3, 9, 8), dict(pads=[4, 3, 4, 4], strides=[2, 1])),
    "convtranspose2d_many_taps": ("ConvTranspose", (1, 2, 6, 5), (2, 34, 9, 8), dict(strides=[2, 2])),
}


def conv_model(op: str, x_shape, w: np.ndarray, bias: np.ndarray, attrs: dict):
    """A one-node model with W and B as initializers (so the packed path runs), opset 17."""
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node(op, ["x", "w", "b"], ["y"], **attrs)
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run_both(runners, model, x: np.ndarray, work: Path):
    """The model written as convert-onnx writes it (weights at aligned offsets, read in place)."""
    from alog_detect.export.portable import serialize_aligned

    path = work / "model.onnx"
    work.mkdir(parents=True, exist_ok=True)
    path.write_bytes(serialize_aligned(model, path))
    fast = cbuild.run_model(runners["O2"], path, [x], work / "fast", batch=x.shape[0])
    others = [cbuild.run_model(runners["O2"], path, [x], work / isa, batch=x.shape[0], isa=isa)
              for isa in ("avx2", "baseline")]
    reference = cbuild.run_model(runners["reference"], path, [x], work / "reference", batch=x.shape[0])
    runs = [fast, *others, reference]
    assert all(r.returncode == 0 for r in runs), "".join(r.stderr for r in runs)
    assert [r.isa for r in runs] == [host_isa(), host_isa() & 1, 0, 0]
    for other in others:
        for got, want in zip(other.outputs, fast.outputs):
            assert got.tobytes() == want.tobytes()
    return fast, reference


@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_convolution_same_bits_as_reference_and_onnxruntime(runners, tmp_path, name):
    import onnxruntime as ort

    op, x_shape, w_shape, attrs = CONV_CASES[name]
    rng = np.random.default_rng(len(name))
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32)
    bias = rng.standard_normal(w_shape[0] if op == "Conv" else w_shape[1] * attrs.get("group", 1), dtype=np.float32)
    model = conv_model(op, x_shape, w, bias, attrs)
    fast, reference = run_both(runners, model, x, tmp_path)
    assert fast.arena_size > reference.arena_size
    (expected,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    (got,) = fast.outputs
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert got.tobytes() == reference.outputs[0].tobytes()


def test_convtranspose_negative_zero_bias_keeps_its_sign(runners, tmp_path):
    """A sum that starts at a -0 bias stays -0 when only -0 products are added, and turns +0 on
    the +0 products of the zeros the packed path adds (between strided inputs): with a -0 bias
    the reference kernel must run. Here x = -0 and W > 0, so every output is -0."""
    x = np.full((1, 2, 3, 3), -0.0, dtype=np.float32)
    w = np.random.default_rng(0).random((2, 32, 3, 3), dtype=np.float32) + 0.5
    model = conv_model("ConvTranspose", x.shape, w, np.full(32, -0.0, dtype=np.float32), dict(strides=[2, 2]))
    fast, reference = run_both(runners, model, x, tmp_path)
    (got,) = fast.outputs
    assert got.shape == (1, 32, 7, 7) and (got == 0).all() and np.signbit(got).all()
    assert got.tobytes() == reference.outputs[0].tobytes()


def test_conv_with_infinite_weight_is_not_packed(runners, tmp_path):
    """The reference kernel skips the padding; the packed path would multiply it (0 * inf =
    NaN), so weights that are not all finite stay unpacked: same bits, no NaN."""
    x = np.random.default_rng(1).random((1, 3, 5, 5), dtype=np.float32) + 0.5
    w = np.random.default_rng(2).random((40, 3, 3, 3), dtype=np.float32)
    w[:, 1, 0, 0] = np.inf
    model = conv_model("Conv", x.shape, w, np.zeros(40, dtype=np.float32), dict(pads=[1, 1, 1, 1]))
    fast, reference = run_both(runners, model, x, tmp_path)
    (got,) = fast.outputs
    assert np.isinf(got).any() and not np.isnan(got).any()
    assert got.tobytes() == reference.outputs[0].tobytes()
    assert fast.arena_size == reference.arena_size


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
    assert report["isa"] == host_isa()  # the wider arrays were checked too
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


# ---- int8 weights: the int8 panels in every form ------------------------------------------------

def quantize(model):
    """The ModelProto with its packed weights int8 behind DequantizeLinear (convert-onnx
    --quantize int8's own function), and a Gemm's (K, N) B too, which that function leaves float
    (quantize.weight_axis): per output channel, axis 1."""
    from onnx import helper, numpy_helper

    from alog_detect.export.quantize import quantize_array, quantize_weights

    quantized, report = quantize_weights(model)
    graph = quantized.graph
    for node in list(graph.node):
        floats = {t.name: t for t in graph.initializer}
        if node.op_type == "Gemm" and node.input[1] in floats:
            init = floats[node.input[1]]
            q, scale = quantize_array(numpy_helper.to_array(init), 1)
            graph.initializer.remove(init)
            graph.initializer.extend([numpy_helper.from_array(q, "b_kn_q"), numpy_helper.from_array(scale, "b_kn_s")])
            graph.node.insert(0, helper.make_node("DequantizeLinear", ["b_kn_q", "b_kn_s"], [init.name], axis=1))
            report = None
    assert report is None or report.tensors > 0
    return quantized


def quantized_file(path: Path) -> Path:
    import onnx

    out = path.with_name(f"{path.stem}_int8.onnx")
    if not out.exists():
        onnx.save(quantize(onnx.load(str(path))), str(out))
    return out


def onnxruntime_run(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """onnxruntime without its extended graph rewrites, which turn a DequantizeLinear -> Gemm on a
    (K, N) weight into MatMulNBits, another function: ONNX's semantics are the reference here."""
    import onnxruntime as ort

    data = model.SerializeToString() if not isinstance(model, Path) else str(model)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: x for i, x in zip(session.get_inputs(), inputs)})


def dequantized(model):
    """The model with each DequantizeLinear of initializers replaced by the float tensor it makes
    ((float)q * scale, quantize.dequantize_array): the same function, in float weights."""
    import onnx
    from onnx import numpy_helper

    from alog_detect.export.quantize import dequantize_array

    model = onnx.ModelProto.FromString(model.SerializeToString())
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    kept = []
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear":
            kept.append(node)
            continue
        q, scale = inits[node.input[0]], inits[node.input[1]]
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1) if scale.ndim else 0
        w = dequantize_array(q, scale.reshape(-1), axis) if scale.ndim else (q.astype(np.float32) * scale).astype(np.float32)
        model.graph.initializer.append(numpy_helper.from_array(w, node.output[0]))
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def onnx_reference_run(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The onnx package's reference evaluator on the model in float weights: ONNX's semantics,
    every attribute (onnxruntime has no batch-major LSTM; the evaluator no DequantizeLinear
    before opset 19)."""
    from onnx.reference import ReferenceEvaluator

    names = [i.name for i in model.graph.input]
    return ReferenceEvaluator(dequantized(model)).run(None, dict(zip(names, inputs)))


@pytest.mark.parametrize("batch", [1, 3])
def test_int8_deeplog_same_bits_in_every_build(runners, deeplog, tmp_path, batch):
    """Weights converted to float in registers, (float)q * scale, then the float forms' order:
    every build and form gives the reference kernels' bits, which read the int8 weights the same
    way, and agree with onnxruntime on the quantized file."""
    model = quantized_file(deeplog)
    keys = np.random.default_rng(batch).integers(0, DEEPLOG["vocab_size"] + 1, (batch, DEEPLOG["window"]))
    results = every_build(runners, model, [keys], tmp_path, batch)
    (reference,) = results.pop("reference")
    assert np.abs(reference - onnxruntime_run(model, [keys])[0]).max() <= 1e-5
    for name, (logits,) in results.items():
        assert logits.tobytes() == reference.tobytes(), name


@pytest.mark.parametrize("batch", [1, 3])
def test_int8_mscred_same_bits_in_every_build(runners, mscred, tmp_path, batch):
    model = quantized_file(mscred)
    shape = (batch, MSCRED["steps"], MSCRED["scales"], MSCRED["n"], MSCRED["n"])
    x = np.random.default_rng(batch).random(shape, dtype=np.float32) * 4.0
    results = every_build(runners, model, [x], tmp_path, batch)
    (reference,) = results.pop("reference")
    assert np.abs(reference - onnxruntime_run(model, [x])[0]).max() <= 1e-5
    for name, (recon,) in results.items():
        assert recon.tobytes() == reference.tobytes(), name


def test_int8_panels_take_a_quarter_of_the_bytes(runners, deeplog, tmp_path):
    """The packed int8 weights (one byte per weight, a float scale per row) against the packed
    float ones: over the reference build's arena (which packs nothing, and reads the int8 weights
    in place) the fast build's grows by less than half as much (a quarter for the weights; the
    row scales and the LSTM's scratch, the same in both, weigh on a model this small)."""
    keys = np.zeros((1, DEEPLOG["window"]), dtype=np.int64)
    grown = {}
    for kind, model in (("float", deeplog), ("int8", quantized_file(deeplog))):
        fast = cbuild.run_model(runners["O2"], model, [keys], tmp_path / f"{kind}-fast")
        reference = cbuild.run_model(runners["reference"], model, [keys], tmp_path / f"{kind}-ref")
        grown[kind] = fast.arena_size - reference.arena_size
    assert 0 < grown["int8"] < grown["float"] / 2


@pytest.mark.parametrize("name", weight_cases())
def test_node_case_with_int8_weights(runners, tmp_path, name):
    """The node cases of the packed operators with their weights quantized: the int8 panels on
    every attribute (bidirectional and batch-major LSTMs, groups, strides, transposed Gemm...)
    give the reference kernels' bits, and agree with the onnx reference evaluator on the
    quantized model."""
    import onnx

    case = node_cases()[name]
    for k, (inputs, _) in enumerate(case.data_sets):
        model, engine_inputs = constant_weights(case.model, list(inputs))
        model = quantize(model)
        path = tmp_path / f"{k}.onnx"
        onnx.save(model, str(path))
        fast = cbuild.run_model(runners["O2"], path, engine_inputs, tmp_path / f"fast{k}")
        baseline = cbuild.run_model(runners["O2"], path, engine_inputs, tmp_path / f"base{k}", isa="baseline")
        reference = cbuild.run_model(runners["reference"], path, engine_inputs, tmp_path / f"ref{k}")
        assert fast.returncode == 0 and reference.returncode == 0, fast.stderr + reference.stderr
        expected = onnx_reference_run(model, engine_inputs)
        for e, f, b, r in zip(expected, fast.outputs, baseline.outputs, reference.outputs):
            np.testing.assert_allclose(f, e, rtol=1e-5, atol=1e-6)
            assert f.tobytes() == r.tobytes() and b.tobytes() == r.tobytes()


def dequantized_conv(axis: int | None, extra_reader: bool = False):
    """A Conv whose W (40, 3, 3, 3) is a DequantizeLinear of int8: per tensor (axis None), or
    per slice of `axis`; with extra_reader, W is also added to a constant (an Add reads the
    float tensor, so it must be made)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    q = rng.integers(-127, 128, (40, 3, 3, 3)).astype(np.int8)
    scale = np.float32(0.01) if axis is None else (rng.random(q.shape[axis]) * 0.02 + 0.001).astype(np.float32)
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_s"], ["w"], **({} if axis is None else {"axis": axis})),
             helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    inits = [numpy_helper.from_array(q, "w_q"), numpy_helper.from_array(scale, "w_s"),
             numpy_helper.from_array(rng.standard_normal(40).astype(np.float32), "b")]
    if extra_reader:
        nodes.append(helper.make_node("Add", ["w", "one"], ["w_plus_one"]))
        outputs.append(helper.make_tensor_value_info("w_plus_one", TensorProto.FLOAT, None))
        inits.append(numpy_helper.from_array(np.ones(1, np.float32), "one"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 8])],
                              outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_dequantized_weights_of_any_layout(runners, tmp_path):
    """Scales per tensor or per output channel pack as int8; per input channel (a scale that
    changes along a row) packs the same floats as float panels; a W that another operator reads
    as a float tensor is made by DequantizeLinear at each run. All: the reference's bits and
    onnxruntime's values."""
    x = np.random.default_rng(1).standard_normal((1, 3, 9, 8)).astype(np.float32)
    arenas = {}
    for case, axis in (("per_tensor", None), ("per_output_channel", 0), ("per_input_channel", 1),
                       ("read_as_float_too", 0)):
        model = dequantized_conv(axis, extra_reader=case == "read_as_float_too")
        fast, reference = run_both(runners, model, x, tmp_path / case)
        expected = onnxruntime_run(model, [x])
        assert len(fast.outputs) == len(expected)
        for e, f, r in zip(expected, fast.outputs, reference.outputs):
            np.testing.assert_allclose(f, e, rtol=1e-5, atol=1e-5)
            assert f.tobytes() == r.tobytes()
        # the same model in float weights: panels of 4 bytes a weight
        as_float, _ = run_both(runners, dequantized(model), x, tmp_path / f"{case}-float")
        arenas[case] = (fast.arena_size, as_float.arena_size)
    # int8 panels: a byte a weight and a float scale a row, two 32-row panels of 27 columns here;
    # the int8 model's metadata (two initializers and a node more) is the slack
    metadata = 256
    for case in ("per_tensor", "per_output_channel"):
        int8, plain = arenas[case]
        assert abs((plain - int8) - (4 * 64 * 27 - (64 * 27 + 4 * 64))) <= metadata, case
    int8, plain = arenas["per_input_channel"]
    assert 0 <= int8 - plain <= metadata  # float panels of the dequantized weights
    # the Add reads the float W: DequantizeLinear makes it (40 x 27 floats) beside the panels
    made = arenas["read_as_float_too"][0] - arenas["per_output_channel"][0]
    assert 4 * 40 * 27 <= made <= 2 * 4 * 40 * 27 + metadata
