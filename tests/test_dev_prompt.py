"""The ``gamevm dev`` prompt (docs/dev.md, "The prompt"): commands typed on the session's
stdin or sent with ``gamevm reload --eval`` look into the running game between two frames.

Real sessions in a subprocess on a copy of examples/dev (tests/test_dev_session.py's
helpers), the real cross compilers, frames at 60 Hz.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from test_dev_session import (HUD_MESSAGE, SHOW, Session, _env, edit, game,  # noqa: F401
                              gamevm, message)


def ask(s: Session, command: str, expect: str, after: int | None = None):
    """Type ``command`` on the session's stdin; the index and match of the line
    matching ``expect`` after its echo."""
    start = len(s.lines) if after is None else after
    s.proc.stdin.write(command + "\n")
    s.proc.stdin.flush()
    i, _ = s.wait_for("^> " + re.escape(command) + "$", start)
    return s.wait_for(expect, i)


def test_the_prompt_on_stdin(game):
    s = Session(game, "-c", "dev/gamevm.json", "--no-watch", *SHOW, stdin=subprocess.PIPE)
    try:
        s.wait_for(r"^prompt: type a command and Enter \(help lists them; quit ends the "
                   r"session\)")
        s.wait_for(r"^frame \d+ play: hud=1 ")
        i, _ = ask(s, "help", r"^  quit +end the session")
        assert any(line.startswith("  call EXPR ") for line in s.lines[i - 8:i])

        i, m = ask(s, "modules", r"^hud at (0x[0-9a-f]{8}): (\d+) bytes \(0x[0-9a-f]{8}\.\."
                                 r"0x[0-9a-f]{8}\), region Main$")
        base, size = int(m.group(1), 16), int(m.group(2))
        assert re.match(r"resident kernel\.elf: 0x80010000\.\.0x[0-9a-f]{8} \(\d+ bytes\)",
                        s.lines[i - 1])
        s.wait_for(rf"^memory: region Main top 0x{base + size:08x} \(\+0 bytes since the "
                   r"scene loaded; \d+ free above\): \d+ bytes in use, 0 of them old copies "
                   r"kept, 0 in holes below the top", i)

        # functions by size, largest first, each inside the module
        i, m = ask(s, "funcs hud", r"^5 functions in module hud, (\d+) bytes, largest first:")
        s.wait_for(".", i + 5)                             # the five rows have come
        rows = [re.match(r"^ +(\d+)  (0x[0-9a-f]{8})  hud:(\w+)$", line)
                for line in s.lines[i + 1:i + 6]]
        assert all(rows), s.lines[i:i + 6]
        sizes = [int(r.group(1)) for r in rows]
        assert sizes == sorted(sizes, reverse=True) and sum(sizes) == int(m.group(1))
        names = {r.group(3): int(r.group(2), 16) for r in rows}
        assert set(names) == {"gamevm_frame", "hud_put_int", "hud_put_str", "hud_ticks",
                              "hud_message"}
        assert all(base <= a < base + size for a in names.values())
        ask(s, "funcs resident", r"^\d+ functions in the resident, \d+ bytes, largest first:")

        # memory at a symbol: hud_state is {score += 10 a frame, lives = 3}
        _, m = ask(s, "read hud_state", r"^(0x[0-9a-f]{8}) <hud:hud_state>: 0x([0-9a-f]{8}) "
                                        r"0x00000003$")
        assert int(m.group(2), 16) % 10 == 0 and int(m.group(2), 16) > 0
        ask(s, "read hud:ticks 2", r"^0x[0-9a-f]{8} <hud:ticks>: 0x[0-9a-f]{8} 0x[0-9a-f]{8}$")
        ask(s, "read kernel_frames", r"^0x[0-9a-f]{8} <kernel_frames>: 0x[0-9a-f]{8}$")
        i, _ = ask(s, f"read {m.group(1)} 5", rf"^{m.group(1)} <hud:hud_state>: "
                                              r"(0x[0-9a-f]{8} ){3}0x[0-9a-f]{8}$")
        s.wait_for(rf"^0x{int(m.group(1), 16) + 16:08x}( <[^>]+>)?: 0x[0-9a-f]{{8}}$", i)

        # which module and symbol an address is in
        at = names["hud_message"] + 4
        ask(s, f"where 0x{at:x}", rf"^0x{at:08x}: in module hud \(code, 0x{base:08x} \+ 0x"
                                  rf"{at - base:x}, region Main\): hud:hud_message\+0x4$")
        ask(s, "where hud:hud_ticks", r"^0x[0-9a-f]{8}: in module hud \(code, .*: hud:hud_ticks$")
        ask(s, "where kernel_lives", r"^0x[0-9a-f]{8}: in the resident \(kernel\.elf\): "
                                     r"kernel_lives$")
        ask(s, "where 0x80090000", r"^0x80090000: in no module: free memory of region Main$")

        # calls: a value, the game's prints, a fault that leaves the game running
        _, m = ask(s, "call hud:hud_ticks()", r"^hud:hud_ticks\(\) = (\d+) \(0x[0-9a-f]{8}\)$")
        assert int(m.group(1)) > 0
        i, _ = ask(s, 'call hud_put_str(0x7f000000, "x")',
                   r"^hud_put_str\(0x7f000000, \"x\"\): the call stopped; the game goes on$")
        s.wait_for(r"^  emulated CPU fault: write of unmapped address 0x7f000000 .*"
                   r"<hud:hud_put_str\+", i)

        # bad commands: one line each, the session goes on
        bad = [
            ("frobnicate", "error: unknown command 'frobnicate': commands are call, modules, "
                           "funcs, read, where, help, quit (help lists them)"),
            ("call", "error: call EXPR: give a call expression, e.g. call hud:hud_ticks()"),
            ("call hud:nope()", "error: module 'hud' exports no symbol 'nope'"),
            ("call hud:hud_ticks(x)", "error: call expression 'hud:hud_ticks(x)': argument 'x' "
                                      "is not an integer or a string literal; "),
            ("funcs nope", "error: funcs nope: no loaded module 'nope' (loaded: hud; or "
                           "'resident')"),
            ("read nope", "error: no symbol 'nope' in the resident or any loaded module"),
            ("read hud_state 0", "error: read: N 0: give 1..256 words"),
            ("read 0x7f000000", "error: read 0x7f000000 (4 words): not in the console's RAM "
                                "(main 0x80000000..0x80200000"),
            ("where", "error: where ADDR: give one address (0x800102c4) or symbol"),
            ("where nope:x", "error: nope:x: no loaded module 'nope' (modules lists them)"),
            ("modules now", "error: 'modules' takes no arguments (got 'now')")]
        for command, error in bad:
            ask(s, command, "^" + re.escape(error))
        n = len(s.lines)
        s.wait_for(r"^frame \d+ play: hud=1 ", n)          # still running
        ask(s, "help", r"^  quit ")
        # each answered in one line (frame lines may come between)
        echoes = [i for i, line in enumerate(s.lines) if line.startswith("> ")]
        for a, b in zip(echoes, echoes[1:]):
            if s.lines[a][2:] in dict(bad):
                said = [x for x in s.lines[a + 1:b] if not x.startswith("frame ")]
                assert len(said) == 1 and said[0].startswith("error: "), s.lines[a:b]

        # commands that come together run in the order they were typed
        n = len(s.lines)
        batch = ["read hud:ticks 1", "where hud:hud_ticks", "call hud:hud_message()", "help"]
        s.proc.stdin.write("".join(c + "\n" for c in batch))
        s.proc.stdin.flush()
        s.wait_for(r"^  quit ", n)
        assert [x[2:] for x in s.lines[n:] if x.startswith("> ")] == batch

        ask(s, "quit", r"^session stops at frame \d+$")
        assert s.end() == 0
        s.wait_for(r"^session ended \(quit\) after \d+ frames, 0 reloads")
        assert "Traceback" not in s.text()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


def test_eval_over_the_socket_and_memory_across_reloads(game):
    """gamevm reload --eval runs the same commands; five reloads cost the region one
    extra copy of the module, not five (freed copies are reused)."""
    s = Session(game, "-c", "dev/gamevm.json", "--no-watch", *SHOW)
    try:
        s.wait_for(r"^frame \d+ play: hud=1 ")
        p = gamevm("reload", "--socket", "s.sock", "--eval", "modules", cwd=game)
        assert p.returncode == 0, p.stdout + p.stderr
        m = re.search(r"^hud at (0x[0-9a-f]{8}): (\d+) bytes", p.stdout, re.M)
        first, size = int(m.group(1), 16), int(m.group(2))
        tops, bases, old = [], [], HUD_MESSAGE
        for value in range(2, 7):
            edit(game, old, message(value))
            old = message(value)
            p = gamevm("reload", "--socket", "s.sock", cwd=game)
            assert p.returncode == 0, p.stdout
            m = re.search(r"^  (0x[0-9a-f]{8}) -> (0x[0-9a-f]{8}): kept 2, ", p.stdout, re.M)
            bases.append(int(m.group(2), 16))
            m = re.search(r"^  memory: region Main top ([+-]\d+) bytes, in use ([+-]\d+) "
                          r"\((\d+) bytes; ([+-]\d+) since the scene loaded, \d+ free above the "
                          r"top\)$", p.stdout, re.M)
            assert m, p.stdout
            tops.append(int(m.group(4)))
        # the first reload takes a new copy's room; the next ones reuse the freed copies
        assert tops[0] >= size and all(t == tops[0] for t in tops), tops
        assert bases[1] == first and set(bases) == {first, bases[0]}, bases
        # the frames show the last edit and ticks kept counting through all of it
        s.wait_for(r"^frame \d+ play: hud=6 ")
        assert all(t == f for f, _v, t in s.frames())

        # several commands, in order; where names an old copy kept for pointers into it
        p = gamevm("reload", "--socket", "s.sock", "--eval", "read hud:ticks 1",
                   "--eval", f"where 0x{bases[-1]:x}", "--eval", "call hud:hud_message()",
                   cwd=game)
        assert p.returncode == 0, p.stdout + p.stderr
        lines = p.stdout.splitlines()
        assert re.match(r"0x[0-9a-f]{8} <hud:ticks>: 0x[0-9a-f]{8}$", lines[0]), lines
        assert re.match(rf"0x{bases[-1]:08x}: in module hud \(code, .*: hud:hud_message$",
                        lines[1]), lines
        assert lines[2] == "hud:hud_message() = 6 (0x00000006)"
        p = gamevm("reload", "--socket", "s.sock", "--eval", "where 0x{:x}".format(bases[-2]),
                   cwd=game)
        assert re.match(r"0x[0-9a-f]{8}: in (a replaced copy kept|no module: free memory)",
                        p.stdout), p.stdout

        # a bad command: exit 1, one line; the status shows the memory too
        p = gamevm("reload", "--socket", "s.sock", "--eval", "read", cwd=game)
        assert p.returncode == 1
        assert p.stdout == "error: read SYMBOL|ADDR [N]: e.g. read hud_state, read 0x80010000 8\n"
        p = gamevm("reload", "--socket", "s.sock", "--status", cwd=game)
        assert re.search(r"^  memory: region Main top 0x[0-9a-f]{8} \(\+\d+ bytes since the "
                         r"scene loaded", p.stdout, re.M), p.stdout
        p = gamevm("reload", "--socket", "s.sock", "--eval", "quit", cwd=game)
        assert p.returncode == 0 and re.match(r"session stops at frame \d+", p.stdout)
        assert s.end() == 0
        s.wait_for(r"^session ended \(quit\) after \d+ frames, 5 reloads")
        assert "Traceback" not in s.text()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


def test_no_prompt_leaves_stdin_alone(game):
    p = subprocess.run([sys.executable, "-m", "gamevm_build", "dev", "-c", "dev/gamevm.json",
                        "--frames", "3", "--speed", "0", "--socket", "s.sock", "--no-prompt"],
                       input="quit\n", cwd=game, env=_env(), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "prompt:" not in p.stdout
    assert "session ended (its frames ran) after 3 frames" in p.stdout


def test_the_prompt_on_a_terminal(game):
    """Typed on a terminal (a pseudo-terminal here): no echo of the command (the terminal
    shows what was typed), the answers in order."""
    master, slave = os.openpty()
    p = subprocess.Popen([sys.executable, "-m", "gamevm_build", "dev", "-c", "dev/gamevm.json",
                          "--socket", "s.sock", "--every", "100000"], cwd=game, env=_env(),
                         stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    os.close(slave)
    try:
        first = p.stdout.readline()
        assert first.startswith("gamevm dev: psx, built 1 module (hud)"), first
        while not p.stdout.readline().startswith("prompt: type a command"):
            pass
        os.write(master, b"where hud:hud_message\ncall hud:hud_message()\nquit\n")
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, out
        lines = [x for x in out.splitlines() if not x.startswith(("frame ", "print: "))]
        assert re.match(r"0x800102c0: in module hud \(code, .*\): hud:hud_message$",
                        lines[0]), lines
        assert lines[1:3] == ["hud:hud_message() = 1 (0x00000001)", "session stops at frame "
                              + lines[2].rsplit(" ", 1)[-1]]
        assert not any(x.startswith("> ") for x in lines)
        assert re.match(r"session ended \(quit\) after \d+ frames, 0 reloads", lines[3])
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()


def test_calls_with_strings_give_their_scratch_memory_back(game):
    """A long session's calls with string arguments do not fill the scratch area (the
    strings go there): 2000 calls with a 200-byte string each, 400 KB in all."""
    from gamevm_build.dev.prompt import run_command
    from gamevm_build.dev.session import DevSession

    lines: list[str] = []
    session = DevSession(game / "dev" / "gamevm.json", workdir=game / "build",
                         socket_path=game / "s.sock", watch=False, out=lines.append)
    session.start()
    try:
        session.run(frames=2)
        buf = "x" * 200
        for _ in range(2000):
            result = run_command(session, f'call hud_put_str("{buf}", "hi")')
            assert result.ok, result.lines
        r = run_command(session, 'call hud_put_str("abc", "hi")')
        assert r.ok and re.match(r'hud_put_str\("abc", "hi"\) = -?\d+ \(0x[0-9a-f]{8}\)$',
                                 r.lines[-1]), r.lines
    finally:
        session.close()
