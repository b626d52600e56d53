"""The build options: SCons Variables with closed sets and ranges, checked before any work starts."""

from __future__ import annotations

import re

from SCons.Errors import UserError
from SCons.Variables import BoolVariable, EnumVariable, Variables

from alog_detect.firmware.inputs import DEFAULT_LINES
from alog_detect.sample import HEADER_TOKENS, SESSION_PREFIX

OPTIMIZE_LEVELS = ("none", "debug", "speed", "size")
EMBED_MODEL_CHOICES = ("auto", "yes", "no")
# What a firmware image holds (firmware_models=): DeepLog alone by default, the model that fits
# a microcontroller; MSCRED too only when asked, and only when its size fits the budgets.
FIRMWARE_MODELS = {"deeplog": ("deeplog",), "deeplog+mscred": ("deeplog", "mscred")}
# Options that only a firmware target (ALOG_HOSTED False) reads.
FIRMWARE_OPTIONS = ("flash_budget", "ram_budget", "firmware_models", "firmware_lines")
# The example image replays the first lines of the logs; the check compares its verdicts on them.
FIRMWARE_LINES = (DEFAULT_LINES, 1, 100_000)
# Bytes: a whole number, or with a binary suffix.
SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MIB": 1 << 20}
BUDGET_LIMIT = 1 << 32  # a 32-bit microcontroller's whole address space

# name: (help, default, lowest, highest). Defaults keep the default `scons` to a few minutes on 2 cores.
INTEGER_OPTIONS = {
    "window": ("DeepLog window: log keys of history per prediction", 10, 2, 1024),
    "top_k": ("DeepLog top-k: a next key outside the k most likely is an anomaly", 5, 1, 1000),
    "hidden": ("DeepLog LSTM hidden size", 64, 1, 4096),
    "layers": ("DeepLog LSTM layers", 2, 1, 8),
    "epochs": ("DeepLog training epochs", 30, 1, 10000),
    "mscred_epochs": ("MSCRED training epochs", 3, 1, 10000),
    "mscred_step": ("MSCRED buckets between two signatures", 10, 1, 10000),
}
MSCRED_WINDOWS_DEFAULT = "10,30,60"
# convert-onnx --quantize (python/alog_detect/export/quantize.py); float until the figures in
# docs/results.md ("int8 weights") say int8 is as good.
QUANTIZE_CHOICES = ("none", "int8")
QUANTIZE_DEFAULT = "none"
# deeplog-train --rule: the decision rule recorded in the model, which both detectors use by
# default (docs/detection.md 2.3); topk until the protocols in docs/results.md decide otherwise.
RULE_CHOICES = ("topk", "probability")
RULE_DEFAULT = "topk"
# Sized for devices (alog_detect.models.mscred.EDGE_CHANNELS; the paper's: 32,64,128,256)
MSCRED_CHANNELS_DEFAULT = "8,16,32,64"
MSCRED_CHANNELS_PAPER = "32,64,128,256"

# The parse stage's front-end settings. `auto` picks what fits the logs: the built-in sample's own
# layout, or parse's defaults for logs= (the user sets them for their format).
AUTO = "auto"
# The built-in sample's own layout (alog_detect.sample): its header tokens and its session ids.
SAMPLE_FRONTEND = {"session_key": f"prefix:{SESSION_PREFIX}", "header_tokens": HEADER_TOKENS}
LOGS_FRONTEND = {"session_key": "none", "header_tokens": 0}
SIM_TH_DEFAULT = 0.4
MINE_LINES_MAX = (1 << 31) - 1
NONE = "none"
MODELS = ("deeplog", "mscred")
MODELS_CHOICES = "deeplog,mscred, deeplog or mscred"
MSCRED_BUCKET_DEFAULT = "lines:20"
# build-mscred's signatures per model input (not an option: the paper's 5)
MSCRED_STEPS = 5


def _integer(name: str, lowest: int, highest: int):
    def convert(text):
        try:
            return int(str(text), 10)
        except ValueError:
            raise UserError(f"{name}={text}: not an integer (fix: give a whole number between "
                            f"{lowest} and {highest})") from None

    def validate(key, value, env):
        if not lowest <= value <= highest:
            raise UserError(f"{key}={value}: out of range (fix: give a whole number between "
                            f"{lowest} and {highest})")

    return convert, validate


def parse_mscred_windows(text: str) -> tuple[int, ...]:
    """'10,30,60' -> (10, 30, 60): strictly increasing positive window sizes, one per scale."""
    try:
        sizes = tuple(int(part, 10) for part in str(text).split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1 or list(sizes) != sorted(set(sizes)) or len(sizes) > 8:
        raise UserError(f"mscred_windows={text}: expected 1 to 8 increasing positive integers "
                        f"separated by commas (fix: for example mscred_windows={MSCRED_WINDOWS_DEFAULT})")
    return sizes


def parse_mscred_channels(text: str) -> tuple[int, ...]:
    """'32,64,128,256' -> the MSCRED encoder's channels per level: four positive integers."""
    try:
        channels = tuple(int(part, 10) for part in str(text).split(","))
    except ValueError:
        channels = ()
    if len(channels) != 4 or min(channels) < 1 or max(channels) > 4096:
        raise UserError(f"mscred_channels={text}: expected 4 positive integers separated by commas "
                        f"(fix: for example mscred_channels={MSCRED_CHANNELS_PAPER}, the paper's, or "
                        "8,16,32,64 for a smaller model)")
    return channels


def parse_bytes(name: str, text: str) -> int:
    """'512K' -> 524288: bytes, a whole number with an optional K/KiB or M/MiB suffix (1024-based)."""
    found = re.fullmatch(r"(\d+)\s*([A-Za-z]*)", str(text).strip())
    factor = SIZE_SUFFIXES.get(found.group(2).upper()) if found else None
    value = int(found.group(1)) * factor if factor else 0
    if not 1 <= value <= BUDGET_LIMIT:
        raise UserError(f"{name}={text}: not a size in bytes (fix: a whole number of bytes from 1 to "
                        f"{BUDGET_LIMIT}, optionally with K or M, e.g. {name}=256K; or {AUTO}, the "
                        "target's board)")
    return value


def _budget(key, value, env):
    if value != AUTO:
        parse_bytes(key, value)


def budgets(env) -> tuple[int, int]:
    """(flash, ram) in bytes: flash_budget= and ram_budget=, `auto` the target's board's memory
    (its toolchain file's ALOG_FLASH_BUDGET and ALOG_RAM_BUDGET)."""
    return tuple(env[f"ALOG_{kind.upper()}_BUDGET"] if env[f"{kind}_budget"] == AUTO
                 else parse_bytes(f"{kind}_budget", env[f"{kind}_budget"]) for kind in ("flash", "ram"))


def reject_options_the_target_ignores(env, arguments: dict) -> None:
    """A firmware option given for a hosted target, or embed_model= for a firmware target, would be
    silently ignored: stop instead (the options are a closed set per kind of target)."""
    target = env["ALOG_TARGET"]
    if env.get("ALOG_HOSTED", True):
        given = [name for name in FIRMWARE_OPTIONS if name in arguments]
        if given:
            raise UserError(f"{given[0]}={arguments[given[0]]}: only firmware targets read it, not "
                            f"target={target} (fix: drop it, or build target=cortex-m4)")
    elif "embed_model" in arguments:
        raise UserError(f"embed_model={arguments['embed_model']}: target={target} always ships the "
                        "models as a C source beside the library (src/alog_model_data.c) "
                        "(fix: drop embed_model=)")


def _session_key(key, value, env):
    from alog_detect.errors import UserError as StageError
    from alog_detect.sessions import RULE_HELP, parse_session_rule

    if value == AUTO:
        return
    try:
        parse_session_rule(value)
    except StageError:
        raise UserError(f"{key}={value}: not a session key rule (fix: {AUTO}, or {RULE_HELP})") from None


def _header_tokens(key, value, env):
    from alog_detect.errors import UserError as StageError
    from alog_detect.frontend import check_header_tokens

    if value == AUTO:
        return
    try:
        check_header_tokens(int(value, 10) if value.isdigit() else value, None)
    except StageError as exc:
        raise UserError(f"{key}={value}: {exc.message} (fix: {AUTO}, or the number of tokens before "
                        "each line's message, e.g. 4)") from None


def _sim_th(key, value, env):
    try:
        ok = 0.0 <= float(value) <= 1.0
    except ValueError:
        ok = False
    if not ok:
        raise UserError(f"{key}={value}: not a similarity threshold (fix: a number from 0 to 1, "
                        f"e.g. {SIM_TH_DEFAULT})")


def _log_format(key, value, env):
    from alog_detect.errors import UserError as StageError
    from alog_detect.frontend import compile_log_format

    if value in (AUTO, NONE, ""):
        return
    try:
        compile_log_format(value, None)
    except StageError as exc:
        raise UserError(f"{key}={value}: {exc.message} (fix: fields as <Name> with text between them "
                        "and one <Content>, e.g. log_format='<Date> <Time> <Level> <Component>: <Content>', "
                        f"or {key}={AUTO}; docs/matching.md 2.2)") from None


def _timestamp(key, value, env):
    from alog_detect.sessions import TIMESTAMP_LINE_START, TIMESTAMP_NONE, TimestampError, TimestampRule

    if value in (AUTO, TIMESTAMP_LINE_START, TIMESTAMP_NONE):
        return
    try:
        TimestampRule(value, "%s")  # the template's syntax (its fields are checked with the logs)
    except TimestampError as exc:
        raise UserError(f"{key}={value}: {exc} (fix: {AUTO}, {TIMESTAMP_LINE_START}, {TIMESTAMP_NONE}, or "
                        "fields of log_format such as timestamp='<Date> <Time>')") from None


def _timestamp_format(key, value, env):
    from alog_detect.sessions import TimestampError, _compile_pattern

    if value == AUTO:
        return
    try:
        _compile_pattern(value)
    except TimestampError as exc:
        raise UserError(f"{key}={value}: {exc} (fix: {AUTO}, or a pattern such as "
                        "timestamp_format='%Y-%m-%d %H:%M:%S,%f'; docs/matching.md 6.1)") from None


def parse_models(text: str) -> tuple[str, ...] | None:
    """'deeplog,mscred' -> ('deeplog', 'mscred') in the canonical order; None for auto."""
    if text == AUTO:
        return None
    names = [part.strip() for part in str(text).split(",")]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names or len(set(names)) != len(names):
        what = f"unknown model {unknown[0]!r}" if unknown else "each model once"
        raise UserError(f"models={text}: {what} (fix: models={AUTO}, or one of {MODELS_CHOICES})")
    return tuple(m for m in MODELS if m in names)


def parse_mscred_bucket(text: str):
    from alog_detect.mscred_data import BucketRule

    try:
        return BucketRule.parse(str(text))
    except ValueError:
        raise UserError(f"mscred_bucket={text}: not a bucket rule (fix: lines:N, a bucket every N counted "
                        f"lines, or seconds:N, e.g. mscred_bucket={MSCRED_BUCKET_DEFAULT})") from None


def parse_settings(env, builtin_sample: bool, logs: list[str] | None = None) -> dict:
    """The parse stage's settings, `auto` resolved for the logs being parsed, checked against the
    first lines of `logs` (timestamps that read nothing, a session field the format lacks): a
    UserError naming the option before any work starts."""
    from alog_detect.errors import UserError as StageError
    from alog_detect.parse import ParseConfig, frontend_for

    fitting = SAMPLE_FRONTEND if builtin_sample else LOGS_FRONTEND
    settings = {name: env[name] if env[name] != AUTO else default for name, default in fitting.items()}
    settings["header_tokens"] = int(settings["header_tokens"])
    settings["sim_th"] = float(env["sim_th"])
    mine_lines = int(env.get("mine_lines", 0))
    if mine_lines:  # absent when 0, so that builds from before the option keep their signatures
        settings["mine_lines"] = mine_lines
    log_format = env["log_format"]
    if log_format == NONE:
        log_format = ""
    elif log_format == AUTO:
        # Detection only where nothing else says where the message starts.
        log_format = AUTO if not builtin_sample and env["header_tokens"] == AUTO else ""
    elif env["header_tokens"] == AUTO:
        settings["header_tokens"] = 0  # the format says where the message starts
    settings.update(log_format=log_format, timestamp=env["timestamp"], timestamp_format=env["timestamp_format"],
                    names="scons")
    try:
        frontend_for(ParseConfig(logs=tuple(logs or ()), out=None, **settings), logs)
    except StageError as exc:
        raise UserError(exc.one_line()) from None
    return settings


def count_events(paths: list[str], cache_file) -> int:
    """Non-blank lines of the files (what parse turns into events), cached by path, size and
    modification time in `cache_file`, so that an up-to-date build reads no log."""
    import json
    import os
    from pathlib import Path

    cache_path = Path(str(cache_file))
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    total, changed = 0, False
    for path in paths:
        st = os.stat(path)
        key = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"
        if key not in cache:
            count = 0
            with open(path, "rb") as f:
                for raw in f:
                    count += bool(raw.decode("utf-8", "replace").strip())
            cache[key] = count
            changed = True
        total += cache[key]
    if changed:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache, indent=1, sort_keys=True))
    return total


def plan_models(env, events: int | None) -> tuple[str, ...]:
    """The models to build: `models=`, where `auto` drops MSCRED (saying so in one line) when the
    logs' `events` cannot make enough model inputs to train and calibrate it under a lines bucket
    rule; an explicit request that cannot be met is a UserError before any work starts. Under a
    seconds rule the count depends on the timestamps, known only after parsing."""
    from alog_detect.mscred_data import SignatureSpec, events_for_inputs, inputs_from_events
    from alog_detect.train.mscred import MSCREDTrainConfig, min_trainable_inputs

    requested = parse_models(env["models"])
    wanted = requested or MODELS
    bucket = parse_mscred_bucket(env["mscred_bucket"])
    if "mscred" not in wanted or bucket.unit != "lines" or events is None:
        return wanted
    windows = parse_mscred_windows(env["mscred_windows"])
    spec = SignatureSpec(1, windows, env["mscred_step"], MSCRED_STEPS, bucket)
    valid_fraction = MSCREDTrainConfig.__dataclass_fields__["valid_fraction"].default
    need = min_trainable_inputs(valid_fraction)
    have = inputs_from_events(spec, events)
    if have >= need:
        return wanted
    lines_needed = events_for_inputs(spec, need)
    why = (f"MSCRED needs at least {lines_needed} log lines at mscred_windows={env['mscred_windows']} "
           f"mscred_step={env['mscred_step']} mscred_bucket={bucket} ({need} model inputs of "
           f"{MSCRED_STEPS} signatures to train and calibrate on); the logs have {events}")
    if requested is None:
        print(f"scons: {why}: building DeepLog alone (models=deeplog says so; smaller mscred_windows, "
              "mscred_step or mscred_bucket keep MSCRED)")
        return ("deeplog",)
    raise UserError(f"models={env['models']}: {why} (fix: more log lines, smaller mscred_windows, "
                    "mscred_step or mscred_bucket, e.g. mscred_windows=2,5,10 mscred_step=2, or "
                    "models=deeplog)")


def make_variables(arguments: dict, targets: list[str], target_aliases: dict[str, str]) -> Variables:
    """arguments: the NAME=VALUE words of the command line (SCons' ARGUMENTS)."""
    variables = Variables(None, arguments)
    variables.Add(EnumVariable(
        "target", "build target (target=list describes each)", "host",
        allowed_values=tuple(targets) + ("list",), map=target_aliases))
    variables.Add("cpu", "CPU the target's code is compiled for (empty: the target's default; "
                  "target=list shows each target's choices)", "")
    variables.Add("logs", "log files or globs, separated by spaces (default: the built-in sample)", "")
    for name, (help_text, default, lowest, highest) in INTEGER_OPTIONS.items():
        convert, validate = _integer(name, lowest, highest)
        variables.Add(name, f"{help_text} ({lowest}..{highest})", default, validate, convert)
    variables.Add("mscred_windows", "MSCRED signature window sizes, one per scale",
                  MSCRED_WINDOWS_DEFAULT, lambda key, value, env: parse_mscred_windows(value))
    variables.Add("mscred_channels", "MSCRED encoder channels per level (the model's size grows with "
                  "their squares)", MSCRED_CHANNELS_DEFAULT,
                  lambda key, value, env: parse_mscred_channels(value))
    variables.Add("mscred_bucket", "MSCRED bucket rule: lines:N (a bucket every N counted lines) or "
                  "seconds:N (by the lines' timestamps)", MSCRED_BUCKET_DEFAULT,
                  lambda key, value, env: parse_mscred_bucket(value))
    variables.Add("models", f"models to train and ship: {MODELS_CHOICES} (auto: both, or DeepLog alone "
                  "when the logs are too few for MSCRED)", AUTO, lambda key, value, env: parse_models(value))
    variables.Add(BoolVariable("end_key", "deeplog-train: learn where sessions end (the END key, "
                               "docs/detection.md 2.2); no: the older model without it", "yes"))
    variables.Add(EnumVariable(
        "rule", "deeplog-train: the decision rule recorded in the model, top-k or the calibrated "
        "probability threshold (docs/detection.md 2.3)", RULE_DEFAULT, allowed_values=RULE_CHOICES))
    variables.Add(EnumVariable(
        "quantize", "convert-onnx: weights of the exported models, float32 (none) or int8 with "
        "per-output-channel scales (int8: files and packed weights about 4x smaller, docs/build.md)",
        QUANTIZE_DEFAULT, allowed_values=QUANTIZE_CHOICES))
    variables.Add("session_key", "parse: session key rule, none, prefix:<p> or field:<Name> (auto: "
                  f"{SAMPLE_FRONTEND['session_key']} for the built-in sample, "
                  f"{LOGS_FRONTEND['session_key']} for logs=)", AUTO, _session_key)
    variables.Add("header_tokens", "parse: tokens of each line's header, dropped before mining "
                  f"(auto: {SAMPLE_FRONTEND['header_tokens']} for the built-in sample, "
                  f"{LOGS_FRONTEND['header_tokens']} for logs=)", AUTO, _header_tokens)
    variables.Add("log_format", "parse: the lines' format in logparser syntax, e.g. '<Date> <Time> <Level> "
                  "<Component>: <Content>' (docs/matching.md 2.2); none; auto: detected from the first "
                  "lines with logs= (when header_tokens is auto), none for the built-in sample", AUTO,
                  _log_format)
    variables.Add("timestamp", "parse: line-start, none, or log_format fields such as '<Date> <Time>' "
                  "(auto: the detected format's fields, else line-start)", AUTO, _timestamp)
    variables.Add("timestamp_format", "parse: strftime-style pattern of the timestamp fields, e.g. "
                  "'%Y-%m-%d %H:%M:%S,%f' (auto: the known pattern that reads the first lines)", AUTO,
                  _timestamp_format)
    variables.Add("sim_th", "parse: Drain similarity threshold (0..1)", str(SIM_TH_DEFAULT), _sim_th)
    convert, validate = _integer("mine_lines", 0, MINE_LINES_MAX)
    variables.Add("mine_lines", "parse: Drain mines only the first N lines, match mode assigns every line "
                  f"(docs/matching.md 3.1; 0: Drain mines every line) (0..{MINE_LINES_MAX})", 0, validate, convert)
    variables.Add(EnumVariable(
        "optimize", f"optimization of the C engine ({AUTO}: the target's choice, site_tools/alog_flags.py: "
        "size for cortex-m4, speed for the others)", AUTO,
        allowed_values=(AUTO,) + OPTIMIZE_LEVELS))
    variables.Add(EnumVariable(
        "embed_model", "compile the .onnx bytes into the engine (auto: the target decides)", "auto",
        allowed_values=EMBED_MODEL_CHOICES, map={"1": "yes", "0": "no", "true": "yes", "false": "no"}))
    variables.Add(BoolVariable("san", "build the engine with AddressSanitizer + UBSan "
                               "(into build/<target>-san/)", "no"))
    variables.Add(BoolVariable("fuzz", "also build the libFuzzer harnesses (needs clang)", "no"))
    variables.Add(EnumVariable(
        "firmware_models", "firmware targets: the models compiled into the image (MSCRED only "
        "when it fits flash_budget=)", "deeplog", allowed_values=tuple(FIRMWARE_MODELS)))
    default, lowest, highest = FIRMWARE_LINES
    convert, validate = _integer("firmware_lines", lowest, highest)
    variables.Add("firmware_lines", "firmware targets: lines of the logs the example image replays, "
                  f"which the check compares with the host engine's verdicts ({lowest}..{highest})",
                  default, validate, convert)
    variables.Add("flash_budget", "firmware targets: flash bytes the example image may take (K, M: "
                  f"KiB, MiB; {AUTO}: the target's board, 4M for cortex-m4)", AUTO, _budget)
    variables.Add("ram_budget", "firmware targets: RAM bytes the example image may take, stack, "
                  f"arenas and detector included (K, M: KiB, MiB; {AUTO}: the target's board, 4M "
                  "for cortex-m4)", AUTO, _budget)
    variables.Add("cache_dir", "share built files (models too) through this directory "
                  "(SCons CacheDir; empty: off)", "")
    return variables


def reject_unknown(variables: Variables) -> None:
    unknown = variables.UnknownVariables()
    if unknown:
        names = ", ".join(sorted(unknown))
        known = ", ".join(option.key for option in variables.options)
        raise UserError(f"unknown option(s): {names} (fix: use one of {known}; scons -h explains them)")


def log_files(logs: str) -> list[str] | None:
    """The files `logs=` names (globs expanded, sorted), None for the built-in sample."""
    import shlex

    from alog_detect.errors import UserError as StageError
    from alog_detect.parse import expand_logs

    patterns = shlex.split(logs)
    if not patterns:
        return None
    try:
        return expand_logs(patterns)
    except StageError as exc:
        raise UserError(f"logs={logs}: {exc.one_line()}") from None
