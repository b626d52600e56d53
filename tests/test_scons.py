"""SCons: option validation, dry runs, incremental rebuilds, `scons check`, the bundle, and the
generated headers (golden files under tests/golden/, rendered from tests/golden/models/).

After an intended change to a template, regenerate the golden files and review the diff:
    python -c "from pathlib import Path; from alog_detect.codegen import CodegenConfig, render_headers; \
render_headers(CodegenConfig(Path('tests/golden/models'), Path('tests/golden'), root=Path('tests/golden')))"

Builds run in a temporary copy of the build files with a tiny stand-in engine (the real engine is
tested by its own tests) and a tiny configuration, so they never touch a developer's build/.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alog_detect import __version__
from alog_detect.codegen import OUTPUTS, CodegenConfig, c_ident, c_string, render_headers
from alog_detect.errors import UserError
from scons_trees import BUNDLE_FILES, TINY_OPTIONS, copy_build_files, scons, write_small_log

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
BUNDLE = f"dist/alog-engine-{__version__}-host.tar.gz"

# A stand-in engine: a library in two folders, a front end that includes every generated header,
# and a test program that reports the runner it was started through.
TINY_ENGINE = {
    "cengine/src/status.c": """#include "alog.h"
const char *alog_status_str(alog_status status) { return status == ALOG_OK ? "ok" : "error"; }
""",
    "cengine/src/util/twice.c": """#include "twice.h"
int alog_twice(int x) { return 2 * x; }
""",
    "cengine/src/twice.h": "int alog_twice(int x);\n",
    "cengine/src/cli/main.c": """#include <stdio.h>
#include <string.h>
#include "alog.h"
#ifdef ALOG_HAVE_MODEL_META
#include "alog_model_meta.h"
#define ALOG_VOCAB_IMPLEMENTATION
#include "alog_vocab.h"
#endif
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[argc - 1], "--memory") == 0) {
        printf("{\\"total\\": %d}\\n", argc);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
#ifdef ALOG_HAVE_MODEL_META
        printf("alog-engine %s deeplog %s\\n", ALOG_VERSION_STRING, ALOG_META_DEEPLOG_ONNX_SHA256);
#else
        printf("alog-engine %s generic\\n", ALOG_VERSION_STRING);
#endif
        return 0;
    }
#ifdef ALOG_HAVE_MODEL_META
    printf("%d templates, first: %s\\n", ALOG_VOCAB_SIZE, alog_vocab_templates[0]);
#endif
    return 0;
}
""",
    "cengine/tests/drivers/twice_tool.c": """#include <stdio.h>
#include <stdlib.h>
#include "twice.h"
int main(int argc, char **argv) {
    printf("%d\\n", alog_twice(argc > 1 ? atoi(argv[1]) : 0));
    return 0;
}
""",
    "cengine/fuzz/fuzz_twice.c": """#include <stddef.h>
#include <stdint.h>
#include "twice.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return size > 0 && alog_twice(data[0]) != 2 * data[0];
}
""",
    "cengine/tests/test_twice.c": """#include <stdio.h>
#include <stdlib.h>
#include "twice.h"
int main(void) {
    const char *runner = getenv("ALOG_VIA_RUNNER");
    printf("runner=%s\\n", runner ? runner : "none");
    return alog_twice(21) == 42 ? 0 : 1;
}
""",
}
MODEL_FREE = ("lib", "tools", "tests")


def rebuilt(explain_output: str) -> set[str]:
    """The targets `--debug=explain` says it (re)builds."""
    return set(re.findall(r"scons: (?:re)?building `([^']+)'", explain_output))


def _copy_build_files(dest: Path) -> Path:
    return copy_build_files(dest, TINY_ENGINE)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return _copy_build_files(tmp_path_factory.mktemp("scons_tree"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tree built once with the tiny configuration; returns (tree, output of that build)."""
    root = _copy_build_files(tmp_path_factory.mktemp("scons_built"))
    write_small_log(root)
    return root, scons(root, *TINY_OPTIONS, f"cache_dir={root / 'cache'}")


class edited:
    """Change a file for the duration of a `with` block, then put the original bytes back."""

    def __init__(self, path: Path, new_text: str):
        self.path, self.new_text = path, new_text

    def __enter__(self):
        self.original = self.path.read_bytes()
        self.path.write_text(self.new_text)

    def __exit__(self, *exc):
        self.path.write_bytes(self.original)


# ---- options ----------------------------------------------------------------------------------------

def test_help_lists_every_option_with_its_default(tree):
    out = scons(tree, "-h").stdout
    for name, default in (("target", "host"), ("logs", ""), ("window", "10"), ("top_k", "5"),
                          ("hidden", "64"), ("layers", "2"), ("epochs", "30"), ("mscred_windows", "10,30,60"),
                          ("mscred_epochs", "3"), ("mscred_channels", "8,16,32,64"), ("cpu", ""),
                          ("session_key", "auto"), ("header_tokens", "auto"), ("log_format", "auto"),
                          ("timestamp", "auto"), ("timestamp_format", "auto"), ("models", "auto"),
                          ("mscred_bucket", "lines:20"), ("mscred_step", "10"), ("quantize", "none"),
                          ("end_key", "yes"), ("rule", "topk"),
                          ("sim_th", "0.4"), ("mine_lines", "0"), ("optimize", "auto"), ("embed_model", "auto"),
                          ("san", "no"), ("fuzz", "no"), ("firmware_models", "deeplog"),
                          ("flash_budget", "auto"), ("ram_budget", "auto"), ("firmware_lines", "200")):
        assert re.search(rf"^{name}: .*\n\s+default: {re.escape(default)}$", out, re.M), name
    assert "host" in out and "(also: native)" in out


def test_target_list_names_each_target_and_its_aliases(tree):
    proc = scons(tree, "target=list")
    assert re.search(r"^\s+host\s+.*\(also: native\)$", proc.stdout, re.M)
    assert not (tree / "build").exists()


def test_target_alias_builds_into_the_canonical_target_dir(tree):
    out = scons(tree, "target=native", "-n", "engine").stdout
    assert "build/host/lib/libalog.a" in out and "build/native" not in out


@pytest.mark.parametrize("option, message", [
    ("window=0", "window=0: out of range"),
    ("window=ten", "window=ten: not an integer"),
    ("top_k=0", "top_k=0: out of range"),
    ("layers=9", "layers=9: out of range"),
    ("mscred_windows=30,10", "mscred_windows=30,10: expected 1 to 8 increasing"),
    ("mscred_channels=8,16", "mscred_channels=8,16: expected 4 positive integers"),
    ("mscred_channels=8,16,32,x", "mscred_channels=8,16,32,x: expected 4 positive integers"),
    ("cpu=cortex-a53", "cpu=cortex-a53: not a CPU of target=host (fix: one of generic, native;"),
    ("optimize=fast", "Invalid value for enum variable 'optimize'"),
    ("flash_budget=lots", "flash_budget=lots: not a size in bytes (fix: a whole number of bytes"),
    ("ram_budget=0", "ram_budget=0: not a size in bytes"),
    ("ram_budget=5G", "ram_budget=5G: not a size in bytes"),
    ("firmware_models=mscred", "Invalid value for enum variable 'firmware_models'"),
    ("firmware_lines=0", "firmware_lines=0: out of range"),
    ("flash_budget=256K", "flash_budget=256K: only firmware targets read it, not target=host (fix: drop it, "
                          "or build target=cortex-m4)"),
    ("target=sparc", "Invalid value for enum variable 'target'"),
    ("colour=blue", "unknown option(s): colour"),
    ("logs=nothing/*.log", "logs=nothing/*.log: nothing/*.log: glob matches no file"),
    ("logs=missing.log", "no such log file"),
    ("session_key=blk_", "session_key=blk_: not a session key rule"),
    ("header_tokens=-1", "header_tokens=-1: header_tokens must be an integer"),
    ("header_tokens=four", "header_tokens=four: header_tokens must be an integer"),
    ("sim_th=2", "sim_th=2: not a similarity threshold"),
    ("sim_th=high", "sim_th=high: not a similarity threshold"),
    ("mine_lines=-5", "mine_lines=-5: out of range"),
    ("mine_lines=many", "mine_lines=many: not an integer"),
])
def test_bad_option_is_reported_before_any_work(tree, option, message):
    proc = scons(tree, option, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tree / "build").exists() and not (tree / "dist").exists()


def test_missing_compiler_names_the_package_that_installs_it(tree):
    ghost = tree / "toolchains" / "ghost.py"
    ghost.write_text('DESCRIPTION = "a compiler that is not installed"\nALIASES = ()\n'
                     'INSTALL_HINT = "the Debian package gcc-ghost (apt-get install gcc-ghost)"\n'
                     'def exists(env):\n    return bool(env.Detect(["ghost-gcc-does-not-exist"]))\n'
                     'def generate(env):\n    raise AssertionError("generate() after exists() failed")\n')
    try:
        proc = scons(tree, "target=ghost", "-n", check=False)
    finally:
        ghost.unlink()
    assert proc.returncode == 2
    assert "target=ghost: its compiler or archiver was not found" in proc.stderr
    assert "apt-get install gcc-ghost" in proc.stderr


def test_dry_run_lists_every_stage_and_writes_nothing(tree):
    out = scons(tree, "-n").stdout
    stages = ["sample: build/common/sample/sample.log", "parse: build/common/parsed/parsed.parquet",
              "build-deeplog: build/common/deeplog/vocab.json",
              "build-mscred: build/common/mscred/signatures.npz",
              "deeplog-train: build/common/train/deeplog.pth", "mscred-train: build/common/train/mscred.pth",
              "convert-onnx: build/common/models/deeplog.onnx", "codegen: build/host/gen/alog_vocab.h",
              "codegen: build/host/gen/alog_model_meta.h", f"bundle: {BUNDLE}"]
    positions = [out.index(stage) for stage in stages]
    assert positions.index(min(positions)) == 0 and out.index(stages[-1]) == max(positions)
    assert "alog_model_data.c" not in out          # host does not embed the model by default
    assert not (tree / "build").exists() and not (tree / "dist").exists()


def test_export_waits_for_the_engine_it_validates_on(tmp_path):
    """On a fresh tree the engine's onnx_runner is built before convert-onnx, so the export's
    validation always has the engine as its third party (an order only: see SConstruct)."""
    root = _copy_build_files(tmp_path)
    runner = root / "cengine" / "tests" / "drivers" / "onnx_runner.c"
    runner.write_text("int main(void) { return 0; }\n")
    out = scons(root, "-n", "models").stdout
    link = next(i for i, line in enumerate(out.splitlines()) if line.endswith("-o build/host/tools/onnx_runner")
                or " -o build/host/tools/onnx_runner " in line)
    export = next(i for i, line in enumerate(out.splitlines()) if line.startswith("convert-onnx:"))
    assert link < export
    assert "onnx_runner" not in scons(root, "-n", "models", "san=1").stdout.split("convert-onnx:")[0]


def test_every_compile_uses_the_strict_flags_and_no_fused_multiply_add(tree):
    out = scons(tree, "-n", *MODEL_FREE).stdout
    compiles = [line for line in out.splitlines() if " -c " in line]
    assert len(compiles) >= 4
    for line in compiles:
        words = line.split()
        assert {"-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-ffp-contract=off"} <= set(words), line
    assert not (tree / "build").exists()


@pytest.mark.parametrize("words, level", [
    ((), "-O2"),                                    # optimize=auto: speed, as before auto existed
    (("optimize=size",), "-Os"),
    (("target=cortex-m4",), "-Os"),                 # the toolchain's ALOG_OPTIMIZE_DEFAULT
    (("target=cortex-m4", "optimize=debug"), "-Og"),
])
def test_optimize_auto_takes_the_targets_choice(tree, words, level):
    if "target=cortex-m4" in words and shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    out = scons(tree, "-n", "lib", *words).stdout
    compiles = [line.split() for line in out.splitlines() if " -c " in line]
    assert compiles and all([w for w in words_ if re.fullmatch(r"-O.", w)] == [level] for words_ in compiles)


def test_a_firmware_target_refuses_embed_model(tree):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    proc = scons(tree, "target=cortex-m4", "embed_model=no", "-n", check=False)
    assert proc.returncode == 2
    assert "embed_model=no: target=cortex-m4 always ships the models as a C source beside the library" in proc.stderr


def test_parse_options_resolve_auto_for_the_logs_being_parsed():
    sys.path.insert(0, str(REPO / "site_scons"))
    try:
        import alog_options
    finally:
        sys.path.remove(str(REPO / "site_scons"))
    auto = {"log_format": "auto", "timestamp": "auto", "timestamp_format": "auto"}
    resolved = {"timestamp": "auto", "timestamp_format": "auto", "names": "scons"}
    options = {"session_key": "auto", "header_tokens": "auto", "sim_th": "0.4", **auto}
    assert alog_options.parse_settings(options, builtin_sample=True) == {
        "session_key": "prefix:ses_", "header_tokens": 4, "sim_th": 0.4, "log_format": "", **resolved}
    # With logs= and no header count, the parse stage detects the format from the logs' first lines.
    assert alog_options.parse_settings(options, builtin_sample=False) == {
        "session_key": "none", "header_tokens": 0, "sim_th": 0.4, "log_format": "auto", **resolved}
    given = {"session_key": "prefix:blk_", "header_tokens": "2", "sim_th": "0.7", **auto}
    assert alog_options.parse_settings(given, builtin_sample=True) == {
        "session_key": "prefix:blk_", "header_tokens": 2, "sim_th": 0.7, "log_format": "", **resolved}
    assert alog_options.parse_settings({**given, "header_tokens": "auto"}, builtin_sample=False) == {
        "session_key": "prefix:blk_", "header_tokens": 0, "sim_th": 0.7, "log_format": "auto", **resolved}
    fmt = {**given, "header_tokens": "auto", "log_format": "<Date> <Content>"}
    assert alog_options.parse_settings(fmt, builtin_sample=False)["log_format"] == "<Date> <Content>"
    assert alog_options.parse_settings({**given, "mine_lines": 5000}, builtin_sample=True)["mine_lines"] == 5000
    assert "mine_lines" not in alog_options.parse_settings({**given, "mine_lines": 0}, builtin_sample=True)


TS = '"timestamp": "auto", "timestamp_format": "auto"'


@pytest.mark.parametrize("options, settings", [
    ((), '{"header_tokens": 4, "log_format": "", "names": "scons", "session_key": "prefix:ses_", "sim_th": 0.4, '
         + TS + '}'),
    (("logs=small.log",), '{"header_tokens": 0, "log_format": "auto", "names": "scons", "session_key": "none", '
                          '"sim_th": 0.4, ' + TS + '}'),
    (("logs=small.log", "header_tokens=3", "session_key=prefix:blk_", "sim_th=0.6"),
     '{"header_tokens": 3, "log_format": "", "names": "scons", "session_key": "prefix:blk_", "sim_th": 0.6, '
     + TS + '}'),
])
def test_the_parse_stage_gets_the_settings_that_fit_the_logs(tree, options, settings):
    """The built-in sample: 4 header tokens (date time host service[pid]:), `ses_` sessions."""
    (tree / "small.log").write_text("2026-03-14 08:12:33.123 gw sshd[1]: INFO ses_9f3a12bc hello\n")
    try:
        out = scons(tree, "-n", "--tree=all", "build/common/parsed/parsed.parquet", *options).stdout
    finally:
        (tree / "small.log").unlink()
    params = out[out.index("+-build/common/parsed/parsed.parquet"):]
    assert f"+-{settings}\n" in params


# ---- the generated headers -----------------------------------------------------------------------------

def _render(model_dir: Path, out_dir: Path, root: Path) -> dict[str, bytes]:
    render_headers(CodegenConfig(model_dir=model_dir, out_dir=out_dir, root=root))
    return {name: (out_dir / name).read_bytes() for name in OUTPUTS}


def test_headers_match_the_golden_files(tmp_path):
    rendered = _render(GOLDEN / "models", tmp_path, GOLDEN)
    for name, data in rendered.items():
        assert data == (GOLDEN / name).read_bytes(), name
    assert b"generated, do not edit" in rendered["alog_vocab.h"]
    assert b"models/vocab.json\n *     " + hashlib.sha256(
        (GOLDEN / "models" / "vocab.json").read_bytes()).hexdigest().encode() in rendered["alog_vocab.h"]


def test_headers_do_not_depend_on_where_the_inputs_live(tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(GOLDEN / "models", moved / "models")
    rendered = _render(moved / "models", tmp_path / "out", moved)
    assert all(rendered[name] == (GOLDEN / name).read_bytes() for name in OUTPUTS)
    assert not any(str(tmp_path).encode() in data for data in rendered.values())


def test_meta_header_refuses_a_model_that_differs_from_its_metadata(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(GOLDEN / "models", models)
    onnx = models / "deeplog.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    with pytest.raises(UserError, match="deeplog.onnx is not the file this metadata describes"):
        render_headers(CodegenConfig(model_dir=models, out_dir=tmp_path / "out",
                                     outputs=("alog_model_meta.h",), root=tmp_path))
    assert not (tmp_path / "out" / "alog_model_meta.h").exists()


CHECK_GENERATED_C = r"""
#include <stdint.h>
#include <stdio.h>
#include "alog_model_meta.h"
#define ALOG_VOCAB_IMPLEMENTATION
#include "alog_vocab.h"
int main(void) {
    size_t i, j;
    for (i = 0; i < ALOG_VOCAB_SIZE; i++) {
        for (j = 0; j < alog_vocab_template_lengths[i]; j++) printf("%02x", (unsigned char)alog_vocab_templates[i][j]);
        printf("\n");
    }
    printf("%d %d\n", (int)((uintptr_t)alog_model_deeplog_onnx % 16), (int)((uintptr_t)alog_model_mscred_onnx % 16));
    for (j = 0; j < alog_model_mscred_onnx_size; j++) printf("%02x", alog_model_mscred_onnx[j]);
    printf("\n%s %d\n", ALOG_META_DEEPLOG_ONNX_SHA256, ALOG_META_MSCRED_SCALES);
    return 0;
}
"""


def test_generated_c_compiles_strictly_and_holds_the_exact_bytes(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "main.c").write_text(CHECK_GENERATED_C)
    program = tmp_path / "check"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{GOLDEN}", "-o", program,
                    tmp_path / "main.c", GOLDEN / "alog_model_data.c"], check=True)
    lines = subprocess.run([program], capture_output=True, text=True, check=True).stdout.splitlines()
    from alog_detect.vocab import load_engine_vocab

    templates = load_engine_vocab(GOLDEN / "models" / "vocab.json").templates
    assert [bytes.fromhex(h) for h in lines[:len(templates)]] == [t.encode("utf-8") for t in templates]
    assert lines[len(templates)] == "0 0"
    assert bytes.fromhex(lines[len(templates) + 1]) == (GOLDEN / "models" / "mscred.onnx").read_bytes()
    deeplog_sha = hashlib.sha256((GOLDEN / "models" / "deeplog.onnx").read_bytes()).hexdigest()
    assert lines[len(templates) + 2] == f"{deeplog_sha} 3"


def _decode_c_literal(literal: str) -> bytes:
    """Read back a literal c_string made: plain printable ASCII and three-digit octal escapes."""
    assert literal[0] == literal[-1] == '"'
    out, body, i = bytearray(), literal[1:-1], 0
    while i < len(body):
        if body[i] == "\\":
            out.append(int(body[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(ord(body[i]))
            i += 1
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_c_string_escapes_every_byte_it_must(text):
    literal = c_string(text)
    assert _decode_c_literal(literal) == text.encode("utf-8")
    body = literal[1:-1]
    assert all(0x20 <= ord(c) < 0x7F for c in body)
    assert "?" not in body and '"' not in body and not re.search(r"\\(?![0-7]{3})", body)


def test_c_ident_makes_valid_identifiers():
    assert c_ident("deeplog") == "deeplog"
    assert c_ident("alog_vocab.h") == "alog_vocab_h"
    assert c_ident("cortex-m4") == "cortex_m4"
    assert c_ident("3d") == "n3d"


# ---- building ---------------------------------------------------------------------------------------------

def test_default_build_ends_with_the_bundle_and_says_how_to_run_it(built):
    root, proc = built
    assert f"bundle: {BUNDLE}" in proc.stdout
    assert "run it: tar -xzf" in proc.stdout and "bin/alog-engine --models" in proc.stdout
    prefix = f"alog-engine-{__version__}-host/"
    with tarfile.open(root / BUNDLE) as tar:
        members = tar.getmembers()
    files = sorted(m.name[len(prefix):] for m in members if m.isfile())
    assert files == BUNDLE_FILES
    assert [m.name for m in members] == sorted(m.name for m in members if m.isdir()) + \
        sorted(m.name for m in members if m.isfile())
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)
    with tarfile.open(root / BUNDLE) as tar:
        frontend = json.load(tar.extractfile(f"{prefix}share/alog/models/frontend.json"))
    # The parse options reach the engine through the model directory.
    assert frontend["session_rule"] == "prefix:ses_" and frontend["header_tokens"] == 4
    version = subprocess.run([root / "build/host/bin/alog-engine", "--version"], capture_output=True,
                             text=True, check=True).stdout
    deeplog_sha = hashlib.sha256((root / "build/common/models/deeplog.onnx").read_bytes()).hexdigest()
    assert version == f"alog-engine {__version__} deeplog {deeplog_sha}\n"


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def model_free(tmp_path_factory):
    """A tree where only the model-free targets were built, plain then san=1."""
    root = _copy_build_files(tmp_path_factory.mktemp("scons_model_free"))
    plain = scons(root, *MODEL_FREE)
    plain_files = {name: (root / "build" / name).read_bytes() for name in _files(root / "build")}
    san = scons(root, *MODEL_FREE, "san=1")
    return root, plain, plain_files, san


def test_lib_tools_and_tests_build_without_training(model_free):
    root, plain, _, _ = model_free
    built = _files(root / "build")
    assert not any(name.endswith((".pth", ".onnx", ".parquet")) for name in built)
    assert not (root / "build/common").exists() and not (root / "build/host/gen").exists()
    assert {"host/lib/libalog.a", "host/lib/libalog.so", "host/tools/alog-engine", "host/tools/twice_tool",
            "host/tests/test_twice"} <= built
    version = subprocess.run([root / "build/host/tools/alog-engine", "--version"], capture_output=True,
                             text=True, check=True).stdout
    assert version == f"alog-engine {__version__} generic\n"
    tool = subprocess.run([root / "build/host/tools/twice_tool", "21"], capture_output=True, text=True, check=True)
    assert tool.stdout == "42\n"
    assert "fuzz" not in plain.stdout and not (root / "build/host/fuzz").exists()


def test_san_builds_into_its_own_variant_dir(model_free):
    root, plain, plain_files, san = model_free
    san_compiles = [line for line in san.stdout.splitlines() if " -c " in line]
    assert san_compiles and all("-fsanitize=address,undefined" in line and " -o build/host-san/" in line
                                for line in san_compiles)
    assert all("-fsanitize" not in line for line in plain.stdout.splitlines())
    assert {"host-san/tools/alog-engine", "host-san/tools/twice_tool", "host-san/tests/test_twice",
            "host-san/lib/libalog.a"} <= _files(root / "build")
    # The plain build is untouched and still up to date.
    assert all((root / "build" / name).read_bytes() == data for name, data in plain_files.items())
    assert scons(root, "--question", *MODEL_FREE, check=False).returncode == 0
    assert scons(root, "--question", *MODEL_FREE, "san=1", check=False).returncode == 0


@pytest.mark.skipif(shutil.which("clang") is None, reason="libFuzzer needs clang")
def test_fuzz_harnesses_build_with_clang_when_asked(model_free):
    root, _, _, _ = model_free
    out = scons(root, "fuzz", "fuzz=1").stdout
    assert re.search(r"^\S*clang -o build/host/cengine-fuzz/fuzz/fuzz_twice.o .*-fsanitize=fuzzer-no-link", out, re.M)
    run = subprocess.run([root / "build/host/fuzz/fuzz_twice", "-runs=50", "-seed=1"], capture_output=True,
                         text=True, cwd=root)
    assert run.returncode == 0 and "Done 50 runs" in run.stderr


def test_check_tools_runs_the_real_tools_without_training(tmp_path):
    """The real engine's tools under `scons check-tools`: onnx_runner must give onnxruntime's
    outputs on a tiny model made at build time, mutate_model must survive its bit flips."""
    root = _copy_build_files(tmp_path)
    for name in ("src", "tests", "fuzz"):
        shutil.rmtree(root / "cengine" / name, ignore_errors=True)
        shutil.copytree(REPO / "cengine" / name, root / "cengine" / name)
    proc = scons(root, "check-tools")
    for name in ("onnx_runner", "mutate_model", "alog-engine-generic",
                 *(p.stem for p in (REPO / "cengine/tests").glob("test_*.c"))):
        assert f"PASS {name}\n" in proc.stdout, name
    assert (root / "build/common/check/tiny.onnx").is_file()
    assert not (root / "build/common/train").exists() and not (root / "build/host/gen").exists()


def test_onnx_runner_check_fails_on_a_difference(tmp_path):
    sys.path.insert(0, str(REPO / "site_scons" / "site_tools"))
    try:
        import alog_check
    finally:
        sys.path.remove(str(REPO / "site_scons" / "site_tools"))
    import numpy as np

    expected = np.array([0.25, 0.5, 0.25], np.float32)
    expected.tofile(tmp_path / "expected.bin")
    node = type("Node", (), {"abspath": str(tmp_path / "expected.bin")})()
    env = {"ALOG_CHECK_EXPECTED": node, "ALOG_CHECK_OUT": str(tmp_path)}
    ok = subprocess.CompletedProcess([], 0, b"{}", b"")
    (expected + np.float32(4e-6)).tofile(tmp_path / "0.bin")
    assert alog_check.VERDICTS["same_outputs"](ok, env) is None
    (expected + np.float32(1e-3)).tofile(tmp_path / "0.bin")
    assert "max |diff| 0.001" in alog_check.VERDICTS["same_outputs"](ok, env)
    expected[:2].tofile(tmp_path / "0.bin")
    assert "2 output values, expected 3" in alog_check.VERDICTS["same_outputs"](ok, env)
    assert alog_check.VERDICTS["same_outputs"](subprocess.CompletedProcess([], 3, b"", b""), env) == "exit 3"


def test_second_build_with_nothing_changed_does_nothing(built):
    root, _ = built
    assert scons(root, "--question", *TINY_OPTIONS, check=False).returncode == 0
    assert rebuilt(scons(root, "--debug=explain", *TINY_OPTIONS).stdout) == set()


def test_bundle_is_byte_identical_when_rebuilt(built):
    root, _ = built
    first = (root / BUNDLE).read_bytes()
    (root / BUNDLE).unlink()
    assert rebuilt(scons(root, "--debug=explain", *TINY_OPTIONS).stdout) == {BUNDLE}
    assert (root / BUNDLE).read_bytes() == first


def test_editing_a_c_file_recompiles_only_its_objects(built):
    root, _ = built
    source = root / "cengine/src/util/twice.c"
    with edited(source, source.read_text() + "int alog_thrice(int x) { return 3 * x; }\n"):
        changed = rebuilt(scons(root, "--debug=explain", *TINY_OPTIONS).stdout)
    objects = {"build/host/cengine/src/util/twice.o", "build/host/cengine/src/util/twice.pic.o"}
    assert {t for t in changed if t.endswith(".o")} == objects
    assert {"build/host/lib/libalog.a", "build/host/lib/libalog.so"} <= changed
    assert not any(t.startswith("build/common/") or "/gen/" in t for t in changed)
    scons(root, *TINY_OPTIONS)


def test_a_comment_only_edit_recompiles_but_relinks_nothing(built):
    root, _ = built
    source = root / "cengine/src/util/twice.c"
    with edited(source, source.read_text() + "/* a comment */\n"):
        changed = rebuilt(scons(root, "--debug=explain", *TINY_OPTIONS).stdout)
    assert changed == {"build/host/cengine/src/util/twice.o", "build/host/cengine/src/util/twice.pic.o"}
    scons(root, *TINY_OPTIONS)


def test_changing_a_template_regenerates_only_its_header(built):
    root, _ = built
    template = root / "templates/alog_vocab.h.j2"
    text = template.read_text()
    with edited(template, text.replace("#include <stddef.h>", "#include <stddef.h>\n/* edited */", 1)):
        changed = rebuilt(scons(root, "--debug=explain", *TINY_OPTIONS).stdout)
        assert b"/* edited */" in (root / "build/host/gen/alog_vocab.h").read_bytes()
    assert "build/host/gen/alog_vocab.h" in changed
    assert not any(t.startswith("build/common/") or t.endswith("alog_model_meta.h") for t in changed)
    # Only the engine bound to the models sees the generated headers.
    assert {t for t in changed if t.endswith(".o")} == {"build/host/cengine-bound/src/cli/main.o"}
    scons(root, *TINY_OPTIONS)


@pytest.mark.parametrize("option, retrained, kept", [
    ("epochs=2", "build/common/train/deeplog.pth", "build/common/train/mscred.pth"),
    ("mscred_epochs=2", "build/common/train/mscred.pth", "build/common/train/deeplog.pth"),
    ("hidden=9", "build/common/train/deeplog.pth", "build/common/train/mscred.pth"),
    ("mscred_channels=4,4,4,8", "build/common/train/mscred.pth", "build/common/train/deeplog.pth"),
])
def test_a_training_option_retrains_only_its_model(built, option, retrained, kept):
    root, _ = built
    name = option.split("=")[0]
    options = [o for o in TINY_OPTIONS if not o.startswith(f"{name}=")] + [option]
    assert scons(root, "--question", *options, check=False).returncode != 0
    changed = rebuilt(scons(root, "-n", "--debug=explain", *options).stdout)
    assert retrained in changed and kept not in changed
    assert "build/common/parsed/parsed.parquet" not in changed


@pytest.mark.parametrize("option", ["session_key=none", "header_tokens=0", "sim_th=0.5"])
def test_a_parse_option_reparses(built, option):
    root, _ = built
    name = option.split("=")[0]
    options = [o for o in TINY_OPTIONS if not o.startswith(f"{name}=")] + [option]
    changed = rebuilt(scons(root, "-n", "--debug=explain", *options).stdout)
    assert "build/common/parsed/parsed.parquet" in changed


def test_changing_the_logs_reparses(built):
    root, _ = built
    log = root / "small.log"
    with edited(log, log.read_text() + log.read_text().splitlines()[-1] + "\n"):
        changed = rebuilt(scons(root, "-n", "--debug=explain", *TINY_OPTIONS).stdout)
    assert "build/common/parsed/parsed.parquet" in changed


def test_a_new_target_is_one_file_and_never_retrains(built):
    root, _ = built
    host = (root / "toolchains/host.py").read_text()
    other = root / "toolchains/othercc.py"
    other.write_text(host.replace('env["ALOG_RUNNER"] = []',
                                  'env["ALOG_RUNNER"] = ["env", "ALOG_VIA_RUNNER=othercc"]')
                         .replace('"bundle": "host"', '"bundle": "othercc"'))
    try:
        proc = scons(root, "target=othercc", "--debug=explain", "check", *TINY_OPTIONS, check=False)
        changed = rebuilt(proc.stdout)
        # Nothing is retrained or re-exported (the check's inputs, shared by every target, are
        # made once: build/common/check/).
        assert not any(t.startswith("build/common/") and not t.startswith("build/common/check/")
                       for t in changed)
        assert "build/othercc/gen/alog_model_meta.h" in changed and "build/othercc/tests/test_twice" in changed
        assert (root / "build/othercc/check/test_twice.log").read_text() == "runner=othercc\n"
    finally:
        other.unlink()


def test_another_checkout_gets_the_models_from_the_cache(built, tmp_path):
    root, _ = built
    other = _copy_build_files(tmp_path / "other")
    shutil.copy(root / "small.log", other / "small.log")
    out = scons(other, f"cache_dir={root / 'cache'}", "models", *TINY_OPTIONS).stdout
    assert "Retrieved `build/common/train/deeplog.pth' from cache" in out
    assert "deeplog-train:" not in out and "mscred-train:" not in out and "convert-onnx:" not in out
    model = "build/common/models/deeplog.onnx"
    assert (other / model).read_bytes() == (root / model).read_bytes()


def test_check_runs_the_test_programs_and_reports_failures(built):
    root, _ = built
    proc = scons(root, "check", *TINY_OPTIONS, check=False)
    assert "PASS test_twice" in proc.stdout and "PASS alog-engine\n" in proc.stdout
    assert (root / "build/host/check/test_twice.log").read_text() == "runner=none\n"
    # The stand-in engine prints a line of its own, not verdicts: the check of the bound engine
    # against the Python reference's verdicts on the head of the logs fails, and says where.
    assert proc.returncode != 0
    assert re.search(r"^FAIL alog-engine-verdicts \(verdict 1 differs: engine \d+ templates, first: .* "
                     r'reference \{"model":"deeplog",', proc.stdout, re.M)
    head = (root / "build/common/check/head.log").read_bytes()
    assert head.count(b"\n") == 2000 and (root / "small.log").read_bytes().startswith(head)
    failing = root / "cengine/tests/test_fails.c"
    failing.write_text('#include <stdio.h>\nint main(void) { puts("expected 1, got 2"); return 3; }\n')
    try:
        proc = scons(root, "check", *TINY_OPTIONS, check=False)
    finally:
        failing.unlink()
    assert proc.returncode != 0
    assert "expected 1, got 2" in proc.stdout and "FAIL test_fails (exit 3" in proc.stdout


def test_the_operator_header_depends_on_the_engines_operator_list(tree):
    """alog_ops_config.h lists every operator the engine has: a build redoes it when one is added
    (without the dependency a firmware build kept a stale header and failed to compile)."""
    out = scons(tree, "-n", "-Q", "--tree=prune", "target=cortex-m4", "build/cortex-m4/gen/alog_ops_config.h").stdout
    children = [line.strip(" |+-") for line in out.splitlines()[1:] if re.match(r"^  \+-", line)]
    assert "python/alog_detect/data/supported_ops.json" in children
    # Its log-format switch comes from the front end the image's models were mined with.
    assert "build/common/models-deeplog/frontend.json" in children
