"""The build targets: one SCons Tool per file in toolchains/ (see toolchains/host.py for the interface)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import SCons.Environment
import SCons.Errors
import SCons.Tool

REQUIRED = ("DESCRIPTION", "ALIASES", "INSTALL_HINT", "exists", "generate")
# A target without CPUS has one CPU, this one: whatever its compiler targets by default.
ONLY_CPU = "default"


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


def cpus(module) -> list[str]:
    """The target's cpu= choices, its default first."""
    choices = list(getattr(module, "CPUS", {ONLY_CPU: None}))
    default = getattr(module, "DEFAULT_CPU", choices[0])
    return [default] + [c for c in choices if c != default]


def listing(toolchains: dict) -> str:
    lines = ["targets (target=NAME):"]
    for name, module in toolchains.items():
        also = f" (also: {', '.join(module.ALIASES)})" if module.ALIASES else ""
        lines.append(f"  {name:<10} {module.DESCRIPTION}{also}")
        if hasattr(module, "CPUS"):
            default, *others = cpus(module)
            lines.append(f"  {'':<10} cpu={default} (default), " + ", ".join(others))
    return "\n".join(lines)


def resolve_cpu(name: str, module, cpu: str) -> str:
    """The cpu= value for target `name` ('' is its default), or stop naming its choices."""
    choices = cpus(module)
    if cpu == "":
        return choices[0]
    if cpu not in choices:
        raise SCons.Errors.UserError(
            f"cpu={cpu}: not a CPU of target={name} (fix: one of {', '.join(choices)}; "
            f"without cpu= it is {choices[0]})")
    return cpu


def apply(env, name: str, toolchains: dict, toolchain_dir: Path) -> None:
    """Configure env for target `name` and CPU env['cpu'], or stop with the package that provides
    its compiler."""
    module = toolchains[name]
    env["ALOG_CPU"] = resolve_cpu(name, module, env["cpu"])
    tool = SCons.Tool.Tool(name, toolpath=[str(toolchain_dir)])
    if not tool.exists(env):
        raise SCons.Errors.UserError(
            f"target={name}: its compiler or archiver was not found; install {module.INSTALL_HINT}")
    tool(env)
    env["ALOG_TARGET"] = name
    env["ALOG_DEFAULT_CPU"] = env["ALOG_CPU"] == cpus(module)[0]


def check_runner(env, what: str) -> None:
    """Stop before any work when `what` (e.g. 'check') must run programs through a runner that
    is not installed."""
    runner = env["ALOG_RUNNER"]
    if runner and not env.WhereIs(runner[0]):
        hint = env.get("ALOG_RUNNER_HINT", "the program that runs this target's binaries")
        raise SCons.Errors.UserError(
            f"target={env['ALOG_TARGET']} {what}: runs its programs with {runner[0]}, which was not "
            f"found (fix: install {hint})")


def host_environment(env, variables, toolchains: dict, toolchain_dir: Path, tools: tuple[str, ...]):
    """The host's environment, set up as `scons target=host` sets it up from the same command
    line (its default CPU and optimization: the target's options are not the host's), with its
    variant dir build/host/: for the programs a cross build runs on this machine (the firmware
    check's reference alog-engine). `tools`: the site tools to load."""
    host = SCons.Environment.Environment(variables=variables, tools=["default"], ENV=dict(env["ENV"]))
    host["target"], host["cpu"], host["optimize"], host["san"], host["fuzz"] = "host", "", "auto", False, False
    apply(host, "host", toolchains, toolchain_dir)
    host["ALOG_BUILD"] = host.Dir("#build/host")
    host["ALOG_GEN"] = host.Dir("#build/host/gen")
    for tool in tools:
        host.Tool(tool)
    return host
