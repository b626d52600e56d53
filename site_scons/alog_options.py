"""The build options: SCons Variables with closed sets and ranges, checked before any work starts."""

from __future__ import annotations

from SCons.Errors import UserError
from SCons.Variables import BoolVariable, EnumVariable, Variables

OPTIMIZE_LEVELS = ("none", "debug", "speed", "size")
EMBED_MODEL_CHOICES = ("auto", "yes", "no")

# name: (help, default, lowest, highest). Defaults keep the default `scons` to a few minutes on 2 cores.
INTEGER_OPTIONS = {
    "window": ("DeepLog window: log keys of history per prediction", 10, 2, 1024),
    "top_k": ("DeepLog top-k: a next key outside the k most likely is an anomaly", 9, 1, 1000),
    "hidden": ("DeepLog LSTM hidden size", 64, 1, 4096),
    "layers": ("DeepLog LSTM layers", 2, 1, 8),
    "epochs": ("DeepLog training epochs", 3, 1, 10000),
    "mscred_epochs": ("MSCRED training epochs", 3, 1, 10000),
}
MSCRED_WINDOWS_DEFAULT = "10,30,60"

# Options that decide the trained models: their values are part of the training steps' signatures.
TRAINING_OPTIONS = ("logs", "window", "top_k", "hidden", "layers", "epochs", "mscred_windows",
                    "mscred_epochs")


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


def make_variables(arguments: dict, targets: list[str], target_aliases: dict[str, str]) -> Variables:
    """arguments: the NAME=VALUE words of the command line (SCons' ARGUMENTS)."""
    variables = Variables(None, arguments)
    variables.Add(EnumVariable(
        "target", "build target (target=list describes each)", "host",
        allowed_values=tuple(targets) + ("list",), map=target_aliases))
    variables.Add("logs", "log files or globs, separated by spaces (default: the built-in sample)", "")
    for name, (help_text, default, lowest, highest) in INTEGER_OPTIONS.items():
        convert, validate = _integer(name, lowest, highest)
        variables.Add(name, f"{help_text} ({lowest}..{highest})", default, validate, convert)
    variables.Add("mscred_windows", "MSCRED signature window sizes, one per scale",
                  MSCRED_WINDOWS_DEFAULT, lambda key, value, env: parse_mscred_windows(value))
    variables.Add(EnumVariable("optimize", "optimization of the C engine", "speed",
                               allowed_values=OPTIMIZE_LEVELS))
    variables.Add(EnumVariable(
        "embed_model", "compile the .onnx bytes into the engine (auto: the target decides)", "auto",
        allowed_values=EMBED_MODEL_CHOICES, map={"1": "yes", "0": "no", "true": "yes", "false": "no"}))
    variables.Add(BoolVariable("san", "build the engine with AddressSanitizer + UBSan", "no"))
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
