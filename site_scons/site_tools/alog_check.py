"""`scons check`: run the engine's test programs, and `alog-engine --version`, through the target's
runner ($ALOG_RUNNER: nothing on the host, an emulator for cross targets). A test program passes
by exiting 0; its output is kept in $ALOG_BUILD/check/<name>.log. Always runs when asked for."""

import subprocess

import SCons.Action


def _run(target, source, env):
    program, log = source[0], target[0]
    command = list(env["ALOG_RUNNER"]) + [program.abspath] + list(env["ALOG_CHECK_ARGS"])
    result = subprocess.run(command, cwd=env.Dir("#").abspath, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    with open(log.abspath, "wb") as f:
        f.write(result.stdout)
    if result.returncode != 0:
        print(result.stdout.decode("utf-8", "replace"), end="")
        print(f"FAIL {program.name} (exit {result.returncode}; output in {log})")
        return 1
    print(f"PASS {program.name}")
    return 0


def alog_check(env, programs, engine):
    """Run every test program and `alog-engine --version`; returns the check nodes."""
    logs = [env.Command(f"$ALOG_BUILD/check/{p.name}.log", p, _RUN_ACTION, ALOG_CHECK_ARGS=[])
            for p in programs]
    logs += [env.Command("$ALOG_BUILD/check/alog-engine-version.log", e, _RUN_ACTION,
                         ALOG_CHECK_ARGS=["--version"]) for e in engine]
    env.AlwaysBuild(logs)
    return logs


_RUN_ACTION = SCons.Action.Action(_run, "check: $SOURCE")


def generate(env):
    env.AddMethod(alog_check, "AlogCheck")


def exists(env):
    return True
