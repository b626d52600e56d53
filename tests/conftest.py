"""Shared fixtures: paths, the public data beside the checkout, and the CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public labelled logs in ../shared/data (present on developer machines and in CI)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public data not found at {SHARED_DATA}")
    return SHARED_DATA


def run_cli(*args: str, input: bytes | None = None, check: bool = True, cwd: Path | None = None):
    """Run `alog-detect` in a subprocess; returns CompletedProcess with text stdout/stderr."""
    proc = subprocess.run([sys.executable, "-m", "alog_detect", *map(str, args)], input=input,
                          capture_output=True, cwd=cwd)
    proc.stdout_text = proc.stdout.decode("utf-8", "replace")
    proc.stderr_text = proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise AssertionError(f"alog-detect {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stderr_text}")
    return proc


@pytest.fixture(scope="session")
def cli():
    return run_cli
