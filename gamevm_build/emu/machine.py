"""An emulated console CPU + RAM (unicorn) built from a target profile.

Typical use::

    m = Machine("psx")
    syms = m.load_elf("game.elf")
    m.call(syms["add"], 2, -3)            # -> 0xffffffff
    m.call("str_len", m.alloc_string("hello"))

Memory layout a machine adds to the profile's RAM (all inside main RAM, below
``profile.stack_top``):

* the stack: ``memory.stack_size`` bytes of the profile (default
  ``STACK_SIZE``) ending at ``stack_top`` (rounded down to 8);
* the stack guard: ``STACK_GUARD`` bytes just below the stack; any read or
  write there stops the call with a "stack overflow" fault (a range-limited
  memory hook: it costs nothing elsewhere);
* the scratch area: ``memory.scratch_size`` bytes (default ``SCRATCH_SIZE``)
  below the guard, handed out upwards by :meth:`Machine.alloc` /
  :meth:`Machine.alloc_string` and reset by :meth:`Machine.reset_scratch`;
  :meth:`Machine.reserve` takes memory off its top, so the guard stays;
* the host-return address :data:`SENTINEL` (outside RAM, see
  :mod:`.memory`): ``call`` sets ``ra`` to it and ``emu_start(until=...)``
  stops there.  On CPUs whose unaligned accesses the machine redoes (ARM),
  :attr:`Machine.fixup`, in the same page, is where the redo happens (see below).

Unaligned data accesses (:attr:`Cpu.alignment`): unicorn's MIPS raises
address errors like the real CPUs, but its 68000 and ARM926 read and write
across the boundary.  For those the machine hooks every data access (a Python
``UC_HOOK_MEM_READ|WRITE``; see docs/consoles.md for its cost) and asks the
CPU what the real one does: a fault (68000 address error) or a
:class:`~.cpu.Redo` (ARM7TDMI/ARM60 rotated loads).  The hook runs before the
access; unicorn checks for a stop request right after every load and store,
before the instruction writes a register, so the instruction is aborted
there: writing ``pc`` from the hook (or ``emu_stop``) ends it.  A store has
landed by then, so the hook saves the bytes it covers and the machine puts
them back.  A redo continues at the fixup address, where a code hook (limited
to that address) undoes the store, applies the redo and jumps on, all in the
same ``emu_start``, so the instruction budget keeps counting (a redone
instruction counts twice: itself and the fixup).

Notes on unicorn 2.1.4 (MIPS) that shaped this module, all exercised by
``tests/test_emu_machine.py``:

* After ``syscall`` the interrupt hook sees ``pc`` = syscall + 4.  For every
  other CPU exception (``break``, ``teq``, overflow, reserved instruction,
  address error, TLB miss) it sees a stale ``pc`` (the one after the last
  ``syscall``, or 0): unicorn applies its syscall fix-up (PR #1098) to all
  exceptions.  The faulting instruction is found from the last translation
  block entered instead (:mod:`.locate`).  Writing ``pc`` in the hook resumes
  there.
* A run that stops between a branch and its delay slot (a fault in the slot,
  the budget running out) leaves QEMU's "in delay slot" flag set, and the
  next run's first instruction executes as a delay slot (a ``jr`` there is a
  reserved instruction).  Each call therefore restores a saved CPU context.
* An instruction fetch from unbacked memory aborts a translation and leaves
  unicorn's TCG state dangling: the next translation of new code segfaults
  (unicorn issue #2339/#2134).  After such a fault the machine rebuilds its
  engine (memory copied over) before the next call.
* Instruction budget: ``emu_start(count=...)`` counts in C.  Measured on
  ``fib(25)`` (2.4M instructions of compiled C): 0.016 s unbudgeted, 0.023 s
  with ``count``, 0.155 s counting block sizes in a Python ``UC_HOOK_BLOCK``
  (~0.35 us per block; on a 2-instruction loop 50x slower than ``count``).
  The budget is therefore ``count``.  The block hook runs only with
  ``track_blocks=True`` (the default), to locate exceptions.  It looks each
  block's instruction count up by ``(address, size)`` (see "Block counts" below).
* Host ``mem_write`` does not invalidate translated code, so every host write
  drops the translation blocks of what it wrote.

Block counts: the block hook adds the block's instructions to
:attr:`Machine.instructions` and checks the execution guards (:meth:`Machine.guard`
``"noexec"``).  On MIPS the count is ``size / 4``; on the 68000 it takes
disassembling the block's bytes, and on ARM reading ``cpsr`` for the Thumb bit
(:attr:`.cpu.Cpu.counts_vary`), each costing several times the rest of the hook.
So the machine does both once, on a block's first entry, and remembers the count
by ``(address, size)`` when no guard forbids the block; a remembered block costs a
dict lookup.  It forgets every count when the execution guards change, and, on
the CPUs whose counts vary, as soon as anything writes to a counted block's
bytes: a host :meth:`Machine.write` (through :meth:`Machine.invalidate_code`) or
a guest store (the write half of the access hook those CPUs have anyway looks the
store's first halfword up in the set of halfwords where a store that changes
counted code may begin: one set lookup per store).  A recount reads the bytes and
``cpsr`` as they are then, as every block entry used to, so counts stay exact for
rewritten and self-modifying code.  One case differs from
reading ``cpsr`` at every entry: the same bytes run both as ARM and as Thumb code
(only after a wrong interworking jump) with the same block address and size and
no write in between count with the state of the first run.

Runtime support for the loader (docs/runtime.md): :attr:`Machine.instructions`
counts the instructions of every translation block entered (with
``track_blocks``; a block cut short by a fault counts whole), so the loader can
measure constructors and lazy-binding overhead; a trap handler learns the trap's
address from :attr:`Machine.trap_pc` and may continue elsewhere with
:meth:`Machine.resume_at` (lazy-binding and stale-binding stubs); and
:meth:`Machine.reserve` carves loader-owned memory (stubs, trampolines) from the
top of the scratch area.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import unicorn

from ..errors import ConfigError, EmulationError, EmulationFault, EmulationTimeout
from ..project.profile import Profile, load_profile
from .cpu import Exception_, Redo, Trap, cpu_for
from .elfimage import PF_X, ElfImage, Segment, Symbolizer, read_elf
from .fault import FaultReport
from .memory import PAGE, SENTINEL, AddressSpace

__all__ = ["DEFAULT_SECONDS", "SCRATCH_SIZE", "SENTINEL", "STACK_GUARD", "STACK_SIZE", "Machine",
           "TrapHandler"]

MASK32 = 0xFFFFFFFF
_PROJECT = Path(__file__).resolve().parents[2]
#: Console time one :meth:`Machine.call` may run unless told otherwise, in emulated
#: seconds: ``DEFAULT_SECONDS * clock_hz`` instructions, at one cycle each as the load-time
#: models count them (gamevm_build.runtime.loadtime), so at least this long on the real console.
#: About 8.5 M instructions on the PS1, 23 M on the N64, 4.2 M on the GBA, 3.1 M on the 3DO,
#: 1.9 M on the Sega CD (the 3DO example's self-test takes 1.36 M, 0.11 s).
DEFAULT_SECONDS = 0.25
#: Wall-clock seconds after which a call reports its progress (:attr:`Machine.progress`).
PROGRESS_AFTER = 2.0
#: Instructions between two looks at the wall clock while a call runs.
_PROGRESS_STRIDE = 1 << 18
#: Bytes of stack below ``profile.stack_top`` unless the profile says (``memory.stack_size``).
STACK_SIZE = 0x10000
#: Bytes of scratch area below the stack guard unless the profile says (``memory.scratch_size``).
SCRATCH_SIZE = 0x10000
#: Bytes below the stack that no call may touch.  A frame larger than this can
#: step over it, as over an MMU guard page.
STACK_GUARD = 0x1000
#: Offset in the sentinel's page of the address unaligned-access redos continue at.
FIXUP_OFFSET = 0x40

_ACCESS = {unicorn.UC_MEM_READ: "read", unicorn.UC_MEM_WRITE: "write"}
_UNMAPPED_ACCESS = {
    unicorn.UC_MEM_READ_UNMAPPED: "read",
    unicorn.UC_MEM_WRITE_UNMAPPED: "write",
    unicorn.UC_MEM_FETCH_UNMAPPED: "fetch",
}

#: Trap handler: ``handler(machine, kind, code)``; kind is ``"syscall"`` or
#: ``"break"``.  Return ``NotImplemented`` to pass the trap to the next handler.
TrapHandler = Callable[["Machine", str, int], object]


def _unicorn_constant(name: str, profile: Profile) -> int:
    for module in (unicorn, getattr(unicorn, f"{profile.arch}_const", None)):
        if module is not None and hasattr(module, name):
            return getattr(module, name)
    raise ConfigError(f"{profile.source}: [cpu] names unknown unicorn constant '{name}'")


class Machine:
    """One emulated console: CPU, RAM views, loaded executables, trap handlers.

    Parameters
    ----------
    target
        Profile name (``"psx"``, ``"n64"``) or a :class:`Profile`.
    expansion
        Give RAM regions their ``expansion_size`` (N64 Expansion Pak).
    null_guard
        Size of the faulting guard at virtual address 0 (default one page).
    track_blocks
        Track the last translation block entered (a Python ``UC_HOOK_BLOCK``),
        needed to locate ``break`` and the CPU exceptions that unicorn
        misreports.  ``False`` runs compiled code faster (~6x on MIPS, ~1.4x on
        the 68000 and ARM, whose access hook stays), but ``break``
        then faults instead of reaching trap handlers, exception reports
        lack the pc, and a 68000 jump to an odd address is reported only once
        the misread code raises an exception.

    Attributes
    ----------
    profile : Profile
    uc : unicorn.Uc
        The engine, for what this class does not wrap (replaced after a fetch
        fault; do not keep references).
    symbols : dict[str, int]
        Symbols of every executable loaded, later loads winning.
    symbolizer : callable or None
        ``addr -> str | None`` naming addresses in fault reports (``"fn+0x10"``);
        defaults to the nearest preceding symbol of the loaded executables.
    stack_top, stack_base, guard_base, scratch_base, scratch_end : int
        The stack ``[stack_base, stack_top)``, its guard ``[guard_base,
        stack_base)`` and the scratch area (see the module docstring).
    fixup : int
        Where instructions the machine redoes continue (see the module docstring).
    """

    def __init__(self, target: str | Profile, *, expansion: bool = False,
                 null_guard: int = PAGE, track_blocks: bool = True):
        self.profile = profile = load_profile(target)
        self.cpu = cpu = cpu_for(profile)
        #: where calls return to the host (``emu_start`` stops there)
        self.sentinel = cpu.sentinel
        self._arch = _unicorn_constant(profile.unicorn_arch, profile)
        self._mode = 0
        for name in profile.unicorn_mode:
            self._mode |= _unicorn_constant(name, profile)
        if bool(self._mode & unicorn.UC_MODE_BIG_ENDIAN) != profile.big_endian:
            raise ConfigError(f"{profile.source}: [cpu] unicorn_mode disagrees with "
                              f"[elf] endian = '{profile.endian}'")
        self._cpu_model = _unicorn_constant(profile.unicorn_cpu, profile)
        self._byteorder = profile.byteorder
        self.space = AddressSpace(profile, expansion=expansion, null_guard=null_guard, cpu=cpu)
        self.track_blocks = track_blocks

        self.stack_top = profile.stack_top & ~7
        self.stack_base = self.stack_top - profile.stack_size
        self.guard_base = self.stack_base - STACK_GUARD
        self.scratch_end = self.guard_base
        self.scratch_base = self.scratch_end - profile.scratch_size
        if self.space.translate(self.scratch_base, self.stack_top - self.scratch_base) is None:
            needed = profile.stack_size + STACK_GUARD + profile.scratch_size
            raise ConfigError(f"{profile.source}: stack_top 0x{profile.stack_top:08x} leaves no "
                              f"room for {needed:#x} bytes of stack, stack guard and scratch "
                              "inside one RAM view")
        self._scratch_next = self.scratch_base
        # access size -> address bits the CPU wants clear (see "Unaligned" in the module doc)
        self._alignment = tuple(cpu.alignment.get(size, 0) for size in range(9))
        self._fetch_alignment = cpu.fetch_alignment
        #: where redone instructions continue (see the module docstring)
        self.fixup = (self.sentinel & ~(PAGE - 1)) + FIXUP_OFFSET

        self.symbols: dict[str, int] = {}
        self._symbols = Symbolizer()
        #: ``[start, end)`` of the executable segments :meth:`load_elf` loaded
        self.code_ranges: list[tuple[int, int]] = []
        self.symbolizer: Callable[[int], str | None] | None = self._symbols
        self._trap_handlers: list[TrapHandler] = []
        #: ``$gp`` for MIPS calls (``_gp`` of the last executable loaded)
        self.gp = 0

        # memory guards (see guard()): token -> (kind, pstart, pend, label); write hooks per token
        self._guards: dict[int, tuple[str, int, int, str]] = {}
        self._guard_hooks: dict[int, list[int]] = {}
        self._next_guard = 1
        self._noexec: list[tuple] = []

        self._running = False
        #: instructions of the translation blocks entered so far (see the module docstring)
        self.instructions = 0
        #: ``progress(machine, instructions_so_far, wall_seconds)``, called every
        #: :data:`PROGRESS_AFTER` wall seconds while a long call runs (with ``track_blocks``):
        #: the CLI prints it, so a long or endless call is never silent
        self.progress: Callable[["Machine", int, float], None] | None = None
        self._progress_at = 1 << 62
        self._call_start = (0.0, 0, 0.0)      # (wall time, instructions, next report)
        # "Block counts" in the module doc: (address, size) -> instructions, and the
        # physical halfwords (address >> 1) where a store may begin that changes counted
        # code (counts_vary CPUs)
        self._block_counts: dict[tuple[int, int], int] = {}
        self._code_halves: set[int] = set()
        #: unaligned accesses made the way the CPU makes them (ARM rotated loads): legal,
        #: so never reported, but what the same C does on the other consoles is a fault
        self.unaligned_accesses = 0
        #: address of the trap instruction being serviced (valid inside a trap handler)
        self.trap_pc: int | None = None
        self._in_trap = False
        self._resume: int | None = None
        self._describers: dict[int, Callable[[int], str | None]] = {}
        #: execution guards that may go when the CPU reaches them (guard()'s ``lift``)
        self._lifters: dict[int, Callable[[], bool]] = {}
        self._function: int | None = None
        self._fault: FaultReport | None = None
        self._block: tuple[int, int] | None = None
        self._engine_suspect = False
        # (physical address, bytes) a store the machine aborted had already overwritten
        self._clobbered: tuple[int, bytes] | None = None
        self._redo: tuple[Redo, tuple[int, int] | None] | None = None
        self.uc = self._new_engine()
        # no code runs from the stack (issue 13): a jump there is "executing data", named
        # at the jump, not the garbage it decodes to faulting somewhere else
        self.guard(self.stack_base, self.stack_top - self.stack_base, "noexec", "the stack")

    # ------------------------------------------------------------------ engine

    def _new_engine(self, previous: unicorn.Uc | None = None) -> unicorn.Uc:
        """A configured unicorn engine; RAM contents copied from ``previous``."""
        uc = unicorn.Uc(self._arch, self._mode)
        uc.ctl_set_cpu_model(self._cpu_model)
        self.space.map_into(uc)
        if previous is not None:
            for phys, size in self.space.physical:
                uc.mem_write(phys, bytes(previous.mem_read(phys, size)))
        self.cpu.configure(self, uc)
        self._reset_context = uc.context_save()       # see "delay slot" in the module doc

        uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
        uc.hook_add(unicorn.UC_HOOK_INTR, self._on_interrupt)
        self._add_stack_guard(uc)            # first: an overflow is the fault to report
        self._forget_counts()
        watch = self.track_blocks and self.cpu.counts_vary     # "Block counts" in the module doc
        if any(self._alignment):
            if watch:
                uc.hook_add(unicorn.UC_HOOK_MEM_READ, self._on_access)
                uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, self._on_write)
            else:
                uc.hook_add(unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE,
                            self._on_access)
        elif watch:
            uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, self._on_code_write)
        if self.cpu.redoes_accesses:
            fixup = self.cpu.physical(self.fixup)
            uc.mem_write(fixup, self.cpu.poison(4))     # only the hook below leaves it
            uc.hook_add(unicorn.UC_HOOK_CODE, self._on_fixup, None, self.fixup, self.fixup)
        if self.track_blocks:
            uc.hook_add(unicorn.UC_HOOK_BLOCK, self._on_block)
        for addr, handler in getattr(self, "_breakpoints", {}).items():
            uc.hook_add(unicorn.UC_HOOK_CODE, self._on_breakpoint, handler, addr, addr)
        self._guard_hooks = {}
        for token, (kind, pstart, pend, _label) in getattr(self, "_guards", {}).items():
            self._hook_guard(uc, token, kind, pstart, pend)
        return uc

    def _hook_guard(self, uc, token: int, kind: str, pstart: int, pend: int) -> None:
        """The memory hooks of a ``code`` guard (writes) or a ``fence`` (reads and
        writes), limited to its range so that other accesses do not pay for them."""
        hooks = []
        if kind in ("code", "fence"):
            hooks.append(uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, self._on_guard, token,
                                     pstart, pend - 1))
        if kind == "fence":
            hooks.append(uc.hook_add(unicorn.UC_HOOK_MEM_READ, self._on_guard, token,
                                     pstart, pend - 1))
        if hooks:
            self._guard_hooks[token] = hooks

    def breakpoint(self, addr: int, handler: Callable[["Machine"], None]) -> None:
        """Call ``handler(machine)`` whenever the CPU is about to execute ``addr``.

        For runtime functions the emulated console follows (the C runtime's
        ``gvm_debug_event``, ``GameVMSyncCode``): a code hook limited to one
        address, so nothing else slows down.  The handler may read registers and
        memory, and redirect execution with ``set_reg("pc", ...)``.
        """
        addr &= ~1 if self.profile.arch == "arm" else MASK32
        if not hasattr(self, "_breakpoints"):
            self._breakpoints: dict[int, Callable] = {}
        self._breakpoints[addr] = handler
        self.uc.hook_add(unicorn.UC_HOOK_CODE, self._on_breakpoint, handler, addr, addr)

    def _on_breakpoint(self, uc, address, size, handler):
        handler(self)

    def _rebuild_engine(self) -> None:
        self.uc = self._new_engine(previous=self.uc)
        self._engine_suspect = False

    # ------------------------------------------------------------------ memory

    def _word(self, value: int) -> bytes:
        return (value & MASK32).to_bytes(4, self._byteorder)

    def _physical(self, addr: int, size: int) -> int:
        paddr = self.space.translate(addr, size)
        if paddr is None:
            raise EmulationError(f"0x{addr & MASK32:08x}..0x{(addr + size) & MASK32:08x} is not "
                                 f"inside one RAM view of target '{self.profile.name}'")
        return paddr

    def read(self, addr: int, size: int) -> bytes:
        """``size`` bytes at virtual address ``addr`` (kseg0, kseg1 or another RAM view).

        Raises
        ------
        EmulationError
            When no single RAM view covers the whole range.
        """
        if size <= 0:
            return b""
        return bytes(self.uc.mem_read(self._physical(addr, size), size))

    def write(self, addr: int, data: bytes) -> None:
        """Store ``data`` at virtual address ``addr``; drops stale translated code there."""
        if not data:
            return
        self.uc.mem_write(self._physical(addr, len(data)), bytes(data))
        self.invalidate_code(addr, len(data))

    def read_u32(self, addr: int) -> int:
        """The 32-bit word at ``addr`` in the target's byte order."""
        return int.from_bytes(self.read(addr, 4), self._byteorder)

    def write_u32(self, addr: int, value: int) -> None:
        """Store ``value`` (masked to 32 bits) at ``addr`` in the target's byte order."""
        self.write(addr, self._word(value))

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """The NUL-terminated string at ``addr`` (without the NUL), at most ``limit`` bytes."""
        out = bytearray()
        while len(out) < limit:
            here = addr + len(out)
            chunk = self.read(here, min(64, limit - len(out), PAGE - here % PAGE))
            nul = chunk.find(b"\0")
            if nul >= 0:
                return bytes(out + chunk[:nul])
            out += chunk
        raise EmulationError(f"no NUL within {limit} bytes of the string at 0x{addr:08x}")

    def invalidate_code(self, addr: int, size: int) -> None:
        """Drop translated code for RAM ``[addr, addr+size)`` (done by :meth:`write`).

        Translations are tracked by physical page, so this covers every mirror.
        Block instruction counts the range may change are forgotten too.
        """
        paddr = self._physical(addr, size)
        # Unicorn translates the address as a fetch: use an alias the CPU always reaches.
        alias = self.cpu.code_alias(paddr)
        self.uc.ctl_remove_cache(alias, alias + size)
        if self._code_halves:
            halves = self._code_halves
            first, last = paddr >> 1, (paddr + size - 1) >> 1
            if last - first < len(halves):
                hit = not halves.isdisjoint(range(first, last + 1))
            else:
                hit = any(first <= half <= last for half in halves)
            if hit:
                self._forget_counts()

    def fault(self, cause: str, access: str | None = None, address: int | None = None,
              detail: str = "") -> None:
        """Stop the running call with a fault report (for trap handlers).

        A handler that finds the guest's request invalid (a bad pointer passed
        to a trap) calls this and returns; the call then raises
        :class:`EmulationFault` blaming the guest's pc.
        """
        pc = self.trap_pc if self._in_trap else self.reg("pc")
        self._record(self._report(cause, access, address, pc=pc, detail=detail))

    # ------------------------------------------------------------ memory guards

    def guard(self, addr: int, size: int, kind: str, label: str,
              describe: Callable[[int], str | None] | None = None,
              lift: Callable[[], bool] | None = None) -> int:
        """Protect ``[addr, addr+size)`` like an MMU would; return a token for :meth:`unguard`.

        ``kind`` ``"code"``: writes fault ("write of <label> (read+execute)"),
        as on a read+execute page.  ``"fence"``: reads and writes fault ("read of
        <label>", "write of <label>"): bytes past the end of an area the code under test
        owns, where an access that overruns it would reach the game's memory on the
        console.  ``"noexec"``:
        executing there faults
        ("fetch of <label> (not executable)"), as on a read+write page or
        freed memory.  Guards are on
        physical RAM, so every mirror (kseg0, kseg1, kuseg) is covered.
        Execution guards need ``track_blocks``.  ``describe(address)``, if
        given, may return a better cause for a fetch at ``address`` (the loader
        names the export of an unloaded module: "call to unloaded module X
        symbol Y").  ``lift()``, if given (``"noexec"``), is asked when the CPU is
        about to execute under the guard: True removes it, and so does any
        unguard() the call makes, and execution goes on (a condition checked when
        it matters, such as the N64's caches being synchronised, not on every
        change).
        """
        if size <= 0:
            return 0
        pstart = self._physical(addr, size)
        token = self._next_guard
        self._next_guard += 1
        self._guards[token] = (kind, pstart, pstart + size, label)
        if describe is not None:
            self._describers[token] = describe
        if lift is not None:
            self._lifters[token] = lift
        if kind in ("code", "fence"):
            self._hook_guard(self.uc, token, kind, pstart, pstart + size)
        elif kind == "noexec":
            self._rebuild_noexec()
        else:
            raise EmulationError(f"unknown guard kind '{kind}' (use 'code', 'fence' or "
                                 "'noexec')")
        return token

    def unguard(self, token: int) -> None:
        """Remove a guard made by :meth:`guard` (unknown tokens are ignored)."""
        guard = self._guards.pop(token, None)
        self._describers.pop(token, None)
        self._lifters.pop(token, None)
        for hook in self._guard_hooks.pop(token, ()):
            self.uc.hook_del(hook)
        if guard is not None and guard[0] == "noexec":
            self._rebuild_noexec()

    def unguard_range(self, addr: int, size: int) -> None:
        """Remove every guard overlapping ``[addr, addr+size)`` (memory being reused)."""
        pstart = self._physical(addr, size)
        for token, (_k, gs, ge, _l) in list(self._guards.items()):
            if gs < pstart + size and pstart < ge:
                self.unguard(token)

    def guards(self) -> list[tuple[str, int, int, str]]:
        """``(kind, physical start, physical end, label)`` of every guard."""
        return sorted(self._guards.values(), key=lambda g: (g[1], g[0]))

    def poison(self, addr: int, size: int, label: str,
               describe: Callable[[int], str | None] | None = None) -> int:
        """Mark freed memory: fill it with ``break`` and guard it against execution.

        A call through a stale pointer then stops with "fetch of <label>"
        (or, without block tracking, at the ``break``).
        """
        self.write(addr, self.cpu.poison(size))
        return self.guard(addr, size, "noexec", label, describe)

    def _rebuild_noexec(self) -> None:
        self._noexec = sorted([(gs, ge, label, self._describers.get(token), token)
                               for token, (kind, gs, ge, label) in self._guards.items()
                               if kind == "noexec"], key=lambda g: g[:3])
        self._forget_counts()          # remembered blocks passed the old guards' check

    # ------------------------------------------------------------ scratch area

    def alloc(self, size: int, align: int = 8) -> int:
        """Reserve ``size`` zeroed bytes in the scratch area; return their address.

        Raises
        ------
        EmulationError
            When the scratch area (``memory.scratch_size`` bytes) is full; see
            :meth:`reset_scratch`.
        """
        addr = (self._scratch_next + align - 1) & -align
        if addr + size > self.scratch_end:
            raise EmulationError(f"scratch area full: cannot allocate {size} bytes "
                                 f"({self.scratch_end - self._scratch_next} of "
                                 f"{self.profile.scratch_size} left); call reset_scratch() "
                                 "between uses")
        self._scratch_next = addr + size
        self.write(addr, bytes(size))
        return addr

    def alloc_string(self, s: str | bytes) -> int:
        """Copy ``s`` (str: UTF-8) and a NUL into the scratch area; return its address."""
        data = s.encode() if isinstance(s, str) else bytes(s)
        addr = self.alloc(len(data) + 1, align=4)
        self.write(addr, data + b"\0")
        return addr

    def reset_scratch(self) -> None:
        """Make the whole scratch area available again."""
        self._scratch_next = self.scratch_base

    def reserve(self, size: int) -> int:
        """Take ``size`` bytes (rounded up to 16) off the top of the scratch area for good.

        For memory the emulated runtime owns, such as the loader's stubs: it is
        never handed out by :meth:`alloc` nor cleared by :meth:`reset_scratch`.
        Returns the start address.
        """
        size = -(-size // 16) * 16
        if self.scratch_end - size < self._scratch_next or size <= 0:
            raise EmulationError(f"cannot reserve {size} bytes of the scratch area "
                                 f"({self.scratch_end - self._scratch_next} free)")
        self.scratch_end -= size
        return self.scratch_end

    @property
    def running(self) -> bool:
        """True while a :meth:`call` runs (trap handlers see it true)."""
        return self._running

    def resume_at(self, addr: int) -> None:
        """From a trap handler: continue at ``addr`` instead of after the trap instruction."""
        self._resume = addr & MASK32

    # --------------------------------------------------------------- registers

    def reg(self, name: str) -> int:
        """Register ``name`` (``"v0"``, ``"$a1"``, ``"sp"``, ``"pc"``) as unsigned 32-bit."""
        return self.uc.reg_read(self.cpu.reg_id(name)) & MASK32

    def set_reg(self, name: str, value: int) -> None:
        """Set register ``name``; negative values are stored as two's complement."""
        self.uc.reg_write(self.cpu.reg_id(name), value & MASK32)

    # ------------------------------------------------------------- executables

    def load_elf(self, path: str | os.PathLike) -> dict[str, int]:
        """Load a statically linked executable's ``PT_LOAD`` segments into RAM.

        ``.bss`` is zero-filled.  ``$gp`` is set from ``_gp`` if defined.  A
        segment wholly outside RAM is skipped only when it holds ABI records
        alone (binutils' ``.MIPS.abiflags`` segment at ``0x00400000``): one
        that is executable or holds code or data is an error.

        Returns
        -------
        dict[str, int]
            The executable's symbols, ``{name: 32-bit address}``.

        Raises
        ------
        InputError
            Not an executable for this target.
        EmulationError
            A program segment lies outside RAM, partly or wholly, or over the
            stack/scratch area; the message names the segment and the RAM.
        """
        image = read_elf(path, self.profile)
        for seg in image.segments:
            self._load_segment(image, seg)
        self.code_ranges += [(seg.vaddr, seg.end) for seg in image.segments
                             if seg.flags & PF_X and seg.program and seg.data]
        self._symbols.add(image)
        self.symbols.update(image.symbols)
        if "_gp" in image.symbols:
            self.gp = image.symbols["_gp"]
        return dict(image.symbols)

    def _load_segment(self, image: ElfImage, seg: Segment) -> None:
        paddr = self.space.translate(seg.vaddr, len(seg.data))
        if paddr is None:
            problem = self.space.placement_problem(seg.vaddr, seg.end)
            if problem is None and not seg.program:
                return
            raise EmulationError(f"{image.path}: {seg.describe()} "
                                 f"{problem or self._outside_ram()}")
        reserved = self.space.translate(self.scratch_base)
        reserved_end = reserved + (self.stack_top - self.scratch_base)
        if paddr < reserved_end and paddr + len(seg.data) > reserved:
            raise EmulationError(f"{image.path}: {seg.describe()} overlaps the emulator's scratch "
                                 "area, stack guard and stack "
                                 f"0x{self.scratch_base:08x}..0x{self.stack_top:08x}")
        self.write(seg.vaddr, seg.data)

    def _outside_ram(self) -> str:
        return (f"lies outside the RAM of target '{self.profile.name}' "
                f"({self.space.memory_map()}): link it into one of these regions; residents "
                f"go at memory.resident_base 0x{self.profile.resident_base:08x} "
                f"({self._profile_file})")

    def symbolize(self, addr: int | None) -> str | None:
        """Name of ``addr`` from :attr:`symbolizer` (None when unknown)."""
        if addr is None:
            return None
        if addr == self.sentinel:
            return "return to host"
        if self.symbolizer is None:
            return None
        return self.symbolizer(addr) or None

    # ------------------------------------------------------------------- traps

    def on_trap(self, handler: TrapHandler) -> TrapHandler:
        """Register ``handler(machine, kind, code)`` for ``syscall`` and ``break``.

        ``kind`` is ``"syscall"`` or ``"break"``; ``code`` is the instruction's
        20-bit code field (``syscall 0x42`` -> 0x42; gas encodes ``break a, b``
        as ``a << 10 | b``, so ``break 7`` -> 0x1c00).  Handlers run in
        registration order; one that returns ``NotImplemented`` passes the
        trap on.  A handler may read and set registers and memory; once one
        returns, execution resumes after the trap instruction (traps in branch
        delay slots are not supported).  A trap nobody handles is an
        :class:`EmulationFault`; an exception a handler raises aborts the call
        and propagates.  Usable as a decorator.
        """
        self._trap_handlers.append(handler)
        return handler

    # ------------------------------------------------------------------- calls

    @property
    def default_budget(self) -> int:
        """Instructions of :data:`DEFAULT_SECONDS` on this console (one per cycle)."""
        return self.budget_for(DEFAULT_SECONDS)

    def budget_for(self, seconds: float) -> int:
        """Instructions a call may run for ``seconds`` of console time (one per cycle)."""
        return max(1, round(seconds * self.profile.clock_hz))

    def console_seconds(self, instructions: int) -> float:
        """Console time of ``instructions`` at one cycle each (the load-time models' rate)."""
        return instructions / self.profile.clock_hz

    def call(self, function: int | str, *args: int, max_instructions: int | None = None,
             max_seconds: float | None = None) -> int:
        """Call ``function`` (address or symbol) with the o32 convention; return ``v0``.

        The first four arguments go in ``a0``-``a3``, the rest on the stack at
        ``sp+16`` and up (the caller's 16-byte home area comes first); ``sp``
        starts 8-byte aligned at the stack top.  Arguments are masked to 32
        bits, so negative ints work.  Memory persists between calls; every
        call starts from the same CPU state.

        Returns
        -------
        int
            ``v0`` as an unsigned 32-bit value.

        Raises
        ------
        EmulationFault
            Unmapped access, unhandled trap or CPU exception; ``.report`` tells
            where.
        EmulationTimeout
            More than ``max_instructions`` instructions ran, or ``max_seconds`` of console
            time at one instruction per cycle (default :data:`DEFAULT_SECONDS`).
        """
        explicit = max_instructions is not None
        if max_instructions is None:
            max_seconds = DEFAULT_SECONDS if max_seconds is None else max_seconds
            max_instructions = self.budget_for(max_seconds)
        if self._running:
            raise EmulationError("Machine.call cannot be nested (called from a trap handler?)")
        if max_instructions < 1:
            raise EmulationError(f"max_instructions must be positive, not {max_instructions}")
        addr = self._resolve(function)
        if self._engine_suspect:
            self._rebuild_engine()
        self.uc.context_restore(self._reset_context)
        start = self.cpu.setup_call(self, addr, args)

        self._fault, self._block, self._function = None, None, addr
        self._clobbered = self._redo = None
        self._running = True
        if self.progress is not None:
            self._call_start = (time.monotonic(), self.instructions, PROGRESS_AFTER)
            self._progress_at = self.instructions + _PROGRESS_STRIDE
        try:
            self.uc.emu_start(start, self.sentinel, count=max_instructions)
        except unicorn.UcError as exc:
            if self._fault is None:
                self._engine_suspect = True
                if exc.errno == unicorn.UC_ERR_INSN_INVALID:
                    # ARM reports undefined instructions this way, pc at the instruction
                    self._fault = self._report("undefined instruction", None, None,
                                               pc=self.reg("pc"))
                else:
                    self._fault = self._report(f"unicorn error ({exc})", None, None,
                                               pc=self.reg("pc"), pc_exact=False)
        finally:
            self._running = False
            self._progress_at = 1 << 62
            if self._redo is not None and self._fault is None:
                self._on_fixup(self.uc, self.fixup, 0, None)   # the budget ran out just before
            self._restore_clobbered()          # a store the machine stopped must not land
        if self._fault is not None:
            raise EmulationFault(f"emulated CPU fault: {self._fault}", self._fault)
        pc = self.reg("pc")
        if pc != self.sentinel:
            mhz = f"{self.profile.clock_hz / 1e6:g} MHz"
            budget = (f"{max_instructions} instructions "
                      f"({self.console_seconds(max_instructions):.3g} s on the console at "
                      f"{mhz}, one instruction per cycle)" if explicit else
                      f"{max_seconds:g} s on the console ({max_instructions} instructions at "
                      f"{mhz}, one per cycle)")
            raise EmulationTimeout(
                f"call to {self._describe(addr)} did not return within its budget of {budget}; "
                f"stopped at pc {self._describe(pc)}: an endless loop?  Pass a larger budget "
                "if the work is legitimately long",
                function=addr, budget=max_instructions, pc=pc)
        return self.cpu.result(self)

    def result(self) -> int:
        """The result register of the last call (``v0``, ``d0``, ``r0``)."""
        return self.cpu.result(self)

    def set_result(self, value: int) -> None:
        """From a trap handler: the value the trap returns to target code."""
        self.cpu.set_result(self, value)

    def trap_args(self, n: int) -> list[int]:
        """From a trap handler: the first ``n`` arguments of a gamevm.h trap."""
        return self.cpu.trap_args(self, n)

    def _resolve(self, function: int | str) -> int:
        if isinstance(function, str):
            try:
                return self.symbols[function]
            except KeyError:
                raise EmulationError(f"no symbol '{function}' in the loaded executables") from None
        return function & MASK32

    def _describe(self, addr: int) -> str:
        symbol = self.symbolize(addr)
        return f"0x{addr:08x}" + (f" <{symbol}>" if symbol else "")

    # ------------------------------------------------------------------- hooks

    def _record(self, report: FaultReport) -> None:
        if self._fault is None:            # the first fault is the one to explain
            self._fault = report
        self.uc.emu_stop()

    def _on_block(self, uc, address, size, _user_data):
        # every translation block executed: keep the common path to one dict lookup
        if address & self._fetch_alignment:     # before _block: the report names the jumper
            self._record_exception(self.cpu.fetch_fault(address))
            return
        jumper, self._block = self._block, (address, size)
        count = self._block_counts.get(self._block)
        if count is None:
            self._enter_new_block(self._block, jumper)
        else:
            self.instructions += count
        if self.instructions >= self._progress_at:
            self._report_progress()

    def _report_progress(self) -> None:
        self._progress_at = self.instructions + _PROGRESS_STRIDE
        start, first, due = self._call_start
        wall = time.monotonic() - start
        if wall >= due and self.progress is not None:
            self._call_start = (start, first, wall + PROGRESS_AFTER)
            self.progress(self, self.instructions - first, wall)

    def _enter_new_block(self, block: tuple[int, int], jumper: tuple[int, int] | None) -> None:
        """A block not counted since its code, or the execution guards, last changed.

        Counts it and checks the execution guards, then remembers the count unless a
        guard forbids the block: a remembered block passed the guards' check, and
        :meth:`_rebuild_noexec` forgets every count (see "Block counts").
        """
        address, size = block
        self.instructions += (count := self.cpu.instructions_in_block(self, address, size))
        paddr = self.cpu.physical(address)
        if paddr is None:
            return
        hit = self._execution_guard(paddr)
        if hit is not None:
            label, describe = hit
            better = describe(address) if describe is not None else None
            self._record(self._report(
                f"{label} (not executable)", "fetch", address, pc=address,
                detail=better or f"a wild jump (executing data) from "
                                 f"{self._jumper(jumper)}"))
            return
        if self._zeroed_jump_target(address, paddr, size, jumper):
            # Memory nothing was loaded into (the PS1's low RAM, a module's bss), which
            # every CPU here runs as no-ops up to whatever code lies beyond.  Stop at the
            # jump, and blame the block that made it.
            self._block = jumper
            self._record(self._report(
                "zeroed memory (not code)", "fetch", address, pc=address,
                detail=f"a wild jump from {self._jumper(jumper)}"))
            return
        if self.cpu.counts_vary:
            # a store of up to 4 bytes changes the block iff it starts in [paddr-3, paddr+size)
            self._code_halves.update(range((paddr - 3) >> 1, ((paddr + size - 1) >> 1) + 1))
        self._block_counts[block] = count

    def _execution_guard(self, paddr: int) -> tuple | None:
        """``(label, describe)`` of the execution guard over ``paddr``, once those that
        may be lifted there had their say; None when none forbids it."""
        again = True
        while again:
            again = False
            for start, end, label, describe, token in self._noexec:
                if start <= paddr < end:
                    lift = self._lifters.get(token)
                    if lift is not None and lift():
                        self.unguard(token)
                    if token not in self._guards:
                        again = True          # gone: the list was rebuilt, look again
                        break
                    return label, describe
        return None

    def _zeroed_jump_target(self, address: int, paddr: int, size: int, jumper) -> bool:
        """A jump (not a fall-through: a MIPS delay slot or a page split may be one lone
        ``nop`` block) to 16 or more zero bytes, which compiled code never branches to."""
        if jumper is not None and jumper[0] + jumper[1] == address:
            return False
        try:
            return not any(self.uc.mem_read(paddr, max(size, 16)))
        except unicorn.UcError:
            return False

    def _jumper(self, block: tuple[int, int] | None) -> str:
        """The block that jumped, for "a wild jump from ..." (the caller's frame)."""
        if block is None:
            return f"the call's start {self._describe(self._function or 0)}"
        return self._describe(block[0])

    def _forget_counts(self) -> None:
        self._block_counts.clear()
        self._code_halves.clear()

    def _on_code_write(self, uc, access, paddr, size, _value, _user_data):
        # a store that may rewrite counted code (stores are at most 4 bytes)
        if paddr >> 1 in self._code_halves or size > 4:
            self._forget_counts()

    def _on_guard(self, uc, access, paddr, size, value, token):
        """A store to a ``code`` guard or a fence, or a load from a fence (``_hook_guard``)."""
        guard = self._guards.get(token)
        if guard is None:
            return
        kind, _pstart, _pend, label = guard
        write = access == unicorn.UC_MEM_WRITE
        if write and self._clobbered is None:   # the store lands before the stop: put it back
            self._clobbered = (paddr, self._bytes_at(paddr, size))
        pc = self.reg("pc")
        vaddr = self.cpu.access_address(self, pc, paddr)
        if vaddr is None:
            vaddr = self.cpu.code_alias(paddr)
        what = f"{label} (read+execute)" if kind == "code" else label
        self._record(self._report(what, _ACCESS[access], vaddr, pc=pc, size=size,
                                  detail=f"value 0x{value & MASK32:x}" if write else ""))

    def _on_unmapped(self, uc, access, paddr, size, _value, _user_data):
        kind = _UNMAPPED_ACCESS.get(access, "access")
        pc = self.reg("pc")
        vaddr, detail = pc, ""
        if kind == "fetch":
            self._engine_suspect = True   # the aborted translation poisons the engine
        else:
            vaddr = self.cpu.access_address(self, pc, paddr)
            if vaddr is None:
                detail = f"physical address 0x{paddr:08x}"
        self._fault = self._fault or self._report("unmapped address", kind, vaddr, pc=pc,
                                                  size=size, detail=detail)
        return False

    def _on_interrupt(self, uc, intno, _user_data):
        # An exception escaping here (from a trap handler) is kept by unicorn's
        # Python binding, which stops emulation and re-raises it from emu_start.
        event = self.cpu.interrupt(self, intno)
        if isinstance(event, Trap):
            self._trap(event)
        elif isinstance(event, Redo):
            self.unaligned_accesses += 1
            self._apply(event)              # raised before the access: nothing to undo
        else:
            self._record_exception(event)

    def _record_exception(self, event: Exception_) -> None:
        self._engine_suspect |= event.engine_suspect
        self._record(self._report(event.cause, event.access, event.address, pc=event.pc,
                                  pc_exact=event.exact, size=event.size, detail=event.detail))

    # ------------------------------------------------- unaligned accesses, stack guard

    def _on_access(self, uc, access, paddr, size, _value, _user_data):
        # every data access of the program: keep the common path to one test
        if paddr & self._alignment[size]:
            self._misaligned(access, paddr, size)

    def _on_write(self, uc, access, paddr, size, _value, _user_data):
        # _on_access and _on_code_write in one hook: every store of the program
        if paddr & self._alignment[size]:
            self._misaligned(access, paddr, size)
        if paddr >> 1 in self._code_halves or size > 4:
            self._forget_counts()

    def _misaligned(self, access: int, paddr: int, size: int) -> None:
        if self._fault is not None or self._redo is not None:
            return                  # a later access of an instruction already being stopped
        pc = self.reg("pc")
        kind = _ACCESS.get(access, "access")
        if kind == "write":
            self._clobbered = (paddr, self._bytes_at(paddr, size))
        vaddr = self.cpu.access_address(self, pc, paddr)
        event = self.cpu.misaligned(self, pc, kind, paddr if vaddr is None else vaddr, size)
        if isinstance(event, Redo):
            self.unaligned_accesses += 1
            self._redo = (event, self._block)
            self.cpu.set_pc(self, self.fixup)          # ends the instruction after this access
        else:
            self._record_exception(event)

    def _bytes_at(self, paddr: int, size: int) -> bytes:
        try:
            return bytes(self.uc.mem_read(paddr, size))
        except unicorn.UcError:
            return b""                # runs off mapped memory: that part faults anyway

    def _restore_clobbered(self) -> None:
        if self._clobbered is not None:
            paddr, data = self._clobbered
            self._clobbered = None
            if data:
                self.uc.mem_write(paddr, data)

    def _on_fixup(self, uc, address, size, _user_data):
        if self._redo is None:
            return                    # a jump here: the poison faults
        (redo, block), self._redo = self._redo, None
        self._restore_clobbered()
        self._apply(redo)
        self._block = block           # a later fault must not blame the fixup

    def _apply(self, redo: Redo) -> None:
        for addr, data in redo.writes:
            self.write(addr, data)
        for name, value in redo.registers:
            self.set_reg(name, value)
        self.cpu.set_pc(self, redo.resume)

    def _add_stack_guard(self, uc: unicorn.Uc) -> None:
        pstart = self.space.translate(self.guard_base)
        uc.hook_add(unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE, self._on_stack_guard,
                    None, pstart, pstart + STACK_GUARD - 1)

    def _on_stack_guard(self, uc, access, paddr, size, _value, _user_data):
        pc = self.reg("pc")
        vaddr = self.cpu.access_address(self, pc, paddr)
        if vaddr is None:
            vaddr = self.guard_base + paddr - self.space.translate(self.guard_base)
        self._record(self._report("stack overflow", _ACCESS.get(access, "access"), vaddr, pc=pc,
                                  size=size, detail=self._overflow_hint()))

    def _overflow_hint(self) -> str:
        size = self.profile.stack_size
        return (f"the call needs more than the {size} bytes (0x{size:x}) of stack "
                f"0x{self.stack_base:08x}..0x{self.stack_top:08x} target '{self.profile.name}' "
                "gives it: use less stack (large local arrays, deep recursion) or raise "
                f"memory.stack_size in {self._profile_file}")

    @property
    def _profile_file(self) -> str:
        """The profile's TOML file, relative to the project when it is one of gamevm_build's."""
        source = Path(self.profile.source)
        try:
            return source.resolve().relative_to(_PROJECT).as_posix()
        except (ValueError, OSError):
            return str(source) if source.name else f"the profile of target '{self.profile.name}'"

    def _trap(self, trap: Trap) -> None:
        self.trap_pc, self._resume = trap.pc, None
        self._in_trap = True
        try:
            for handler in self._trap_handlers:
                if handler(self, trap.kind, trap.code) is not NotImplemented:
                    resume, self._resume = self._resume, None
                    self.cpu.set_pc(self, trap.resume if resume is None else resume)
                    self._block = None      # a later exception must not blame this block
                    return
        finally:
            self._in_trap = False
        cause = "break" if trap.kind == "break" else "syscall"
        self._record(self._report(cause, None, None, pc=trap.pc,
                                  detail=trap.text + ", no trap handler"))

    @property
    def last_block(self) -> tuple[int, int] | None:
        """``(start, size)`` of the translation block entered last (``track_blocks``)."""
        return self._block

    def word_at(self, addr: int) -> int | None:
        """The 32-bit word at ``addr``, or None where no RAM view covers it (never raises)."""
        return self._word_at(addr)

    def _word_at(self, addr: int) -> int | None:
        paddr = self.space.translate(addr, 4)
        if paddr is None:
            return None
        return int.from_bytes(self.uc.mem_read(paddr, 4), self._byteorder)

    def _report(self, cause: str, access: str | None, address: int | None, *, pc: int | None,
                pc_exact: bool = True, size: int | None = None, detail: str = "") -> FaultReport:
        link = self.cpu.link_register
        ra = self.reg(link) if link else None
        block = self._block
        if access == "fetch" and not detail:
            # a fetch fault is a jump to where no code is: name the code that jumped
            detail = f"a wild jump from {self._jumper(block)}"
        return FaultReport(
            cause=cause, access=access, address=address, pc=pc, ra=ra, pc_exact=pc_exact,
            size=size, detail=detail, function=self._function, block=block,
            address_symbol=self.symbolize(address), pc_symbol=self.symbolize(pc),
            ra_symbol=self.symbolize(ra), function_symbol=self.symbolize(self._function),
            block_symbol=self.symbolize(block[0]) if block else None)
