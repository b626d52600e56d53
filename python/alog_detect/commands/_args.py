"""Argument types shared by command modules (a leading underscore keeps it out of the command list)."""

from __future__ import annotations

import argparse


def int_list(text: str) -> tuple[int, ...]:
    """``"10,30,60"`` -> ``(10, 30, 60)``; positive integers only."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values
