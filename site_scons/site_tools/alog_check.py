"""`scons check`: run the engine's programs through the target's runner ($ALOG_RUNNER: nothing on
the host, an emulator for cross targets), each check's output kept in $ALOG_BUILD/check/<name>.log.
Checks always run when asked for.

- the test programs pass by exiting 0;
- each alog-engine build (generic and bound to the models) answers --version;
- onnx_runner runs a tiny model made at build time (build/common/check/) and must give
  onnxruntime's outputs; mutate_model loads every prefix and bit flips of it without a crash;
- the bound alog-engine reads the first lines of the logs (build/common/check/head.log) and must
  print, byte for byte, every verdict the Python reference (`alog-detect detect --all`) prints
  with the same models (build/common/check/head.verdicts.jsonl).
"""

import json
import subprocess
from pathlib import Path

import SCons.Action
import SCons.Builder

TINY_MODEL = "#build/common/check/tiny.onnx"
# The bar the engine is held to on whole models (docs/results.md).
MAX_ABS_DIFF = 1e-5
MUTATE_FLIPS = "300"
# Lines of the logs the bound engine is checked on: enough for every kind of verdict on the
# built-in sample (an MSCRED input included), few enough for an emulated CPU (~30 s under qemu
# with the default models).
HEAD_LINES = 2000


# ---- the tiny model: Gemm -> Tanh -> Softmax, and onnxruntime's outputs for one input -----------

def _tiny_model(target, source, env):
    import numpy as np
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    from alog_detect import atomic

    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("Tanh", ["h"], ["t"]),
         helper.make_node("Softmax", ["t"], ["y"], axis=-1)],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [weights, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    x = rng.standard_normal((1, 4)).astype(np.float32)
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    model_path, input_path, expected_path = (t.abspath for t in target)
    atomic.write_bytes(model_path, data)
    atomic.write_bytes(input_path, x.tobytes())
    atomic.write_bytes(expected_path, y.astype(np.float32).tobytes())
    return 0


def _tiny_model_emitter(target, source, env):
    model = target[0]
    return [model, model.dir.File("tiny.input.bin"), model.dir.File("tiny.expected.bin")], source


# ---- verdicts on a finished run: an error message, or None ----------------------------------------

def _exit_zero(result, env):
    return None if result.returncode == 0 else f"exit {result.returncode}"


def _same_outputs(result, env):
    import numpy as np

    if result.returncode != 0:
        return f"exit {result.returncode}"
    expected = np.fromfile(env["ALOG_CHECK_EXPECTED"].abspath, dtype=np.float32)
    got = np.fromfile(Path(env["ALOG_CHECK_OUT"], "0.bin"), dtype=np.float32)
    if got.shape != expected.shape:
        return f"{got.size} output values, expected {expected.size}"
    diff = float(np.abs(got - expected).max())
    return None if diff <= MAX_ABS_DIFF else f"max |diff| {diff:.3g} vs onnxruntime (bar {MAX_ABS_DIFF})"


def _survives_mutations(result, env):
    if result.returncode != 0:
        return f"exit {result.returncode}"
    report = json.loads(result.stdout)
    if report.get("full") != "ok" or report.get("flips") != int(MUTATE_FLIPS):
        return f"unexpected report {report}"
    return None


def _same_verdicts(result, env):
    if result.returncode != 0:
        return f"exit {result.returncode}"
    expected = Path(env["ALOG_CHECK_EXPECTED"].abspath).read_bytes()
    if result.stdout == expected:
        return None
    got_lines, want_lines = result.stdout.splitlines(), expected.splitlines()
    for number, (got, want) in enumerate(zip(got_lines, want_lines), 1):
        if got != want:
            return f"verdict {number} differs: engine {got.decode(errors='replace')} " \
                   f"reference {want.decode(errors='replace')}"
    return f"{len(got_lines)} verdicts, the reference has {len(want_lines)}"


# ---- the reference's verdicts on the head of the logs -----------------------------------------

def _head_verdicts(target, source, env):
    import io

    from alog_detect import atomic
    from alog_detect.detect import DetectConfig, detect

    head, expected = target
    log, vocab = source[0], source[1]
    with open(log.abspath, "rb") as f:
        lines = [line for _, line in zip(range(HEAD_LINES), f)]
    atomic.write_bytes(head.abspath, b"".join(lines))
    out = io.StringIO()
    detect(DetectConfig(models=Path(vocab.dir.abspath), logs=(head.abspath,), all_verdicts=True), out)
    atomic.write_bytes(expected.abspath, out.getvalue().encode("utf-8"))
    return 0


def alog_check_verdicts(env, name, engines, model_files, log):
    """The check `name`: each of `engines` (alog-engine bound to the models) on the head of `log`
    gives the reference's verdicts."""
    vocab = [n for n in model_files if n.name == "vocab.json"]
    head, expected = env.Command(["#build/common/check/head.log", "#build/common/check/head.verdicts.jsonl"],
                                 [log] + vocab + [n for n in model_files if n.name != "vocab.json"],
                                 SCons.Action.Action(_head_verdicts, "reference verdicts: $TARGET"))
    logs = []
    for program in engines:
        logs += _check(env, name, program, ["--models", vocab[0].dir.abspath, "--all", head],
                       "same_verdicts", ALOG_CHECK_EXPECTED=expected)
        env.Depends(logs[-1], expected)
    env.AlwaysBuild(logs)
    return logs


VERDICTS = {"exit_zero": _exit_zero, "same_verdicts": _same_verdicts, "same_outputs": _same_outputs,
            "survives_mutations": _survives_mutations}


def _run(target, source, env):
    program, log = source[0], target[0]
    arguments = [a.abspath if hasattr(a, "abspath") else a for a in env["ALOG_CHECK_ARGS"]]
    if env.get("ALOG_CHECK_OUT"):
        Path(env["ALOG_CHECK_OUT"]).mkdir(parents=True, exist_ok=True)
    result = subprocess.run(list(env["ALOG_RUNNER"]) + [program.abspath] + arguments,
                            cwd=env.Dir("#").abspath, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(log.abspath, "wb") as f:
        f.write(result.stdout + result.stderr)
    failure = VERDICTS[env["ALOG_CHECK_VERDICT"]](result, env)
    if failure:
        print((result.stdout + result.stderr).decode("utf-8", "replace"), end="")
        print(f"FAIL {log.name[:-4]} ({failure}; output in {log})")
        return 1
    print(f"PASS {log.name[:-4]}")
    return 0


_RUN_ACTION = SCons.Action.Action(_run, "check: $SOURCE")


def _check(env, name, program, arguments=(), verdict="exit_zero", **overrides):
    inputs = [a for a in arguments if hasattr(a, "abspath")]
    return env.Command(f"$ALOG_BUILD/check/{name}.log", [program] + inputs, _RUN_ACTION,
                       ALOG_CHECK_ARGS=list(arguments), ALOG_CHECK_VERDICT=verdict, **overrides)


def alog_check(env, tests, engines, tools):
    """tests: programs that pass by exiting 0; engines: {check name: alog-engine nodes}; tools:
    the tool programs (the ones check knows, onnx_runner and mutate_model, are run). Returns the
    check nodes."""
    logs = []
    for program in tests:
        logs += _check(env, program.name, program)
    for name, programs in sorted(engines.items()):
        for program in programs:
            logs += _check(env, name, program, ["--version"])
    by_name = {t.name: t for t in tools}
    if "onnx_runner" in by_name or "mutate_model" in by_name:
        model, model_input, expected = env._AlogTinyModel(TINY_MODEL, [])
    if "onnx_runner" in by_name:
        out = env.Dir("$ALOG_BUILD/check/onnx_runner.out").abspath
        logs += _check(env, "onnx_runner", by_name["onnx_runner"], [model, "-i", model_input, "-o", out],
                       "same_outputs", ALOG_CHECK_OUT=out, ALOG_CHECK_EXPECTED=expected)
    if "mutate_model" in by_name:
        logs += _check(env, "mutate_model", by_name["mutate_model"], [model, MUTATE_FLIPS, "1"],
                       "survives_mutations")
    env.AlwaysBuild(logs)
    return logs


def generate(env):
    env.Append(BUILDERS={"_AlogTinyModel": SCons.Builder.Builder(
        action=SCons.Action.Action(_tiny_model, "check model: $TARGET"), emitter=_tiny_model_emitter)})
    env.AddMethod(alog_check, "AlogCheck")
    env.AddMethod(alog_check_verdicts, "AlogCheckVerdicts")


def exists(env):
    return True
