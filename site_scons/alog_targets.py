"""The build targets: one SCons Tool per file in toolchains/ (see toolchains/host.py for the interface)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import SCons.Errors
import SCons.Tool

REQUIRED = ("DESCRIPTION", "ALIASES", "INSTALL_HINT", "exists", "generate")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"alog_toolchain_{path.stem.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = [name for name in REQUIRED if not hasattr(module, name)]
    if missing:
        raise SCons.Errors.UserError(f"{path}: a toolchain file must define {', '.join(missing)} "
                                     "(see docs/build.md, 'Adding a target')")
    return module


def discover(toolchain_dir: Path) -> dict:
    """Every toolchain file, by target name (the file name without .py), sorted."""
    return {path.stem: _load(path) for path in sorted(toolchain_dir.glob("*.py"))
            if not path.name.startswith("_")}


def aliases(toolchains: dict) -> dict[str, str]:
    return {alias: name for name, module in toolchains.items() for alias in module.ALIASES}


def listing(toolchains: dict) -> str:
    lines = ["targets (target=NAME):"]
    for name, module in toolchains.items():
        also = f" (also: {', '.join(module.ALIASES)})" if module.ALIASES else ""
        lines.append(f"  {name:<10} {module.DESCRIPTION}{also}")
    return "\n".join(lines)


def apply(env, name: str, toolchains: dict, toolchain_dir: Path) -> None:
    """Configure env for target `name`, or stop with the package that provides its compiler."""
    tool = SCons.Tool.Tool(name, toolpath=[str(toolchain_dir)])
    if not tool.exists(env):
        raise SCons.Errors.UserError(
            f"target={name}: its compiler or archiver was not found; install "
            f"{toolchains[name].INSTALL_HINT}")
    tool(env)
    env["ALOG_TARGET"] = name
