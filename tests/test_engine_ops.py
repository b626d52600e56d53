"""Every operator the engine implements against the ONNX backend node test cases shipped with the
installed onnx package: each case whose operators are all in supported_ops.json either passes at
the case's own rtol/atol, or is listed in tests/data/engine_node_tests_unsupported.json with a
reason and must then fail to load with a clean error."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

import cbuild

pytestmark = pytest.mark.skipif(cbuild.compiler() is None, reason="no C compiler (cc) on PATH")

SUPPORTED_OPS = Path(cbuild.REPO / "python" / "alog_detect" / "data" / "supported_ops.json")
UNSUPPORTED_CASES = Path(__file__).parent / "data" / "engine_node_tests_unsupported.json"

# Inputs the engine needs as constants, since it resolves every shape at load time. The node tests
# feed them as graph inputs; the test folds the case's values into initializers (same numbers).
LOAD_TIME_INPUTS = {"Reshape": {1}, "Slice": {1, 2, 3, 4}, "Squeeze": {1}, "Unsqueeze": {1},
                    "Split": {1}, "ReduceSum": {1},
                    # the engine dequantizes weights only: its inputs are initializers
                    "DequantizeLinear": {0, 1, 2}}


def supported_ops() -> set[str]:
    return set(json.loads(SUPPORTED_OPS.read_text())["ops"])


def unsupported_cases() -> dict[str, str]:
    return json.loads(UNSUPPORTED_CASES.read_text())["cases"]


@functools.cache
def node_cases() -> dict[str, object]:
    """The onnx package's node test cases that use only operators the engine implements."""
    import warnings

    from onnx.backend.test.case.node import collect_testcases

    ops = supported_ops()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    return {case.name: case for case in cases
            if case.model is not None and all(n.op_type in ops for n in case.model.graph.node)}


def fold_load_time_inputs(model, inputs: list[np.ndarray]):
    """The model with its shape-like graph inputs turned into initializers; the other inputs."""
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph_inputs = [i.name for i in model.graph.input
                    if i.name not in {t.name for t in model.graph.initializer}]
    values = dict(zip(graph_inputs, inputs))
    folded = {node.input[i] for node in model.graph.node
              for i in LOAD_TIME_INPUTS.get(node.op_type, ()) if i < len(node.input) and node.input[i] in values}
    for name in sorted(folded):
        value = values[name]
        if isinstance(value, onnx.TensorProto):  # types numpy lacks (int4, ...) come as tensors
            tensor = onnx.TensorProto.FromString(value.SerializeToString())
            tensor.name = name
        else:
            tensor = numpy_helper.from_array(value, name)
        model.graph.initializer.append(tensor)
    kept = [i for i in model.graph.input if i.name not in folded]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    return model, [values[name] for name in graph_inputs if name not in folded]


@pytest.fixture(scope="module")
def runner() -> Path:
    return cbuild.build_tool("onnx_runner")


def test_every_supported_op_has_node_cases():
    covered = {n.op_type for case in node_cases().values() for n in case.model.graph.node}
    assert covered == supported_ops()


def test_unsupported_list_names_real_cases_with_reasons():
    cases = node_cases()
    for name, reason in unsupported_cases().items():
        assert name in cases, f"{name} is not a node test case of a supported operator"
        assert len(reason) > 10


@pytest.mark.parametrize("name", sorted(node_cases()))
def test_node_case(runner, tmp_path, name):
    import onnx

    case = node_cases()[name]
    reason = unsupported_cases().get(name)
    for k, (inputs, outputs) in enumerate(case.data_sets):
        model, engine_inputs = fold_load_time_inputs(case.model, list(inputs))
        path = tmp_path / f"{k}.onnx"
        onnx.save(model, str(path))
        got = cbuild.run_model(runner, path, engine_inputs, tmp_path / str(k))
        if reason is not None:
            assert got.returncode == cbuild.EXIT_LOAD_ERROR, f"listed as unsupported ({reason}) but ran"
            assert got.stderr.startswith("onnx_runner: unsupported"), got.stderr
            continue
        assert got.returncode == 0, got.stderr
        assert len(got.outputs) == len(outputs)
        for expected, actual in zip(outputs, got.outputs):
            assert actual.shape == expected.shape and actual.dtype == expected.dtype
            np.testing.assert_allclose(actual, expected, rtol=case.rtol, atol=case.atol)


def test_lstm_peepholes_without_sequence_lens(runner, tmp_path):
    """The onnx peephole case also feeds an int32 sequence_lens (refused above); its lengths are
    the full sequence, so the same case without them must give the same outputs."""
    import onnx

    case = node_cases()["test_lstm_with_peepholes"]
    (inputs, outputs), = case.data_sets
    assert list(inputs[4]) == [inputs[0].shape[0]] * inputs[0].shape[1]
    model = onnx.ModelProto.FromString(case.model.SerializeToString())
    model.graph.node[0].input[4] = ""
    kept = [i for i in model.graph.input if i.name != "sequence_lens"]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    path = tmp_path / "peepholes.onnx"
    onnx.save(model, str(path))
    got = cbuild.run_model(runner, path, [x for k, x in enumerate(inputs) if k != 4], tmp_path / "out")
    assert got.returncode == 0, got.stderr
    np.testing.assert_allclose(got.outputs[0], outputs[0], rtol=case.rtol, atol=case.atol)
