"""armv7: 32-bit Arm Linux with hardware floating point (armhf), built with zig cc; tested under
qemu-arm.

Programs are static against musl, libalog.so links against glibc 2.17 (site_scons/alog_zig.py).
The default CPU is Debian's armhf baseline: armv7-a, hard-float calling convention, VFPv3-D16
(16 double registers) and no NEON, which every armv7 board with an FPU runs (Cortex-A5 to A17,
including the NEON-less Tegra 2 and Marvell parts); cpu= names a richer one.
"""

import alog_zig

DESCRIPTION = "32-bit Arm Linux, hard float (armhf), zig cc: static musl programs, glibc 2.17 libalog.so; runs under qemu-arm"
ALIASES = ("armhf",)
INSTALL_HINT = alog_zig.INSTALL_HINT

# cpu= -> zig's -mcpu (LLVM features: vfp3d16 without d32 and neon is VFPv3-D16 alone).
CPUS = {
    "armv7-a": "generic+v7a+vfp3d16-neon-d32",
    "armv7-a-neon": "generic+v7a+vfp3+neon",
    "cortex-a7": "cortex_a7",
    "cortex-a9": "cortex_a9",
}
DEFAULT_CPU = "armv7-a"

TARGET = alog_zig.ZigTarget(name="armv7", machine="armv7l", musl_triple="arm-linux-musleabihf",
                            glibc_triple="arm-linux-gnueabihf.2.17", manylinux="manylinux_2_17",
                            qemu="qemu-arm", cpus=CPUS, pointer_size=4)

exists, generate = alog_zig.tool(TARGET)
