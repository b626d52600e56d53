"""host: this machine, with its own C compiler; built programs run directly.

A toolchain file is an SCons Tool with a fixed interface (docs/build.md, "Adding a target"):
module constants DESCRIPTION, ALIASES, INSTALL_HINT, then exists(env) and generate(env).
generate() sets the compiler and archiver and these construction variables:
  ALOG_RUNNER            list of words put before a built program to run it (tests, --version)
  ALOG_PACKAGE_TAGS      {"bundle": <tarball suffix>, "wheel_platform": <wheel platform tag>}
  ALOG_SANITIZERS        True when san=1 (ASan + UBSan) is supported
  ALOG_SHARED_LIBRARY    True when libalog.so can be built
  ALOG_EMBED_MODEL       the default for embed_model=auto
"""

import sysconfig

DESCRIPTION = "this machine's own C compiler (gcc or clang); programs run directly"
ALIASES = ("native",)
INSTALL_HINT = "the Debian package gcc (apt-get install gcc), or clang"

# The host is the one target allowed to look at the machine it runs on.
_COMPILERS = ["gcc", "clang", "cc"]


def exists(env):
    return bool(env.Detect(_COMPILERS)) and bool(env.Detect(["ar"]))


def generate(env):
    env["CC"] = env.Detect(_COMPILERS)
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
