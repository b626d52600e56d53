"""The C engine's build: libalog.a, libalog.so, alog-engine and the test programs of one target.

cengine/SConscript lists the sources and calls env.AlogEngine(); everything lands under
$ALOG_BUILD (build/<target>/): lib/, bin/, tests/, and the objects beside their variant sources.
"""

import os


def _library(env, sources):
    static = env.StaticLibrary("$ALOG_BUILD/lib/alog", sources)
    shared = env.SharedLibrary("$ALOG_BUILD/lib/alog", sources) if env["ALOG_SHARED_LIBRARY"] else []
    return static, shared


def _tests(env, tests, helpers, static):
    helper_objects = env.Object(helpers)
    return [env.Program(f"$ALOG_BUILD/tests/{os.path.splitext(source.name)[0]}",
                        [source] + helper_objects + static)[0]
            for source in tests]


def alog_engine(env, library, cli, tests, test_helpers):
    """Build everything of the engine; returns {'static', 'shared', 'engine', 'tests'} (node lists)."""
    static, shared = _library(env, library + env["ALOG_EXTRA_LIBRARY_SOURCES"])
    engine = env.Program("$ALOG_BUILD/bin/alog-engine", cli + static) if cli else []
    return {"static": static, "shared": shared, "engine": engine,
            "tests": _tests(env, tests, test_helpers, static)}


def generate(env):
    env["SHOBJSUFFIX"] = ".pic.o"
    env.SetDefault(ALOG_EXTRA_LIBRARY_SOURCES=[])
    env.AppendUnique(CPPPATH=["#cengine/include", "#cengine/src", "$ALOG_GEN"])
    env.AddMethod(alog_engine, "AlogEngine")


def exists(env):
    return True
