"""``gamevm dev`` and ``gamevm reload`` (docs/dev.md): a real session in a subprocess.

Each test copies examples/dev (a kernel and a HUD module whose ``gamevm_frame`` runs
once a frame), starts ``gamevm dev`` on it with the real cross compilers, edits the
copy's sources and reads what the running session prints.  Frames run at the real
60 Hz, so what a test waits for has a timeout and nothing depends on how fast the host
is; the session ends by ``--frames``, ``gamevm reload --stop`` or Ctrl-C (SIGINT).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO

EXAMPLE = REPO / "examples" / "dev"
HUD_MESSAGE = "int hud_message(void)\n{\n    return 1;\n}"
WAIT_S = 30.0


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def gamevm(*args, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gamevm_build", *map(str, args)], cwd=cwd,
                          env=_env(), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class Session:
    """A ``gamevm dev`` subprocess whose stdout is read line by line as it comes."""

    def __init__(self, root: Path, *args: str, stdin=subprocess.DEVNULL):
        self.root = root
        self.lines: list[str] = []
        self._cv = threading.Condition()
        # stdin: /dev/null (no prompt) unless a test types into a pipe
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gamevm_build", "dev", *args, "--socket", "s.sock"],
            cwd=root, env=_env(), stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def wait_for(self, pattern: str, after: int = 0, timeout: float = WAIT_S) -> tuple[int, re.Match]:
        """The first line from index ``after`` on that matches ``pattern``: (index, match)."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self._cv:
            while True:
                for i in range(after, len(self.lines)):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern!r} after line {after}:\n"
                                         + "\n".join(self.lines[-60:]))
                self._cv.wait(min(left, 0.2))

    def frames(self, after: int = 0) -> list[tuple[int, int, int]]:
        """(frame, hud's result, hud_ticks()) of every frame line from index ``after``."""
        out = []
        for line in self.lines[after:]:
            m = re.match(r"frame (\d+) play: hud=(-?\d+)  hud:hud_ticks\(\)=(\d+)", line)
            if m:
                out.append(tuple(map(int, m.groups())))
        return out

    def end(self, timeout: float = 20) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reader.join(timeout=5)

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def game(tmp_path) -> Path:
    """A copy of examples/dev to edit: ``tmp_path/dev``; sessions run in ``tmp_path``."""
    shutil.copytree(EXAMPLE, tmp_path / "dev")
    return tmp_path


def edit(root: Path, old: str, new: str, file: str = "dev/hud/hud.c") -> None:
    path = root / file
    text = path.read_text()
    assert old in text, (old, file)
    path.write_text(text.replace(old, new))


def message(value: int | str) -> str:
    return f"int hud_message(void)\n{{\n    return {value};\n}}"


SHOW = ("--show", "hud:hud_ticks()", "--every", "1")


def test_frames_end_the_session(game):
    p = gamevm("dev", "-c", "dev/gamevm.json", "-t", "psx", "--frames", "5", "--speed", "0",
               *SHOW, "--socket", "s.sock", cwd=game)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "built 1 module (hud) and the resident" in p.stdout
    assert "scene play: each frame calls hud:gamevm_frame" in p.stdout
    assert "print: hud: ticks 1" in p.stdout               # the module's GameVMPrint
    for n in range(1, 6):
        assert f"frame {n} play: hud=1  hud:hud_ticks()={n}" in p.stdout
    assert "session ended (its frames ran) after 5 frames, 0 reloads" in p.stdout
    assert not (game / "s.sock").exists()


def test_saved_edits_reload_and_the_bss_counter_keeps_counting(game):
    s = Session(game, "-c", "dev/gamevm.json", *SHOW)
    try:
        i, _ = s.wait_for(r"^frame \d+ play: hud=1 ")
        old = HUD_MESSAGE
        for value in range(2, 7):                  # five reloads of the edited function
            edit(game, old, message(value))
            old = message(value)
            j, _ = s.wait_for(r"^reload hud: reloaded", i)
            k, m = s.wait_for(r"^hud: new code ran at frame (\d+), \d+ ms after the change "
                              r"was seen \(\d+ ms after the save\): compile \d+ ms, link \d+ ms, "
                              r"swap [\d.]+ ms", j)
            i, _ = s.wait_for(rf"^frame {m.group(1)} play: hud={value} ", k)
        # ticks (bss) counted every frame across the five reloads: it equals the frame
        frames = s.frames()
        assert [v for _f, v, _t in frames] == sorted(v for _f, v, _t in frames)
        assert {v for _f, v, _t in frames} == {1, 2, 3, 4, 5, 6}
        assert all(t == f for f, _v, t in frames), frames
        assert s.text().count("reload hud: reloaded") == 5
        assert "kept 2, added 0, removed 0 data symbols" in s.text()

        # a resized struct: reported with both sizes; the old code keeps running
        edit(game, "    int lives;\n", "    int lives;\n    int combo;\n")
        j, _ = s.wait_for(r"^reload hud: layout-changed: data symbols changed size: "
                          r"hud_state: 8 -> 12 bytes", i)
        s.wait_for(r"^  resized: hud_state: 8 -> 12 bytes \(policy abort\)", j)
        k, m = s.wait_for(r"^frame (\d+) play: hud=6 ", j)
        s.wait_for(rf"^frame {int(m.group(1)) + 30} play: hud=6 ", k)
        assert all(t == f for f, _v, t in s.frames(j))

        # an edit that does not compile: the error, and the game goes on
        edit(game, message(6), "int hud_message(void)\n{\n    return oops;\n}")
        j, _ = s.wait_for(r"^build failed: the old code keeps running", k)
        s.wait_for(r"oops. undeclared", j)
        s.wait_for(r"^frame \d+ play: hud=6 ", j)

        s.proc.send_signal(signal.SIGINT)          # Ctrl-C ends the session cleanly
        assert s.end() == 0
        s.wait_for(r"^session ended \(Ctrl-C\) after \d+ frames, 5 reloads")
        assert "Traceback" not in s.text()
        assert not (game / "s.sock").exists()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


def test_gamevm_reload_asks_the_session_over_its_socket(game):
    s = Session(game, "-c", "dev/gamevm.json", "--no-watch", *SHOW)
    try:
        s.wait_for(r"^socket s\.sock: gamevm reload --socket s\.sock")
        i, _ = s.wait_for(r"^frame \d+ play: hud=1 ")
        # a second session on the same socket is refused before it builds anything
        p = gamevm("dev", "-c", "dev/gamevm.json", "--socket", "s.sock", "--frames", "1",
                   cwd=game)
        assert p.returncode == 2 and "already running there" in p.stderr, p.stderr

        edit(game, HUD_MESSAGE, message(42))
        time.sleep(0.5)                              # --no-watch: nothing happens by itself
        assert "reload hud" not in s.text()
        p = gamevm("reload", "--socket", "s.sock", cwd=game)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "recompiled dev/hud/hud.c" in p.stdout and "relinked hud" in p.stdout
        assert "reload hud: reloaded" in p.stdout
        assert re.search(r"hud: new code ran at frame \d+", p.stdout), p.stdout
        j, _ = s.wait_for(r"^frame \d+ play: hud=42 ", i)

        p = gamevm("dev", "--reload", "--socket", "s.sock", cwd=game)    # same request
        assert p.returncode == 0 and p.stdout.strip() == "nothing changed since the last build"

        # new code that faults in its first frames: rolled back, with the fault
        edit(game, message(42), message("*(volatile int *)0x7F000000"))
        p = gamevm("reload", "--socket", "s.sock", cwd=game)
        assert p.returncode == 1, p.stdout + p.stderr
        assert "hud:gamevm_frame faulted at frame" in p.stdout and "rolling back" in p.stdout
        assert "read of unmapped address 0x7f000000" in p.stdout
        assert "<hud:gamevm_frame+" in p.stdout
        k, _ = s.wait_for(r"^frame \d+ play: hud=42 ", j + 1)
        # ticks carried to the faulting copy and back: still one a frame (the faulting
        # frame may or may not have stored its increment before the fault)
        lag = {t - f for f, _v, t in s.frames(k)}
        assert len(lag) == 1 and lag <= {0, -1}, s.frames(k)

        # a layout change under abort is swapped when asked with another policy
        edit(game, message("*(volatile int *)0x7F000000"), message(7))
        edit(game, "    int lives;\n", "    int lives;\n    int combo;\n")
        p = gamevm("reload", "--socket", "s.sock", cwd=game)
        assert p.returncode == 1 and "hud_state: 8 -> 12 bytes" in p.stdout, p.stdout
        p = gamevm("reload", "--socket", "s.sock", "--on-layout-change", "keep", cwd=game)
        assert p.returncode == 0, p.stdout
        assert "swapping the build that is not running yet: hud (layout-changed)" in p.stdout
        assert "resized: hud_state: 8 -> 12 bytes (policy keep)" in p.stdout
        s.wait_for(r"^frame \d+ play: hud=7 ", k)

        p = gamevm("reload", "--socket", "s.sock", "--status", cwd=game)
        assert p.returncode == 0 and re.search(r"frame \d+, scene play, \d+ reloads", p.stdout)
        assert re.search(r"  hud at 0x[0-9a-f]{8} \(\d+ bytes, region Main\)", p.stdout)
        p = gamevm("reload", "--socket", "s.sock", "--stop", cwd=game)
        assert p.returncode == 0 and "session stops at frame" in p.stdout
        assert s.end() == 0
        s.wait_for(r"^session ended \(asked to stop\)")
        assert "Traceback" not in s.text()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
    p = gamevm("reload", "--socket", "s.sock", "--timeout", "2", cwd=game)
    assert p.returncode == 2 and "no gamevm dev session on s.sock" in p.stderr


def test_a_reload_on_the_gba(game):
    """The same loop on another CPU (ARM7TDMI), the watcher picking up the edit."""
    s = Session(game, "-c", "dev/gamevm-gba.json", *SHOW)
    try:
        i, _ = s.wait_for(r"^frame \d+ play: hud=1 ")
        edit(game, HUD_MESSAGE, message(-5))
        j, _ = s.wait_for(r"^reload hud: reloaded", i)
        s.wait_for(r"^frame \d+ play: hud=-5 ", j)
        assert all(t == f for f, _v, t in s.frames())
        p = gamevm("reload", "--socket", "s.sock", "--stop", cwd=game)
        assert p.returncode == 0
        assert s.end() == 0
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


@pytest.mark.parametrize("target", ["n64", "segacd", "3do"])
def test_a_reload_on_the_other_consoles(game, target):
    """The loop on the N64 (MIPS, big-endian), the Sega CD (68000) and the 3DO (ARM60):
    a saved edit shows in the next frames; the bss counter keeps counting; the second
    reload reuses the first copy's freed memory (the region's top stays)."""
    s = Session(game, "-c", f"dev/gamevm-{target}.json", *SHOW)
    try:
        s.wait_for(r"^built|^gamevm dev: " + target)
        i, _ = s.wait_for(r"^frame \d+ play: hud=1 ")
        edit(game, HUD_MESSAGE, message(-5))
        j, _ = s.wait_for(r"^reload hud: reloaded", i)
        _, m = s.wait_for(r"^  memory: region Main top \+(\d+) bytes", j)
        assert int(m.group(1)) > 0                         # the first new copy: at the top
        k, _ = s.wait_for(r"^frame \d+ play: hud=-5 ", j)
        edit(game, message(-5), message(77))
        j, _ = s.wait_for(r"^reload hud: reloaded", k)
        s.wait_for(r"^  memory: region Main top \+0 bytes", j)   # into the freed copy
        s.wait_for(r"^frame \d+ play: hud=77 ", j)
        assert all(t == f for f, _v, t in s.frames())
        p = gamevm("reload", "--socket", "s.sock", "--stop", cwd=game)
        assert p.returncode == 0
        assert s.end() == 0
        assert "Traceback" not in s.text()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


@pytest.mark.parametrize("config", ["gamevm.json", "gamevm-segacd.json", "gamevm-3do.json"])
def test_a_session_on_the_console_side_runtime(game, config):
    """With the dev manifest's resident linked with the C runtime (dev-target.json), the
    runtime loads hud and reloads it (PS1, Sega CD, 3DO): an edit shows in the next
    frames, the bss counter keeps counting, the memory line says where the copy went."""
    s = Session(game, "-c", f"dev/{config}", "--manifest", "dev/dev-target.json", *SHOW)
    try:
        s.wait_for(r"^loader: the console-side runtime")
        i, _ = s.wait_for(r"^frame \d+ play: hud=1 ")
        edit(game, HUD_MESSAGE, message(-5))
        j, _ = s.wait_for(r"^reload hud: reloaded", i)
        s.wait_for(r"ms on the console\)$", j)
        _, m = s.wait_for(r"^  memory: region Main top \+(\d+) bytes", j)
        assert int(m.group(1)) > 0
        s.wait_for(r"^frame \d+ play: hud=-5 ", j)
        assert all(t == f for f, _v, t in s.frames())
        p = gamevm("reload", "--socket", "s.sock", "--eval", "modules", cwd=game)
        assert p.returncode == 0 and "hud at 0x" in p.stdout, p.stdout + p.stderr
        p = gamevm("reload", "--socket", "s.sock", "--stop", cwd=game)
        assert p.returncode == 0
        assert s.end() == 0
        assert "Traceback" not in s.text()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


def test_scons_dev_runs_the_session(tmp_path):
    """scons dev=1 target=... runs gamevm dev on the example game in the foreground (it
    builds from examples/game/dev.json itself: nothing of build/TARGET is built)."""
    for name in ("SConstruct", "site_scons", "examples"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(
            REPO / name, tmp_path / name)
    for target, loader in (("psx", None), ("gba", "host")):
        p = subprocess.run([sys.executable, "-m", "SCons", "-Q", "dev=1", f"target={target}",
                            "dev_frames=3", "dev_speed=0", "dev_every=1", "dev_socket=s.sock",
                            *([f"dev_loader={loader}"] if loader else [])],
                           cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        out = p.stdout
        assert p.returncode == 0, out
        config = "gamevm" if target == "psx" else f"gamevm-{target}"
        assert (f"Dev      gamevm dev -c examples/game/{config}.json -t {target} --scene level1 "
                "--frames 3 --speed 0 --every 1 --socket s.sock"
                + (f" --loader {loader}" if loader else "") in out), out
        # the example game ships with the console-side runtime: the session uses it
        assert ("loader: the console-side runtime" in out) == (loader is None), out
        assert f"gamevm dev: {target}, built 3 modules (physics, level1, boss) and the resident" \
            in out
        assert "scene level1: each frame calls level1:level1_update" in out
        assert re.search(r"^frame 3 level1: level1=-?\d+$", out, re.M), out
        assert "session ended (its frames ran) after 3 frames, 0 reloads" in out
        assert (tmp_path / "build" / "dev" / target / "level1.elf").is_file()
        assert not (tmp_path / "build" / target).exists()      # the default build did not run
        assert not (tmp_path / "s.sock").exists()
    # a dev session whose scene does not exist: the session's error, scons fails
    p = subprocess.run([sys.executable, "-m", "SCons", "-Q", "dev=1", "dev_scene=nope",
                        "dev_frames=1", "dev_socket=s.sock"], cwd=tmp_path, env=_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and "--scene nope: no such scene" in p.stdout, p.stdout
    assert "Traceback" not in p.stdout


def test_scons_dev_reloads_the_example_game(tmp_path):
    """scons dev=1 in the foreground: a saved edit of level 1 shows in the next frames,
    the prompt's commands reach it over the socket, gamevm reload --stop ends it and
    scons with it."""
    for name in ("SConstruct", "site_scons", "examples"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(
            REPO / name, tmp_path / name)
    s = Session.__new__(Session)
    s.root, s.lines, s._cv = tmp_path, [], threading.Condition()
    s.proc = subprocess.Popen([sys.executable, "-m", "SCons", "-Q", "dev=1", "target=psx",
                               "dev_socket=s.sock", "dev_every=30"], cwd=tmp_path,
                              env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    s._reader = threading.Thread(target=s._read, daemon=True)
    s._reader.start()
    try:
        i, _ = s.wait_for(r"^frame \d+ level1: level1=0$")
        edit(tmp_path, "return map_touch(player,", "return 100 + map_touch(player,",
             "examples/game/level1/level1.c")
        j, _ = s.wait_for(r"^recompiled examples/game/level1/level1\.c \(\d+ ms\); relinked "
                          r"level1 \(\d+ ms\)", i)
        s.wait_for(r"^reload level1: reloaded", j)
        s.wait_for(r"^frame \d+ level1: level1=10[01]$", j)
        p = gamevm("reload", "--socket", "s.sock", "--eval", "funcs level1", cwd=tmp_path)
        assert p.returncode == 0 and "level1:level1_update" in p.stdout, p.stdout
        p = gamevm("reload", "--socket", "s.sock", "--stop", cwd=tmp_path)
        assert p.returncode == 0
        assert s.end(timeout=30) == 0
        s.wait_for(r"^session ended \(asked to stop\) after \d+ frames, 1 reload$")
        assert "Traceback" not in s.text()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


def test_reading_the_sconstruct_for_dev_imports_no_emulator(tmp_path):
    """The SCons side of scons dev=1 stays thin: reading the SConstruct (scons -n shows
    the action without running it) imports no emulator, ELF reader or file watcher; the
    child process does, when the alias runs."""
    for name in ("SConstruct", "site_scons", "examples"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(
            REPO / name, tmp_path / name)
    code = ("import sys\n"
            "sys.argv = ['scons'] + sys.argv[1:]\n"
            "import SCons.Script\n"
            "try:\n    SCons.Script.main()\nexcept SystemExit as exc:\n    status = exc.code\n"
            "heavy = {'unicorn', 'elftools', 'watchfiles', 'capstone', 'networkx'}\n"
            "print('heavy imports:', sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
            "print('dev modules:', sorted(m for m in sys.modules if m.startswith("
            "('gamevm_build.dev', 'gamevm_build.emu', 'gamevm_build.play.console'))))\n"
            "sys.exit(status)\n")
    p = subprocess.run([sys.executable, "-c", code, "-Q", "-n", "dev=1", "target=n64"],
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Dev      gamevm dev -c examples/game/gamevm-n64.json -t n64 --scene level1" \
        in p.stdout
    assert "heavy imports: []" in p.stdout and "dev modules: []" in p.stdout, p.stdout
    assert not (tmp_path / "build").exists()


def test_configuration_errors_are_typed(game):
    (game / "dev" / "dev.json").unlink()
    p = gamevm("dev", "-c", "dev/gamevm.json", "--frames", "1", "--socket", "s.sock", cwd=game)
    assert p.returncode == 2 and "no dev manifest" in p.stderr and "dev.json" in p.stderr
    assert "Traceback" not in p.stderr
    (game / "dev" / "m.json").write_text('{"modules": {"hud": {"sources": ["hud/nope.c"]}}}')
    p = gamevm("dev", "-c", "dev/gamevm.json", "--manifest", "dev/m.json", "--frames", "1",
               "--socket", "s.sock", cwd=game)
    assert p.returncode == 2 and "modules.hud.sources[0]" in p.stderr, p.stderr
    assert "source file not found" in p.stderr
    p = gamevm("dev", "--frames", "1", cwd=game)
    assert p.returncode == 2 and "-c gamevm.json" in p.stderr
    p = gamevm("dev", "-c", "dev/gamevm-gba.json", "-t", "psx", cwd=game)
    assert p.returncode == 2 and "target is 'gba', but -t psx" in p.stderr
    p = gamevm("dev", "-c", "dev/gamevm-gba.json", "--loader", "emulator", cwd=game)
    assert p.returncode == 2 and "--loader" in p.stderr and "target" in p.stderr
    # the console-side runtime asked for, the manifest's resident linked without it
    (game / "dev" / "host.json").write_text((EXAMPLE / "dev.json").read_text())
    p = gamevm("dev", "-c", "dev/gamevm.json", "--manifest", "dev/host.json", "--loader",
               "target", "--frames", "1", "--socket", "s.sock", cwd=game)
    assert p.returncode == 2 and "--loader target needs a resident linked with the " \
        "console-side runtime" in p.stderr, p.stdout + p.stderr
    assert "Traceback" not in p.stderr


def test_spelled_out_constants_match_their_sources():
    """The commands spell these out so that registering them imports no emulator."""
    from gamevm_build.commands import dev, reload
    from gamevm_build.dev import protocol, swap
    assert dev.POLICIES == swap.POLICIES
    assert dev.SOCKET_DEFAULT == reload.SOCKET_DEFAULT == str(protocol.DEFAULT_SOCKET)
