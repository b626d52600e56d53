"""The bundle: a deterministic .tar.gz of the engine, its libraries, headers, model directory and
integration files, built by alog_detect.package.bundle.build_bundle (the package stage).

    env.AlogMemory(target, engine, model_files)   runs `alog-engine --models DIR --memory` through
                                                  the target's runner: the bytes it allocates
    env.AlogBundle(target, members, top=..., executables=..., memory=node)
                                                  members: {path inside the bundle: node}
    env.AlogAnnounce(bundle, hint, requested)      says where the bundle is once it is built
"""

import atexit
import json
import subprocess
import sys
from pathlib import Path

import SCons.Action
import SCons.Builder
import SCons.Script

BUNDLE_TEMPLATES = "#templates/bundle"


# ---- memory: measured by the target's own engine -----------------------------------------------

def _measure_memory(target, source, env):
    from alog_detect import atomic

    engine, vocab = source[0], source[1]
    command = list(env["ALOG_RUNNER"]) + [engine.abspath, "--models", vocab.dir.abspath, "--memory"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(f"scons: *** [{target[0]}] {' '.join(command)} exited {result.returncode}: "
                         f"{result.stderr.strip()}\n")
        return 1
    measured = json.loads(result.stdout)
    atomic.write_text(target[0].abspath, json.dumps(measured, sort_keys=True) + "\n")
    return 0


def alog_memory(env, target, engine, model_files):
    """model_files: the model directory's nodes, vocab.json first among them."""
    vocab = [n for n in model_files if n.name == "vocab.json"]
    rest = [n for n in model_files if n.name != "vocab.json"]
    return env.Command(target, list(engine) + vocab + rest,
                       SCons.Action.Action(_measure_memory, "memory: $TARGET"))


# ---- the tarball ---------------------------------------------------------------------------------

def _build_bundle(target, source, env):
    from alog_detect.errors import UserError
    from alog_detect.package.bundle import BundleConfig, build_bundle

    settings = json.loads(source[-1].read())
    names = settings["names"]
    files = {name: Path(node.abspath) for name, node in zip(names, source)}
    memory = json.loads(Path(source[len(names)].abspath).read_text()) if settings["memory"] else None
    try:
        build_bundle(BundleConfig(out=Path(target[0].abspath), top=settings["top"],
                                  target=settings["target"], platform=settings["platform"],
                                  files=files, executables=frozenset(settings["executables"]),
                                  memory=memory))
    except UserError as exc:
        sys.stderr.write(f"scons: *** [{target[0]}] {exc.one_line()}\n")
        return 2
    return 0


def alog_bundle(env, target, members, top, executables=(), memory=None):
    """members: {path inside the top directory: node}. Returns the bundle node list."""
    names = sorted(members)
    settings = {"names": names, "top": top, "target": env["ALOG_TARGET"],
                "platform": env["ALOG_PLATFORM"], "executables": sorted(executables),
                "memory": memory is not None}
    templates = sorted(env.Glob(f"{BUNDLE_TEMPLATES}/*.j2"), key=str)
    # The settings are the last source: a renamed member, another CPU or compiler rebuilds it.
    sources = [members[n] for n in names] + list(memory or []) + templates + [
        env.Value(json.dumps(settings, sort_keys=True))]
    return env.Command(target, sources, SCons.Action.Action(_build_bundle, "bundle: $TARGET"))


def announce_when_built(env, bundle, run_hint, requested):
    """After a successful build of `bundle` (default or one of `requested`), say where it is and
    how to run it, also when it was already up to date."""
    targets = SCons.Script.COMMAND_LINE_TARGETS
    if targets and not set(targets) & set(requested):
        return
    if any(SCons.Script.GetOption(o) for o in ("no_exec", "clean", "question", "help")):
        return

    def report():
        if not SCons.Script.GetBuildFailures() and bundle.exists():
            print(f"bundle: {bundle}\n{run_hint}")
    atexit.register(report)


def generate(env):
    env.AddMethod(alog_memory, "AlogMemory")
    env.AddMethod(alog_bundle, "AlogBundle")
    env.AddMethod(announce_when_built, "AlogAnnounce")


def exists(env):
    return True
