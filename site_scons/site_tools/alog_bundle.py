"""The bundle: a deterministic .tar.gz of the engine, its libraries, headers and model directory.

env.AlogBundle(target, members) where members maps a path inside the bundle to a node. Entries are
sorted, with a fixed mtime, uid/gid 0 and no user names, and gzip stores no name or time: the same
inputs give the same bytes.
"""

import atexit
import gzip
import io
import json
import os
import tarfile

import SCons.Action
import SCons.Builder
import SCons.Script

FIXED_MTIME = 0


def _tar_info(arcname, size, executable):
    info = tarfile.TarInfo(arcname)
    info.size = size
    info.mtime = FIXED_MTIME
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _directories(arcnames):
    dirs = set()
    for name in arcnames:
        parts = name.split("/")[:-1]
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(dirs)


def tarball_bytes(files):
    """files: {arcname: (bytes, executable)} -> the .tar.gz bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in _directories(files):
            info = _tar_info(name, 0, True)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, (data, executable) in sorted(files.items()):
            tar.addfile(_tar_info(name, len(data), executable), io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=FIXED_MTIME, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def _build_bundle(target, source, env):
    from alog_detect import atomic

    arcnames = json.loads(source[-1].read())
    files = {}
    for arcname, node in zip(arcnames, source[:-1]):
        executable = bool(os.stat(node.abspath).st_mode & 0o111)
        files[arcname] = (node.get_contents(), executable)
    atomic.write_bytes(target[0].abspath, tarball_bytes(files))
    return 0


def _emit(target, source, env):
    # The members' names are part of the signature: renaming one rebuilds the bundle.
    return target, source + [env.Value(json.dumps(list(env["ALOG_BUNDLE_NAMES"])))]


def alog_bundle(env, target, members):
    """members: {path inside the bundle: node}. Returns the bundle node list."""
    names = sorted(members)
    return env._AlogTarball(target, [members[n] for n in names], ALOG_BUNDLE_NAMES=names)


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
    action = SCons.Action.Action(_build_bundle, "bundle: $TARGET")
    env.Append(BUILDERS={"_AlogTarball": SCons.Builder.Builder(action=action, emitter=_emit)})
    env.AddMethod(alog_bundle, "AlogBundle")
    env.AddMethod(announce_when_built, "AlogAnnounce")


def exists(env):
    return True
