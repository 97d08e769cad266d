"""gdb on the emulated console (docs/debugging.md): ``gamevm call --gdb PORT`` serves gdb
(udbserver), Debian's gdb-multiarch attaches in batch mode with the generated gdbinit,
breaks by file:line in a module the resident loads at run time, prints a local and a
global, steps, and reads the backtrace into the resident.

Every test picks a free port and bounds each process with a timeout, so they run in
parallel and a hung gdb or server fails the test instead of hanging the suite."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time

import pytest

from conftest import REPO, run_gamevm
from gamevm_build import INCLUDE_DIR
from gamevm_build.play.gdbserver import free_port

pytest.importorskip("udbserver", reason="gamevm_build[debug] (tools/bootstrap installs it)")

DEEP = """\
int deep_global = 42;

__attribute__((noinline)) int c3(int x)
{
    int local = x * 3 + deep_global;
    deep_global = local + 1;
    return local;
}

__attribute__((noinline)) int c2(int n)
{
    return c3(n + 1) + 1;
}

int c1(int x)
{
    return c2(x * 2) * 3;
}
"""
KERNEL = """\
#include "gamevm.h"

typedef int (*fn_t)(int);
int k_global = 7;

int k_run(int x)
{
    TModuleHandle h = LoadModule("deep");
    fn_t c1 = (fn_t)GetModuleProc(h, "c1");
    int r = c1(x) + k_global;
    UnloadModule(h);
    return r;
}

void _start(void) { for (;;); }
"""
#: seconds any one process may take
TIMEOUT = 90


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def build(tmp_path, target: str, *module_flags: str):
    (tmp_path / "deep.c").write_text(DEEP)
    (tmp_path / "k.c").write_text(KERNEL)
    proc = run_gamevm("module", "-t", target, "-o", tmp_path / "deep.elf", tmp_path / "deep.c",
                      "--cflags=-g", *[f"--cflags={f}" for f in module_flags])
    assert proc.returncode == 0, proc.stderr
    proc = run_gamevm("resident", "-t", target, "-o", tmp_path / "k.elf", "-I", INCLUDE_DIR,
                      "--runtime", "target", "--keep=k_run", tmp_path / "k.c", "--cflags=-g")
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "k.elf"


def serve(tmp_path, target: str, kernel, port: int) -> subprocess.Popen:
    """``gamevm call --gdb``, once it waits for gdb (or has exited)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gamevm_build", "call", "-t", target, "--resident", str(kernel),
         "--search", str(tmp_path), "--gdb", str(port), "--gdbinit", str(tmp_path / "gdbinit"),
         "k_run(1)"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + TIMEOUT
    seen = b""
    while b"gamevm: gdb: waiting" not in seen:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"gamevm call --gdb did not start serving: {(seen + err).decode()}")
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            seen += os.read(proc.stderr.fileno(), 4096)
    return proc


def gdb(script, *commands: str) -> subprocess.CompletedProcess:
    args = ["gdb-multiarch", "-nx", "-batch", "-x", str(script)]
    for c in commands:
        args += ["-ex", c]
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT)


CONSOLES = [("psx", ()), ("segacd", ()), ("gba", ("-marm",)), ("gba", ("-mthumb",)),
            ("3do", ())]


@pytest.mark.parametrize("target,flags", CONSOLES,
                         ids=["psx", "segacd", "gba-arm", "gba-thumb", "3do"])
def test_gdb_session_on_the_emulated_console(tmp_path, target, flags):
    kernel = build(tmp_path, target, *flags)
    store = line_of(DEEP, "deep_global = local + 1")
    server = serve(tmp_path, target, kernel, free_port())
    try:
        session = gdb(tmp_path / "gdbinit", f"break deep.c:{store}", "continue",
                      "print local", "print deep_global", "next", "bt", "finish",
                      "print deep_global", "kill")
        out, err = server.communicate(timeout=TIMEOUT)
    finally:
        server.kill()
    text = session.stdout
    assert "warning" not in session.stderr.lower(), session.stderr
    # the module was not loaded when gdb attached: the breakpoint was pending until the
    # loader's hook re-read the module symbols at its load address
    assert re.search(rf"Breakpoint \d+, c3 \(x=(3|<optimized out>)\) at .*deep\.c:{store}\n",
                     text), text
    assert "$1 = 51" in text and "$2 = 42" in text                   # a local and a global
    assert re.search(rf"^{store + 1}\s+return local;", text, re.M), text      # stepped
    frames = re.findall(r"^#(\d)\s+(?:0x[0-9a-f]+ in )?(\w+) \(.*?\)(?: at (\S+))?", text, re.M)
    assert [f[1] for f in frames[:4]] == ["c3", "c2", "c1", "k_run"], text
    assert frames[1][2].endswith(f"deep.c:{line_of(DEEP, 'return c3(')}")
    assert frames[2][2].endswith(f"deep.c:{line_of(DEEP, 'return c2(')}")
    assert "$4 = 52" in text, text                      # the store ran: finish returned
    assert b"k_run(1) = 163" in out, (out, err)
    assert server.returncode == 0


def test_module_symbols_follow_loads_and_unloads(tmp_path):
    """modules.gdb is rewritten at the loader's hook: the module is listed at its load
    address while it is loaded, and gone once it is unloaded."""
    from gamevm_build.play.console import Console
    from gamevm_build.play.gdbserver import GdbServer

    kernel = build(tmp_path, "psx")
    console = Console("psx", kernel, search_paths=[tmp_path])
    server = GdbServer(console, free_port(), tmp_path / "gdbinit")
    try:
        script = (tmp_path / "gdbinit").read_text()
        assert re.search(r"^target remote 127\.0\.0\.1:\d+$", script, re.M)
        assert f"file {(tmp_path / 'k.debug').resolve()}" in script
        hook = console.resident.symbols["gvm_debug_event"]
        assert f"break *0x{hook:08x}" in script
        lm = console.load("deep")
        modules = (tmp_path / "gdbinit.modules").read_text()
        text_addr = lm.base + lm.module.sections[".text"][0]
        assert (f"add-symbol-file {(tmp_path / 'deep.debug').resolve()} -s .text "
                f"0x{text_addr:08x}") in modules
        console.loader.unload(lm.handle)
        modules = (tmp_path / "gdbinit.modules").read_text()
        assert "add-symbol-file" not in modules
        # sourced again and again: it starts from the resident's symbols alone
        assert modules.splitlines()[1:] == ["symbol-file",
                                            f"symbol-file {(tmp_path / 'k.debug').resolve()}"]
    finally:
        server._listener.close()


def test_memory_packets_are_made_physical():
    from gamevm_build.play.gdbserver import _Rewriter

    r = _Rewriter(lambda a: a & 0x1FFFFFFF)
    out = r.feed(b"+$m80010000,4#")                  # split across reads
    assert out == b"+"
    out = r.feed(b"00$c#63")
    assert out == b"$m10000,4#" + b"%02x" % (sum(b"m10000,4") & 0xFF) + b"$c#63"
    assert r.feed(b"$Z0,80010000,4#00") .startswith(b"$Z0,80010000")   # breakpoints stay virtual


def test_big_endian_mips_is_refused_with_the_reason(tmp_path):
    kernel = build(tmp_path, "n64")
    proc = run_gamevm("call", "-t", "n64", "--resident", kernel, "--search", tmp_path,
                      "--gdb", str(free_port()), "k_run(1)")
    assert proc.returncode == 2
    assert "udbserver 0.3.0 cannot serve unicorn's big-endian MIPS engine" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_gamevm_run_serves_gdb_at_the_scenarios_first_call(tmp_path):
    """``gamevm run --gdb`` on the example's runtime scenario built with ``debug=1``: gdb's
    script lies beside the trace; a breakpoint in level1 (which kernel_selftest loads with
    LoadModule) is hit, and the scenario still passes once gdb detaches."""
    import shutil

    from example_game import scons

    shutil.copy(REPO / "SConstruct", tmp_path / "SConstruct")
    for sub in ("site_scons", "examples"):
        shutil.copytree(REPO / sub, tmp_path / sub, ignore=shutil.ignore_patterns("__pycache__"))
    proc = scons(tmp_path, "target=psx", "debug=1", "game")
    assert proc.returncode == 0, proc.stdout
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    trace = tmp_path / "rt.json"
    server = subprocess.Popen(
        [sys.executable, "-m", "gamevm_build", "run", "examples/game/scenarios/runtime.json",
         "-t", "psx", "-q", "--trace", str(trace), "--gdb", str(free_port())],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + TIMEOUT
        seen = b""
        while b"gamevm: gdb: waiting" not in seen and server.poll() is None \
                and time.monotonic() < deadline:
            if select.select([server.stderr], [], [], 0.5)[0]:
                seen += os.read(server.stderr.fileno(), 4096)
        script = tmp_path / "rt.json.gdbinit"
        assert script.is_file(), seen
        line = line_of((tmp_path / "examples/game/level1/level1.c").read_text(),
                       "coins = map_count(T_COIN);")
        session = gdb(script, f"break level1.c:{line}", "continue", "next", "print coins",
                      "bt", "detach")
        out, err = server.communicate(timeout=TIMEOUT)
    finally:
        server.kill()
    assert re.search(rf"Breakpoint \d+, gamevm_selftest \(\) at .*level1\.c:{line}",
                     session.stdout), session.stdout + session.stderr
    assert re.search(r"^\$1 = \d+$", session.stdout, re.M), session.stdout
    assert re.search(r"^#2\s+0x[0-9a-f]+ in kernel_selftest \(\)", session.stdout, re.M)
    assert server.returncode == 0 and b"scenario runtime" in seen + err, err
    assert trace.is_file()


def test_gdb_port_and_script_path_are_checked_before_serving(tmp_path):
    """A port outside 1..65535 (2**64 included) and a --gdbinit that is a FIFO, a device or
    a directory are usage errors naming what to give: exit 2, nothing served or written."""
    kernel = build(tmp_path, "psx")
    base = ["call", "-t", "psx", "--resident", kernel, "--search", tmp_path]
    for port in ("0", "-1", "70000", str(2 ** 64)):
        proc = run_gamevm(*base, "--gdb", port, "k_run(1)")
        assert proc.returncode == 2, proc.stderr
        assert f"--gdb {port}: give a TCP port (1..65535)" in proc.stderr
    os.mkfifo(tmp_path / "fifo")
    for path, what in ((tmp_path / "fifo", "FIFO"), ("/dev/null", "device"),
                       (tmp_path, "directory")):
        proc = run_gamevm(*base, "--gdb", str(free_port()), "--gdbinit", path, "k_run(1)")
        assert proc.returncode == 2, proc.stderr
        assert what in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "fifo").is_fifo()
