#!/usr/bin/env bash
# Set up everything alog-detect needs on a fresh Debian machine with Python 3.11 (idempotent).
# torch is pinned and installed first: any looser spec may pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Emulators and the firmware toolchain used by the cross-target tests.
APT_PACKAGES="qemu-user libc6-arm64-cross clang llvm gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
missing=""
for p in $APT_PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PY=${PYTHON:-python3}
$PY -m pip install -q --disable-pip-version-check "torch==$(sed -n 's/^torch==//p' constraints.txt)"
$PY -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test,cross]"
echo "setup: done ($($PY -c 'import torch, onnx, onnxruntime; print("torch", torch.__version__, "onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__)'))"
