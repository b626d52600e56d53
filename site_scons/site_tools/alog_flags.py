"""Compiler flags for the C engine: the one place where build options become flags."""

from SCons.Errors import UserError

# Every target builds the engine as strict, warning-free C99.
LANGUAGE_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]

OPTIMIZE_FLAGS = {
    "none": ["-O0"],
    "debug": ["-Og", "-g"],
    "speed": ["-O2"],
    "size": ["-Os"],
}

SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                   "-fno-omit-frame-pointer", "-g"]


def generate(env):
    """Needs env['optimize'] and env['san'] (the build options) and a toolchain already applied."""
    env.AppendUnique(CCFLAGS=LANGUAGE_FLAGS + OPTIMIZE_FLAGS[env["optimize"]])
    if env["san"]:
        if not env.get("ALOG_SANITIZERS"):
            raise UserError(f"san=1: target={env['ALOG_TARGET']} has no sanitizer runtime "
                            "(fix: use san=1 with target=host)")
        env.AppendUnique(CCFLAGS=SANITIZER_FLAGS, LINKFLAGS=SANITIZER_FLAGS)


def exists(env):
    return True
