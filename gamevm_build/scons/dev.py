"""``scons dev=1``: start a ``gamevm dev`` session from an SConstruct (docs/dev.md).

:func:`GameVMDev` adds an always-built alias whose action runs ``gamevm dev`` in the
foreground, in a child process that inherits the terminal: its frame lines stream as
they come, its prompt reads what is typed, and Ctrl-C ends it (and the build with it).
The session builds the modules and the resident it swaps itself, from the dev manifest
(``dev.json``) into ``build/dev/TARGET``: the SCons build of ``build/TARGET`` is not
needed and not touched.  The alias depends on ``sources`` (files the configuration
loads as built, for modules the manifest does not build) so that SCons builds those
first.

Reading an SConstruct that calls this imports nothing but SCons and the standard
library: the emulator and the compilers are loaded by the child, when the alias runs.
"""

from __future__ import annotations

import os
import subprocess
import sys

import SCons.Action

#: construction variables -> ``gamevm dev`` options (None: not passed)
OPTIONS = (
    ("GAMEVM_DEV_SCENE", "--scene"),
    ("GAMEVM_DEV_FRAMES", "--frames"),
    ("GAMEVM_DEV_SPEED", "--speed"),
    ("GAMEVM_DEV_EVERY", "--every"),
    ("GAMEVM_DEV_SOCKET", "--socket"),
    ("GAMEVM_DEV_MANIFEST", "--manifest"),
    ("GAMEVM_DEV_POLICY", "--on-layout-change"),
    ("GAMEVM_DEV_LOADER", "--loader"),
)
#: the package's parent directory: the child imports this gamevm_build, not another
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def command(env, config: str) -> list[str]:
    """The ``gamevm dev`` command line the alias runs."""
    cmd = [sys.executable, "-m", "gamevm_build", "dev", "-c", config,
           "-t", env.subst("$GAMEVM_TARGET")]
    for var, opt in OPTIONS:
        value = env.get(var)
        if value not in (None, ""):
            cmd += [opt, str(value)]
    for expr in env.get("GAMEVM_DEV_SHOW") or ():
        cmd += ["--show", str(expr)]
    if env.get("GAMEVM_DEV_NO_WATCH"):
        cmd.append("--no-watch")
    return cmd


def _run_session(target, source, env):
    cmd = env["_GAMEVM_DEV_COMMAND"]
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = _ROOT + os.pathsep + child_env.get("PYTHONPATH", "")
    try:
        # the foreground: stdin, stdout and stderr are the terminal's (the prompt, live
        # frame lines); the session's exit status is the build's
        return subprocess.call(cmd, cwd=env.Dir("#").abspath, env=child_env)
    except KeyboardInterrupt:
        return 130


def _describe(target, source, env):
    return "Dev      gamevm " + " ".join(env["_GAMEVM_DEV_COMMAND"][3:])


def GameVMDev(env, config, sources=(), alias: str = "dev", **overrides):
    """An always-built alias ``alias`` that runs ``gamevm dev -c CONFIG`` for
    ``$GAMEVM_TARGET``; the ``GAMEVM_DEV_*`` variables (or keyword overrides) give its
    options: ``_SCENE``, ``_FRAMES``, ``_SPEED``, ``_EVERY``, ``_SOCKET``, ``_MANIFEST``,
    ``_POLICY`` (layout-change policy), ``_SHOW`` (a list of call expressions) and
    ``_NO_WATCH``."""
    env = env.Clone(**overrides)
    config = env.File(config).abspath
    env["_GAMEVM_DEV_COMMAND"] = command(env, os.path.relpath(config, env.Dir("#").abspath))
    node = env.Alias(alias, list(sources),
                     SCons.Action.Action(_run_session, _describe,
                                         varlist=["_GAMEVM_DEV_COMMAND"]))
    env.AlwaysBuild(node)
    return node
