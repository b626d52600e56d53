"""Compiler flags for the C engine: the one place where build options become flags."""

from SCons.Errors import UserError

# Every target builds the engine as strict, warning-free C99. -ffp-contract=off: a compiler that
# fuses a*b+c into one rounding (clang does by default, gcc for some targets) gives other bits than
# one that does not, and the engine must compute the same numbers on every target.
LANGUAGE_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-ffp-contract=off"]

# optimize=auto: the target's ALOG_OPTIMIZE_DEFAULT (toolchains/cortex-m4.py: size), else speed.
AUTO_OPTIMIZE = "speed"

OPTIMIZE_FLAGS = {
    "none": ["-O0"],
    "debug": ["-Og", "-g"],
    "speed": ["-O2"],
    "size": ["-Os"],
}

SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                   "-fno-omit-frame-pointer", "-g"]
# Under ASan instrumentation gcc's -O2 string-op analysis reports truncations that cannot happen
# (and -Werror stops the build); -O1 is also the level the ASan documentation recommends.
SANITIZER_OPTIMIZE = {"speed": ["-O1"]}

# libFuzzer: every object instrumented for coverage, the harness linked with libFuzzer's main.
FUZZ_COMPILER = "clang"
FUZZ_COMPILE_FLAGS = ["-fsanitize=fuzzer-no-link,address,undefined", "-fno-sanitize-recover=all",
                      "-fno-omit-frame-pointer", "-g", "-O1"]
FUZZ_LINK_FLAGS = ["-fsanitize=fuzzer,address,undefined"]


def _check_fuzz(env):
    if not env["fuzz"]:
        return
    if not env.get("ALOG_SANITIZERS"):
        raise UserError(f"fuzz=1: target={env['ALOG_TARGET']} has no sanitizer runtime "
                        "(fix: use fuzz=1 with target=host)")
    if not env.WhereIs(FUZZ_COMPILER):
        raise UserError("fuzz=1: libFuzzer needs clang, which was not found "
                        "(fix: install the Debian package clang, apt-get install clang)")


def fuzz_environment(env):
    """A copy of env that builds libFuzzer programs with clang (the fuzz harnesses' objects and
    the library under them), whatever compiler the target uses otherwise."""
    fuzz = env.Clone(CC=env.WhereIs(FUZZ_COMPILER))
    fuzz.Replace(CCFLAGS=LANGUAGE_FLAGS + FUZZ_COMPILE_FLAGS, LINKFLAGS=FUZZ_LINK_FLAGS)
    return fuzz


def optimize_level(env) -> str:
    """The optimize= level with `auto` resolved for the target."""
    if env["optimize"] == "auto":
        return env.get("ALOG_OPTIMIZE_DEFAULT", AUTO_OPTIMIZE)
    return env["optimize"]


def generate(env):
    """Needs env['optimize'], env['san'] and env['fuzz'] (the build options) and a toolchain
    already applied."""
    level = optimize_level(env)
    env["ALOG_OPTIMIZE"] = level
    optimize = OPTIMIZE_FLAGS[level]
    if env["san"]:
        if not env.get("ALOG_SANITIZERS"):
            raise UserError(f"san=1: target={env['ALOG_TARGET']} has no sanitizer runtime "
                            "(fix: use san=1 with target=host)")
        optimize = SANITIZER_OPTIMIZE.get(level, optimize) + SANITIZER_FLAGS
        env.AppendUnique(LINKFLAGS=SANITIZER_FLAGS)
    env.AppendUnique(CCFLAGS=LANGUAGE_FLAGS + optimize)
    # No path of the build machine reaches an object (debug info, __FILE__): the top directory
    # is written as ".". Between $( $), so the signatures, and a CacheDir shared between
    # checkouts, do not depend on where the checkout lives.
    env.Append(CCFLAGS=["$(", f"-ffile-prefix-map={env.Dir('#').abspath}=.", "$)"])
    # The link is told the optimization too: zig cc links Debug runtimes (UBSan's, 250 KB more in
    # a static alog-engine) into a program linked without an -O flag.
    env.AppendUnique(LINKFLAGS=optimize, SHLINKFLAGS=optimize)
    _check_fuzz(env)
    env.AddMethod(fuzz_environment, "AlogFuzzEnvironment")


def exists(env):
    return True
