"""A gdb remote server on the emulated console (``gamevm call --gdb PORT``, ``gamevm run --gdb PORT``).

The server is ``udbserver`` (gdbstub on unicorn: MIPS, 68000 and ARM registers,
breakpoints as code hooks, single steps), stopping at the first instruction of
the first call; on big-endian MIPS (the N64), which udbserver 0.3.0 cannot serve,
it is this package's own :mod:`.rsp` (the same stop and script; it translates
addresses itself).  Between gdb and udbserver sits a small relay that translates
the addresses of gdb's memory packets (``m``, ``M``, ``X``) from the CPU's
virtual addresses to the engine's physical ones: unicorn's MIPS maps RAM at
its physical address, so a read of kseg0 ``0x80010000`` must go to
``0x00010000`` (the 68000 and ARM are flat: nothing changes).

gdb learns where modules are from a script, ``gdbinit`` (see
:func:`gdbinit_text`): the resident's symbols, ``target remote``, and a
``source`` of ``modules.gdb``, which holds one ``add-symbol-file FILE -s .text
ADDR ...`` per loaded module at its load address.  ``modules.gdb`` is
rewritten whenever the C runtime reports a module loaded or freed (its
``gvm_debug_event``, the loader hook a debugger breaks on, as libdragon's
``dl_debug_event``); ``gdbinit`` breaks there too and sources it again, so
gdb's symbols follow the loads and unloads.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
import time
from pathlib import Path

from ..errors import GameVMError

__all__ = ["GdbServer", "gdbinit_text", "modules_script", "free_port", "default_script"]

#: seconds the relay waits for udbserver to listen once gdb connected
CONNECT_SECONDS = 30.0
#: the loader hook of the C runtime (gvm_loader.c), where gdb re-reads modules.gdb
LOADER_HOOK = "gvm_debug_event"


def free_port() -> int:
    """A TCP port nothing listens on now (for tests and the relay's inner side)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_script() -> Path:
    """Where gdb's script goes when no ``--gdbinit`` is given: a new temporary directory."""
    import tempfile
    return Path(tempfile.mkdtemp(prefix="gamevm-gdb-")) / "gdbinit"


def _debug_or_self(path: str | Path) -> Path:
    from ..link.debugfile import DEBUG_SUFFIX
    p = Path(path)
    d = p.with_suffix(DEBUG_SUFFIX)
    return d if d != p and d.is_file() else p


def _section_addresses(module, base: int) -> list[tuple[str, int]]:
    """``(name, load address)`` of a module's sections, ``.text`` first."""
    secs = sorted(module.sections.items(), key=lambda kv: (kv[0] != ".text", kv[1][0]))
    return [(name, base + addr) for name, (addr, _body) in secs]


def modules_script(resident_path, loaded) -> str:
    """``modules.gdb``: the resident's symbols and the loaded modules' at their load
    addresses.

    It starts from no symbols (``symbol-file``), so sourcing it again after any
    number of loads and unloads leaves gdb with exactly what is loaded now (no
    duplicate of a module loaded twice, nothing of an unloaded one); breakpoints
    by ``file:line`` follow.  ``loaded`` holds objects with ``name``, ``path``,
    ``base`` and ``module`` (:class:`~gamevm_build.runtime.reference.LoadedModule`
    or the target runtime's ``TargetModule``)."""
    lines = ["# gamevm: the modules loaded now, at their load addresses (rewritten on "
             "every load and unload)",
             "symbol-file",
             f"symbol-file {_debug_or_self(resident_path).resolve()}"]
    for lm in loaded:
        path = getattr(lm, "path", "") or ""
        module = getattr(lm, "module", None)
        if not path or module is None or not Path(path).is_file():
            lines.append(f"# {lm.name} at 0x{lm.base:08x}: no file to read symbols from")
            continue
        secs = _section_addresses(module, lm.base)
        text = next((a for n, a in secs if n == ".text"), lm.base)
        args = " ".join(f"-s {n} 0x{a:08x}" for n, a in secs if n != ".text")
        lines.append(f"add-symbol-file {_debug_or_self(path).resolve()} -s .text 0x{text:08x}"
                     + (f" {args}" if args else ""))
    return "\n".join(lines) + "\n"


def gdbinit_text(resident_path, port: int, modules: Path, *, hook: int | None,
                 arch: str = "") -> str:
    """The script gdb starts with: ``gdb-multiarch -x gdbinit``."""
    out = ["# gamevm gdbinit: the resident's symbols, the emulated console, the loaded modules",
           "set confirm off",
           "set pagination off",
           "set breakpoint pending on"]
    if arch == "mips":
        # the outermost frame returns to the host (an address with no code): a short
        # prologue search ends the backtrace there instead of warning
        out.append("set heuristic-fence-post 8")
    out += [f"file {_debug_or_self(resident_path).resolve()}",
            f"target remote 127.0.0.1:{port}",
            f"source {modules.resolve()}"]
    if hook is not None:
        # by address: the breakpoint outlives modules.gdb's symbol-file
        out += [f"# the loader's hook ({LOADER_HOOK}): re-read the modules whenever one "
                "loads or unloads",
                f"break *0x{hook:08x}",
                "commands",
                "silent",
                f"source {modules.resolve()}",
                "continue",
                "end"]
    return "\n".join(out) + "\n"


class GdbServer:
    """Serves gdb on ``port`` for ``console``; :meth:`stop_at` arms it before the first call."""

    def __init__(self, console, port: int, script: Path):
        profile = console.profile
        #: big-endian MIPS (the N64) is served by rsp.RspServer: udbserver 0.3.0 (src/emu.rs)
        #: reads the engine's mode with Mode::try_from(uc_query(UC_QUERY_MODE)), which
        #: rejects MIPS32|BIG_ENDIAN (0x40000004) and panics before gdb is served
        self.own_server = profile.arch == "mips" and profile.byteorder == "big"
        if not self.own_server:
            try:
                import udbserver  # noqa: F401  (checked before any work)
            except ImportError as exc:
                raise GameVMError("--gdb needs the udbserver package: pip install "
                                  "'gamevm_build[debug]' (or run tools/bootstrap)") from exc
        if not 0 < port < 65536:
            raise GameVMError(f"--gdb {port}: give a TCP port (1..65535)")
        self.console = console
        self.port = port
        self.script = Path(script)
        self.modules = self.script.with_name(self.script.name + ".modules")
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind(("127.0.0.1", port))
        except OSError as exc:
            self._listener.close()
            raise GameVMError(f"--gdb {port}: cannot listen on 127.0.0.1:{port}: "
                              f"{exc.strerror}; give another port") from None
        self._listener.listen(1)
        self._armed = False
        hook = console.resident.symbols.get(LOADER_HOOK)
        if hook is not None and console.profile.arch == "arm":
            hook &= ~1
        self.write_scripts(hook=hook)
        if hook is not None:
            # after the loader's own breakpoint there (registered first, runs first)
            console.machine.breakpoint(hook, lambda m: self.write_modules())

    # --- scripts --------------------------------------------------------------------
    def write_modules(self) -> None:
        from ..fileutil import atomic_write
        loaded = list(self.console.loader.loaded.values())
        atomic_write(self.modules,
                     modules_script(self.console.resident.path, loaded).encode())

    def write_scripts(self, *, hook: int | None) -> None:
        from ..fileutil import atomic_write
        self.write_modules()
        atomic_write(self.script, gdbinit_text(self.console.resident.path, self.port,
                                               self.modules, hook=hook,
                                               arch=self.console.profile.arch).encode())

    # --- serving --------------------------------------------------------------------
    def arm(self) -> "GdbServer":
        """Stop at the first function the console calls from now on (wraps ``call``)."""
        console = self.console
        call = console.call
        console.machine.progress = None       # time stands still while gdb holds the CPU

        def first_call(function, *args, **kw):
            addr = console.symbol(function) if isinstance(function, str) else function
            self.stop_at(addr)
            console.call = call
            return call(addr, *args, **kw)
        console.call = first_call
        return self

    def stop_at(self, addr: int) -> None:
        """Stop at ``addr`` (the first call's function) and wait there for gdb."""
        if self._armed:
            return
        self._armed = True
        self.write_modules()
        if self.console.profile.arch == "arm":
            addr &= ~1
        print(f"gamevm: gdb: waiting on 127.0.0.1:{self.port} at 0x{addr:08x}: "
              f"gdb-multiarch -x {self.script}", file=sys.stderr, flush=True)
        if self.own_server:
            from .rsp import RspServer
            RspServer(self.console.machine, self._listener).stop_at(addr)
            return
        import udbserver
        inner = free_port()
        threading.Thread(target=self._relay, args=(inner,), daemon=True).start()
        _keep_stdout_for_python()
        udbserver.udbserver(self.console.machine.uc, inner, addr)

    def _relay(self, inner: int) -> None:
        gdb, _ = self._listener.accept()
        self._listener.close()
        deadline = time.monotonic() + CONNECT_SECONDS
        while True:
            try:
                server = socket.create_connection(("127.0.0.1", inner))
                break
            except OSError:
                if time.monotonic() > deadline:
                    gdb.close()
                    return
                time.sleep(0.02)
        physical = self.console.machine.cpu.physical
        from_gdb = _Rewriter(physical)
        socks = [gdb, server]
        try:
            while True:
                ready, _, _ = select.select(socks, [], [])
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is gdb:
                        server.sendall(from_gdb.feed(data))
                    else:
                        gdb.sendall(data)
        except OSError:
            return
        finally:
            gdb.close()
            server.close()


def _keep_stdout_for_python() -> None:
    """udbserver prints its messages ("Disconnect!") on file descriptor 1: send that to
    stderr, and Python's own stdout (results, ``--json``) to a copy of the real one."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(saved, "w", buffering=1, encoding=sys.stdout.encoding or "utf-8")


class _Rewriter:
    """gdb's packets with the addresses of memory packets made physical."""

    def __init__(self, physical):
        self.physical = physical
        self.buf = b""

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = b""
        while self.buf:
            if self.buf[:1] != b"$":
                cut = self.buf.find(b"$")
                cut = len(self.buf) if cut < 0 else cut
                out += self.buf[:cut]                 # acks, ^C
                self.buf = self.buf[cut:]
                continue
            end = self.buf.find(b"#")
            if end < 0 or len(self.buf) < end + 3:
                break                                 # the rest comes later
            payload = self.buf[1:end]
            self.buf = self.buf[end + 3:]
            payload = self._translate(payload)
            out += b"$" + payload + b"#" + b"%02x" % (sum(payload) & 0xFF)
        return out

    def _translate(self, payload: bytes) -> bytes:
        if payload[:1] not in (b"m", b"M", b"X"):
            return payload
        head, sep, rest = payload[1:].partition(b",")
        try:
            addr = int(head, 16)
        except ValueError:
            return payload
        phys = self.physical(addr)
        if phys is None or phys == addr:
            return payload
        return payload[:1] + b"%x" % phys + sep + rest
