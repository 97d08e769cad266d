"""gdb on the emulated console (docs/debugging.md): ``gamevm call --gdb PORT`` serves gdb
(udbserver; on the N64 our own play/rsp.py), Debian's gdb-multiarch attaches in batch mode
with the generated gdbinit, breaks by file:line in a module the resident loads at run time,
prints a local and a global, steps, and reads the backtrace into the resident.  The N64's
server is also tested packet by packet (checksums, escapes, bad packets, stops).

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

try:
    import udbserver  # noqa: F401
except ImportError:
    udbserver = None
#: the consoles udbserver serves (the N64's server is play/rsp.py, always there)
needs_udbserver = pytest.mark.skipif(udbserver is None, reason="gamevm_build[debug] "
                                     "(tools/bootstrap installs udbserver)")

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


CONSOLES = [pytest.param("psx", (), id="psx", marks=needs_udbserver),
            pytest.param("n64", (), id="n64"),
            pytest.param("segacd", (), id="segacd", marks=needs_udbserver),
            pytest.param("gba", ("-marm",), id="gba-arm", marks=needs_udbserver),
            pytest.param("gba", ("-mthumb",), id="gba-thumb", marks=needs_udbserver),
            pytest.param("3do", (), id="3do", marks=needs_udbserver)]


@pytest.mark.parametrize("target,flags", CONSOLES)
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


@needs_udbserver
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


@needs_udbserver
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


@needs_udbserver
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


# --- play/rsp.py: the N64's own server, packet by packet ------------------------------

from hypothesis import given, strategies as st  # noqa: E402

from gamevm_build.play import rsp  # noqa: E402


def test_packets_are_framed_with_their_checksum():
    assert rsp.checksum(b"") == 0
    assert rsp.frame(b"OK") == b"$OK#9a"                     # 0x4f + 0x4b
    assert rsp.frame(b"qSupported") == b"$qSupported#37"


@given(st.binary(max_size=64))
def test_escaped_binary_data_comes_back_and_has_no_raw_special_bytes(data):
    escaped = rsp.escape(data)
    assert rsp.unescape(escaped) == data
    assert not set(escaped) & set(b"#$*")
    assert escaped.count(b"}") == sum(data.count(c) for c in b"#$}*")


def test_a_trailing_escape_is_malformed():
    assert rsp.unescape(b"a}]") == b"a}"
    with pytest.raises(ValueError):
        rsp.unescape(b"ab}")


def _pair():
    import socket
    ours, theirs = socket.socketpair()
    theirs.settimeout(10)
    return rsp.Channel(ours), theirs


def _recv_exactly(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def test_channel_acks_good_packets_and_naks_bad_ones(monkeypatch):
    monkeypatch.setattr(rsp, "PACKET_SECONDS", 0.2)
    chan, gdb = _pair()
    # noise and acks between packets are skipped; a good packet is acknowledged
    gdb.sendall(b"+junk$g#67")
    assert chan.read_packet() == b"g"
    assert _recv_exactly(gdb, 1) == b"+"
    # a wrong checksum, then a non-hex one: '-' each, then the retransmission is read
    gdb.sendall(b"$g#00$g#zz$m0,4#fd")
    assert chan.read_packet() == b"m0,4"
    assert _recv_exactly(gdb, 3) == b"--+"
    # ^C between packets
    gdb.sendall(b"\x03")
    assert chan.read_packet() is rsp.INTERRUPT
    # a packet cut short: dropped after PACKET_SECONDS with '-', the next one is read
    gdb.sendall(b"$m80")
    started = time.monotonic()
    threading_reply = []

    def later():
        time.sleep(0.5)
        threading_reply.append(True)
        gdb.sendall(b"$?#3f")
    import threading
    t = threading.Thread(target=later)
    t.start()
    assert chan.read_packet() == b"?"
    t.join(10)
    assert _recv_exactly(gdb, 2) == b"-+"
    assert time.monotonic() - started < 5
    # gdb closes the connection: no packet, no hang
    gdb.close()
    assert chan.read_packet() is None


def test_channel_answers_an_overlong_packet_with_an_error(monkeypatch):
    monkeypatch.setattr(rsp, "PACKET_SIZE", 16)
    chan, gdb = _pair()
    body = b"M0,40:" + b"00" * 40
    gdb.sendall(rsp.frame(body) + b"+" + rsp.frame(b"?"))
    assert chan.read_packet() == b"?"
    assert _recv_exactly(gdb, 1 + len(rsp.frame(b"E01")) + 1) == b"+" + rsp.frame(b"E01") + b"+"


def test_channel_drops_an_overlong_packet_that_stops_coming(monkeypatch):
    monkeypatch.setattr(rsp, "PACKET_SIZE", 16)
    monkeypatch.setattr(rsp, "PACKET_SECONDS", 0.2)
    chan, gdb = _pair()
    gdb.sendall(b"$M0,40:" + b"00" * 20)                     # no '#': it never ends
    import threading
    t = threading.Timer(0.6, lambda: gdb.sendall(rsp.frame(b"g")))
    t.start()
    assert chan.read_packet() == b"g"
    t.join()
    assert _recv_exactly(gdb, 2) == b"-+"


def test_channel_resends_until_acknowledged_then_gives_up(monkeypatch):
    monkeypatch.setattr(rsp, "ACK_SECONDS", 0.1)
    chan, gdb = _pair()
    gdb.sendall(b"-+")
    assert chan.send(b"OK")                                  # '-' asked again, '+' took it
    assert _recv_exactly(gdb, 12) == b"$OK#9a" * 2
    started = time.monotonic()
    assert not chan.send(b"OK")                              # silence: RETRIES resends
    assert time.monotonic() - started < 2
    assert _recv_exactly(gdb, 6 * (rsp.RETRIES + 1)) == b"$OK#9a" * (rsp.RETRIES + 1)
    assert chan.closed


#: at 0x80100000: v0 = a0 + 1; a branch whose delay slot adds 10 and which skips + 100;
#: a return whose delay slot adds 1000
FUNCTION = 0x80100000
CODE = [0x24820001,            # addiu v0, a0, 1
        0x10000002,            # b     +2
        0x2442000A,            #  addiu v0, v0, 10        (delay slot)
        0x24420064,            # addiu v0, v0, 100        (skipped)
        0x03E00008,            # jr    ra
        0x244203E8]            #  addiu v0, v0, 1000      (delay slot)


class RawGdb:
    """The client side of the protocol, byte by byte (gdb's part, with timeouts)."""

    def __init__(self, port: int):
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _more(self):
        chunk = self.sock.recv(4096)
        assert chunk, "the server closed the connection"
        self.buf += chunk

    def reply(self) -> bytes:
        while True:
            self.buf = self.buf.lstrip(b"+")
            if b"#" in self.buf and len(self.buf) >= self.buf.index(b"#") + 3:
                break
            self._more()
        assert self.buf[:1] == b"$", self.buf
        end = self.buf.index(b"#")
        payload, sent = self.buf[1:end], self.buf[end + 1:end + 3]
        self.buf = self.buf[end + 3:]
        assert int(sent, 16) == rsp.checksum(payload)
        self.sock.sendall(b"+")
        return payload

    def ask(self, payload: bytes) -> bytes:
        self.sock.sendall(rsp.frame(payload))
        return self.reply()


@pytest.fixture
def n64_stopped():
    """A call on an N64 machine, stopped at its first instruction with a raw client
    attached; yields ``(client, outcome, server)``; ``outcome`` gets the call's result."""
    import socket
    import threading

    from gamevm_build.emu.machine import Machine

    machine = Machine("n64")
    machine.write(FUNCTION, b"".join(w.to_bytes(4, "big") for w in CODE))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    server = rsp.RspServer(machine, listener)
    server.stop_at(FUNCTION)
    outcome = {}

    def run():
        try:
            outcome["v0"] = machine.call(FUNCTION, 1)
        except Exception as exc:        # noqa: BLE001  (the test looks at it)
            outcome["error"] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    client = RawGdb(listener.getsockname()[1])
    try:
        yield client, outcome, server
    finally:
        client.sock.close()
        thread.join(10)
        assert not thread.is_alive(), "the emulated call hangs after gdb left"


def test_rsp_answers_bad_packets_with_errors_and_unknown_ones_empty(n64_stopped):
    gdb, outcome, server = n64_stopped
    for bad in (b"m80100000", b"mZZ,4", b"m80100000,4,5", b"G12", b"Gzz", b"p99", b"pq",
                b"P25=1", b"P99=00000000", b"M80100000,4:00", b"X80100000,2:}", b"Z0",
                b"Z0,zz,4", b"qXfer:features:read:target.xml:zz", b"vCont;x"):
        assert gdb.ask(bad) == b"E01", bad
    assert gdb.ask(b"qXfer:features:read:other.xml:0,10") == b"E00"
    for unknown in (b"qFoo", b"vMustReplyEmpty", b"", b"Z2,80100000,4", b"\x00\xff"):
        assert gdb.ask(unknown) == b"", unknown
    # still serving: the state is as it was
    assert gdb.ask(b"?") == b"T0525:%08x;thread:1;" % FUNCTION
    gdb.sock.sendall(b"$k#6b")                             # kill: the call runs on
    assert gdb.sock.recv(1) == b"+"
    assert gdb.sock.recv(1) == b""                          # and the server lets go


def test_rsp_serves_registers_memory_breakpoints_and_steps(n64_stopped):
    gdb, outcome, server = n64_stopped
    supported = gdb.ask(b"qSupported:multiprocess+;swbreak+;xmlRegisters=i386")
    assert b"qXfer:features:read+" in supported and b"PacketSize=" in supported
    xml = b""
    while True:                                              # read in small chunks
        part = gdb.ask(b"qXfer:features:read:target.xml:%x,40" % len(xml))
        xml += rsp.unescape(part[1:])
        if part[:1] == b"l":
            break
    assert xml == rsp.MIPS32.xml and b"org.gnu.gdb.mips.fpu" in xml
    regs = gdb.ask(b"g")
    assert len(regs) == 72 * 8                               # 72 registers, 32-bit, hex
    assert regs[4 * 8:5 * 8] == b"00000001"                  # a0 = 1
    assert regs[35 * 8:37 * 8] == b"x" * 16                  # badvaddr, cause: unavailable
    assert regs[37 * 8:38 * 8] == b"%08x" % FUNCTION         # pc, big-endian
    assert gdb.ask(b"p25") == b"%08x" % FUNCTION
    assert gdb.ask(b"p23") == b"xxxxxxxx"
    # memory through the CPU's kseg0 -> physical translation, kseg1 sees the same bytes
    assert gdb.ask(b"m%x,8" % FUNCTION) == b"2482000110000002"
    assert gdb.ask(b"m%x,4" % (FUNCTION + 0x20000000)) == b"24820001"
    assert gdb.ask(b"m0,4") == b"E01"                         # the null guard: no RAM
    assert gdb.ask(b"M80200000,3:aabbcc") == b"OK"
    assert gdb.ask(b"X80200003,2:" + rsp.escape(b"#}")) == b"OK"
    assert gdb.ask(b"m80200000,5") == b"aabbcc237d"
    # a register write: a0 = 2 (the result becomes 2 + 1 + 10 + 1000)
    assert gdb.ask(b"P4=00000002") == b"OK"
    # step: the branch and its delay slot are one step; the skipped add never runs
    assert gdb.ask(b"s") == b"T0525:%08x;thread:1;" % (FUNCTION + 4)
    assert gdb.ask(b"vCont?") == b"vCont;c;C;s;S"
    assert gdb.ask(b"vCont;s:1") == b"T0525:%08x;thread:1;" % (FUNCTION + 16)
    assert gdb.ask(b"p2") == b"%08x" % 13                    # v0 = 2 + 1 + 10
    # a breakpoint on the current instruction is not hit by continuing from it; a run
    # to the end tells gdb the program exited once the console is done
    assert gdb.ask(b"Z0,%x,4" % (FUNCTION + 16)) == b"OK"
    gdb.sock.sendall(rsp.frame(b"c"))
    deadline = time.monotonic() + 10
    while "v0" not in outcome and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outcome == {"v0": 1013}
    server.close()                                 # the command is done (atexit does it)
    assert gdb.reply() == b"W00"


def test_rsp_stops_at_breakpoints_and_detaches(n64_stopped):
    gdb, outcome, server = n64_stopped
    assert gdb.ask(b"Z0,%x,4" % (FUNCTION + 16)) == b"OK"
    assert gdb.ask(b"c") == b"T0525:%08x;thread:1;" % (FUNCTION + 16)
    assert gdb.ask(b"z0,%x,4" % (FUNCTION + 16)) == b"OK"
    assert gdb.ask(b"QStartNoAckMode") == b"OK"
    gdb.sock.sendall(b"$D#44")
    assert gdb.sock.recv(16) == b"$OK#9a"                    # no acks any more
    deadline = time.monotonic() + 10
    while "v0" not in outcome and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outcome == {"v0": 1012}


def test_rsp_interrupts_a_running_cpu_on_ctrl_c(n64_stopped, monkeypatch):
    """gdb's ^C stops an endless loop (gdb moved pc there); moving pc to the return
    lets the call end."""
    gdb, outcome, server = n64_stopped
    monkeypatch.setattr(rsp, "POLL_BLOCKS", 64)
    loop = FUNCTION + 0x100
    assert gdb.ask(b"M%x,8:1000ffff00000000" % loop) == b"OK"        # b . ; nop
    assert gdb.ask(b"P25=%08x" % loop) == b"OK"
    gdb.sock.sendall(rsp.frame(b"c"))
    time.sleep(0.3)
    assert "v0" not in outcome                                         # still looping
    gdb.sock.sendall(b"\x03")
    assert gdb.reply() == b"T0225:%08x;thread:1;" % loop                # SIGINT, at the loop
    assert gdb.ask(b"P25=%08x" % (FUNCTION + 16)) == b"OK"             # jr ra
    assert gdb.ask(b"P2=00000007") == b"OK"
    assert gdb.ask(b"D") == b"OK"
    deadline = time.monotonic() + 10
    while "v0" not in outcome and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outcome == {"v0": 1007}


def test_rsp_shows_gdb_a_fault_of_the_running_call(n64_stopped):
    """A call gdb let run that faults stops with SIGSEGV at the faulting instruction;
    resuming it ends the session (X0b) and the fault reaches the caller."""
    gdb, outcome, server = n64_stopped
    store = FUNCTION + 0x200
    assert gdb.ask(b"M%x,8:ac00001000000000" % store) == b"OK"      # sw zero, 16(zero)
    assert gdb.ask(b"P25=%08x" % store) == b"OK"
    assert gdb.ask(b"c") == b"T0b25:%08x;thread:1;" % store
    assert gdb.ask(b"p25") == b"%08x" % store
    assert gdb.ask(b"c") == b"X0b"
    deadline = time.monotonic() + 10
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "write of unmapped address 0x00000010" in str(outcome["error"])
    assert server.done and "call" not in server.machine.__dict__     # Machine.call again
