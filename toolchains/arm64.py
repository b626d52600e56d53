"""arm64: 64-bit Arm Linux (aarch64), built with zig cc; tested under qemu-aarch64.

Programs are static against musl, libalog.so links against glibc 2.17 (site_scons/alog_zig.py).
The default CPU is the architecture's baseline, armv8-a with NEON, which every 64-bit Arm
Linux device runs (Raspberry Pi 3 and later, Graviton, Jetson, i.MX 8); name a core with cpu=
to let the compiler schedule for it.
"""

import alog_zig

DESCRIPTION = "64-bit Arm Linux (aarch64), zig cc: static musl programs, glibc 2.17 libalog.so; runs under qemu-aarch64"
ALIASES = ("aarch64",)
INSTALL_HINT = alog_zig.INSTALL_HINT

# cpu= -> zig's -mcpu. The first is the default.
CPUS = {
    "armv8-a": "generic",
    "armv8.2-a": "generic+v8_2a",
    "cortex-a53": "cortex_a53",
    "cortex-a72": "cortex_a72",
    "cortex-a76": "cortex_a76",
    "neoverse-n1": "neoverse_n1",
}
DEFAULT_CPU = "armv8-a"

TARGET = alog_zig.ZigTarget(name="arm64", machine="aarch64", musl_triple="aarch64-linux-musl",
                            glibc_triple="aarch64-linux-gnu.2.17", manylinux="manylinux_2_17",
                            qemu="qemu-aarch64", cpus=CPUS)

exists, generate = alog_zig.tool(TARGET)
