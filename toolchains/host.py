"""host: this machine, with its own C compiler; built programs run directly.

A toolchain file is an SCons Tool with a fixed interface (docs/build.md, "Adding a target"):
module constants DESCRIPTION, ALIASES, INSTALL_HINT, optionally CPUS (the closed set of cpu=
values, the first the default) with DEFAULT_CPU, then exists(env) and generate(env). generate()
finds the chosen CPU in env["ALOG_CPU"] and sets the compiler and archiver and these
construction variables:
  ALOG_RUNNER            list of words put before a built program to run it (tests, --version)
  ALOG_RUNNER_HINT       the package that provides the runner (when it is not empty)
  ALOG_PACKAGE_TAGS      {"bundle": <tarball suffix>, "wheel_platform": <wheel platform tag>}
  ALOG_SANITIZERS        True when san=1 (ASan + UBSan) is supported
  ALOG_SHARED_LIBRARY    True when libalog.so can be built
  ALOG_EMBED_MODEL       the default for embed_model=auto
  ALOG_PLATFORM          what the bundle's manifest.json records: {"machine", "triple",
                         "shared_library_triple", "pointer_size", "cpu", "cpu_flags", "compiler",
                         "compiler_version"}
"""

import platform
import struct
import subprocess
import sysconfig

DESCRIPTION = "this machine's own C compiler (gcc or clang); programs run directly"
ALIASES = ("native",)
INSTALL_HINT = "the Debian package gcc (apt-get install gcc), or clang"

# The host is the one target allowed to look at the machine it runs on.
_COMPILERS = ["gcc", "clang", "cc"]

CPUS = {
    "generic": [],                 # what the compiler targets by default: runs on similar machines
    "native": ["-march=native"],   # this machine's CPU only (the same bits: no FMA contraction)
}
DEFAULT_CPU = "generic"


def _ask(cc, *args):
    return subprocess.run([cc, *args], capture_output=True, text=True).stdout.strip()


def exists(env):
    return bool(env.Detect(_COMPILERS)) and bool(env.Detect(["ar"]))


def generate(env):
    env["CC"] = env.Detect(_COMPILERS)
    cpu_flags = CPUS[env["ALOG_CPU"]]
    env.Append(CCFLAGS=cpu_flags, LINKFLAGS=cpu_flags)
    env["AR"] = "ar"
    env["RANLIB"] = "ranlib"
    env.Append(LIBS=["m"])
    env["ALOG_RUNNER"] = []
    env["ALOG_PACKAGE_TAGS"] = {
        "bundle": "host",
        "wheel_platform": sysconfig.get_platform().replace("-", "_").replace(".", "_"),
    }
    env["ALOG_SANITIZERS"] = True
    env["ALOG_SHARED_LIBRARY"] = True
    env["ALOG_EMBED_MODEL"] = False
    cc = env.WhereIs(env["CC"])
    env["ALOG_PLATFORM"] = {
        "machine": platform.machine(),
        "triple": _ask(cc, "-dumpmachine"),
        "shared_library_triple": _ask(cc, "-dumpmachine"),
        "pointer_size": struct.calcsize("P"),
        "cpu": env["ALOG_CPU"],
        "cpu_flags": cpu_flags,
        "compiler": env["CC"],
        "compiler_version": _ask(cc, "-dumpfullversion", "-dumpversion"),
    }
