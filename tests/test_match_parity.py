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
from alog_detect.errors import UserError
from alog_detect.frontend import Frontend
from alog_detect.known_formats import LOGHUB_FORMATS, pick_timestamp_format
from alog_detect.logformat import FormatError, parse_log_format
import cbuild
from match_helpers import drain_vocabulary, loghub_raw, loghub_sets, raw_lines, sample_log

RULE_BITS = {name: 1 << i for i, name in enumerate(masking.MASK_RULES)}

pytestmark = pytest.mark.skipif(cbuild.compiler() is None, reason="no C compiler (cc) on PATH")


@pytest.fixture(scope="module", params=["plain", "asan+ubsan"])
def driver(request) -> Path:
    return cbuild.build_tool("match_driver", san=request.param != "plain")


# ---- running both sides ------------------------------------------------------------------------

def _frontend(rule: str, rules: tuple[str, ...], header: int, fmt: str = "", timestamp: str = "line-start",
              timestamp_format: str = "") -> Frontend:
    return Frontend(masking.Masker(rules), sessions.parse_session_rule(rule), header,
                    parse_log_format(fmt) if fmt else None, sessions.TimestampRule(timestamp, timestamp_format))


def _python_rows(templates: list[bytes], lines: list[bytes], fe: Frontend):
    matcher = fe.matcher(templates)
    rows = []
    for line in lines:
        index, reason = matcher.match_reason(line)
        view = fe.view(line)
        rows.append((index, reason, fe.session(line, view), fe.seconds(line, view)))
    return rows


def _driver_args(rule, rules, header, fmt, timestamp, timestamp_format) -> list[str]:
    args = ["--rules", str(sum(RULE_BITS[r] for r in rules)), "--session", rule, "--header", str(header),
            "--timestamp", timestamp, "--timestamp-format", timestamp_format]
    return args + (["--format", fmt] if fmt else [])


def _run_driver(driver: Path, tmp: Path, templates: list[bytes], lines: list[bytes], args: list[str]):
    (tmp / "templates.txt").write_bytes(b"".join(t + b"\n" for t in templates))
    (tmp / "lines.txt").write_bytes(b"".join(line + b"\n" for line in lines))
    return subprocess.run([str(driver), *args, str(tmp / "templates.txt"), str(tmp / "lines.txt")],
                          capture_output=True)


def _c_rows(driver: Path, tmp: Path, templates: list[bytes], lines: list[bytes], args: list[str]):
    proc = _run_driver(driver, tmp, templates, lines, args)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    rows = []
    for out in proc.stdout.split(b"\n")[:-1]:
        index, reason, key, ts = out.split(b"\t")
        rows.append((int(index), reason.decode(), masking.to_text(bytes.fromhex(key.decode())),
                     None if ts == b"-" else float(ts)))
    return rows


def _c_lines(driver: Path, tmp: Path, lines: list[bytes], args: list[str]) -> list[bytes]:
    proc = _run_driver(driver, tmp, [], lines, args)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.split(b"\n")[:-1]


def _python_split(fe: Frontend, line: bytes) -> bytes:
    if fe.log_format is None:
        return b"-"
    data = masking.strip_line_end(line)
    head = masking.strip_line_end(sessions.line_head(data)) if len(data) > masking.MAX_LINE_BYTES else data
    spans = fe.log_format.split(head)
    if spans is None:
        return b"-"
    return b" ".join(b"-" if s is None else f"{s[0]}:{s[1] - s[0]}".encode() for s in spans)


def assert_parity(driver, tmp, templates, lines, rule="none", rules=masking.MASK_RULES, header=0, fmt="",
                  timestamp="line-start", timestamp_format="") -> list:
    """Both sides agree on every line; returns the rows (index, reason, session, timestamp)."""
    fe = _frontend(rule, rules, header, fmt, timestamp, timestamp_format)
    args = _driver_args(rule, rules, header, fmt, timestamp, timestamp_format)
    expected = _python_rows(templates, lines, fe)
    got = _c_rows(driver, tmp, templates, lines, args)
    assert len(got) == len(expected)
    for n, (line, want, have) in enumerate(zip(lines, expected, got), 1):
        assert have == want, f"line {n}: {line[:200]!r}"
    masked = _c_lines(driver, tmp, lines, ["--mask", *args])
    for n, (line, have) in enumerate(zip(lines, masked), 1):
        want = fe.masker.mask_bytes(fe.view(line).content) if fe.log_format else fe.masker.mask_bytes(line, header)
        assert have == want, f"line {n}: {line[:200]!r}"
    if fmt:
        split = _c_lines(driver, tmp, lines, ["--split", *args])
        for n, (line, have) in enumerate(zip(lines, split), 1):
            assert have == _python_split(fe, line), f"line {n}: {line[:200]!r}"
    return expected


@functools.lru_cache(maxsize=None)
def _vocabulary(path: Path, header: int = 0, fmt: str = "") -> tuple[bytes, ...]:
    lines = [masking.to_text(line) for line in raw_lines(path)]
    frontend = Frontend(log_format=parse_log_format(fmt)) if fmt else None
    vocab, _ = drain_vocabulary([line for line in lines if line.strip()], header, frontend)
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


# Per loghub set: a session field, and the fields its timestamp is in (their pattern: the known one
# that reads them, as timestamp_format=auto picks it; docs/matching.md 6.1).
LOGHUB_SESSION_FIELD = {
    "Android": "Pid", "Apache": "Level", "HDFS": "Pid", "HPC": "Node", "Hadoop": "Process", "HealthApp": "Component",
    "Mac": "PID", "OpenSSH": "Pid", "OpenStack": "Pid", "Proxifier": "Program", "Spark": "Component",
    "Thunderbird": "User", "Windows": "Component",
}
LOGHUB_TIMESTAMP = {
    "Android": "<Date> <Time>", "Apache": "<Time>", "HDFS": "<Date> <Time>", "HPC": "<Time>",
    "Hadoop": "<Date> <Time>", "HealthApp": "<Time>", "Mac": "<Month> <Date> <Time>",
    "OpenSSH": "<Date> <Day> <Time>", "OpenStack": "<Date> <Time>", "Proxifier": "<Time>",
    "Spark": "<Date> <Time>", "Thunderbird": "<Date> <Time>", "Windows": "<Date> <Time>",
}


def test_parity_on_loghub_formats(driver, shared_data, tmp_path):
    """Every loghub 2k set with its logparser log format: the split, the content's template, the field
    session key and the field timestamp are the same in C, every line fits, and the Content field is
    loghub's own (structured CSV) but for trailing spaces, which loghub strips."""
    from match_helpers import loghub_content

    for set_dir in loghub_sets(shared_data):
        name = set_dir.name
        fmt = LOGHUB_FORMATS[name]
        lines = loghub_raw(set_dir)
        fe = _frontend("none", masking.MASK_RULES, 0, fmt)
        values = [fe.view(line).fields for line in lines[:200]]
        timestamp = pick_timestamp_format(LOGHUB_TIMESTAMP[name], values)
        assert timestamp is not None, name
        rows = assert_parity(driver, tmp_path, list(_vocabulary(set_dir / f"{name}_2k.log", 0, fmt)), lines,
                             f"field:{LOGHUB_SESSION_FIELD[name]}", fmt=fmt, timestamp=timestamp.template,
                             timestamp_format=timestamp.pattern)
        assert sum(r[0] >= 0 for r in rows) == 2000, name
        assert sum(r[3] is not None for r in rows) >= 1990, name
        assert len({r[2] for r in rows}) > 1 and all(r[2] != sessions.SESSION_NO_KEY for r in rows), name
        contents = [masking.to_text(fe.view(line).content).rstrip() for line in lines]
        assert contents == [c.rstrip() for c in loghub_content(set_dir)], name


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


# ---- generated log formats, lines and timestamp patterns -------------------------------------------

FORMAT_PIECES = ["<A>", "<B>", "<Content>", "<Pid>", " ", "  ", "\t", ":", "[", "]", "\\[", "\\]", "(", ")?", ")",
                 "-", "|", "\\|", "\\", "<", ">", "x", "ab", ",", "( [<G>])?", "(:<H>)?", "\\(", "é", "?", "<_9>",
                 "<1x>", "<>", "\\ "]
VALUE_PIECES = [b"a", b"12", b"x y", b":", b"[", b"]", b"|", b"-", b",", b"(", b")", b" ", b"  ", b"\t", b"\xc2\xa0",
                b"\xff", b"\x00", b"\r", b"2026-03-14", b"08:12:33", b"1131566461", b"Jun", b"9", b"blk_7", b""]


def _accepted_by_c(driver: Path, tmp: Path, args: list[str]) -> bool:
    proc = _run_driver(driver, tmp, [], [], ["--split", *args])
    assert proc.returncode in (0, 3), proc.stderr.decode(errors="replace")
    return proc.returncode == 0


def _python_accepts(fmt: str, rule: str = "none", timestamp: str = "line-start", pattern: str = "") -> bool:
    try:
        _frontend(rule, masking.MASK_RULES, 0, fmt, timestamp, pattern)
    except (FormatError, UserError, sessions.TimestampError):
        return False
    return True


@st.composite
def rendered_lines(draw, fmt: str):
    """Lines built along the format's items (so that many fit), with random values and noise."""
    compiled = parse_log_format(fmt)
    items = compiled._items
    out = []
    i = 0
    while i < len(items):
        kind = items[i][0]
        if kind == "text":
            for element in items[i][1]:
                out.append(draw(st.sampled_from([b" ", b"  ", b"\t", b"\xe3\x80\x80"])) if element is None else element)
            i += 1
        elif kind == "group":
            i = i + 1 if draw(st.booleans()) else items[i][1] + 1
        elif kind == "end":
            i += 1
        else:
            out.append(b"".join(draw(st.lists(st.sampled_from(VALUE_PIECES), max_size=3))))
            i += 1
    line = b"".join(out)
    if draw(st.integers(0, 4)) == 0:  # noise: cut, extend or splice
        cut = draw(st.integers(0, len(line)))
        line = line[:cut] + draw(st.sampled_from(VALUE_PIECES)) + line[cut + draw(st.integers(0, 3)):]
    return line.replace(b"\n", b"")


@st.composite
def format_case(draw):
    fmt = "".join(draw(st.lists(st.sampled_from(FORMAT_PIECES), min_size=1, max_size=9)))
    if draw(st.booleans()):
        fmt += draw(st.sampled_from([" <Content>", ": <Content>", "<Content>", "|<Content>"]))
    return fmt


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(fmt=format_case())
def test_log_format_acceptance_parity(driver, tmp_path, fmt):
    """C refuses exactly the log formats Python refuses."""
    assert _accepted_by_c(driver, tmp_path, _driver_args("none", masking.MASK_RULES, 0, fmt, "line-start", "")) \
        == _python_accepts(fmt), fmt


SEPARATORS = [" ", ":", ": ", "\\[", "\\] ", "|", "\\|", " - ", ",", "  ", "\t", "x", "\\(", ") ", "é "]


@st.composite
def valid_format(draw):
    """A log format that is valid by construction: fields with text between them, one <Content>,
    maybe an optional group after a field, maybe text before the first and after the last field."""
    names = [f"F{i}" for i in range(draw(st.integers(0, 4)))]
    names.insert(draw(st.integers(0, len(names))), "Content")
    out = draw(st.sampled_from(["", "\\[", "x "]))
    for k, name in enumerate(names):
        out += f"<{name}>"
        last = k == len(names) - 1
        if draw(st.integers(0, 3)) == 0:
            out += "(" + draw(st.sampled_from(SEPARATORS)) + draw(st.sampled_from(["", f"<G{k}>"]))
            out += (draw(st.sampled_from(SEPARATORS)) if "<G" in out[-5:] else "") + ")?"
            out += draw(st.sampled_from(SEPARATORS)) if not last or draw(st.booleans()) else ""
        elif not last:
            out += draw(st.sampled_from(SEPARATORS))
        elif draw(st.booleans()):
            out += draw(st.sampled_from(SEPARATORS))
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_parity_on_generated_formats(driver, tmp_path, data):
    fmt = data.draw(st.one_of(valid_format(), format_case()).filter(_python_accepts))
    names = parse_log_format(fmt).names
    lines = data.draw(st.lists(rendered_lines(fmt), min_size=1, max_size=30))
    lines += data.draw(st.lists(lines_strategy, max_size=5))
    fe = _frontend("none", masking.MASK_RULES, 0, fmt)
    templates = []
    for line in data.draw(st.lists(st.sampled_from(lines), max_size=8)):
        tokens = fe.masker.mask_tokens(fe.view(line).content)
        wild = data.draw(st.lists(st.booleans(), min_size=len(tokens), max_size=len(tokens)))
        templates.append(b" ".join(b"<*>" if w else t for t, w in zip(tokens, wild)))
    rule = data.draw(st.sampled_from(["none", "prefix:blk_"] + [f"field:{n}" for n in names]))
    field = data.draw(st.sampled_from(names))
    timestamp, pattern = data.draw(st.sampled_from([
        ("line-start", ""), ("none", ""), (f"<{field}>", "%Y-%m-%d"), (f"<{field}>", "%s"),
        (f"<{field}>", "%H:%M:%S"), (f"<{field}> x", "%b %d x"), (f"<{field}>", "%Y-%m-%d%H:%M:%S")]))
    rows = assert_parity(driver, tmp_path, templates, lines, rule, fmt=fmt, timestamp=timestamp,
                         timestamp_format=pattern)
    assert len(rows) == len(lines)


PATTERN_PIECES = ["%Y", "%y", "%m", "%d", "%e", "%b", "%B", "%h", "%a", "%A", "%H", "%M", "%S", "%T", "%f", "%s",
                  "%%", "%", "%q", " ", "-", ":", ".", "x", "\t", "%j"]
TEXT_PIECES = [b"2026", b"1969", b"03", b"3", b"14", b"31", b"29", b"02", b"00", b"99", b"12", b"0", b"123456789012",
               b"1234567890123", b"Jun", b"june", b"JUN", b"Mon", b"monday", b"Sept", b"may", b" ", b"  ", b":", b".",
               b"-", b"x", b"\t", b"\xc2\xa0", b"%", b"5", b"0000", b"9999"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(pattern=st.lists(st.sampled_from(PATTERN_PIECES), min_size=1, max_size=8).map("".join),
       texts=st.lists(st.lists(st.sampled_from(TEXT_PIECES), max_size=8).map(b"".join), min_size=1, max_size=12))
def test_timestamp_pattern_parity(driver, tmp_path, pattern, texts):
    """Patterns are refused alike, and read every text (the field <A> before '|') alike."""
    fmt = "<A>|<Content>"
    accepted = _python_accepts(fmt, "none", "<A>", pattern)
    args = _driver_args("none", masking.MASK_RULES, 0, fmt, "<A>", pattern)
    assert _accepted_by_c(driver, tmp_path, args) == accepted, pattern
    if accepted:
        assert_parity(driver, tmp_path, [], [t + b"|msg" for t in texts], fmt=fmt, timestamp="<A>",
                      timestamp_format=pattern)


# ---- fuzzing -----------------------------------------------------------------------------------

@pytest.mark.skipif(cbuild.compiler("clang") is None, reason="clang (libFuzzer) not installed")
def test_fuzz_match_smoke(tmp_path):
    binary = cbuild.build_fuzzer("fuzz_match")
    run = subprocess.run([str(binary), "-max_total_time=10", "-max_len=4096", "-seed=1"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done" in run.stderr and "ERROR" not in run.stderr
