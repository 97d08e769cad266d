"""gdb's Remote Serial Protocol served from the emulator, for the CPU udbserver cannot serve.

udbserver 0.3.0 panics on unicorn's big-endian MIPS engine (the N64's), so
:class:`~gamevm_build.play.gdbserver.GdbServer` serves the N64 with this module:
the packet layer of the protocol (framing, checksums, ``+``/``-``, binary
escapes; gdb's manual, "Remote Protocol") and a small all-stop debugger over
the :class:`~gamevm_build.emu.machine.Machine` (one thread, registers, memory
through the CPU's address translation, software breakpoints and single steps
as unicorn code hooks).

The server runs inside the emulator's thread: gdb holds the CPU by holding a
code hook.  Whenever the CPU stops (the first instruction of the first call, a
breakpoint, a finished step, ``^C``) the hook answers gdb's packets until gdb
resumes (``c``, ``s``, ``vCont``) or lets go (``D``, ``k``, a closed
connection); after that the call runs on as without gdb.

Registers (the N64): unicorn runs the VR4300's o32 code as a MIPS32 CPU, so gdb
is given a target description with 32-bit registers in gdb's MIPS numbering:
``r0``-``r31``, ``status`` (32), ``lo``, ``hi``, ``badvaddr``, ``cause``,
``pc`` (37), ``f0``-``f31`` (38-69, the low word of each FPR: FR=0, so a
double is a pair as o32 code sees it), ``fcsr``, ``fir``.  Without it gdb
would take the resident's ``mips:4000`` ELF for 64-bit registers.  unicorn has
no ``badvaddr`` or ``cause``: they read as unavailable (``xx``).

Every wait on the socket is a ``select`` with a timeout: the rest of a packet
must come within :data:`PACKET_SECONDS` and gdb's ``+`` within
:data:`ACK_SECONDS` (else the packet is dropped, or the reply sent again, then
gdb is let go); waits for gdb's next move (connecting, the next command while
stopped) last as long as the person at gdb thinks, in slices that notice a
closed connection.
"""

from __future__ import annotations

import atexit
import select
import socket

import unicorn
from unicorn import mips_const as _mc

from ..emu.mips import has_delay_slot
from ..errors import EmulationError, EmulationFault, EmulationTimeout

__all__ = ["ACK_SECONDS", "INTERRUPT", "PACKET_SECONDS", "PACKET_SIZE", "MIPS32", "Channel",
           "Registers", "RspServer", "checksum", "escape", "frame", "unescape"]

#: seconds the rest of a packet may take once its ``$`` came
PACKET_SECONDS = 5.0
#: seconds gdb may take to acknowledge a reply (then it is sent again, at most RETRIES times)
ACK_SECONDS = 5.0
RETRIES = 3
#: the largest packet either side sends (told to gdb in ``qSupported``)
PACKET_SIZE = 0x4000
#: blocks run between two looks at the socket for gdb's ``^C`` while the CPU runs
POLL_BLOCKS = 4096
#: how long one slice of an unbounded wait (for gdb to connect or to send) lasts
SLICE_SECONDS = 1.0
#: the stop signals gdb is told: ^C, a breakpoint or step, a CPU fault, a spent budget
SIGINT, SIGTRAP, SIGSEGV, SIGXCPU = 2, 5, 11, 24

INTERRUPT = object()        # gdb's ^C (0x03) as read_packet returns it


# --- the packet layer ---------------------------------------------------------------

def checksum(payload: bytes) -> int:
    """The modulo-256 sum of the packet data between ``$`` and ``#``."""
    return sum(payload) & 0xFF


#: bytes that cannot appear raw in packet data: ``}`` escapes the next byte (xor 0x20)
_SPECIAL = frozenset(b"#$}*")


def escape(data: bytes) -> bytes:
    """Binary data as packet data: ``#``, ``$``, ``}`` and ``*`` become ``}`` + byte ^ 0x20."""
    out = bytearray()
    for b in data:
        if b in _SPECIAL:
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """The binary data of an ``X`` packet; raises ``ValueError`` on a trailing ``}``."""
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            nxt = next(it, None)
            if nxt is None:
                raise ValueError("escape character '}' at the end of the data")
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def frame(payload: bytes) -> bytes:
    """``$payload#xx``."""
    return b"$" + payload + b"#%02x" % checksum(payload)


class Channel:
    """Packets over a connected socket, with acknowledgments and timeouts."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.acks = True             # until QStartNoAckMode
        self._buf = bytearray()
        self._last = b""             # the last packet sent (gdb's '-' asks for it again)
        self.closed = False

    def _fill(self, timeout: float | None) -> bool:
        """Read what is there within ``timeout`` seconds (None: one slice); False if nothing."""
        if self.closed:
            return False
        try:
            ready, _, _ = select.select([self.sock], [], [],
                                        SLICE_SECONDS if timeout is None else timeout)
            if not ready:
                return False
            data = self.sock.recv(PACKET_SIZE)
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self._buf += data
        return True

    def _send_raw(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def read_packet(self):
        """gdb's next packet data (bytes), :data:`INTERRUPT` for ``^C``, None once the
        connection is gone.  Waits as long as gdb is silent; a packet begun must end
        within :data:`PACKET_SECONDS`, else it is dropped and ``-`` asks for it again.
        A bad checksum gets ``-``; a packet longer than :data:`PACKET_SIZE` is skipped
        and answered ``E01``."""
        while not self.closed:
            packet = self._take()
            if packet is not None:
                return packet
            if not self._buf:
                self._fill(None)
                continue
            # a packet has begun: the rest must come soon
            if not self._fill(PACKET_SECONDS) and not self.closed:
                self._buf.clear()
                self._send_raw(b"-")
        return None

    def _take(self):
        """One complete item off the buffer, or None when more bytes are needed."""
        buf = self._buf
        while buf:
            first = buf[0]
            if first == 0x03:
                del buf[0]
                return INTERRUPT
            if first == ord("-") and self._last:
                del buf[0]
                self._send_raw(self._last)            # gdb wants the last reply again
                continue
            if first != ord("$"):
                del buf[0]                           # '+', and noise between packets
                continue
            end = buf.find(b"#")
            if end < 0:
                if len(buf) > PACKET_SIZE + 4:
                    self._skip_overlong()
                    continue
                return None
            if len(buf) < end + 3:
                return None
            payload = bytes(buf[1:end])
            sent = bytes(buf[end + 1:end + 3])
            del buf[:end + 3]
            try:
                good = int(sent, 16) == checksum(payload)
            except ValueError:
                good = False
            if not self.acks:
                return payload
            if not good:
                self._send_raw(b"-")
                continue
            self._send_raw(b"+")
            if len(payload) > PACKET_SIZE:
                self.send(b"E01")
                continue
            return payload
        return None

    def _skip_overlong(self) -> None:
        """Skip a packet longer than :data:`PACKET_SIZE` up to its ``#xx`` without keeping
        it, and answer ``E01``; a packet that stops coming is dropped with ``-``."""
        self._buf.clear()
        while True:
            end = self._buf.find(b"#")
            if end >= 0 and len(self._buf) >= end + 3:
                del self._buf[:end + 3]
                if self.acks:
                    self._send_raw(b"+")
                self.send(b"E01")
                return
            if end < 0:
                self._buf.clear()                     # still inside the packet
            if not self._fill(PACKET_SECONDS):
                if not self.closed:
                    self._buf.clear()
                    self._send_raw(b"-")
                return

    def send(self, payload: bytes, *, last: bool = False) -> bool:
        """Send one packet; with acknowledgments, wait for ``+`` (sending again on ``-`` or
        silence, :data:`RETRIES` times).  False when gdb is gone or never acknowledged.
        ``last``: the connection closes next, so no acknowledgment is waited for."""
        self._last = data = frame(payload)
        for _ in range(RETRIES + 1):
            self._send_raw(data)
            if self.closed:
                return False
            if not self.acks or last:
                return True
            while True:
                # gdb's next packet may follow its '+' at once: leave that in the buffer
                while self._buf and self._buf[0] not in b"+-$\x03":
                    del self._buf[0]
                if self._buf[:1] == b"+":
                    del self._buf[0]
                    return True
                if self._buf[:1] == b"-":
                    del self._buf[0]
                    break                              # send it again
                if self._buf[:1] in (b"$", b"\x03"):
                    return True                        # a new packet implies the ack
                if not self._fill(ACK_SECONDS):
                    if self.closed:
                        return False
                    break
        self.closed = True
        return False

    def interrupted(self) -> bool:
        """While the CPU runs: has gdb sent ``^C``?  Never waits."""
        if self.closed:
            return False
        if 0x03 not in self._buf:
            if len(self._buf) > PACKET_SIZE:
                self._buf.clear()       # all-stop gdb sends only ^C while the CPU runs
            self._fill(0)
        if 0x03 in self._buf:
            del self._buf[:self._buf.index(0x03) + 1]
            return True
        return False

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


# --- the registers gdb sees ---------------------------------------------------------

class Registers:
    """A register file as gdb numbers it: unicorn ids (None: unavailable) and a target
    description gdb reads with ``qXfer:features:read``."""

    def __init__(self, ids: list[int | None], size: int, byteorder: str, xml: str, pc: int):
        self.ids, self.size, self.byteorder, self.xml = ids, size, byteorder, xml.encode()
        self.pc = pc                         # gdb's number of the program counter
        self.mask = (1 << (8 * size)) - 1

    def encode(self, value: int) -> bytes:
        """A register value as packets carry it (hex digits, target byte order)."""
        return (value & self.mask).to_bytes(self.size, self.byteorder).hex().encode()

    def read(self, uc, n: int) -> bytes | None:
        reg = self.ids[n]
        if reg is None:
            return None
        return (uc.reg_read(reg) & self.mask).to_bytes(self.size, self.byteorder)

    def write(self, uc, n: int, data: bytes) -> None:
        reg = self.ids[n]
        if reg is None:
            return
        value = int.from_bytes(data, self.byteorder)
        if reg in _FPR:
            # the FPR's upper word (FR=1 code only) stays as it is
            value |= uc.reg_read(reg) & ~self.mask
        uc.reg_write(reg, value)


_FPR = frozenset(getattr(_mc, f"UC_MIPS_REG_F{i}") for i in range(32))


def _mips_xml() -> str:
    def regs(names, first, extra=""):
        return "".join(f'<reg name="{n}" bitsize="32" regnum="{first + i}"{extra}/>'
                       for i, n in enumerate(names) if n)
    gprs = [f"r{i}" for i in range(32)]
    return ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">'
            "<target><architecture>mips</architecture>"
            '<feature name="org.gnu.gdb.mips.cpu">'
            + regs(gprs, 0) + regs(["lo", "hi"], 33) + regs(["pc"], 37, ' type="code_ptr"')
            + '</feature><feature name="org.gnu.gdb.mips.cp0">'
            + regs(["status"], 32) + regs(["badvaddr", "cause"], 35)
            + '</feature><feature name="org.gnu.gdb.mips.fpu">'
            + regs([f"f{i}" for i in range(32)], 38, ' type="ieee_single"')
            + regs(["fcsr", "fir"], 70, ' group="float"')
            + "</feature></target>")


#: 32-bit big-endian MIPS (the N64's VR4300 running o32 code), in gdb's MIPS numbering
MIPS32 = Registers(
    [getattr(_mc, f"UC_MIPS_REG_{i}") for i in range(32)]
    + [_mc.UC_MIPS_REG_CP0_STATUS, _mc.UC_MIPS_REG_LO, _mc.UC_MIPS_REG_HI, None, None,
       _mc.UC_MIPS_REG_PC]
    + [getattr(_mc, f"UC_MIPS_REG_F{i}") for i in range(32)]
    + [_mc.UC_MIPS_REG_FCSR, _mc.UC_MIPS_REG_FIR],
    4, "big", _mips_xml(), pc=37)


# --- the debugger -------------------------------------------------------------------

class _Resume(Exception):
    """A packet that gives the CPU back: continue, or step one instruction."""

    def __init__(self, step: bool, addr: int | None = None):
        self.step, self.addr = step, addr


class _Detach(Exception):
    """gdb lets go (``D``, ``k``, a lost connection): remove every hook, run on."""


def _hex(text: bytes) -> int:
    return int(text, 16)


class RspServer:
    """Serves gdb for ``machine`` on a listening socket; :meth:`stop_at` arms it.

    One thread, all-stop: gdb's commands are answered from inside unicorn's hooks,
    so the CPU is still while gdb holds it.  After gdb detaches (or kills) every hook
    is removed and the emulated console runs on as without gdb.
    """

    def __init__(self, machine, listener: socket.socket, registers: Registers = MIPS32):
        self.machine = machine
        self.listener = listener
        self.regs = registers
        self.chan: Channel | None = None
        self.breakpoints: dict[int, int] = {}      # address -> unicorn hook
        self._uc = None
        self._first: int | None = None              # the hook of stop_at
        self._step_hook: int | None = None
        self._poll_hook: int | None = None
        self._poll = POLL_BLOCKS
        self._stepping = False
        self._origin: int | None = None             # where the CPU resumed
        self._origin_seen = False
        self._delay_slot: int | None = None         # the origin's delay slot, not a stop
        self._reason = b"S%02x" % SIGTRAP
        self._running = False                       # gdb waits for a stop reply
        self._ended: int | None = None              # the signal that ended the call
        self.done = False

    # --- arming and ending ----------------------------------------------------------
    def stop_at(self, addr: int) -> None:
        """Stop before the instruction at ``addr`` is run, and wait there for gdb."""
        self._uc = uc = self.machine.uc
        self._first = uc.hook_add(unicorn.UC_HOOK_CODE, self._on_first, None, addr, addr)
        call = self.machine.call

        def call_watched(*args, **kw):
            try:
                return call(*args, **kw)
            except (EmulationFault, EmulationTimeout) as exc:
                self._post_mortem(exc)
                raise
        self.machine.call = call_watched

    def _post_mortem(self, exc) -> None:
        """A call gdb let run faulted or ran out of budget: show gdb the CPU where it
        stopped (SIGSEGV, SIGXCPU); the call is over, so resuming ends the session."""
        if self.done or self.chan is None or not self._running:
            return
        if isinstance(exc, EmulationFault):
            signal, pc = SIGSEGV, getattr(exc.report, "pc", None)
        else:
            signal, pc = SIGXCPU, exc.pc
        if pc is not None:
            self._uc.reg_write(self.regs.ids[self.regs.pc], pc)
        self._ended = signal
        self._stop(self._uc.reg_read(self.regs.ids[self.regs.pc]), signal)

    def _on_first(self, uc, address, size, _data):
        if self._first is not None:
            uc.hook_del(self._first)
            self._first = None
        if self.done:
            return
        if self.chan is None and not self._accept():
            self._finish()
            return
        self._stop(address, SIGTRAP)

    def _accept(self) -> bool:
        while True:
            try:
                ready, _, _ = select.select([self.listener], [], [], SLICE_SECONDS)
                if ready:
                    conn, _ = self.listener.accept()
                    break
            except OSError:
                return False
        self.listener.close()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.chan = Channel(conn)
        self._poll_hook = self._uc.hook_add(unicorn.UC_HOOK_BLOCK, self._on_block)
        atexit.register(self.close)
        return True

    def close(self, status: int = 0) -> None:
        """The emulated console is done: tell a gdb that waits for the CPU (``W``), let go."""
        if self.chan is not None and not self.chan.closed and self._running:
            self.chan.send(b"W%02x" % (status & 0xFF), last=True)
        self._finish()

    def _finish(self) -> None:
        """Remove every hook; the console runs on without gdb."""
        self.done = True
        atexit.unregister(self.close)
        self.machine.__dict__.pop("call", None)          # Machine.call again
        uc = self._uc
        hooks = [self._first, self._step_hook, self._poll_hook, *self.breakpoints.values()]
        if uc is not None and uc is self.machine.uc:
            for h in hooks:
                if h is not None:
                    uc.hook_del(h)
        self._first = self._step_hook = self._poll_hook = None
        self.breakpoints.clear()
        if self.chan is not None:
            self.chan.close()
        try:
            self.listener.close()
        except OSError:
            pass

    # --- hooks: where the CPU stops -------------------------------------------------
    def _on_breakpoint(self, uc, address, size, _data):
        if self.done or address not in self.breakpoints:
            return
        if address == self._origin:
            return                  # the instruction gdb resumed at: it runs now
        self._stop(address, SIGTRAP)

    def _on_step(self, uc, address, size, _data):
        if self.done:
            return
        if not self._origin_seen:
            # the instruction gdb resumed at (hooks added in a hook see it too)
            self._origin_seen = address == self._origin
            return
        if address == self._delay_slot:
            self._delay_slot = None     # a branch and its delay slot are one step
            return
        self._origin = None
        if self._stepping:
            self._stop(address, SIGTRAP)
        elif self._step_hook is not None:
            uc.hook_del(self._step_hook)      # past the origin: breakpoints alone from here
            self._step_hook = None

    def _on_block(self, uc, address, size, _data):
        self._poll -= 1
        if self._poll > 0 or self.done:
            return
        self._poll = POLL_BLOCKS
        if self.chan is None or self.chan.closed:
            self._finish()                      # gdb went away while the CPU ran
        elif self.chan.interrupted():
            self._origin = None
            self._stop(address, SIGINT)

    # --- stopped: gdb holds the CPU -------------------------------------------------
    def _stop(self, address: int, signal: int) -> None:
        uc = self._uc
        if self._step_hook is not None:
            uc.hook_del(self._step_hook)
            self._step_hook = None
        # the stop reply carries pc, saving gdb one round trip
        self._reason = b"T%02x%02x:%s;thread:1;" % (signal, self.regs.pc,
                                                     self.regs.encode(address))
        chan = self.chan
        if self._running:
            self._running = False
            if not chan.send(self._reason):
                self._finish()
                return
        try:
            while True:
                packet = chan.read_packet()
                if packet is None:
                    raise _Detach
                if packet is INTERRUPT:
                    continue                          # already stopped
                reply = self.handle(packet)
                if reply is not None and not chan.send(reply):
                    raise _Detach
        except _Resume as resume:
            if self._ended is None:
                self._resume(resume)
                return
            chan.send(b"X%02x" % self._ended, last=True)      # nothing left to run
            self._finish()
        except _Detach:
            self._finish()

    def _resume(self, resume: _Resume) -> None:
        uc = self._uc
        if resume.addr is not None:
            uc.reg_write(self.regs.ids[self.regs.pc], resume.addr)
        pc = uc.reg_read(self.regs.ids[self.regs.pc])
        self._stepping = resume.step
        self._origin, self._origin_seen = pc, False
        try:
            word = int.from_bytes(self.machine.read(pc, 4), self.regs.byteorder)
        except (EmulationError, unicorn.UcError):     # pc outside RAM: the fetch faults
            word = 0
        self._delay_slot = pc + 4 if has_delay_slot(word) else None
        # every resume steps off the origin first, so a breakpoint there is not hit
        # again by the same instruction; a continue then drops the step hook
        self._step_hook = uc.hook_add(unicorn.UC_HOOK_CODE, self._on_step)
        self._running = True

    # --- packets --------------------------------------------------------------------
    def handle(self, packet: bytes) -> bytes | None:
        """The reply to one packet (None: no reply); raises :class:`_Resume` or
        :class:`_Detach` for packets that end the stop.  Malformed packets get ``E01``,
        unknown ones the empty reply."""
        try:
            return self._dispatch(packet)
        except (_Resume, _Detach):
            raise
        except (ValueError, IndexError, OverflowError, unicorn.UcError):
            return b"E01"

    def _dispatch(self, p: bytes) -> bytes | None:
        head = p[:1]
        if head == b"?":
            return self._reason
        if head == b"g":
            return self._read_registers()
        if head == b"G":
            return self._write_registers(bytes.fromhex(p[1:].decode()))
        if head == b"p":
            n = _hex(p[1:])
            if not 0 <= n < len(self.regs.ids):
                return b"E01"
            value = self.regs.read(self._uc, n)
            return value.hex().encode() if value is not None else b"xx" * self.regs.size
        if head == b"P":
            n, _, value = p[1:].partition(b"=")
            n = _hex(n)
            data = bytes.fromhex(value.decode())
            if not 0 <= n < len(self.regs.ids) or len(data) != self.regs.size:
                return b"E01"
            self.regs.write(self._uc, n, data)
            return b"OK"
        if head == b"m":
            addr, size = (_hex(x) for x in p[1:].split(b","))
            data = self._read_memory(addr, min(size, (PACKET_SIZE - 8) // 2))
            return data.hex().encode() if data else b"E01"
        if head in (b"M", b"X"):
            where, sep, data = p[1:].partition(b":")
            if not sep:
                return b"E01"
            addr, size = (_hex(x) for x in where.split(b","))
            data = bytes.fromhex(data.decode()) if head == b"M" else unescape(data)
            if len(data) != size:
                return b"E01"
            return self._write_memory(addr, data)
        if head in (b"c", b"s"):
            raise _Resume(head == b"s", _hex(p[1:]) if len(p) > 1 else None)
        if head in (b"C", b"S"):
            _sig, _, addr = p[1:].partition(b";")
            raise _Resume(head == b"S", _hex(addr) if addr else None)
        if head in (b"Z", b"z"):
            return self._breakpoint(head == b"Z", p[1:])
        if head in (b"D", b"k"):
            if head == b"D":
                self.chan.send(b"OK")
            raise _Detach
        if head == b"H" or head == b"T":
            return b"OK"                              # one thread
        if p.startswith(b"vCont"):
            return self._vcont(p)
        if p.startswith(b"vKill"):
            self.chan.send(b"OK")
            raise _Detach
        if p.startswith(b"qSupported"):
            return (b"PacketSize=%x;qXfer:features:read+;QStartNoAckMode+"
                    % PACKET_SIZE)
        if p.startswith(b"qXfer:features:read:"):
            return self._features(p[len(b"qXfer:features:read:"):])
        if p == b"QStartNoAckMode":
            self.chan.send(b"OK")
            self.chan.acks = False
            return None
        if p == b"qC":
            return b"QC1"
        if p == b"qfThreadInfo":
            return b"m1"
        if p == b"qsThreadInfo":
            return b"l"
        if p == b"qAttached":
            return b"1"                               # gdb's quit detaches: the call runs on
        if p.startswith(b"qSymbol"):
            return b"OK"
        return b""

    def _vcont(self, p: bytes) -> bytes:
        if p == b"vCont?":
            return b"vCont;c;C;s;S"
        if not p.startswith(b"vCont;"):
            return b""
        # the first action for our one thread (or for all) decides
        for action in p[len(b"vCont;"):].split(b";"):
            what = action.split(b":")[0]
            if what[:1] in (b"c", b"C"):
                raise _Resume(False)
            if what[:1] in (b"s", b"S"):
                raise _Resume(True)
        return b"E01"

    def _features(self, args: bytes) -> bytes:
        annex, _, span = args.partition(b":")
        if annex != b"target.xml":
            return b"E00"
        offset, length = (_hex(x) for x in span.split(b","))
        xml = self.regs.xml
        chunk = xml[offset:offset + min(length, PACKET_SIZE // 2)]
        return (b"l" if offset + len(chunk) >= len(xml) else b"m") + escape(chunk)

    def _read_registers(self) -> bytes:
        out = []
        for n in range(len(self.regs.ids)):
            value = self.regs.read(self._uc, n)
            out.append(value.hex().encode() if value is not None else b"xx" * self.regs.size)
        return b"".join(out)

    def _write_registers(self, data: bytes) -> bytes:
        size = self.regs.size
        if len(data) != size * len(self.regs.ids):
            return b"E01"
        for n in range(len(self.regs.ids)):
            if n == self.regs.pc and data[n * size:(n + 1) * size] == self.regs.read(self._uc, n):
                continue        # writing pc restarts unicorn's block: only when it changes
            self.regs.write(self._uc, n, data[n * size:(n + 1) * size])
        return b"OK"

    def _read_memory(self, addr: int, size: int) -> bytes:
        """As many bytes from ``addr`` on as RAM holds (gdb accepts a short read)."""
        out = b""
        while size > 0:
            here = min(size, 0x1000 - (addr & 0xFFF))
            try:
                out += self.machine.read(addr & 0xFFFFFFFF, here)
            except (EmulationError, unicorn.UcError):    # no RAM there: stop at the gap
                break
            addr, size = addr + here, size - here
        return out

    def _write_memory(self, addr: int, data: bytes) -> bytes:
        if not data:
            return b"OK"           # gdb's probe for X
        try:
            self.machine.write(addr & 0xFFFFFFFF, data)   # drops translated code there
        except (EmulationError, unicorn.UcError):
            return b"E01"
        return b"OK"

    def _breakpoint(self, insert: bool, args: bytes) -> bytes:
        kind, addr, _size = args.split(b",")[:3]
        if kind != b"0":
            return b""             # only software breakpoints (gdb then uses them)
        addr = _hex(addr) & 0xFFFFFFFF
        if insert and addr not in self.breakpoints:
            self.breakpoints[addr] = self._uc.hook_add(unicorn.UC_HOOK_CODE, self._on_breakpoint,
                                                       None, addr, addr)
        elif not insert and addr in self.breakpoints:
            self._uc.hook_del(self.breakpoints.pop(addr))
        return b"OK"
