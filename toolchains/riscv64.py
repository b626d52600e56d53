"""riscv64: 64-bit RISC-V Linux, built with zig cc; tested under qemu-riscv64.

Programs are static against musl. libalog.so links against glibc 2.31: glibc supports riscv64
only since 2.27, and auditwheel's oldest riscv64 policy is manylinux_2_31 (site_scons/alog_zig.py).
The default CPU is rv64gc (RV64IMAFD with Zicsr/Zifencei, compressed instructions), the profile
every RISC-V Linux distribution targets; no vector extension.
"""

import alog_zig

DESCRIPTION = "64-bit RISC-V Linux (rv64gc), zig cc: static musl programs, glibc 2.31 libalog.so; runs under qemu-riscv64"
ALIASES = ("rv64",)
INSTALL_HINT = alog_zig.INSTALL_HINT

# cpu= -> zig's -mcpu.
CPUS = {
    "rv64gc": "baseline_rv64",
    "sifive-u74": "sifive_u74",
}
DEFAULT_CPU = "rv64gc"

TARGET = alog_zig.ZigTarget(name="riscv64", machine="riscv64", musl_triple="riscv64-linux-musl",
                            glibc_triple="riscv64-linux-gnu.2.31", manylinux="manylinux_2_31",
                            qemu="qemu-riscv64", cpus=CPUS)

exists, generate = alog_zig.tool(TARGET)
