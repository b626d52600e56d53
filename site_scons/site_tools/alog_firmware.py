"""A firmware target (ALOG_HOSTED False: toolchains/cortex-m4.py): the library for the models,
the example image for QEMU's mps2-an386, its budgets, its check against the host engine and the
firmware tarball (docs/build.md, "The firmware target: cortex-m4").

    env.AlogFirmwareModels(models, choice)   the model directory the image holds: the files of
                                             `models` for firmware_models=<choice>
    env.AlogFirmware(engine, generated, model_files, log, host_engine)
                                             everything below; returns its nodes by name

The steps, each a declared builder, in $ALOG_BUILD (build/cortex-m4/):

    cengine-ops/src/ops/registry.o   the operator registry with only the models' operators
                                     (-DALOG_OPS_CONFIG and the generated alog_ops_config.h)
    cengine-ops/src/match/*.o        the front end (match.c, timestamp.c) with the same header:
                                     without log-format code when the models read no log format
    firmware/lib/libalog.a           the target's library objects with that registry: the library
                                     the tarball ships (the model stays out of it: the image
                                     compiles alog_model_data.c once)
    firmware/models_fit.json         the models' bytes against flash_budget=, checked before the
                                     model is turned into C (a model too large stops here,
                                     named, not in the linker)
    firmware/probe/probe.elf         the example with the generous arenas of
                                     alog_detect.firmware.qemu.PROBE_MEMORY and an empty input;
    firmware/memory/                 run under QEMU, it reports what the engine needs on the
                                     device: example_memory.h (for main.c) and memory.json
    firmware/example/                the example's objects, example_input.c (the first
                                     firmware_lines= lines of the logs), main.o with the measured
                                     sizes
    firmware/firmware.elf (+ .map)   the example image
    firmware/budget.json             its sections (arm-none-eabi-size), the worst-case stack
                                     (-fstack-usage over gcc's call graph) and the measured memory,
                                     held to flash_budget= and ram_budget=: an overrun fails the
                                     build with one line naming the section and the bytes over
    check/firmware.log               `scons check`: the image's output under QEMU, whose verdicts
    check/firmware.expected.jsonl    must be the host alog-engine's on the same bytes

The tarball (dist/alog-firmware-<version>-<target>.tar.gz) is made by
alog_detect.package.firmware from these nodes.
"""

import json
import sys
from pathlib import Path

import SCons.Action
import SCons.Builder

import alog_options
from alog_cc import flavour_objects, object_files
from alog_detect import codegen
from alog_detect.firmware import inputs, qemu

EXAMPLE_DIR = "#cengine/examples/firmware"
# The example's sources besides main.c, compiled once for the probe and the image.
EXAMPLE_SOURCES = ("startup.c", "semihost.c", "board_mps2.c")
# What the example device keeps (main.c's constants): DeepLog sessions at once, remembered
# windows, the longest line. The check runs the host engine with the same session limit.
EXAMPLE_SETTINGS = {"EXAMPLE_MAX_SESSIONS": 64, "EXAMPLE_CACHE_ENTRIES": 64, "EXAMPLE_LINE_MAX": 1024}
BOARD = "mps2-an386"
# In cengine/: the objects compiled again with -DALOG_OPS_CONFIG and alog_ops_config.h: the
# operator registry, the front end whose log-format code the switch leaves out, and the detector
# whose batching it leaves out.
CONFIG_OBJECTS = ("src/ops/registry.o", "src/match/match.o", "src/match/timestamp.o",
                  "src/detect/detector.o")


def _fail(target, exc) -> int:
    sys.stderr.write(f"scons: *** [{target[0]}] {exc.one_line()}\n")
    return 2


def _settings(source):
    return json.loads(source[-1].read())


# ---- the models the image holds ------------------------------------------------------------------

def _copy_files(target, source, env):
    from alog_detect import atomic

    for out, src in zip(target, source):
        atomic.write_bytes(out.abspath, Path(src.abspath).read_bytes())
    return 0


def alog_firmware_models(env, models, choice):
    """The model directory with the models of firmware_models=<choice>: `models` itself when it
    holds just those, else a copy of their files in build/common/models-<names>/ (target
    independent, like the models)."""
    names = alog_options.FIRMWARE_MODELS[choice]
    by_name = {node.name: node for node in models}
    if {n[:-len(".onnx")] for n in by_name if n.endswith(".onnx")} == set(names):
        return list(models)
    files = [codegen.VOCAB_FILE, codegen.FRONTEND_FILE] + [f"{m}.onnx{suffix}" for m in names
                                                             for suffix in ("", ".meta.json")]
    directory = f"#build/common/models-{'-'.join(names)}"
    return env.Command([f"{directory}/{f}" for f in files], [by_name[f] for f in files],
                       SCons.Action.Action(_copy_files, f"models ({'+'.join(names)}): {directory[1:]}/"))


# ---- before anything is generated from the models: do they fit? -----------------------------------

def _models_fit(target, source, env):
    from alog_detect import atomic
    from alog_detect.errors import UserError
    from alog_detect.firmware.budget import Budget, check_models_fit

    settings = _settings(source)
    onnx = [Path(str(node)) for node in source[:-1]]
    try:
        check_models_fit(onnx, Budget(flash=settings["flash"]))
    except UserError as exc:
        return _fail(target, exc)
    sizes = {path.name: path.stat().st_size for path in onnx}
    atomic.write_text(target[0].abspath, json.dumps({"flash_budget": settings["flash"],
                                                     "models": sizes}, sort_keys=True) + "\n")
    return 0


# ---- the example's input, and the memory the probe measured ---------------------------------------

def _example_input(target, source, env):
    from alog_detect.errors import UserError

    settings = _settings(source)
    try:
        inputs.render_input(inputs.InputConfig(log=Path(source[0].abspath), out=Path(target[0].abspath),
                                               lines=settings["lines"], root=Path(env.Dir("#").abspath)))
    except UserError as exc:
        return _fail(target, exc)
    return 0


def _example_input_node(env, target, log, lines):
    templates = [env.File(f"#templates/{t}") for t in codegen.template_dependencies(inputs.TEMPLATE)]
    return env.Command(target, [log] + templates + [env.Value(json.dumps({"lines": lines}))],
                       SCons.Action.Action(_example_input, "example input: $TARGET"))


def _measure_memory(target, source, env):
    from alog_detect import atomic
    from alog_detect.errors import UserError

    header, measured, timing = target
    try:
        probe = qemu.measure_probe(Path(str(source[0])), runner=tuple(env["ALOG_RUNNER"]))
    except UserError as exc:
        return _fail(target, exc)
    qemu.render_memory_header(probe.sizes, Path(header.abspath), _settings(source))
    atomic.write_text(measured.abspath, json.dumps(probe.sizes, sort_keys=True) + "\n")
    atomic.write_text(timing.abspath, json.dumps(probe.timing(), sort_keys=True) + "\n")
    return 0


# ---- linking, and the budgets of the linked image ------------------------------------------------

def _image_outputs(target, source, env):
    """The link map beside the image."""
    return target + [target[0].target_from_source("", ".map")], source


def _budget(target, source, env):
    from alog_detect import atomic
    from alog_detect.errors import UserError
    from alog_detect.firmware.budget import Budget, check_budgets
    from alog_detect.firmware.stack import analyse

    settings = _settings(source)
    # Paths relative to the top directory, where SCons runs its actions: messages name
    # build/<target>/..., not this checkout's location.
    image, memory = Path(str(source[0])), json.loads(Path(source[1].abspath).read_text())
    timing = json.loads(Path(source[2].abspath).read_text())
    replayed = inputs.input_bytes(Path(str(source[3])), settings["example"]["input_lines"])
    objects = [Path(str(node)) for node in source[4:-1] if node.name.endswith(".o")]
    try:
        stack = analyse(objects, image)
        sizes = check_budgets(image, Budget(flash=settings["flash"], ram=settings["ram"]), stack,
                              size_tool=env["ALOG_SIZE"])
    except UserError as exc:
        return _fail(target, exc)
    report = {"budgets": {"flash": settings["flash"], "ram": settings["ram"]},
              "image": sizes.as_json(), "stack": stack.as_json(), "memory": memory, "timing": timing,
              "example": {**settings["example"], "input_bytes": len(replayed)}}
    atomic.write_text(target[0].abspath, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return 0


# ---- scons check: the image under QEMU against the host engine ------------------------------------

def _check(target, source, env):
    from alog_detect import atomic
    from alog_detect.errors import UserError

    log, expected_out = target
    image, engine, vocab, input_log = (Path(str(node)) for node in source[:4])
    settings = _settings(source)
    try:
        run = qemu.run_image(image, runner=tuple(env["ALOG_RUNNER"]))
    except UserError as exc:  # QEMU missing, or a timeout
        atomic.write_text(log.abspath, exc.one_line() + "\n")
        print(f"FAIL firmware ({exc.one_line()}; output in {log})")
        return 1
    atomic.write_bytes(log.abspath, run.stdout + run.stderr.encode("utf-8"))
    try:
        qemu.expect_success(image, run)
        expected = qemu.host_verdicts(engine, vocab.parent, inputs.input_bytes(input_log, settings["lines"]),
                                      settings["max_sessions"])
        atomic.write_bytes(expected_out.abspath, expected)
        qemu.compare_verdicts(image, run, expected)
    except UserError as exc:
        print(f"FAIL firmware ({exc.one_line()}; output in {log})")
        return 1
    print(f"PASS firmware ({len(expected.splitlines())} verdicts, the host alog-engine's; "
          f"{run.seconds:.1f} s under QEMU)")
    return 0


# ---- the tarball ----------------------------------------------------------------------------------

def _package(target, source, env):
    from alog_detect.errors import UserError
    from alog_detect.package.firmware import FirmwareConfig, build_firmware_package

    settings = _settings(source)
    names, model_names = settings["names"], settings["models"]
    files = {name: Path(node.abspath) for name, node in zip(names, source)}
    rest = source[len(names):-1]
    report, readme = json.loads(Path(rest[0].abspath).read_text()), Path(rest[1].abspath)
    models = {name: Path(node.abspath) for name, node in zip(model_names, rest[2:])}
    try:
        build_firmware_package(FirmwareConfig(
            out=Path(target[0].abspath), top=settings["top"], target=settings["target"],
            platform=settings["platform"], optimize=settings["optimize"], files=files,
            models=models, readme=readme, report=report))
    except UserError as exc:
        return _fail(target, exc)
    return 0


def alog_firmware_package(env, target, members, top, report, readme, model_files):
    """members: {path inside the top directory: node}; report: the budget step's budget.json."""
    names = sorted(members)
    models = sorted(model_files, key=lambda node: node.name)
    settings = {"names": names, "models": [node.name for node in models], "top": top,
                "target": env["ALOG_TARGET"], "platform": env["ALOG_PLATFORM"],
                "optimize": env["ALOG_OPTIMIZE"]}
    sources = [members[n] for n in names] + list(report) + [readme] + models + [
        env.Value(json.dumps(settings, sort_keys=True))]
    return env.Command(target, sources, SCons.Action.Action(_package, "firmware tarball: $TARGET"))


# ---- the whole firmware build --------------------------------------------------------------------

def _example_environment(env, *defines, include=()):
    example = env.Clone()
    example.Append(CPPPATH=[EXAMPLE_DIR, *include], CPPDEFINES=list(defines))
    return example


def alog_firmware(env, engine, generated, model_files, log, host_engine):
    """engine: the target's model-free library (env.AlogEngine); generated: the codegen nodes by
    file name; model_files: the model directory the image holds; log: the logs' first file;
    host_engine: the host's generic alog-engine (the check's reference). Returns {'library',
    'probe', 'image', 'memory', 'budget', 'check', 'example_input', 'example_memory'} as node
    lists (the image's list holds its map too: take [:1])."""
    flash, ram = alog_options.budgets(env)
    lines = env["firmware_lines"]
    build = "$ALOG_BUILD/firmware"
    onnx = [node for node in model_files if node.name.endswith(".onnx")]
    vocab = [node for node in model_files if node.name == codegen.VOCAB_FILE]

    # The library for the models: only their operators, and the log-format front end only when
    # their frontend.json uses it (the registry and front end recompiled; a stand-in engine
    # without them, in tests/test_scons.py, has nothing to select).
    ops = env.Clone()
    ops.Append(CPPDEFINES=["ALOG_OPS_CONFIG"], CPPPATH=["$ALOG_GEN"])
    configured = [o for o in engine["objects"]
                  if o.srcnode().get_path(env.Dir("#cengine")) in CONFIG_OBJECTS]
    library_objects = [o for o in engine["objects"] if o not in configured] + \
        flavour_objects(ops, [o.sources[0] for o in configured], "ops")
    library = env.StaticLibrary(f"{build}/lib/alog", library_objects)

    # The models' bytes must fit the flash before they become C (a 26 MB MSCRED would make a
    # 160 MB source): the model source waits for the check.
    fit = env.Command(f"{build}/models_fit.json", onnx + [env.Value(json.dumps({"flash": flash}))],
                      SCons.Action.Action(_models_fit, "models fit the flash: $TARGET"))
    env.Requires(generated["alog_model_data.c"], fit)
    model_data = object_files(env, _example_environment(env, include=["$ALOG_GEN"]).Object(
        f"{build}/alog_model_data", generated["alog_model_data.c"]))

    # The example: the same board code for the probe and the image, main.c once for each.
    example_env = _example_environment(env)
    board = [o for name in EXAMPLE_SOURCES
             for o in object_files(env, example_env.Object(f"{build}/example/{Path(name).stem}",
                                                       f"{EXAMPLE_DIR}/{name}"))]
    probe_main = object_files(env, _example_environment(
        env, *EXAMPLE_SETTINGS.items(), *qemu.PROBE_MEMORY.items(), include=["$ALOG_GEN"]).Object(
            f"{build}/probe/main", f"{EXAMPLE_DIR}/main.c"))
    empty_input = _example_input_node(env, f"{build}/probe/example_input.c", log, 0)
    probe_input = object_files(env, example_env.Object(f"{build}/probe/example_input", empty_input))
    image_builder = env.Clone()
    image_builder.Append(BUILDERS={"_AlogImage": SCons.Builder.Builder(
        action=SCons.Action.Action("$CC -o $TARGET $LINKFLAGS -T $ALOG_LINKER_SCRIPT "
                                   "-Wl,-Map=${TARGETS[1]} $SOURCES"),
        emitter=_image_outputs)})

    def link(target, objects):
        image = image_builder._AlogImage(target, objects + library)
        env.Depends(image, env["ALOG_LINKER_SCRIPT"])
        return image

    probe = link(f"{build}/probe/probe.elf", board + probe_main + probe_input + model_data)
    # The sizes, with the settings they were measured with, in example_memory.h: the image (and
    # the tarball's example, built with make or CMake) needs nothing else.
    memory = env.Command([f"{build}/memory/example_memory.h", f"{build}/memory/memory.json",
                          f"{build}/memory/timing.json"],
                         probe[:1] + [env.Value(json.dumps(EXAMPLE_SETTINGS, sort_keys=True))],
                         SCons.Action.Action(_measure_memory, "memory on the device: $TARGET"))

    main = object_files(env, _example_environment(
        env, "EXAMPLE_HAVE_MEMORY_H", include=["$ALOG_GEN", memory[0].dir]).Object(
            f"{build}/example/main", f"{EXAMPLE_DIR}/main.c"))
    input_source = _example_input_node(env, f"{build}/example/example_input.c", log, lines)
    input_object = object_files(env, example_env.Object(f"{build}/example/example_input", input_source))
    linked = board + main + input_object + model_data
    image = link(f"{build}/firmware.elf", linked)

    # Every object in the image, the library's included, with the call graph gcc wrote beside it.
    objects = linked + library_objects
    call_graphs = [o.dir.File(o.name[:-len(".o")] + ".ci") for o in objects]
    # What the manifest records of the example, beside its sizes.
    example = {"board": BOARD, "input_lines": lines,
               "models": sorted(node.name[:-len(".onnx")] for node in onnx),
               **{name[len("EXAMPLE_"):].lower(): value for name, value in EXAMPLE_SETTINGS.items()}}
    budget = env.Command(
        f"{build}/budget.json", image[:1] + memory[1:3] + [log] + objects + call_graphs + [
            env.Value(json.dumps({"flash": flash, "ram": ram, "example": example}, sort_keys=True))],
        SCons.Action.Action(_budget, "budgets (flash, RAM, stack): $TARGET"))

    check_settings = {"lines": lines, "max_sessions": EXAMPLE_SETTINGS["EXAMPLE_MAX_SESSIONS"]}
    check = env.Command(
        ["$ALOG_BUILD/check/firmware.log", "$ALOG_BUILD/check/firmware.expected.jsonl"],
        image[:1] + list(host_engine) + vocab + [log] + [n for n in model_files if n not in vocab]
        + [env.Value(json.dumps(check_settings, sort_keys=True))],
        SCons.Action.Action(_check, "check: $SOURCE under QEMU"))
    env.Depends(check, budget)
    env.AlwaysBuild(check)
    return {"library": library, "probe": probe, "image": image, "memory": memory, "budget": budget,
            "check": check, "example_input": input_source,
            "example_memory": memory[:1]}


def generate(env):
    env.AddMethod(alog_firmware_models, "AlogFirmwareModels")
    env.AddMethod(alog_firmware, "AlogFirmware")
    env.AddMethod(alog_firmware_package, "AlogFirmwarePackage")


def exists(env):
    return True
