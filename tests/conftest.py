"""Shared fixtures: target profiles, real cross toolchains, and a compile helper.

Tests run against the real cross toolchains (Debian gcc-mipsel-linux-gnu,
gcc-mips-linux-gnu, gcc-m68k-linux-gnu, gcc-arm-none-eabi).  They are installed by the README's test command; a test
that needs one fails (it does not skip) when it is missing, so CI cannot pass
without exercising them.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from gamevm_build.project.profile import available_targets, load_profile
from gamevm_build.link.toolchain import find_toolchain

REPO = Path(__file__).resolve().parents[1]


def compile_through_ccache() -> Path | None:
    """Put ccache in front of every console's gcc and the host's, when it is installed.

    Hundreds of tests link a resident with the console-side runtime, and each one
    compiles the same runtime (1.6 s of the 1.8 s a resident takes on psx): ccache compiles
    it once per target and flag set, and gives back the same object for the same
    preprocessed source and flags, so nothing a test checks changes.  It is ccache's
    "masquerade" set-up (a directory of links named like the compilers, first on PATH),
    which this process's tests, the workers pytest-xdist starts and every ``gamevm``
    subprocess inherit.  ``GAMEVM_TEST_CCACHE=0`` compiles without it.  Returns the
    links' directory, or None.
    """
    ccache = shutil.which("ccache")
    if not ccache or os.environ.get("GAMEVM_TEST_CCACHE") == "0":
        return None
    root = Path(tempfile.gettempdir()) / f"gamevm-test-ccache-{os.getuid()}"
    bindir = root / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    names = {"gcc"} | {p + "gcc" for t in available_targets()
                       for p in load_profile(t).toolchain_prefixes}
    for name in sorted(names):
        link = bindir / name
        if shutil.which(name) and not link.exists():
            try:
                link.symlink_to(ccache)
            except FileExistsError:          # another worker made it first
                pass
    if str(bindir) not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = str(bindir) + os.pathsep + os.environ["PATH"]
    os.environ.setdefault("CCACHE_DIR", str(root / "cache"))
    return bindir


CCACHE_BIN = compile_through_ccache()


def real_tool(name: str) -> str | None:
    """Where ``name`` is on PATH, ccache's links (:func:`compile_through_ccache`) left out:
    for a test that links the compiler under another name, which ccache would not know."""
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if d != str(CCACHE_BIN))
    return shutil.which(name, path=path)

# Property tests are reproducible in the suite: "ci" (the default) derives every example
# from the test itself, with no example database, so a run fails or passes the same way
# on every machine.  "explore" looks for new failures with fresh random examples, twenty
# times as many: python -m pytest -m property --hypothesis-profile=explore (or
# GAMEVM_HYPOTHESIS_PROFILE=explore; bench/README.md); pin what it finds with
# @example(...) next to the test.  The counts scale by the loaded profile's max_examples,
# so a test's own @settings(max_examples=examples(n)) follows the profile too.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True,
                          max_examples=100)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True,
                          max_examples=2000)
settings.load_profile(os.environ.get("GAMEVM_HYPOTHESIS_PROFILE", "ci"))


def examples(n: int) -> int:
    """A property test's example count: ``n`` in the suite, 20 times more when exploring.

    Read when the test module is imported, after ``--hypothesis-profile`` was applied.
    """
    return max(1, n * settings.default.max_examples // settings.get_profile("ci").max_examples)


#: test files whose tests run in order on one shared checkout (a documented command uses
#: what the one before it wrote): pytest-xdist keeps each on one worker
IN_ORDER = {"test_docs_commands.py"}


def pytest_collection_modifyitems(items):
    """Mark every Hypothesis test ``property`` (``-m property`` selects them)."""
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)


def pytest_xdist_make_scheduler(config, log):
    """Load balancing, test by test, but an :data:`IN_ORDER` file's tests go to one
    worker together, in order.  (``--dist loadgroup`` with ``xdist_group`` marks would
    say the same, but pytest-xdist 3.8 tags the grouped tests by rewriting a node id that
    pytest 9.2 no longer reads, so the groups were silently split.)"""
    from xdist.scheduler import LoadScopeScheduling

    class InOrderScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.rsplit("/", 1)[-1] in IN_ORDER else nodeid

    return InOrderScheduling(config, log)


def build_wheel(dest: Path) -> Path:
    """``pip wheel --no-deps`` of this checkout into ``dest``, as a user builds it; return
    the wheel.  Builds take turns (a lock beside the temporary files): setuptools builds
    in the checkout's build/ and egg-info, which two pytest-xdist workers building at
    once would both write."""
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / "gamevm-build-wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                        str(dest), str(REPO)], check=True, capture_output=True)
    return next(Path(dest).glob("gamevm_build-*.whl"))


MIPS_TARGETS = ["psx", "n64"]
#: every console: MIPS, 68000 (segacd) and ARM (gba ARMv4T, 3do ARMv3)
ALL_TARGETS = ["psx", "n64", "segacd", "gba", "3do"]
NEW_TARGETS = ["segacd", "gba", "3do"]


def module_base(profile, resident_end: int, align: int = 0x10000) -> int:
    """A base for test modules: main RAM after the resident (when it is there), aligned."""
    ram = profile.main_ram
    start = resident_end if ram.start <= resident_end <= ram.end else ram.start
    return (start + align - 1) & ~(align - 1)


@pytest.fixture(params=MIPS_TARGETS)
def target(request) -> str:
    """Each MIPS console in turn."""
    return request.param


@pytest.fixture
def profile(target):
    return load_profile(target)


@pytest.fixture
def toolchain(target):
    return find_toolchain(target)


class Builder:
    """Writes C/asm sources into a temp dir and compiles them with a target toolchain."""

    def __init__(self, tmp: Path, toolchain):
        self.tmp = tmp
        self.tc = toolchain

    def source(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def obj(self, name: str, text: str, *flags: str) -> Path:
        """Compile ``text`` (C if name ends .c, asm if .s/.S) to ``name`` with suffix .o."""
        src = self.source(name, text)
        out = src.with_suffix(".o")
        self.tc.compile(src, out, extra_flags=list(flags))
        return out

    def archive(self, name: str, objects: list[Path]) -> Path:
        out = self.tmp / name
        subprocess.run([self.tc.ar, "rcs", str(out), *map(str, objects)], check=True)
        return out


@pytest.fixture
def build(tmp_path, toolchain) -> Builder:
    return Builder(tmp_path, toolchain)


def refused_object(target: str, data: bytes, tmp_path: Path, name: str = "bad.o"):
    """Link the object ``data`` (written as ``tmp_path / name``) for ``target``: the link
    must fail with a RelocationError and write no module.  ``(object path, error)``."""
    from gamevm_build.errors import RelocationError
    from gamevm_build.link.linker import link_module
    bad = tmp_path / name
    bad.write_bytes(bytes(data))
    with pytest.raises(RelocationError) as err:
        link_module(target, [bad], tmp_path / "m.gvm")
    assert not (tmp_path / "m.gvm").exists()
    return bad, err.value


def shell_env(root: Path) -> dict:
    """An environment in which a shell's ``gamevm`` runs this checkout (a shim in
    ``root/bin``), as documented commands are typed."""
    bindir = root / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "gamevm").write_text(f"#!/bin/sh\nexec {sys.executable} -m gamevm_build \"$@\"\n")
    (bindir / "gamevm").chmod(0o755)
    return dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}",
                PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def run_gamevm(*args: str, cwd: Path | None = None,
               shipping: bool = False) -> subprocess.CompletedProcess:
    """Run the real ``gamevm`` CLI in a subprocess (python -m gamevm_build).

    ``shipping``: a runtime it links is the shipping build even in a checked run
    (``GAMEVM_RUNTIME_CHECKS``, bench/mutation_c.py's): for tests that compare what the
    runtime executes with the costs measured from that build."""
    env = dict(os.environ)
    if shipping:
        env.pop("GAMEVM_RUNTIME_CHECKS", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "gamevm_build", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env)


def section_header(data: bytes, name: str) -> tuple[int, list[int]]:
    """Where section ``name``'s header lies in ELF32 file ``data`` (either byte order) and
    its ten fields (``sh_name`` ... ``sh_entsize``: its file offset is [4], its size [5])."""
    e = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(e + "I", data, 32)
    shnum, shstrndx = struct.unpack_from(e + "HH", data, 48)
    names = struct.unpack_from(e + "10I", data, shoff + 40 * shstrndx)[4]
    for at in range(shoff, shoff + 40 * shnum, 40):
        head = list(struct.unpack_from(e + "10I", data, at))
        if data[names + head[0]:data.index(b"\0", names + head[0])] == name.encode():
            return at, head
    raise KeyError(name)
