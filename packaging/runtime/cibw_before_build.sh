#!/usr/bin/env bash
# cibuildwheel's before-build (pyproject.toml, [tool.cibuildwheel]): inside the manylinux container,
# build libalog.so with the container's compiler and stage it, with the model directory, into the
# package. PROJECT is the checkout (cibuildwheel's {project}); build/common/models/ must hold the
# model directory (the workflow's first job makes it with `scons models`).
set -euo pipefail
project=${1:?usage: cibw_before_build.sh PROJECT}
cd "$project"
models=build/common/models
[ -f "$models/vocab.json" ] || { echo "cibw_before_build: $models/vocab.json: no model directory (fix: run scons models first, or download the workflow's models artifact there)" >&2; exit 2; }
python -m pip install -q "scons==$(sed -n 's/^scons==//p' constraints.txt)"
python -m SCons -Q lib
package=packaging/runtime/alog_runtime
cp build/host/lib/libalog.so "$package/libalog.so"
mkdir -p "$package/models"
for f in vocab.json frontend.json deeplog.onnx deeplog.onnx.meta.json mscred.onnx mscred.onnx.meta.json; do
    [ ! -f "$models/$f" ] || cp "$models/$f" "$package/models/$f"
done
