"""The repository's example game, built once per test session and target.

``example_game(target)`` copies the SConstruct, site_scons and examples into a
temporary directory, runs the real ``scons target=TARGET`` there (which also
validates the game on the emulator), and adds ``crashy.elf``: a module made
for the loader's error paths (it needs physics, imports from the kernel and
uses gamevm.h)::

    crashy_store(int *p, int v)   *p = v (faults on a bad address)
    crashy_spin(int n)            never returns
    crashy_say(const char *s)     GameVMPrint(s); returns gvm_strlen(s)
    crashy_sum(a, b, c, d, e, f)  six arguments (two on the stack)
    crashy_fx(int a, int b)       physics' fx_mul(a, b)
    gamevm_selftest()             returns 0

Use it with ``from example_game import example_game  # noqa: F401`` (a fixture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CRASHY = r"""
#include "gamevm.h"
extern unsigned gvm_strlen(const char *s);
extern int fx_mul(int a, int b);

int crashy_store(int *p, int v) { *p = v; return v; }
int crashy_spin(int n) { volatile int i = 0; for (;;) i += n; return i; }
int crashy_say(const char *s) { GameVMPrint(s); return (int)gvm_strlen(s); }
int crashy_sum(int a, int b, int c, int d, int e, int f) { return a + b + c + d + e + f; }
int crashy_fx(int a, int b) { return fx_mul(a, b); }
int gamevm_selftest(void) { return crashy_sum(1, 2, 3, 4, 5, 6) == 21 ? 0 : 1; }
"""


def scons(cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """The real scons (``python -m SCons -Q``) with this checkout on PYTHONPATH.  A build
    checks its loads against the costs measured from the shipping runtime, so it links
    that one even in bench/mutation_c.py's checked run (``GAMEVM_RUNTIME_CHECKS``), whose
    bigger code made segacd's scenarios slower than their bounds."""
    env = dict(os.environ)
    env.pop("GAMEVM_RUNTIME_CHECKS", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "SCons", "-Q", *args], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def build_example(root: Path, target: str) -> Path:
    """Build the example for ``target`` in ``root`` (a fresh directory); return build/<target>."""
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.toolchain import find_toolchain

    if not (root / "SConstruct").exists():
        shutil.copy(REPO / "SConstruct", root / "SConstruct")
        for sub in ("site_scons", "examples"):
            shutil.copytree(REPO / sub, root / sub, ignore=shutil.ignore_patterns("__pycache__"))
    proc = scons(root, f"target={target}")
    assert proc.returncode == 0, proc.stdout
    assert "Traceback" not in proc.stdout
    out = root / "build" / target
    src = out / "crashy.c"
    src.write_text(CRASHY)
    obj = find_toolchain(target).compile(src, out / "crashy.o",
                                         include_dirs=[REPO / "gamevm_build" / "include"])
    link_module(target, [obj], out / "crashy.elf", needs=[out / "physics.elf"],
                resident=out / "kernel.elf")
    return out


@pytest.fixture(scope="session")
def example_game(tmp_path_factory):
    """``example_game(target) -> Path`` of build/<target> with the built example + crashy.elf."""
    root = tmp_path_factory.mktemp("example")
    built: dict[str, Path] = {}

    def get(target: str) -> Path:
        if target not in built:
            built[target] = build_example(root, target)
        return built[target]

    return get
