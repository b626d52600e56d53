"""The fast forms on the Arm targets, under qemu-user: float and int8 weights, every form each
target has (arm64's NEON forms, `--isa baseline` the portable ones; armv7 with and without NEON),
give the host reference kernels' bits, and the elementary functions the host's.

Only bits are compared here: timings under qemu mean nothing. The programs are the targets' own
onnx_runner, onnx_runner_reference and math_check (`scons target=<t> tools`, zig cc).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import cbuild
from test_engine_kernels import CONV_CASES, conv_model, quantize
from test_engine_models import DEEPLOG, MSCRED, export

# name: (scons words, build directory, qemu): armv7-a-neon builds into its CPU's own directory.
TARGETS = {
    "arm64": (("target=arm64",), "arm64", "qemu-aarch64"),
    "armv7": (("target=armv7",), "armv7", "qemu-arm"),
    "armv7-neon": (("target=armv7", "cpu=armv7-a-neon"), "armv7-armv7-a-neon", "qemu-arm"),
}
TOOLS = ("onnx_runner", "onnx_runner_reference", "math_check")

pytestmark = pytest.mark.skipif(cbuild.compiler() is None, reason="no C compiler (cc) on PATH")


@pytest.fixture(scope="module", params=sorted(TARGETS))
def target(request, tmp_path_factory) -> dict[str, Path]:
    """The target's tools, each wrapped in a script that runs it under its qemu (run_model takes a
    program)."""
    words, folder, qemu = TARGETS[request.param]
    if shutil.which(qemu) is None:
        pytest.fail(f"{qemu} is not installed (./setup.sh installs qemu-user)")
    cbuild.scons_targets(*words, *(f"build/{folder}/tools/{tool}" for tool in TOOLS))
    wrappers = {}
    out = tmp_path_factory.mktemp(request.param)
    for tool in TOOLS:
        wrapper = out / tool
        wrapper.write_text(f'#!/bin/sh\nexec {shutil.which(qemu)} "{cbuild.BUILD / folder / "tools" / tool}" "$@"\n')
        wrapper.chmod(0o755)
        wrappers[tool] = wrapper
    wrappers["name"] = request.param
    return wrappers


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray, int]]:
    """name -> (model, input, batch): DeepLog and MSCRED (the tests' small ones and one with the
    default channels), float and int8, at batch 1 and 3; two convolutions with groups and strides."""
    import onnx
    import torch

    from alog_detect.models import MSCRED as MSCREDNet, DeepLog, DeepLogConfig, MSCREDConfig

    out = tmp_path_factory.mktemp("cross_models")
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    floats = {
        "deeplog": export(DeepLog(DeepLogConfig(**DEEPLOG)), torch.zeros(1, DEEPLOG["window"], dtype=torch.long),
                          out / "deeplog.onnx", "keys", "logits"),
        "mscred": export(MSCREDNet(MSCREDConfig(**MSCRED)), torch.zeros(1, MSCRED["steps"], MSCRED["scales"],
                                                                       MSCRED["n"], MSCRED["n"]),
                         out / "mscred.onnx", "x", "recon"),
        "mscred_default": export(MSCREDNet(MSCREDConfig(n=8, scales=3, steps=2)), torch.zeros(1, 2, 3, 8, 8),
                                 out / "mscred_default.onnx", "x", "recon"),
    }
    cases = {}
    for name, path in floats.items():
        for weights in ("float", "int8"):
            model = path if weights == "float" else out / f"{name}_int8.onnx"
            if weights == "int8":
                onnx.save(quantize(onnx.load(str(path))), str(model))
            for batch in (1, 3):
                if name == "deeplog":
                    x = rng.integers(0, DEEPLOG["vocab_size"] + 1, (batch, DEEPLOG["window"]))
                else:
                    steps, n = (MSCRED["steps"], MSCRED["n"]) if name == "mscred" else (2, 8)
                    x = rng.random((batch, steps, 3, n, n), dtype=np.float32) * 4.0
                cases[f"{name}_{weights}_b{batch}"] = (model, x, batch)
    for name in ("conv2d_groups_dilation_bias", "convtranspose2d_groups_dilation_bias"):
        op, x_shape, w_shape, attrs = CONV_CASES[name]
        w = rng.standard_normal(w_shape, dtype=np.float32)
        bias = rng.standard_normal(w_shape[0] if op == "Conv" else w_shape[1] * attrs.get("group", 1),
                                   dtype=np.float32)
        model = conv_model(op, x_shape, w, bias, attrs)
        x = rng.standard_normal(x_shape, dtype=np.float32)
        for weights in ("float", "int8"):
            path = out / f"{name}_{weights}.onnx"
            onnx.save(model if weights == "float" else quantize(model), str(path))
            cases[f"{name}_{weights}"] = (path, x, x_shape[0])
    return cases


@pytest.fixture(scope="module")
def host_bits(models, tmp_path_factory) -> dict[str, list[np.ndarray]]:
    """The host's reference kernels on every case: the bits every target must give."""
    reference = cbuild.build_tool("onnx_runner_reference")
    out = tmp_path_factory.mktemp("host")
    results = {}
    for name, (model, x, batch) in models.items():
        run = cbuild.run_model(reference, model, [x], out / name, batch=batch)
        assert run.returncode == 0, run.stderr
        results[name] = run.outputs
    return results


def test_fast_forms_give_the_host_reference_bits(target, models, host_bits, tmp_path):
    """Every case on the target: its fast build as it picks its forms (arm64: NEON), held to the
    portable forms (`--isa baseline`), and its reference build, bit for bit the host's reference."""
    runs = 0
    for name, (model, x, batch) in models.items():
        for tool, isa in (("onnx_runner", "auto"), ("onnx_runner", "baseline"), ("onnx_runner_reference", "auto")):
            run = cbuild.run_model(target[tool], model, [x], tmp_path / f"{name}-{tool}-{isa}", batch=batch, isa=isa)
            assert run.returncode == 0, f"{name} {tool} {isa}: {run.stderr}"
            if tool == "onnx_runner":
                # alog.h: ALOG_ISA_NEON (4) on arm64 unless held back; armv7 has only the portable forms
                assert run.isa == (4 if target["name"] == "arm64" and isa == "auto" else 0), name
            for got, want in zip(run.outputs, host_bits[name], strict=True):
                assert got.tobytes() == want.tobytes(), f"{target['name']}: {name} {tool} --isa {isa}"
            runs += 1
    assert runs == 3 * len(models)


def test_elementary_functions_give_the_host_bits(target, tmp_path):
    """math_check over a sweep of float bit patterns on the target (its array forms against its
    scalar functions), and the scalar results against the host's."""
    host = cbuild.build(tmp_path, "math_check", [cbuild.ENGINE / "src" / "math" / "alog_math.c",
                                                 cbuild.ENGINE / "src" / "isa.c",
                                                 cbuild.ENGINE / "tests" / "drivers" / "math_check.c"])
    for function in ("exp", "tanh", "sigmoid"):
        files = {}
        for side, program in (("host", host), ("target", target["math_check"])):
            files[side] = tmp_path / f"{function}-{side}.bin"
            proc = subprocess.run([str(program), function, "262147", str(files[side])], capture_output=True,
                                  text=True, timeout=600)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert '"mismatches": 0' in proc.stdout
        assert files["target"].read_bytes() == files["host"].read_bytes(), f"{target['name']}: {function}"
