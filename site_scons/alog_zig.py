"""Linux cross targets built with `zig cc` from the `ziglang` PyPI package (cargo-zigbuild's way).

A toolchain file in toolchains/ describes its architecture with a ZigTarget and hands it to
configure(env, target). Nothing here looks at the build machine beyond finding the zig binary
that pip installed: the same inputs give the same compiler on every machine.

- Programs (alog-engine, the tests and tools) link statically against musl: one file that runs
  on any Linux of the architecture, nothing else installed.
- libalog.so links against an old glibc (`-target <arch>-linux-gnu.2.17`), so the wheel that
  ships it qualifies for the oldest manylinux tag of its architecture: manylinux_2_17
  (manylinux2014), or manylinux_2_31 on riscv64 (glibc has riscv64 since 2.27, and auditwheel's
  first riscv64 policy is 2.31). SCons compiles shared objects with $SHCC and links them with
  $SHLINK, which carry the glibc target, while $CC and $LINK carry musl's.
- zig builds each libc once per target and CPU flags into its global cache. That cache lives at
  a fixed path per machine (ZIG_CACHE_DIR below, docs/build.md "Targets"), so every checkout,
  test tree and CI step after the first reuses it instead of paying ~40-90 s per libc again.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = ("the PyPI package ziglang, pinned in constraints.txt (./setup.sh installs it; or "
                "pip install -c constraints.txt ziglang)")
QEMU_HINT = "the Debian package qemu-user (./setup.sh installs it; or apt-get install qemu-user)"

# ZIG_GLOBAL_CACHE_DIR when the environment does not set it: one per machine and user.
DEFAULT_CACHE = Path("~/.cache/alog-detect/zig").expanduser()


@dataclass(frozen=True)
class ZigTarget:
    name: str                   # the target (toolchains/<name>.py): the bundle is ...-linux-<name>
    machine: str                # the architecture as `uname -m` and wheel tags name it
    musl_triple: str            # programs: static against musl
    glibc_triple: str           # libalog.so: against the oldest glibc its manylinux tag allows
    manylinux: str              # that tag's glibc part, e.g. manylinux_2_17
    qemu: str                   # the Debian qemu-user program that runs it (binfmt not assumed)
    cpus: dict                  # cpu= choice -> zig's -mcpu value (a closed set)
    pointer_size: int = 8       # bytes: what CMake's CMAKE_SIZEOF_VOID_P must be to link it


def zig_binary() -> str | None:
    """The zig executable inside the installed ziglang package (None when it is not installed)."""
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "zig"
    return str(path) if path.is_file() else None


def cache_dir() -> str:
    return os.environ.get("ZIG_GLOBAL_CACHE_DIR") or str(DEFAULT_CACHE)


def zig_version(zig: str) -> str:
    return subprocess.run([zig, "version"], capture_output=True, text=True, check=True).stdout.strip()


def exists(env) -> bool:
    return zig_binary() is not None


def tool(target: ZigTarget):
    """A toolchain file's exists(env) and generate(env) for `target`."""
    def generate(env):
        configure(env, target)
    return exists, generate


def configure(env, target: ZigTarget) -> None:
    """Set env up for `target` with the CPU env['ALOG_CPU'] (already checked against target.cpus)."""
    zig = zig_binary()
    cpu_flags = [f"-mcpu={target.cpus[env['ALOG_CPU']]}"]
    env["ENV"]["ZIG_GLOBAL_CACHE_DIR"] = cache_dir()
    env["ENV"]["ZIG_LOCAL_CACHE_DIR"] = cache_dir()
    env["CC"] = f"{zig} cc -target {target.musl_triple}"
    env["LINK"] = "$CC"
    env["SHCC"] = f"{zig} cc -target {target.glibc_triple}"
    env["SHLINK"] = "$SHCC"
    env["AR"] = f"{zig} ar"
    # Deterministic archives (no timestamps, uids or modes) and the index written by ar itself.
    env["ARFLAGS"] = ["rcsD"]
    env["RANLIBCOM"] = ""
    # zig cc writes DWARF by default; the shipped objects carry none (optimize=debug adds -g
    # after this, and the last flag wins): smaller archives, and no paths of this machine. Nor
    # unwind tables: the engine is C that never unwinds (no exceptions, no backtraces), and they
    # were 12% of a static alog-engine (22 KB on arm64).
    env.Append(CCFLAGS=cpu_flags + ["-g0", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"])
    # Programs: static and stripped (zig's objcopy cannot strip afterwards). The library: shared,
    # stripped of everything but its dynamic symbols.
    env.Append(LINKFLAGS=cpu_flags + ["-static", "-s"])
    env["SHLINKFLAGS"] = cpu_flags + ["-shared", "-s"]
    env.Append(LIBS=["m"])
    env["ALOG_RUNNER"] = [target.qemu]
    env["ALOG_RUNNER_HINT"] = QEMU_HINT
    env["ALOG_PACKAGE_TAGS"] = {
        "bundle": f"linux-{target.name}",
        "wheel_platform": f"{target.manylinux}_{target.machine}",
    }
    env["ALOG_SANITIZERS"] = False
    env["ALOG_SHARED_LIBRARY"] = True
    env["ALOG_EMBED_MODEL"] = False
    env["ALOG_PLATFORM"] = {
        "machine": target.machine,
        "triple": target.musl_triple,
        "shared_library_triple": target.glibc_triple,
        "pointer_size": target.pointer_size,
        "cpu": env["ALOG_CPU"],
        "cpu_flags": cpu_flags,
        "compiler": "zig cc",
        "compiler_version": zig_version(zig),
    }
