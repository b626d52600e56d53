"""The C engine on whole exported models: DeepLog and MSCRED against onnxruntime (batch 1 and 3,
plain and ASan+UBSan builds), arena sizing, and clean failures on truncated, corrupted and
unsupported models."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import cbuild

pytestmark = pytest.mark.skipif(cbuild.compiler() is None, reason="no C compiler (cc) on PATH")

DEEPLOG = dict(vocab_size=20, window=10, embed_dim=8, hidden=16, layers=2, top_k=5)
MSCRED = dict(n=8, scales=3, steps=5, channels=(4, 6, 8, 10))
MAX_ABS_DIFF = 1e-5


# ---- models ---------------------------------------------------------------------------------

def export(module, example, path: Path, input_name: str, output_name: str) -> Path:
    """The pipeline's export recipe: legacy exporter, opset 17, dynamic batch, then onnxsim."""
    import onnx
    import onnxsim
    import torch

    torch.onnx.export(module.eval(), (example,), str(path), input_names=[input_name],
                      output_names=[output_name], opset_version=17, dynamo=False,
                      dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}})
    simplified, ok = onnxsim.simplify(onnx.load(str(path)))
    assert ok
    onnx.save(simplified, str(path))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    import torch

    from alog_detect.models import MSCRED as MSCREDNet, DeepLog, DeepLogConfig, MSCREDConfig

    out = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    deeplog = DeepLog(DeepLogConfig(**DEEPLOG))
    mscred = MSCREDNet(MSCREDConfig(**MSCRED))
    keys = torch.zeros(1, DEEPLOG["window"], dtype=torch.long)
    matrices = torch.zeros(1, MSCRED["steps"], MSCRED["scales"], MSCRED["n"], MSCRED["n"])
    return {"deeplog": export(deeplog, keys, out / "deeplog.onnx", "keys", "logits"),
            "mscred": export(mscred, matrices, out / "mscred.onnx", "x", "recon")}


@pytest.fixture(scope="module", params=["plain", "asan+ubsan"])
def runner(request) -> Path:
    return cbuild.build_tool("onnx_runner", san=request.param != "plain")


def random_input(name: str, batch: int, rng: np.random.Generator) -> np.ndarray:
    if name == "deeplog":  # keys 0..V, V being PAD
        return rng.integers(0, DEEPLOG["vocab_size"] + 1, (batch, DEEPLOG["window"]), dtype=np.int64)
    shape = (batch, MSCRED["steps"], MSCRED["scales"], MSCRED["n"], MSCRED["n"])
    return rng.random(shape, dtype=np.float32) * 4.0  # counts-like, non-negative


def onnxruntime_outputs(model: Path, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


# ---- engine vs onnxruntime ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["deeplog", "mscred"])
@pytest.mark.parametrize("batch", [1, 3])
def test_engine_matches_onnxruntime(models, runner, tmp_path, name, batch):
    rng = np.random.default_rng(batch)
    x = random_input(name, batch, rng)
    expected = onnxruntime_outputs(models[name], x)
    # two runs on inputs set once: the second must still see them
    got = cbuild.run_model(runner, models[name], [x], tmp_path, batch=batch, repeat=2)
    assert got.returncode == 0, got.stderr
    assert len(got.outputs) == len(expected)
    for e, g in zip(expected, got.outputs):
        assert g.shape == e.shape and g.dtype == e.dtype
        assert np.abs(g - e).max() <= MAX_ABS_DIFF
    assert got.arena_size > 0


def test_deeplog_top_k_sets_match(models, runner, tmp_path):
    rng = np.random.default_rng(7)
    k = DEEPLOG["top_k"]
    for trial in range(8):
        x = random_input("deeplog", 3, rng)
        (expected,) = onnxruntime_outputs(models["deeplog"], x)
        (got,) = cbuild.run_model(runner, models["deeplog"], [x], tmp_path / str(trial), batch=3).outputs
        for row_e, row_g in zip(expected, got):
            assert set(np.argsort(-row_e)[:k]) == set(np.argsort(-row_g)[:k])


def test_fast_kernels_equal_reference_kernels(models, tmp_path):
    """The fast paths (the LSTM's blocked mat-vec) give the reference kernels' exact bits."""
    reference = cbuild.build_tool("onnx_runner_reference")
    fast = cbuild.build_tool("onnx_runner")
    x = random_input("deeplog", 3, np.random.default_rng(11))
    (a,) = cbuild.run_model(reference, models["deeplog"], [x], tmp_path / "ref", batch=3).outputs
    (b,) = cbuild.run_model(fast, models["deeplog"], [x], tmp_path / "fast", batch=3).outputs
    assert a.tobytes() == b.tobytes()


def test_arena_grows_with_batch(models, runner, tmp_path):
    x1, x3 = (random_input("mscred", b, np.random.default_rng(0)) for b in (1, 3))
    one = cbuild.run_model(runner, models["mscred"], [x1], tmp_path / "1", batch=1)
    three = cbuild.run_model(runner, models["mscred"], [x3], tmp_path / "3", batch=3)
    assert 0 < one.arena_size < three.arena_size


def chain_model(path: Path, n: int) -> Path:
    """x (1, n) -> Relu -> Sigmoid -> Add(., x) -> Reshape (n/16, 16) -> Tanh: every activation
    dies where the next is made, so each node may write over its input (plan.c, in place)."""
    import onnx
    from onnx import TensorProto, helper

    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [n // 16, 16])
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sigmoid", ["a"], ["b"]),
             helper.make_node("Add", ["b", "x"], ["c"]), helper.make_node("Reshape", ["c", "shape"], ["d"]),
             helper.make_node("Tanh", ["d"], ["y"])]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n // 16, 16])], [shape])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_element_wise_chain_runs_in_place(runner, tmp_path):
    """Four activations in a row, one buffer: the arena grows with n by the input's bytes and one
    buffer's (three tensors without in place: the input, and each node's input and output), and
    the values are onnxruntime's."""
    import onnxruntime as ort

    runs = {}
    for n in (1024, 2048):
        model = chain_model(tmp_path / f"chain{n}.onnx", n)
        x = np.random.default_rng(n).standard_normal((1, n)).astype(np.float32)
        runs[n] = cbuild.run_model(runner, model, [x], tmp_path / str(n))
        assert runs[n].returncode == 0, runs[n].stderr
        (want,) = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})
        np.testing.assert_allclose(runs[n].outputs[0], want, rtol=1e-6, atol=1e-6)
    assert runs[2048].arena_size - runs[1024].arena_size == 2 * 1024 * 4


def test_wrong_input_size_is_refused(models, runner, tmp_path):
    x = random_input("deeplog", 3, np.random.default_rng(0))
    got = cbuild.run_model(runner, models["deeplog"], [x], tmp_path, batch=1)
    assert got.returncode == 2 and "invalid argument" in got.stderr


def test_out_of_range_key_is_a_run_error(models, runner, tmp_path):
    x = np.full((1, DEEPLOG["window"]), DEEPLOG["vocab_size"] + 5, dtype=np.int64)
    got = cbuild.run_model(runner, models["deeplog"], [x], tmp_path)
    assert got.returncode == 3 and "Gather" in got.stderr and "out of range" in got.stderr


# ---- arena size: exactly what alog_model_open needs, at any address ---------------------------

def arena_check(paths: list[Path], *, san: bool, batch: int = 1, alignments: int = 32) -> list[dict]:
    """cengine/tests/drivers/arena_check: one report per model; the contract held for every model
    that loads (else the test fails here with the driver's reason)."""
    checker = cbuild.build_tool("arena_check", san=san)
    proc = subprocess.run([str(checker), "--batch", str(batch), "--alignments", str(alignments),
                           *map(str, paths)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    reports = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [Path(r["model"]) for r in reports] == list(paths)
    return reports


@pytest.fixture(scope="module")
def default_mscred(tmp_path_factory) -> Path:
    """MSCRED with its default channels (the small fixture's are 4..10): planning peaks higher."""
    import torch

    from alog_detect.models import MSCRED as MSCREDNet, MSCREDConfig

    torch.manual_seed(0)
    config = MSCREDConfig(n=MSCRED["n"], scales=MSCRED["scales"], steps=MSCRED["steps"])
    assert config.channels != MSCRED["channels"]
    x = torch.zeros(1, config.steps, config.scales, config.n, config.n)
    return export(MSCREDNet(config), x, tmp_path_factory.mktemp("default") / "mscred.onnx", "x", "recon")


@pytest.mark.parametrize("san", [False, True], ids=["plain", "asan+ubsan"])
@pytest.mark.parametrize("batch", [1, 3])
def test_reported_arena_size_is_exact_at_every_address(models, default_mscred, san, batch):
    """At every start address modulo ALOG_ARENA_ALIGN: the reported size opens and runs (under
    ASan with the bytes around the arena poisoned), one byte less is ALOG_ERR_ARENA_TOO_SMALL.
    The default-channel MSCRED takes seconds per run under ASan: four addresses there."""
    small = arena_check([models["deeplog"], models["mscred"]], san=san, batch=batch)
    large = arena_check([default_mscred], san=san, batch=batch, alignments=4 if san else 32)
    for report in small + large:
        assert report["status"] == "ok"
        assert report["runs_ok"] == report["alignments"]
    assert [r["alignments"] for r in small + large] == [32, 32, 4 if san else 32]
    assert large[0]["arena_size"] > small[1]["arena_size"]


def test_reported_arena_size_is_exact_for_every_node_test_model(tmp_path):
    """The onnx node test models the engine loads, under ASan: the same contract, model by model;
    the ones listed as unsupported still fail to load with their clean status."""
    import onnx

    from test_engine_ops import fold_load_time_inputs, node_cases, unsupported_cases

    cases, unsupported = node_cases(), unsupported_cases()
    paths = []
    for name in sorted(cases):
        (inputs, _), *_ = cases[name].data_sets
        model, _ = fold_load_time_inputs(cases[name].model, list(inputs))
        paths.append(tmp_path / f"{name}.onnx")
        onnx.save(model, str(paths[-1]))
    reports = arena_check(paths, san=True, alignments=8)
    loaded = {Path(r["model"]).stem for r in reports if r["status"] == "ok"}
    assert loaded == set(cases) - set(unsupported)
    for report in reports:
        if report["status"] == "ok":
            assert report["alignments"] == 8 and report["arena_size"] > 0


# ---- bad models -----------------------------------------------------------------------------

def test_unsupported_operator_fails_to_load(runner, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Erf", ["x"], ["y"], name="erf0")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "erf.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    got = cbuild.run_model(runner, path, [np.zeros(2, np.float32)], tmp_path / "out")
    assert got.returncode == cbuild.EXIT_LOAD_ERROR
    assert "unsupported operator" in got.stderr and "'Erf'" in got.stderr


def test_custom_domain_fails_to_load(runner, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], domain="com.example")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "custom.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    onnx.save(model, str(path))
    got = cbuild.run_model(runner, path, [np.zeros(2, np.float32)], tmp_path / "out")
    assert got.returncode == cbuild.EXIT_LOAD_ERROR and "com.example" in got.stderr


@pytest.mark.parametrize("case", ["concat", "convtranspose_group"])
def test_sizes_that_overflow_fail_to_load(runner, tmp_path, case):
    """Shapes whose arithmetic would overflow int64 (zero-size inputs may have any other dims; a
    group is any positive number) are shape errors, not undefined behaviour (UBSan watches)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    huge = 2 ** 62
    if case == "concat":
        node = helper.make_node("Concat", ["a", "b"], ["y"], axis=1)
        inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [0, huge]) for n in "ab"]
        init, feeds = [], [np.zeros((0, 0), np.float32)] * 2
    else:
        node = helper.make_node("ConvTranspose", ["a", "w"], ["y"], group=huge)  # W: (C, M / group, k...)
        inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 8, 2, 2])]
        init, feeds = [numpy_helper.from_array(np.ones((8, 4, 1, 1), np.float32), "w")], [np.zeros((1, 8, 2, 2), np.float32)]
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], init)
    path = tmp_path / f"{case}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    got = cbuild.run_model(runner, path, feeds, tmp_path / "out")
    assert got.returncode == cbuild.EXIT_LOAD_ERROR, got.stderr
    assert "shape" in got.stderr and "runtime error" not in got.stderr


# ---- int8 weights (convert-onnx --quantize int8) ---------------------------------------------

def quantize_file(path: Path, out: Path) -> Path:
    """The model at `path` with its weights quantized as convert-onnx --quantize int8 does."""
    import onnx

    from alog_detect.export.quantize import quantize_weights

    model, report = quantize_weights(onnx.load(str(path)))
    assert report.tensors > 0 and report.int8_bytes < report.float_bytes / 3
    onnx.save(model, str(out))
    return out


@pytest.fixture(scope="module")
def quantized(models, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("int8")
    return {name: quantize_file(path, out / f"{name}.onnx") for name, path in models.items()}


@pytest.mark.parametrize("name", ["deeplog", "mscred"])
@pytest.mark.parametrize("batch", [1, 3])
def test_int8_engine_matches_onnxruntime(quantized, runner, tmp_path, name, batch):
    """onnxruntime runs the quantized file as it is; the engine keeps its int8 weights and must
    agree with it as closely as on a float model."""
    x = random_input(name, batch, np.random.default_rng(batch))
    expected = onnxruntime_outputs(quantized[name], x)
    got = cbuild.run_model(runner, quantized[name], [x], tmp_path, batch=batch, repeat=2)
    assert got.returncode == 0, got.stderr
    for e, g in zip(expected, got.outputs):
        assert g.shape == e.shape and np.abs(g - e).max() <= MAX_ABS_DIFF


def test_int8_arena_is_smaller(models, quantized, tmp_path):
    """The packed weights are int8 (and the float tensors DequantizeLinear stands for are never
    made): the int8 model needs far less arena than the float one."""
    for name in ("deeplog", "mscred"):
        x = random_input(name, 1, np.random.default_rng(0))
        runner = cbuild.build_tool("onnx_runner")
        plain = cbuild.run_model(runner, models[name], [x], tmp_path / f"{name}-f")
        int8 = cbuild.run_model(runner, quantized[name], [x], tmp_path / f"{name}-q")
        assert int8.returncode == 0 and int8.arena_size < plain.arena_size, name


def quantized_gemm(path: Path, scale, q=None, zero_point=None, axis: int = 0, raw: bytes | None = None) -> Path:
    """y = x @ DequantizeLinear(q, scale[, zero_point])^T (Gemm transB): a (3, 4) int8 weight."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    q = np.arange(-6, 6, dtype=np.int8).reshape(3, 4) if q is None else q
    weight = numpy_helper.from_array(q, "w_q")
    if raw is not None:
        weight.raw_data = raw
    inits = [weight, numpy_helper.from_array(np.asarray(scale, np.float32), "w_s")]
    inputs = ["w_q", "w_s"]
    if zero_point is not None:
        inits.append(numpy_helper.from_array(np.asarray(zero_point, np.int8), "w_z"))
        inputs.append("w_z")
    nodes = [helper.make_node("DequantizeLinear", inputs, ["w"], name="dq", axis=axis),
             helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_int8_gemm_runs_per_tensor_and_per_axis(runner, tmp_path):
    import onnxruntime as ort

    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    for name, kwargs in {"per_axis": dict(scale=[0.5, 0.25, 2.0]), "per_tensor": dict(scale=0.125),
                         "zero_points": dict(scale=[0.5, 0.25, 2.0], zero_point=[0, 0, 0])}.items():
        path = quantized_gemm(tmp_path / f"{name}.onnx", **kwargs)
        (expected,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
        got = cbuild.run_model(runner, path, [x], tmp_path / name)
        assert got.returncode == 0, got.stderr
        np.testing.assert_allclose(got.outputs[0], expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case, message", [
    ("zero_scale", "scale 1 is not a finite number > 0"),
    ("negative_scale", "scale 2 is not a finite number > 0"),
    ("nan_scale", "scale 0 is not a finite number > 0"),
    ("infinite_scale", "scale 0 is not a finite number > 0"),
    ("scales_too_few", "the scale has 2 values, the quantized axis 3"),
    ("scales_too_many", "the scale has 4 values, the quantized axis 3"),
    ("int8_bytes_short", "initializer 'w_q' cannot be read: malformed model"),
    ("int8_bytes_long", "initializer 'w_q' cannot be read: malformed model"),
    ("nonzero_zero_point", "zero point 1 is not 0"),
])
def test_bad_int8_weights_fail_to_load(runner, tmp_path, case, message):
    """A quantized model whose scales are zero, negative, NaN, infinite or of the wrong length,
    whose int8 bytes do not fill its shape, or with a zero point (asymmetric quantization, which
    the engine does not implement): refused at load with a status and a reason, under ASan too."""
    kwargs = {
        "zero_scale": dict(scale=[0.5, 0.0, 2.0]),
        "negative_scale": dict(scale=[0.5, 0.25, -2.0]),
        "nan_scale": dict(scale=[np.nan, 0.25, 2.0]),
        "infinite_scale": dict(scale=[np.inf, 0.25, 2.0]),
        "scales_too_few": dict(scale=[0.5, 0.25]),
        "scales_too_many": dict(scale=[0.5, 0.25, 2.0, 1.0]),
        "int8_bytes_short": dict(scale=[0.5, 0.25, 2.0], raw=bytes(11)),
        "int8_bytes_long": dict(scale=[0.5, 0.25, 2.0], raw=bytes(13)),
        "nonzero_zero_point": dict(scale=[0.5, 0.25, 2.0], zero_point=[0, 3, 0]),
    }[case]
    path = quantized_gemm(tmp_path / f"{case}.onnx", **kwargs)
    got = cbuild.run_model(runner, path, [np.zeros((2, 4), np.float32)], tmp_path / "out")
    assert got.returncode == cbuild.EXIT_LOAD_ERROR, got.stderr
    assert message in got.stderr and "runtime error" not in got.stderr
    assert len(got.stderr.splitlines()) == 1


def test_garbage_fails_to_load(runner, tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(bytes(range(256)) * 8)
    got = cbuild.run_model(runner, path, [], tmp_path / "out")
    assert got.returncode == cbuild.EXIT_LOAD_ERROR and "malformed model" in got.stderr


@pytest.fixture(scope="module")
def mutate() -> Path:
    return cbuild.build_tool("mutate_model", san=True)


@pytest.mark.parametrize("weights", ["float", "int8"])
def test_every_prefix_and_bit_flip_fails_cleanly(models, quantized, mutate, tmp_path, weights):
    """Under ASan + UBSan: no prefix of a valid model loads (its metadata_props stripped, so
    that no prefix ends on a complete message), and random bit flips never crash: a float model,
    and one with int8 weights behind DequantizeLinear (scales and int8 bytes flipped too)."""
    import onnx

    model = onnx.load(str((models if weights == "float" else quantized)["deeplog"]))
    del model.metadata_props[:]
    path = tmp_path / "deeplog.onnx"
    onnx.save(model, str(path))
    proc = subprocess.run([str(mutate), str(path), "3000", "1"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["full"] == "ok"
    assert report["prefixes"] == path.stat().st_size and report["prefixes_ok"] == 0
    assert report["flips"] == 3000


@pytest.mark.skipif(cbuild.compiler("clang") is None, reason="libFuzzer needs clang")
def test_fuzz_model_smoke(models, tmp_path):
    """A short libFuzzer run of the model reader seeded with a real model: no crash, no report."""
    import onnx

    fuzzer = cbuild.build_fuzzer("fuzz_model")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    model = onnx.load(str(models["deeplog"]))
    del model.metadata_props[:]
    (corpus / "deeplog.onnx").write_bytes(model.SerializeToString())
    # In tmp_path: libFuzzer writes what it finds (crash-*) into the working directory.
    proc = subprocess.run([str(fuzzer), "-runs=3000", "-max_len=65536", "-seed=1", str(corpus)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 3000 runs" in proc.stderr


@pytest.mark.skipif(cbuild.compiler("clang") is None, reason="libFuzzer needs clang")
def test_fuzz_model_regressions(tmp_path):
    """Every input a fuzzing run once crashed on (cengine/fuzz/regressions/model/) now loads or
    fails cleanly under ASan + UBSan."""
    fuzzer = cbuild.build_fuzzer("fuzz_model")
    inputs = sorted((cbuild.FUZZ_DIR / "regressions" / "model").iterdir())
    assert inputs
    proc = subprocess.run([str(fuzzer), *map(str, inputs)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Executed {inputs[-1]}" in proc.stderr


SEEDS = cbuild.FUZZ_DIR / "seeds" / "model"


def test_int8_fuzz_seeds_load_or_fail_cleanly(runner, tmp_path):
    """cengine/fuzz/seeds/model/ (python -m alog_detect.bench.fuzz --write-seeds): the quantized
    tiny models load and run; each broken one is refused at load with one line, under ASan too."""
    from alog_detect.bench.fuzz import BROKEN_INT8

    seeds = sorted(SEEDS.glob("*.onnx"))
    broken = [p for p in seeds if any(p.stem.endswith(how) for how in BROKEN_INT8)]
    assert len(broken) == len(BROKEN_INT8) and len(seeds) > len(broken)
    for path in seeds:
        got = cbuild.run_model(runner, path, [], tmp_path / path.stem)
        if path in broken:
            assert got.returncode == cbuild.EXIT_LOAD_ERROR, path.name
            assert len(got.stderr.splitlines()) == 1
            assert "DequantizeLinear" in got.stderr or "initializer" in got.stderr
        else:  # loads; zero inputs given, so onnx_runner stops at the inputs
            assert got.returncode == 2 and "inputs, 0 given" in got.stderr, path.name


@pytest.mark.skipif(cbuild.compiler("clang") is None, reason="libFuzzer needs clang")
def test_fuzz_model_runs_the_int8_seeds(tmp_path):
    """The model fuzzer on every int8 seed (good ones load and run on zeros): no crash, no report."""
    fuzzer = cbuild.build_fuzzer("fuzz_model")
    inputs = sorted(SEEDS.glob("*.onnx"))
    proc = subprocess.run([str(fuzzer), *map(str, inputs)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Executed {inputs[-1]}" in proc.stderr
