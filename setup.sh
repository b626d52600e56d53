#!/usr/bin/env bash
# Set up everything alog-detect needs on a fresh Debian machine with Python 3.11 (idempotent).
# torch is pinned and installed first: any looser spec may pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
    local missing="" p
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    echo "setup: installing Debian packages:$missing"
    [ -n "${APT_UPDATED:-}" ] || { $SUDO apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# The engine builds with the system cc (gcc, with its ASan/UBSan runtimes); clang and its runtime
# library (named after clang's major version) build the libFuzzer harnesses.
apt_install gcc clang
apt_install "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
# The cortex-m4 target: the bare-metal cross compiler with newlib, and QEMU's mps2-an386 board
# that runs its firmware image (docs/build.md, packaging/firmware/README.md).
apt_install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
# The Linux cross targets (x86_64, arm64, armv7, riscv64; zig cc comes from PyPI): qemu-user runs
# their programs (binfmt is not assumed), the glibc of each architecture runs what links libalog.so
# dynamically; pkg-config and CMake build the example programs against a bundle.
apt_install qemu-user libc6-amd64-cross libc6-arm64-cross libc6-armhf-cross libc6-riscv64-cross \
    pkgconf cmake make
# The build report's test renders dist/report.html in a real headless browser (tests/test_report.py).
apt_install chromium

PY=${PYTHON:-python3}
$PY -m pip install -q --disable-pip-version-check --root-user-action=ignore "torch==$(sed -n 's/^torch==//p' constraints.txt)"
$PY -m pip install -q --disable-pip-version-check --root-user-action=ignore -c constraints.txt -e ".[test]"
echo "setup: done ($($PY -c 'import torch, onnx, onnxruntime; print("torch", torch.__version__, "onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__)'))"
