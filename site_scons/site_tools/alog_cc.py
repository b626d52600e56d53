"""The C engine's build for one target: what needs no trained model, and what is bound to one.

cengine/SConscript lists the sources and calls env.AlogEngine(); everything lands under
$ALOG_BUILD (build/<target>/, or build/<target>-san/ with san=1):

    lib/libalog.a, lib/libalog.so        the library (no model)
    tools/alog-engine                    the generic engine: reads any model directory
    tools/<driver>                       one program per tool source (onnx_runner, match_driver, ...)
    tools/<name>_reference               a tool over the library built with the plain reference
                                         kernels (-DALOG_REFERENCE_KERNELS): onnx_runner
    fuzz/<harness>                       libFuzzer programs (fuzz=1, clang)
    tests/<test>                         the test programs
    bin/alog-engine                      the engine bound to the trained models: compiled with the
                                         generated headers, it checks their hashes at start-up
    bundle/lib/                          libalog with the .onnx bytes in it (embed_model only)

Objects sit beside their variant sources in cengine/; a source compiled a second way (other
defines or flags) goes to cengine-<flavour>/ instead, so the two never overwrite each other.
Only the bound flavour sees the generated headers ($ALOG_GEN is on its include path alone), so
nothing but bin/alog-engine and the bundle depends on training.

A target without an OS (ALOG_HOSTED False: a microcontroller) gets the library alone: no
alog-engine, tools, tests or fuzzers, which need files and stdio (its programs are firmware
images: site_tools/alog_firmware.py). A toolchain that compiles with -fstack-usage and
-fcallgraph-info (cortex-m4) makes gcc write X.su and X.ci beside each X.o: the compile
declares them as outputs, so the stack analysis that reads them depends on them and `scons -c`
removes them.
"""

import os

import SCons.Builder
import SCons.Defaults
import SCons.Tool

GENERIC_INCLUDES = ["#cengine/include", "#cengine/src"]


def object_files(env, nodes):
    """The object files among a compile's outputs (beside them: X.su, X.ci, see above)."""
    suffix = env.subst("$OBJSUFFIX")
    return [node for node in nodes if node.name.endswith(suffix)]


def _compile(env, *args, **kwargs):
    return object_files(env, env.Object(*args, **kwargs))


def flavour_objects(env, sources, flavour):
    """`sources` compiled with `env` into $ALOG_BUILD/cengine-<flavour>/ (same relative paths)."""
    top = env.Dir("#cengine")
    objects = []
    for source in sources:
        relative = os.path.splitext(source.srcnode().get_path(top))[0]
        objects += _compile(env, f"$ALOG_BUILD/cengine-{flavour}/{relative}", source)
    return objects


def _library(env, objects, shared_objects, where="$ALOG_BUILD/lib"):
    static = env.StaticLibrary(f"{where}/alog", objects)
    shared = env.SharedLibrary(f"{where}/alog", shared_objects) if env["ALOG_SHARED_LIBRARY"] else []
    return static, shared


def _programs(env, folder, objects, helpers, library, suffix=""):
    """One program per main object, each linked with every helper object and `library`."""
    return [env.Program(f"$ALOG_BUILD/{folder}/{os.path.splitext(o.name)[0]}{suffix}",
                        [o] + helpers + library)[0]
            for o in objects]


def _reference_library(env, library):
    """The library over the reference kernels: the tests compare their bits with the fast paths'."""
    reference = env.Clone()
    reference.Append(CPPDEFINES=["ALOG_REFERENCE_KERNELS"])
    return flavour_objects(reference, library, "reference")


def _fuzzers(env, library, fuzzers, tool_helpers):
    if not env["fuzz"] or not fuzzers:
        return []
    fuzz = env.AlogFuzzEnvironment()
    objects = flavour_objects(fuzz, library + tool_helpers, "fuzz")
    return _programs(fuzz, "fuzz", flavour_objects(fuzz, fuzzers, "fuzz"), objects, [])


def alog_engine(env, library, cli, tests, test_helpers, tools, tool_helpers, reference_tools, fuzzers):
    """The model-free half of the engine. `reference_tools` (a subset of `tools`) are also linked
    over the reference kernels. Returns {'static', 'shared', 'engine' (the generic alog-engine),
    'tools', 'reference_tools', 'fuzzers', 'tests', 'objects', 'shared_objects', 'cli'} as node
    lists; bind it to models with env.AlogBoundEngine()."""
    objects = _compile(env, library)
    shared_objects = env.SharedObject(library) if env["ALOG_SHARED_LIBRARY"] else []
    static, shared = _library(env, objects, shared_objects)
    if not env.get("ALOG_HOSTED", True):
        return {"static": static, "shared": shared, "engine": [], "tools": [], "reference_tools": [],
                "fuzzers": [], "tests": [], "objects": objects, "shared_objects": shared_objects,
                "cli": []}
    helpers = _compile(env, tool_helpers)
    tool_objects = {source.name: _compile(env, source)[0] for source in tools}
    reference = [tool_objects[s.name] for s in reference_tools]
    return {
        "static": static, "shared": shared,
        "engine": env.Program("$ALOG_BUILD/tools/alog-engine", cli + static) if cli else [],
        "tools": _programs(env, "tools", list(tool_objects.values()), helpers, static),
        "reference_tools": _programs(env, "tools", reference, helpers, _reference_library(env, library),
                                     "_reference") if reference else [],
        "fuzzers": _fuzzers(env, library, fuzzers, tool_helpers),
        "tests": _programs(env, "tests", _compile(env, tests), _compile(env, test_helpers), static),
        "objects": objects, "shared_objects": shared_objects, "cli": cli,
    }


def alog_bound_engine(env, engine, model_sources=()):
    """bin/alog-engine compiled with the generated headers (env: the generic environment), and
    the libraries the bundle ships: the generic ones, or with `model_sources` (the .onnx bytes as
    C) compiled in. Returns {'engine', 'static', 'shared'}."""
    bound = env.Clone()
    bound.AppendUnique(CPPPATH=["$ALOG_GEN"], CPPDEFINES=["ALOG_HAVE_MODEL_META"])
    if model_sources:
        bound.AppendUnique(CPPDEFINES=["ALOG_EMBEDDED_MODEL"])
        data = _compile(bound, model_sources)
        data_shared = bound.SharedObject(model_sources) if env["ALOG_SHARED_LIBRARY"] else []
        static, shared = _library(bound, engine["objects"] + data,
                                  engine["shared_objects"] + data_shared, "$ALOG_BUILD/bundle/lib")
    else:
        static, shared = engine["static"], engine["shared"]
    cli = flavour_objects(bound, engine["cli"], "bound")
    program = bound.Program("$ALOG_BUILD/bin/alog-engine", cli + static) if cli else []
    return {"engine": program, "static": static, "shared": shared}


def _stack_usage_outputs(target, source, env):
    """gcc -fstack-usage writes X.su, -fcallgraph-info X.ci, beside X.o."""
    flags = [str(flag) for flag in env["CCFLAGS"]]
    suffixes = [".su"] * ("-fstack-usage" in flags) + \
        [".ci"] * any(flag.startswith("-fcallgraph-info") for flag in flags)
    extra = [t.dir.File(os.path.splitext(t.name)[0] + suffix) for t in target for suffix in suffixes]
    return target + extra, source


def generate(env):
    if "-fstack-usage" in [str(flag) for flag in env["CCFLAGS"]]:
        static_object, _ = SCons.Tool.createObjBuilders(env)
        static_object.add_emitter(".c", SCons.Builder.ListEmitter(
            [SCons.Defaults.StaticObjectEmitter, _stack_usage_outputs]))
    env["SHOBJSUFFIX"] = ".pic.o"
    env.AppendUnique(CPPPATH=GENERIC_INCLUDES)
    env.AddMethod(alog_engine, "AlogEngine")
    env.AddMethod(alog_bound_engine, "AlogBoundEngine")


def exists(env):
    return True
