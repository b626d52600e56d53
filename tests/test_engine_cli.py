"""`alog-engine`: its command line, its exit codes, the model directory checks, and bad input
(binary garbage, NUL bytes, 1 MiB lines, an empty stream, a pipe that closes) handled cleanly and
as the Python reference handles it, also under ASan + UBSan. Plus the detector's C unit programs,
the public API's C test and the firmware example (cengine/examples/firmware/).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from engine_helpers import (ENGINE, REPO, SAMPLE_KEY, SANITIZE_FLAGS, STRICT_FLAGS, assert_answers_line_by_line, build_engine,
                            run_engine, run_reference)
from engine_helpers import engine, engine_san, sample  # noqa: F401 (session fixtures)

import cbuild

MAX_LINE = 1 << 20
EXIT_USAGE, EXIT_MODELS, EXIT_IO = 2, 3, 4


# ---- the detector's C unit programs -----------------------------------------------------------

DETECT_SOURCES = sorted((ENGINE / "src" / "detect").glob("*.c"))


def build_unit(tmp_path: Path, name: str, sanitize: bool) -> Path:
    out = tmp_path / (name + ("_san" if sanitize else ""))
    # The detector's pieces under test need no model: leave out detector.c and modeldir.c, which
    # call the engine's model API, so the program stays a unit test.
    sources = [s for s in DETECT_SOURCES if s.name not in ("detector.c", "modeldir.c")]
    cmd = ["cc", *STRICT_FLAGS, *(SANITIZE_FLAGS if sanitize else ["-O1"]), f"-I{ENGINE / 'include'}",
           f"-I{ENGINE / 'src'}", str(ENGINE / "tests" / f"{name}.c"), *map(str, sources), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def verdict_harness(tmp_path_factory):
    return build_unit(tmp_path_factory.mktemp("unit"), "test_detect_verdict", sanitize=True)


@pytest.mark.parametrize("name", ["test_detect_session", "test_detect_verdict"])
@pytest.mark.parametrize("sanitize", [False, True], ids=["plain", "san"])
def test_unit_program_passes(tmp_path, name, sanitize):
    proc = subprocess.run([str(build_unit(tmp_path, name, sanitize))], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == f"{name}: ok"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=20))
def test_string_escaping_is_json_dumps_of_the_surrogateescape_text(verdict_harness, names):
    """Any bytes come out as json.dumps writes the text masking.to_text makes of them."""
    feed = "".join(f"S {n.hex()}\n" for n in names).encode()
    proc = subprocess.run([str(verdict_harness), "--stdin"], input=feed, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    expected = [json.dumps(n.decode("utf-8", "surrogateescape")) for n in names]
    assert proc.stdout.decode("ascii").splitlines() == expected


# The library's SHA-256 (model and vocabulary hashes): stdin hashed in updates of the sizes given on
# the command line, in turn (a partial block, then whole blocks straight from the input, ...).
SHA256_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "sha256.h"
int main(int argc, char **argv) {
    static unsigned char data[1 << 16];
    size_t len = fread(data, 1, sizeof data, stdin), done = 0;
    int i = 1;
    char hex[65];
    alog_sha256_ctx ctx;
    alog_sha256_init(&ctx);
    while (done < len) {
        size_t n = argc > 1 ? (size_t)atol(argv[i]) : len;
        if (n > len - done) n = len - done;
        alog_sha256_update(&ctx, data + done, n);
        done += n;
        i = i + 1 < argc ? i + 1 : 1;
    }
    alog_sha256_final_hex(hex, &ctx);
    puts(hex);
    return 0;
}
"""


@pytest.fixture(scope="module")
def sha256_harness(tmp_path_factory):
    out = tmp_path_factory.mktemp("sha256")
    (out / "sha256_check.c").write_text(SHA256_HARNESS)
    return cbuild.build(out, "sha256_check", [out / "sha256_check.c", ENGINE / "src" / "sha256.c"],
                        sanitize=True)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=700), st.lists(st.integers(1, 200), min_size=1, max_size=6))
def test_sha256_matches_hashlib(sha256_harness, data, chunks):
    import hashlib

    proc = subprocess.run([str(sha256_harness), *map(str, chunks)], input=data, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout.decode().strip() == hashlib.sha256(data).hexdigest()


# ---- command line -------------------------------------------------------------------------------

def run_plain(binary: Path, *args: str, input: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], input=input, capture_output=True, timeout=60)


def test_help_and_version(engine):
    help_text = run_plain(engine, "--help")
    assert help_text.returncode == 0
    for option in ("--models", "--all", "--session-key", "--max-sessions", "--session-timeout", "--rule",
                   "--batch", "--version", "exit codes"):
        assert option in help_text.stdout.decode()
    version = run_plain(engine, "--version")
    assert version.returncode == 0
    first, *rest = version.stdout.decode().splitlines()
    assert first == "alog-engine 0.1.0"
    assert "built without model metadata" in rest[0]


@pytest.mark.parametrize("args, message", [
    ([], "--models DIR is required"),
    (["--models", "m", "--bogus"], "unknown option: --bogus"),
    (["--models"], "option needs a value: --models"),
    (["--models", "m", "--session-key", "prefix:a b"], "--session-key"),
    (["--models", "m", "--session-key", "byhost"], "--session-key"),
    (["--models", "m", "--max-sessions", "0"], "--max-sessions"),
    (["--models", "m", "--max-sessions", "12x"], "--max-sessions"),
    (["--models", "m", "a.log", "b.log"], "one input only"),
    (["--models", "m", "--isa", "sse9"], "--isa must be auto, avx2 or baseline: sse9"),
    *[(["--models", "m", "--session-timeout", bad], f"--session-timeout needs a whole number of lines above 0 "
       f"or seconds above 0 such as 30s: {bad}")
      for bad in ("0", "-3", "abc", "", "0s", "-1s", "nans", "infs", "1e999s", "2.5", "s", "3x", " 5",
                  "99999999999999999999", "0x10s", "1es", ".s")],
    (["--models", "m", "--session-timeout"], "option needs a value: --session-timeout"),
    (["--models", "m", "--rule", "best"], "--rule must be topk or probability: best"),
    *[(["--models", "m", "--batch", bad], f"--batch needs a whole number from 1 to 4096: {bad}")
      for bad in ("0", "-1", "-0", "x", "", "1.5", "8x", " 8", "4097", "99999999999999999999")],
    (["--models", "m", "--batch"], "option needs a value: --batch"),
])
def test_bad_command_line_exits_2_with_usage(engine, args, message):
    proc = run_plain(engine, *args)
    assert proc.returncode == EXIT_USAGE
    err = proc.stderr.decode()
    assert message in err and "usage: alog-engine" in err
    assert proc.stdout == b""


# ---- model directory checks ---------------------------------------------------------------------

@pytest.fixture
def models_copy(sample, tmp_path) -> Path:
    return Path(shutil.copytree(sample[1], tmp_path / "models"))


def expect_model_error(binary: Path, models: Path, *fragments: str) -> str:
    proc = run_engine(binary, models, input=b"a line\n")
    assert proc.returncode == EXIT_MODELS, proc.stderr
    err = proc.stderr.decode()
    assert err.startswith("alog-engine: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err
    assert proc.stdout == b""
    return err


def test_missing_model_directory(engine_san, tmp_path):
    expect_model_error(engine_san, tmp_path / "nowhere", "model directory not found", "(fix: ")


def test_directory_without_vocab_or_model(engine_san, models_copy):
    for name in ("deeplog.onnx", "mscred.onnx"):
        (models_copy / name).unlink()
    expect_model_error(engine_san, models_copy, "holds no exported model")
    (models_copy / "vocab.json").unlink()
    expect_model_error(engine_san, models_copy, "has no vocab.json")


def test_onnx_that_is_not_the_metadatas_file_is_refused_like_the_reference(engine_san, models_copy):
    onnx = models_copy / "deeplog.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0x01
    onnx.write_bytes(bytes(data))
    err = expect_model_error(engine_san, models_copy, "deeplog.onnx.meta.json",
                             "deeplog.onnx is not the file this metadata describes (SHA-256 differs)")
    reference = run_reference(models_copy, input=b"x\n")
    assert reference.returncode == 2
    assert "is not the file this metadata describes" in reference.stderr.decode() and err


def test_vocabulary_that_is_not_the_models_is_refused(engine_san, models_copy):
    vocab = json.loads((models_copy / "vocab.json").read_text())
    vocab["0"] = vocab["0"] + " changed"
    (models_copy / "vocab.json").write_text(json.dumps(vocab))
    expect_model_error(engine_san, models_copy, "was exported for another vocabulary than vocab.json")


@pytest.mark.parametrize("name", ["vocab.json", "deeplog.onnx.meta.json", "mscred.onnx.meta.json",
                                  "frontend.json"])
def test_truncated_or_garbled_json_is_a_clean_error(engine_san, models_copy, name):
    path = models_copy / name
    text = path.read_bytes().rstrip()  # every proper prefix of the JSON value is then invalid
    rng = random.Random(name)
    cuts = [0, 1, len(text) // 3, len(text) - 1] + [rng.randrange(len(text)) for _ in range(6)]
    for cut in cuts:
        path.write_bytes(text[:cut])
        expect_model_error(engine_san, models_copy, name)
    path.write_bytes(text.replace(b'"', b"\xff", 1))
    expect_model_error(engine_san, models_copy, name)


@pytest.mark.parametrize("change", [{"header_tokens": -1}, {"session_rule": "regex:x"},
                                    {"mask_rules": ["ip", "words"]}, {"kind": "vocab"},
                                    {"format_version": 3}, {"format_version": 1}, {"extra": 1},
                                    {"log_format": "<Date> <Content"}, {"log_format": "<Date> <Content>"},
                                    {"session_rule": "field:Pid"}, {"timestamp": "<Date>", "timestamp_format": "%s"},
                                    {"timestamp": "none", "timestamp_format": "%s"}, {"log_format": 7},
                                    {"header_tokens": 0, "log_format": "<A> <A> <Content>"},
                                    {"header_tokens": 0, "log_format": "<Date> <Content>", "timestamp": "<Date>",
                                     "timestamp_format": "%Q"}])
def test_frontend_json_is_checked_like_the_reference(engine_san, models_copy, change):
    """A frontend.json the Python reader refuses is refused here too, naming the file."""
    path = models_copy / "frontend.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    expect_model_error(engine_san, models_copy, "frontend.json")
    assert run_reference(models_copy, input=b"a line\n").returncode == 2


def deeplog_meta_v2(models: Path) -> dict:
    """deeplog.onnx.meta.json in format 2 (docs/detection.md 2: end_key, outputs, rule,
    prob_threshold), whatever format the fixture's export wrote."""
    meta = json.loads((models / "deeplog.onnx.meta.json").read_text())
    if meta["format_version"] == 1:
        section = meta["deeplog"]
        section.update(end_key=False, outputs=section["vocab_size"], rule="topk", prob_threshold=None,
                       calibration=None)
        meta["format_version"] = 2
    return meta


@pytest.mark.parametrize("change, fragment", [
    ({"format_version": 3}, "metadata format_version 3 is not 1 or 2"),
    ({"format_version": 0}, "metadata format_version 0 is not 1 or 2"),
    ({"format_version": "2"}, "metadata lacks an integer format_version"),
    ({"deeplog": {"end_key": "yes"}}, "malformed deeplog metadata"),
    ({"deeplog": {"outputs": "V+5"}}, "malformed deeplog metadata"),
    ({"deeplog": {"rule": "best"}}, "malformed deeplog metadata"),
    ({"deeplog": {"prob_threshold": "low"}}, "malformed deeplog metadata"),
    ({"deeplog": {"prob_threshold": None, "rule": "probability"}}, "malformed deeplog metadata"),
    ({"deeplog": {"prob_threshold": ...}}, "malformed deeplog metadata"),
    ({"deeplog": {"end_threshold": "low"}}, "malformed deeplog metadata"),
    ({"deeplog": {"end_threshold": None, "rule": "probability"}}, "malformed deeplog metadata"),
])
def test_deeplog_metadata_format_2_is_checked(engine_san, models_copy, change, fragment):
    """Each new field of format 2 is checked; a version this engine does not read is named."""
    meta = deeplog_meta_v2(models_copy)
    assert meta["deeplog"]["end_key"]   # the END key: the probability rule needs end_threshold
    for key, value in change.items():
        if key != "deeplog":
            meta[key] = value
            continue
        for field, v in value.items():
            if v is ...:
                del meta["deeplog"][field]
            elif v == "V+5":
                meta["deeplog"][field] = meta["deeplog"]["vocab_size"] + 5
            else:
                meta["deeplog"][field] = v
    (models_copy / "deeplog.onnx.meta.json").write_text(json.dumps(meta))
    expect_model_error(engine_san, models_copy, "deeplog.onnx.meta.json", fragment)


def test_deeplog_metadata_outputs_must_be_the_models(engine_san, models_copy):
    """`outputs` says V + 1 (the END key) while the graph gives V logits, or the reverse."""
    meta = deeplog_meta_v2(models_copy)
    section = meta["deeplog"]
    section["end_key"] = not section["end_key"]
    section["outputs"] = section["vocab_size"] + int(section["end_key"])
    (models_copy / "deeplog.onnx.meta.json").write_text(json.dumps(meta))
    expect_model_error(engine_san, models_copy, "deeplog.onnx", "outputs")


def test_probability_rule_without_a_threshold_and_seconds_without_timestamps_exit_2(engine, models_copy):
    meta = deeplog_meta_v2(models_copy)
    meta["deeplog"].update(rule="topk", prob_threshold=None)
    (models_copy / "deeplog.onnx.meta.json").write_text(json.dumps(meta))
    proc = run_engine(engine, models_copy, extra=("--rule", "probability"), input=b"a line\n")
    err = proc.stderr.decode()
    assert proc.returncode == EXIT_USAGE and err.count("\n") == 1, err
    assert f"{models_copy}/deeplog.onnx.meta.json: the probability rule needs a calibrated prob_threshold" in err
    assert proc.stdout == b""
    assert run_engine(engine, models_copy, extra=("--rule", "topk"), input=b"a line\n").returncode == 0
    # The END key's own threshold (docs/detection.md 2.3): null, or absent (written before it), refuses too.
    assert meta["deeplog"]["end_key"]
    for absent in (False, True):
        meta["deeplog"].update(prob_threshold=0.001, end_threshold=None)
        if absent:
            del meta["deeplog"]["end_threshold"]
        (models_copy / "deeplog.onnx.meta.json").write_text(json.dumps(meta))
        proc = run_engine(engine, models_copy, extra=("--rule", "probability"), input=b"a line\n")
        err = proc.stderr.decode()
        assert proc.returncode == EXIT_USAGE and err.count("\n") == 1, err
        assert f"{models_copy}/deeplog.onnx.meta.json: the probability rule needs a calibrated end_threshold" in err
        assert run_engine(engine, models_copy, extra=("--rule", "topk"), input=b"a line\n").returncode == 0
    frontend = json.loads((models_copy / "frontend.json").read_text())
    (models_copy / "frontend.json").write_text(json.dumps({**frontend, "timestamp": "none"}))
    proc = run_engine(engine, models_copy, extra=("--session-timeout", "30s"), input=b"a line\n")
    err = proc.stderr.decode()
    assert proc.returncode == EXIT_USAGE and err.count("\n") == 1, err
    assert "reads no timestamps" in err and "give a line count" in err and "frontend.json" in err
    assert run_engine(engine, models_copy, extra=("--session-timeout", "30"), input=b"a line\n").returncode == 0


def test_frontend_json_decides_how_lines_are_read(engine, sample, models_copy):
    """The model directory's frontend.json (prefix:ses_, 4 header tokens) is what the engine
    applies unasked, as the reference does; flags override it, and without the file the defaults
    apply."""
    log, _ = sample
    settings = json.loads((models_copy / "frontend.json").read_text())
    assert (settings["session_rule"], settings["header_tokens"]) == (SAMPLE_KEY, 4)
    verdicts = [json.loads(v) for v in run_engine(engine, models_copy, log).stdout.splitlines()]
    assert sum(v["reason"] == "unseen" for v in verdicts) < len(verdicts) / 100
    assert all(v["session"].startswith("ses_") or v["session"] == "<nokey>" for v in verdicts
               if v["model"] == "deeplog")
    whole_lines = run_engine(engine, models_copy, log, extra=("--header-tokens", "0")).stdout
    assert all(json.loads(v)["reason"] == "unseen" for v in whole_lines.splitlines()
               if json.loads(v)["model"] == "deeplog")
    (models_copy / "frontend.json").unlink()
    defaults = run_engine(engine, models_copy, log)
    assert defaults.stdout == run_reference(models_copy, log).stdout
    assert {json.loads(v)["session"] for v in defaults.stdout.splitlines()
            if json.loads(v)["model"] == "deeplog"} == {"all"}


def test_version_1_frontend_json_still_reads(engine, sample, models_copy):
    """A model directory from before log formats (frontend.json version 1, five keys) gives the
    verdicts it gave: the same as the version 2 file that says the same, in both detectors."""
    log, _ = sample
    path = models_copy / "frontend.json"
    settings = json.loads(path.read_text())
    assert settings["format_version"] == 2 and settings["log_format"] == ""
    now = run_engine(engine, models_copy, log).stdout
    path.write_text(json.dumps({"format_version": 1, "kind": "frontend", "mask_rules": settings["mask_rules"],
                                "session_rule": settings["session_rule"], "header_tokens": settings["header_tokens"]}))
    assert run_engine(engine, models_copy, log).stdout == now == run_reference(models_copy, log).stdout


def test_corrupted_onnx_with_matching_metadata_is_a_clean_error(engine_san, models_copy):
    """Bytes that pass the hash check (the metadata is rewritten to match) but are no valid model."""
    import hashlib

    meta_path = models_copy / "deeplog.onnx.meta.json"
    onnx = models_copy / "deeplog.onnx"
    data = onnx.read_bytes()[: len(onnx.read_bytes()) // 2]
    onnx.write_bytes(data)
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    meta_path.write_text(json.dumps(meta))
    expect_model_error(engine_san, models_copy, "deeplog.onnx", "the engine cannot load this model")


# ---- built for one model directory ----------------------------------------------------------------

@pytest.fixture(scope="module")
def engine_built_for_sample(sample, tmp_path_factory):
    from alog_detect.codegen import CodegenConfig, render_headers

    gen = tmp_path_factory.mktemp("gen")
    render_headers(CodegenConfig(model_dir=sample[1], out_dir=gen,
                                 outputs=("alog_model_meta.h", "alog_vocab.h"), root=REPO))
    return build_engine(gen / "alog-engine", sanitize=True, defines=("ALOG_HAVE_MODEL_META",),
                        include_dirs=(gen,))


def test_version_lists_the_hashes_built_for(engine_built_for_sample, sample):
    import hashlib

    out = run_plain(engine_built_for_sample, "--version").stdout.decode()
    for name in ("vocab.json", "deeplog.onnx", "mscred.onnx"):
        digest = hashlib.sha256((sample[1] / name).read_bytes()).hexdigest()
        assert f"{name}" in out and digest in out


def test_engine_built_for_a_directory_accepts_it_and_refuses_another(engine_built_for_sample, sample,
                                                                   models_copy):
    log, models = sample
    ok = run_engine(engine_built_for_sample, models, log, session_key=SAMPLE_KEY)
    assert ok.returncode == 0 and ok.stdout
    # Re-indented: the same vocabulary (the metadata still agrees), other file bytes.
    vocab = json.loads((models_copy / "vocab.json").read_text())
    (models_copy / "vocab.json").write_text(json.dumps(vocab, indent=4, ensure_ascii=False))
    expect_model_error(engine_built_for_sample, models_copy,
                       "vocab.json: not the vocabulary this engine was built for",
                       "alog-engine --version")


def test_engine_built_for_a_directory_refuses_other_front_end_settings(engine_built_for_sample,
                                                                      models_copy):
    path = models_copy / "frontend.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "header_tokens": 3}))
    expect_model_error(engine_built_for_sample, models_copy,
                       "frontend.json: not the front-end settings this engine was built for")


# ---- bad input: parity with the reference, never a crash -------------------------------------------

def garbage(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size))


def long_lines(sample_lines: list[bytes]) -> bytes:
    """Lines at, just past and far past the 1 MiB limit, with and without CR, among normal lines."""
    head = sample_lines[0]
    cases = [
        head + b" " + b"a" * (MAX_LINE - len(head) - 1),             # exactly 1 MiB: matched
        head + b" " + b"b" * (MAX_LINE - len(head) - 1) + b"\r",     # 1 MiB + CR: still matched
        head + b" " + b"c" * (MAX_LINE - len(head)),                 # 1 MiB + 1: too long
        b"ses_0badc0de " + b"d" * (3 * MAX_LINE),                    # 3 MiB, key in its head
        b" " * (2 * MAX_LINE),                                       # 2 MiB of blanks: no event
    ]
    return b"\n".join(sample_lines[:5] + [c for case in cases for c in (case, sample_lines[1])]) + b"\n"


@pytest.mark.parametrize("kind", ["garbage", "nul", "long_lines", "empty", "no_final_newline"])
def test_bad_input_gives_the_references_verdicts(engine_san, sample, kind):
    log, models = sample
    lines = log.read_bytes().splitlines()[:200]
    data = {
        "garbage": garbage(1, 200_000),
        "nul": b"\n".join(line.replace(b" ", b"\0", 2) for line in lines) + b"\n\0\0\0\n",
        "long_lines": long_lines(lines),
        "empty": b"",
        "no_final_newline": b"\n".join(lines),
    }[kind]
    ours = run_engine(engine_san, models, session_key=SAMPLE_KEY, input=data)
    theirs = run_reference(models, session_key=SAMPLE_KEY, input=data)
    assert ours.returncode == 0, ours.stderr.decode(errors="replace")
    assert theirs.returncode == 0, theirs.stderr.decode(errors="replace")
    assert ours.stdout == theirs.stdout
    if kind == "empty":
        assert ours.stdout == b""
    if kind == "long_lines":
        reasons = [json.loads(v)["reason"] for v in ours.stdout.splitlines()]
        assert reasons.count("unseen") >= 2  # the two overlong lines with tokens


def test_every_vector_form_gives_the_same_verdicts(engine, sample):
    """--isa holds the models to AVX2 or to the baseline vectors: DeepLog's and MSCRED's verdicts
    on the sample are byte for byte the ones of the widest form (the kernels' bits are equal)."""
    log, models = sample
    runs = {isa: run_engine(engine, models, log, extra=("--isa", isa)) for isa in ("auto", "avx2", "baseline")}
    for isa, proc in runs.items():
        assert proc.returncode == 0, (isa, proc.stderr)
    verdicts = runs["auto"].stdout
    assert b'"model":"mscred"' in verdicts and b'"model":"deeplog"' in verdicts
    assert runs["avx2"].stdout == verdicts and runs["baseline"].stdout == verdicts


def test_missing_input_file_exits_4(engine, sample, tmp_path):
    proc = run_engine(engine, sample[1], tmp_path / "absent.log")
    assert proc.returncode == EXIT_IO
    assert "absent.log" in proc.stderr.decode() and proc.stdout == b""


def test_answers_each_line_before_the_input_ends(engine, sample):
    """Behind `tail -F` the input never ends: a verdict must come out while stdin stays open."""
    assert_answers_line_by_line([str(engine), "--models", str(sample[1]), "-"])


def test_closed_output_pipe_ends_quietly(engine, sample):
    """`alog-engine ... | head -c 10`: once the reader is gone the engine stops, exit 0, no noise."""
    log, models = sample
    data = log.read_bytes() * 20
    proc = subprocess.Popen([str(engine), "--models", str(models), "--all", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def feed():
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the engine stopped reading: what this test wants

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    writer.join(timeout=60)
    assert proc.stderr.read() == b""


# ---- the public API: its C test program and the firmware example -----------------------------------

FIRMWARE = ENGINE / "examples" / "firmware" / "main.c"


@pytest.mark.parametrize("san", [False, True], ids=["plain", "san"])
def test_public_api_program_passes(san):
    """cengine/tests/test_public_api.c: alog.h alone, tiny models from const arrays, verdicts."""
    proc = subprocess.run([str(cbuild.build_test("test_public_api", san=san))], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "test_public_api: ok"


@pytest.mark.parametrize("san", [False, True], ids=["plain", "san"])
def test_session_end_program_passes(san):
    """cengine/tests/test_session_end.c: sessions closed by close_session, finish, the timeouts in
    lines and seconds and eviction, with the END verdict of a V + 1-output model; the probability
    rule; the top-k cache changes no verdict."""
    proc = subprocess.run([str(cbuild.build_test("test_session_end", san=san))], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "test_session_end: ok"


@pytest.mark.parametrize("san", [False, True], ids=["plain", "san"])
def test_message_formatting_gives_snprintfs_bytes(san):
    """cengine/tests/test_format.c: the engine formats its messages without stdio (format.c),
    byte for byte as snprintf would, cut and terminated at every buffer size."""
    proc = subprocess.run([str(cbuild.build_test("test_format", san=san))], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "test_format: ok"


def build_firmware(gen: Path, out: Path, sanitize: bool = False) -> Path:
    """The example as a device build would compile it: its main.c, the generated files in `gen`
    (alog_vocab.h, alog_model_meta.h, alog_model_data.c) and the engine library."""
    library = cbuild.build_library(san=sanitize)
    cmd = ["cc", *cbuild.STRICT_FLAGS, *(cbuild.SANITIZE_FLAGS if sanitize else ["-O2"]),
           f"-I{ENGINE / 'include'}", f"-I{gen}", str(FIRMWARE), str(FIRMWARE.parent / "board_host.c"),
           str(gen / "alog_model_data.c"), str(library), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return out


def test_firmware_example_builds_against_the_golden_headers(tmp_path):
    """tests/golden/ holds the generated files of toy models (float in, float out): the example
    compiles against them and refuses the models cleanly, naming the shape it expected."""
    firmware = build_firmware(REPO / "tests" / "golden", tmp_path / "firmware", sanitize=True)
    proc = subprocess.run([str(firmware)], input=b"", capture_output=True, timeout=60)
    assert proc.returncode == 3
    assert b"deeplog.onnx: expected one int64 input (1, window)" in proc.stderr
    assert proc.stdout == b""


@pytest.fixture(scope="module")
def firmware_for_sample(sample, tmp_path_factory):
    from alog_detect.codegen import CodegenConfig, render_headers

    gen = tmp_path_factory.mktemp("firmware_gen")
    render_headers(CodegenConfig(model_dir=sample[1], out_dir=gen, root=REPO))
    return build_firmware(gen, gen / "firmware", sanitize=True)


def test_firmware_example_gives_alog_engines_verdicts(firmware_for_sample, engine, sample):
    """Built for the sample's models (embedded, settings from the headers), the example prints
    `alog-engine --all`'s verdicts for the sample's lines; fed the same events as template indices
    (--events), the same verdicts again."""
    log, models = sample
    expected = run_engine(engine, models, log, session_key=SAMPLE_KEY)
    assert expected.returncode == 0 and expected.stdout
    lines = subprocess.run([str(firmware_for_sample)], input=log.read_bytes(), capture_output=True,
                           timeout=120)
    assert lines.returncode == 0, lines.stderr.decode(errors="replace")
    assert lines.stdout == expected.stdout

    end = len(json.loads((models / "vocab.json").read_text()))  # END verdicts: template V, at the end
    verdicts = [json.loads(v) for v in expected.stdout.splitlines()]
    deeplog = [v for v in verdicts if v["model"] == "deeplog" and v["template"] != end]
    assert len(deeplog) == len(log.read_bytes().splitlines())  # no blank line: one event per line
    assert verdicts[-1]["template"] == end  # the end of the log closed the sessions (the END key)
    events = "".join(f"{v['session']} {v['template']}\n" for v in deeplog).encode()
    structured = subprocess.run([str(firmware_for_sample), "--events"], input=events,
                                capture_output=True, timeout=120)
    assert structured.returncode == 0, structured.stderr.decode(errors="replace")
    assert structured.stdout == expected.stdout


def test_memory_reports_what_the_run_allocates(engine, sample):
    """--memory: the arenas are what the library measures for each model (arena_check, the same
    contract), the detector grows with --max-sessions, the total is the sum; no input is read."""
    _, models = sample
    def memory(*extra: str) -> dict:
        proc = subprocess.run([str(engine), "--models", str(models), "--memory", *extra, "/nonexistent/input"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    default, few = memory(), memory("--max-sessions", "8")
    checker = cbuild.build_tool("arena_check")
    for kind in ("deeplog", "mscred"):
        report = subprocess.run([str(checker), "--alignments", "1", str(models / f"{kind}.onnx")], capture_output=True,
                                text=True, check=True).stdout
        assert default[f"{kind}_arena"] == json.loads(report)["arena_size"]
    assert few["detector"] < default["detector"] and few["deeplog_arena"] == default["deeplog_arena"]
    # --batch N: DeepLog opened with N rows, the detector holding N windows and the verdicts behind them
    one, many = memory("--batch", "1"), memory("--batch", "64")
    assert many["deeplog_arena"] > one["deeplog_arena"] and many["detector"] > one["detector"]
    assert many["mscred_arena"] == one["mscred_arena"]
    sizes = sum((models / f).stat().st_size for f in ("vocab.json", "deeplog.onnx", "mscred.onnx"))
    assert default["model_files"] == sizes
    assert default["total"] == sum(v for k, v in default.items() if k != "total")
