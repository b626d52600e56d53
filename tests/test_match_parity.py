"""The C line front end (cengine/src/match/) against the Python reference: template index, reason,
session key, timestamp and masked tokens must be identical on every line, in a normal build and
under ASan + UBSan; plus a short libFuzzer smoke run of the front end."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alog_detect import masking, matching, sessions
import cbuild
from match_helpers import drain_vocabulary, loghub_raw, loghub_sets, raw_lines, sample_log

RULE_BITS = {name: 1 << i for i, name in enumerate(masking.MASK_RULES)}

pytestmark = pytest.mark.skipif(cbuild.compiler() is None, reason="no C compiler (cc) on PATH")


@pytest.fixture(scope="module", params=["plain", "asan+ubsan"])
def driver(request) -> Path:
    return cbuild.build_tool("match_driver", san=request.param != "plain")


# ---- running both sides ------------------------------------------------------------------------

def _python_rows(templates: list[bytes], lines: list[bytes], rule: str, rules: tuple[str, ...], header: int):
    matcher = matching.Matcher(templates, masking.Masker(rules), header)
    session_rule = sessions.parse_session_rule(rule)
    rows = []
    for line in lines:
        index, reason = matcher.match_reason(line)
        rows.append((index, reason, session_rule.key(line), sessions.parse_timestamp(line)))
    return rows


def _c_rows(driver: Path, tmp: Path, templates: list[bytes], lines: list[bytes], rule: str,
            rules: tuple[str, ...], header: int):
    (tmp / "templates.txt").write_bytes(b"".join(t + b"\n" for t in templates))
    (tmp / "lines.txt").write_bytes(b"".join(line + b"\n" for line in lines))
    proc = subprocess.run([str(driver), "--rules", str(sum(RULE_BITS[r] for r in rules)), "--session", rule,
                           "--header", str(header), str(tmp / "templates.txt"), str(tmp / "lines.txt")],
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    rows = []
    for out in proc.stdout.decode("ascii").splitlines():
        index, reason, key, ts = out.split("\t")
        rows.append((int(index), reason, key, None if ts == "-" else float(ts)))
    return rows


def _c_masked(driver: Path, tmp: Path, lines: list[bytes], rules: tuple[str, ...], header: int) -> list[bytes]:
    (tmp / "templates.txt").write_bytes(b"")
    (tmp / "lines.txt").write_bytes(b"".join(line + b"\n" for line in lines))
    proc = subprocess.run([str(driver), "--mask", "--rules", str(sum(RULE_BITS[r] for r in rules)),
                           "--header", str(header), str(tmp / "templates.txt"), str(tmp / "lines.txt")],
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.split(b"\n")[:-1]


def assert_parity(driver, tmp, templates, lines, rule="none", rules=masking.MASK_RULES, header=0) -> list:
    """Both sides agree on every line; returns the rows (index, reason, session, timestamp)."""
    expected = _python_rows(templates, lines, rule, rules, header)
    got = _c_rows(driver, tmp, templates, lines, rule, rules, header)
    assert len(got) == len(expected)
    for n, (line, want, have) in enumerate(zip(lines, expected, got), 1):
        assert have == want, f"line {n}: {line[:200]!r}"
    masked = _c_masked(driver, tmp, lines, rules, header)
    masker = masking.Masker(rules)
    for n, (line, have) in enumerate(zip(lines, masked), 1):
        assert have == masker.mask_bytes(line, header), f"line {n}: {line[:200]!r}"
    return expected


@functools.lru_cache(maxsize=None)
def _vocabulary(path: Path, header: int = 0) -> tuple[bytes, ...]:
    lines = [masking.to_text(line) for line in raw_lines(path)]
    vocab, _ = drain_vocabulary([line for line in lines if line.strip()], header)
    return tuple(masking.to_bytes(t) for t in vocab)


# ---- real corpora --------------------------------------------------------------------------------

def test_parity_on_hdfs_20k(driver, shared_data, tmp_path):
    path = shared_data / "HDFS" / "HDFS_20k.log"
    rows = assert_parity(driver, tmp_path, list(_vocabulary(path)), raw_lines(path), "prefix:blk_")
    assert sum(r[0] >= 0 for r in rows) == 20000
    assert all(r[2].startswith("blk_") and r[3] is not None for r in rows)


@pytest.fixture(scope="module")
def sample_path(tmp_path_factory) -> Path:
    return sample_log(tmp_path_factory.mktemp("sample"))


def test_parity_on_the_sample(driver, sample_path, tmp_path):
    path = sample_path
    rows = assert_parity(driver, tmp_path, list(_vocabulary(path)), raw_lines(path), "prefix:ses_")
    assert len(rows) >= 50000 and all(r[0] >= 0 for r in rows)


def test_parity_on_hdfs_20k_with_its_header(driver, shared_data, tmp_path):
    path = shared_data / "HDFS" / "HDFS_20k.log"
    rows = assert_parity(driver, tmp_path, list(_vocabulary(path, 5)), raw_lines(path), "prefix:blk_", header=5)
    assert sum(r[0] >= 0 for r in rows) == 20000
    # The same templates with a header one token shorter: every content has one token too many.
    rows = assert_parity(driver, tmp_path, list(_vocabulary(path, 5)), raw_lines(path)[:2000], "prefix:blk_",
                         header=4)
    assert all(r[:2] == (-1, "unmatched") for r in rows)


def test_parity_on_the_sample_with_its_header(driver, sample_path, tmp_path):
    rows = assert_parity(driver, tmp_path, list(_vocabulary(sample_path, 4)), raw_lines(sample_path),
                         "prefix:ses_", header=4)
    assert len(rows) >= 50000 and all(r[0] >= 0 for r in rows)
    # Whole-line templates do not match the content of the same lines.
    rows = assert_parity(driver, tmp_path, list(_vocabulary(sample_path)), raw_lines(sample_path)[:2000],
                         "prefix:ses_", header=4)
    assert all(r[0] == -1 for r in rows)


def test_parity_on_loghub_sets(driver, shared_data, tmp_path):
    from alog_detect.bench.loghub import RAW_HEADER_TOKENS

    for set_dir in loghub_sets(shared_data):
        path = set_dir / f"{set_dir.name}_2k.log"
        for header in sorted({0, RAW_HEADER_TOKENS[set_dir.name]}):
            rows = assert_parity(driver, tmp_path, list(_vocabulary(path, header)), loghub_raw(set_dir),
                                 "prefix:blk_", header=header)
            assert sum(r[0] >= 0 for r in rows) == 2000, (set_dir.name, header)


def test_parity_on_long_lines(driver, tmp_path):
    limit = masking.MAX_LINE_BYTES
    unit = b"1.2.3.4:5 /a/b 0x1f "
    lines = [(unit * (limit // len(unit) + 1))[:limit], (unit * (limit // len(unit) + 1))[:limit + 1],
             b"/." * (limit // 2), b"/" * limit, b"9" * (limit - 1) + b"a", b"x " * (limit // 2) + b"\r",
             b"blk_1 " + b"\xff" * (2 * limit)]
    templates = [b"<*> " * 3, b" ".join([b"x"] * (limit // 2))]
    rows = assert_parity(driver, tmp_path, templates, lines, "prefix:blk_")
    assert [r[1] for r in rows] == ["unmatched", "line_too_long", "unmatched", "unmatched", "unmatched",
                                    "ok", "line_too_long"]
    # With a header the limit still counts the whole line; the rest of the x line is its content.
    rows = assert_parity(driver, tmp_path, templates + [b" ".join([b"x"] * (limit // 2 - 3))], lines,
                         "prefix:blk_", header=3)
    assert [r[:2] for r in rows] == [(-1, "unmatched"), (-1, "line_too_long"), (-1, "unmatched"),
                                     (-1, "unmatched"), (-1, "unmatched"), (2, "ok"), (-1, "line_too_long")]


# ---- generated lines ---------------------------------------------------------------------------

# Pieces that exercise every rule's edges, whitespace of every kind, and bytes that are not UTF-8.
PIECES = [b"0", b"7", b"42", b"255", b"1234", b"0x", b"0X", b"a", b"f", b"F", b"g", b"Z", b"deadbeef",
          b".", b":", b"-", b"+", b"/", b"_", b"~", b"%", b",", b"=", b"[", b"]", b"<*>", b"<NUM>", b"blk_",
          b"ses_", b" ", b"  ", b"\t", b"\r", b"\x0b", b"\x1c", b"\xc2\xa0", b"\xe2\x80\x83", b"\xe3\x80\x80",
          b"\xe2\x80", b"\xc2", b"\xa0", b"\x00", b"\xff", b"\x80", b"\xe9", b"\xf0\x9f\x98\x80",
          b"2026-03-14 08:12:33.123", b"081109 203615", b"Jun  9 15:16:01", b"Feb 29 00:00:00",
          b"3edec1e4-9678-4a3c-a21b-a145a4ee5e61", b"10.0.0.1:80", b"/var/log/x.log"]

lines_strategy = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=3).filter(lambda b: b"\n" not in b)),
                          max_size=24).map(b"".join)


@st.composite
def corpus(draw):
    lines = draw(st.lists(lines_strategy, min_size=1, max_size=60))
    header = draw(st.sampled_from([0, 0, 1, 2, 5]))
    templates = []
    for line in draw(st.lists(st.sampled_from(lines), max_size=12)):
        tokens = masking.mask_tokens(line, header)
        wild = draw(st.lists(st.booleans(), min_size=len(tokens), max_size=len(tokens)))
        templates.append(b" ".join(b"<*>" if w else t for t, w in zip(tokens, wild)))
    rules = tuple(r for r in masking.MASK_RULES if draw(st.booleans()) or r == "num")
    rule = draw(st.sampled_from(["none", "prefix:blk_", "prefix:ses_", "prefix:a"]))
    return templates, lines, rule, rules, header


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=corpus())
def test_parity_on_generated_lines(driver, tmp_path, case):
    templates, lines, rule, rules, header = case
    assert_parity(driver, tmp_path, templates, lines, rule, rules, header)


# ---- fuzzing -----------------------------------------------------------------------------------

@pytest.mark.skipif(cbuild.compiler("clang") is None, reason="clang (libFuzzer) not installed")
def test_fuzz_match_smoke(tmp_path):
    binary = cbuild.build_fuzzer("fuzz_match")
    run = subprocess.run([str(binary), "-max_total_time=10", "-max_len=4096", "-seed=1"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done" in run.stderr and "ERROR" not in run.stderr
