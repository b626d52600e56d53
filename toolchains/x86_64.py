"""x86_64: 64-bit x86 Linux, built with zig cc (not the host compiler); tested under qemu-x86_64.

Programs are static against musl, libalog.so links against glibc 2.17 (site_scons/alog_zig.py).
The default CPU is the x86-64 baseline (SSE2): qemu-x86_64's default CPU has nothing more, so
the checks run the form a minimal machine runs. The engine still picks AVX2 or AVX-512F at run
time where the CPU has them (cengine/src/isa.h), with the same bits.
"""

import alog_zig

DESCRIPTION = "64-bit x86 Linux, zig cc: static musl programs, glibc 2.17 libalog.so; runs under qemu-x86_64"
ALIASES = ("amd64", "x86-64")
INSTALL_HINT = alog_zig.INSTALL_HINT

# cpu= -> zig's -mcpu (the x86-64 psABI microarchitecture levels).
CPUS = {
    "x86-64": "x86_64",
    "x86-64-v2": "x86_64_v2",
    "x86-64-v3": "x86_64_v3",
}
DEFAULT_CPU = "x86-64"

TARGET = alog_zig.ZigTarget(name="x86_64", machine="x86_64", musl_triple="x86_64-linux-musl",
                            glibc_triple="x86_64-linux-gnu.2.17", manylinux="manylinux_2_17",
                            qemu="qemu-x86_64", cpus=CPUS)

exists, generate = alog_zig.tool(TARGET)
