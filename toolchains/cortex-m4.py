"""cortex-m4: Arm Cortex-M4F microcontrollers, bare metal, with Debian's arm-none-eabi-gcc and newlib.

The same interface as toolchains/host.py (docs/build.md, "Targets: adding one"). The engine is
built for a microcontroller that keeps the model in flash:

- the reference kernels only (-DALOG_REFERENCE_KERNELS): no packed copies of the weights, which
  are read in place from the const model array in flash;
- only the operators the models use: the library for a model (the bundle's) compiles
  cengine/src/ops/registry.c with -DALOG_OPS_CONFIG and the generated alog_ops_config.h
  (ALOG_SELECT_OPS); the same for src/match/match.c and timestamp.c, which then leave out the
  log-format code when the models' frontend.json reads no log format;
- every function and object in its own section, so that the link keeps only what is used;
- -Os by default (ALOG_OPTIMIZE_DEFAULT, the `optimize=` choice this target makes).

Programs are firmware images for QEMU's mps2-an386 board (cengine/examples/firmware/: startup.c
and mps2_an386.ld instead of the C library's start files, newlib-nano for the few C library
functions the engine uses); ALOG_RUNNER runs one under qemu-system-arm with semihosting, the
image's exit status becoming QEMU's. There is no shared library and no sanitizer runtime.

Module constants hold the flags, so the tests (tests/firmware_helpers.py) compile with exactly
what SCons compiles with.
"""

import subprocess

DESCRIPTION = ("Cortex-M4F microcontrollers, bare metal (arm-none-eabi-gcc, newlib-nano); "
               "runs on QEMU's mps2-an386")
ALIASES = ("cortex-m4f",)
INSTALL_HINT = ("the Debian packages gcc-arm-none-eabi and libnewlib-arm-none-eabi, and "
                "qemu-system-arm to run the image (./setup.sh, or apt-get install "
                "--no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)")
RUNNER_HINT = ("the Debian package qemu-system-arm (./setup.sh installs it; or apt-get install "
               "--no-install-recommends qemu-system-arm)")

PREFIX = "arm-none-eabi-"
# The Cortex-M4 with its single-precision FPU, floats passed in FPU registers.
CPU_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
# One section per function and per object, for --gc-sections; the stack analysis's inputs
# (X.su and X.ci beside each object: alog_detect.firmware.stack).
COMPILE_FLAGS = CPU_FLAGS + ["-ffunction-sections", "-fdata-sections", "-fstack-usage",
                             "-fcallgraph-info=su"]
DEFINES = ["ALOG_REFERENCE_KERNELS"]
# The image brings its own start-up code and vector table (-nostartfiles: startup.c) and links
# against newlib-nano; unused sections are dropped.
LINK_FLAGS = CPU_FLAGS + ["-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections"]
OPTIMIZE_DEFAULT = "size"
# -icount shift=0: an instruction is 1 ns of virtual time, so SysTick readings count
# instructions (alog_detect.firmware.qemu.INSTRUCTIONS_PER_TICK) and runs are deterministic.
RUNNER = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
          "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel"]
# The example board: its linker script, and its memory as the default budgets
# (alog_detect.firmware.budget: BOARD_FLASH, BOARD_RAM).
LINKER_SCRIPT = "cengine/examples/firmware/mps2_an386.ld"
FLASH_BUDGET = 4 << 20
RAM_BUDGET = 4 << 20


def _newlib_installed(gcc: str) -> bool:
    """The compiler finds newlib-nano's specs file (libnewlib-arm-none-eabi): it prints a bare
    name for a file it does not have."""
    found = subprocess.run([gcc, "-print-file-name=nano.specs"], capture_output=True, text=True)
    return found.returncode == 0 and found.stdout.strip() != "nano.specs"


def exists(env):
    gcc = env.WhereIs(PREFIX + "gcc")
    return bool(gcc) and bool(env.Detect([PREFIX + "ar"])) and _newlib_installed(gcc)


def generate(env):
    env["CC"] = PREFIX + "gcc"
    env["AR"] = PREFIX + "ar"
    # Deterministic archives (no timestamps, uids or modes), indexed by ar itself.
    env["ARFLAGS"] = ["rcsD"]
    env["RANLIBCOM"] = ""
    env["ALOG_SIZE"] = PREFIX + "size"
    env.Append(CCFLAGS=COMPILE_FLAGS, CPPDEFINES=DEFINES, LINKFLAGS=LINK_FLAGS)
    env["ALOG_RUNNER"] = list(RUNNER)
    env["ALOG_RUNNER_HINT"] = RUNNER_HINT
    env["ALOG_PACKAGE_TAGS"] = {"bundle": "cortex-m4", "wheel_platform": None}
    env["ALOG_SANITIZERS"] = False
    env["ALOG_SHARED_LIBRARY"] = False
    env["ALOG_EMBED_MODEL"] = True
    gcc = env.WhereIs(env["CC"])
    env["ALOG_PLATFORM"] = {
        "machine": "cortex-m4",
        "triple": "arm-none-eabi",
        "pointer_size": 4,
        "cpu": "cortex-m4",
        "cpu_flags": list(CPU_FLAGS),
        "compiler": env["CC"],
        "compiler_version": subprocess.run([gcc, "-dumpfullversion", "-dumpversion"],
                                           capture_output=True, text=True).stdout.strip(),
    }
    # Beyond the common interface, for the firmware wiring:
    env["ALOG_HOSTED"] = False  # no OS: no alog-engine, test programs or tools (stdio, files)
    env["ALOG_OPTIMIZE_DEFAULT"] = OPTIMIZE_DEFAULT
    env["ALOG_SELECT_OPS"] = True
    env["ALOG_LINKER_SCRIPT"] = env.File("#" + LINKER_SCRIPT)
    env["ALOG_FLASH_BUDGET"] = FLASH_BUDGET
    env["ALOG_RAM_BUDGET"] = RAM_BUDGET
