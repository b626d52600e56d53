"""Benchmarks build the C programs they measure through SCons, like the tests (tests/cbuild.py):
one recipe, the build's own flags, and the same lock so concurrent runs never share a build."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from ..errors import UserError

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / "build"
HOST = BUILD / "host"
LOCK = BUILD / ".cbuild.lock"  # shared with tests/cbuild.py


def scons(words: tuple[str, ...], fix: str) -> None:
    """`scons -Q WORDS` in this checkout; a failure is a UserError naming its last line and `fix`."""
    BUILD.mkdir(exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", *words], cwd=REPO,
                              capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise UserError(f"scons -Q {' '.join(words)} failed: {last}", REPO / "SConstruct", fix)
