"""The device-side wheel: `dist/alog_runtime-<version>-py3-none-<platform>.whl`, built by
alog_detect.package.wheel.build_runtime_wheel (the package stage, also `alog-detect runtime-wheel`)
from packaging/runtime/, the target's libalog.so and the model directory.

    env.AlogWheel(library, model_files)   -> the wheel node, tagged $ALOG_PACKAGE_TAGS["wheel_platform"]

The build also runs `auditwheel show` on it and refuses a wheel whose tag claims more than the
library inside needs (docs/runtime.md).
"""

import json
import sys
from pathlib import Path

import SCons.Action


def _build_wheel(target, source, env):
    from alog_detect.errors import UserError
    from alog_detect.package.wheel import RuntimeWheelConfig, build_runtime_wheel

    settings = json.loads(source[-1].read())
    try:
        build_runtime_wheel(RuntimeWheelConfig(library=Path(source[0].abspath),
                                               models=Path(env["ALOG_WHEEL_MODELS"].abspath),
                                               platform_tag=settings["platform_tag"],
                                               out_dir=Path(target[0].dir.abspath), audit=True))
    except UserError as exc:
        sys.stderr.write(f"scons: *** [{target[0]}] {exc.one_line()}\n")
        return 2
    return 0


def alog_wheel(env, library, model_files):
    """library: the target's libalog.so node; model_files: the model directory's nodes."""
    from alog_detect.package.wheel import MODEL_FILES, runtime_source_files, wheel_filename

    tag = env["ALOG_PACKAGE_TAGS"]["wheel_platform"]
    models = sorted((n for n in model_files if n.name in MODEL_FILES), key=str)
    sources = list(library) + models + [env.File(str(p)) for p in runtime_source_files()]
    return env.Command(f"#dist/{wheel_filename(tag)}", sources + [env.Value(json.dumps({"platform_tag": tag}))],
                       SCons.Action.Action(_build_wheel, "wheel: $TARGET"),
                       ALOG_WHEEL_MODELS=models[0].dir)


def generate(env):
    env.AddMethod(alog_wheel, "AlogWheel")


def exists(env):
    return True
