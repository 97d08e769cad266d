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
                          env=_env(), capture_output=True, text=True, timeout=timeout)


class Session:
    """A ``gamevm dev`` subprocess whose stdout is read line by line as it comes."""

    def __init__(self, root: Path, *args: str):
        self.root = root
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gamevm_build", "dev", *args, "--socket", "s.sock"],
            cwd=root, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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


def test_spelled_out_constants_match_their_sources():
    """The commands spell these out so that registering them imports no emulator."""
    from gamevm_build.commands import dev, reload
    from gamevm_build.dev import protocol, swap
    assert dev.POLICIES == swap.POLICIES
    assert dev.SOCKET_DEFAULT == reload.SOCKET_DEFAULT == str(protocol.DEFAULT_SOCKET)
