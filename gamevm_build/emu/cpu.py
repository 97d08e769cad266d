"""What the emulator needs to know about one CPU family, as one object per family.

:class:`~gamevm_build.emu.machine.Machine` is family-neutral: it asks its
:class:`Cpu` how addresses translate, how a C call is set up and returns,
what a CPU exception means, how the runtime's traps are encoded and decoded,
what freed memory is filled with and what the loader's own little stubs look
like.  One subclass per family (:mod:`.mips`, :mod:`.m68k`, :mod:`.arm`),
picked by the profile's ``arch``, the way :mod:`gamevm_build.arch` picks the
relocation table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import ConfigError

MASK32 = 0xFFFFFFFF

#: Physical page every family keeps free for the host-return address (above the
#: PS1 BIOS and N64 PIF ROM, below GBA/Mega Drive/3DO hardware windows).
SENTINEL_PHYS = 0x1FFFF000


@dataclass(frozen=True)
class Trap:
    """A trap instruction the runtime services (``syscall``, ``svc``, ``trap #15``)."""

    pc: int                 # address of the trap instruction
    resume: int             # where execution continues when a handler returns
    kind: str               # "syscall" or "break"
    code: int               # the service number (GVM_SYS_* for gamevm.h calls)
    text: str               # as a disassembler prints it: "syscall 0x4700"


@dataclass(frozen=True)
class Exception_:
    """A CPU exception that is not a serviced trap: the machine reports it as a fault."""

    cause: str
    pc: int | None
    exact: bool = True
    access: str | None = None
    address: int | None = None
    size: int | None = None
    detail: str = ""
    engine_suspect: bool = False


@dataclass(frozen=True)
class Redo:
    """What an instruction the engine would get wrong does on the real CPU.

    The machine aborts the instruction before it changes anything it cannot
    undo, then stores ``writes``, sets ``registers`` and continues at ``resume``
    (bit 0 selects Thumb on ARM).
    """

    resume: int
    registers: tuple[tuple[str, int], ...] = ()
    writes: tuple[tuple[int, bytes], ...] = ()


class Cpu:
    """Family behaviour the machine delegates to (see the module docstring).

    Attributes
    ----------
    sentinel
        Virtual host-return address: calls return there and ``emu_start`` stops.
    result_register, stack_register, link_register
        Register names (``link_register`` is None when calls push the return address).
    trap_registers
        Where gamevm.h traps pass their arguments, in order.
    """

    arch = ""
    sentinel = SENTINEL_PHYS
    sentinel_phys = SENTINEL_PHYS
    result_register = ""
    stack_register = "sp"
    link_register: str | None = None
    trap_registers: tuple[str, ...] = ()
    #: bytes of one loader stub (``Cpu.stub``) and offset of its trap instruction
    stub_size = 8
    stub_trap_offset = 0
    #: ``{size: mask}``: a data access of ``size`` bytes at an address with a ``mask``
    #: bit set is one the engine makes differently from the real CPU, so the machine
    #: hooks every access and asks :meth:`misaligned` (empty: the engine already
    #: behaves like the CPU, as unicorn's MIPS raises address errors)
    alignment: dict[int, int] = {}
    #: :meth:`misaligned` may answer with a :class:`Redo` (else it only faults)
    redoes_accesses = False
    #: low address bits a fetched instruction must have clear (the 68000's odd pc)
    fetch_alignment = 0
    #: :meth:`instructions_in_block` depends on more than the block's size (its bytes, or
    #: the state the CPU runs it in): the machine then remembers each block's count and
    #: forgets every count when code it counted is written (see ``Machine._on_block``)
    counts_vary = False

    def __init__(self, profile):
        self.profile = profile
        self.byteorder = profile.byteorder

    # --- addresses ------------------------------------------------------------------
    def physical(self, vaddr: int) -> int | None:
        """Physical address the CPU reaches at ``vaddr`` (flat: the same), None if never."""
        return vaddr & MASK32

    def view_problem(self, start: int, physical: int) -> str | None:
        """Why a profile RAM view at ``start`` cannot show ``physical`` on this CPU."""
        if start != physical:
            return (f"a {self.arch} CPU has no address translation: the view must start at "
                    "its physical address (no mirrors)")
        return None

    def code_alias(self, paddr: int) -> int:
        """An address the CPU fetches ``paddr`` at (to drop translated code there)."""
        return paddr

    def configure(self, machine, uc) -> None:
        """Bring a new engine into the state calls start from."""

    # --- calls ----------------------------------------------------------------------
    def reg_id(self, name: str) -> int:
        raise NotImplementedError

    def setup_call(self, machine, addr: int, args) -> int:
        """Set registers and stack for ``addr(*args)`` returning to :attr:`sentinel`.

        Returns the address ``emu_start`` begins at (bit 0 chooses Thumb on ARM).
        """
        raise NotImplementedError

    def result(self, machine) -> int:
        return machine.reg(self.result_register)

    def set_result(self, machine, value: int) -> None:
        machine.set_reg(self.result_register, value)

    def trap_args(self, machine, n: int) -> list[int]:
        return [machine.reg(r) for r in self.trap_registers[:n]]

    # --- exceptions -----------------------------------------------------------------
    def interrupt(self, machine, intno: int) -> Trap | Exception_:
        raise NotImplementedError

    def misaligned(self, machine, pc: int, access: str, address: int,
                   size: int) -> Exception_ | Redo:
        """The real CPU's answer to the access :attr:`alignment` flags, made by the
        instruction at ``pc`` (registers and memory as before it): a fault, or what
        the instruction does instead."""
        raise NotImplementedError

    def fetch_fault(self, address: int) -> Exception_:
        """The fault of a jump to ``address``, which has a :attr:`fetch_alignment` bit set."""
        return Exception_("unaligned fetch", address, access="fetch", address=address)

    def access_address(self, machine, pc: int, paddr: int) -> int | None:
        """Virtual address of the access the instruction at ``pc`` made to ``paddr``."""
        return paddr

    def instructions_in_block(self, machine, address: int, size: int) -> int:
        """Instructions in the translation block of ``size`` bytes at ``address``, which
        the CPU is about to run (registers as at its first instruction)."""
        return size >> 2

    def set_pc(self, machine, addr: int) -> None:
        machine.set_reg("pc", addr)

    # --- code the runtime writes ----------------------------------------------------
    def poison(self, size: int) -> bytes:
        """Fill for freed memory: instructions that fault when executed."""
        raise NotImplementedError

    def stub(self, code: int) -> bytes:
        """:attr:`stub_size` bytes that trap with ``code`` when called as a function."""
        raise NotImplementedError

    def trampoline(self, next_code: int, resume_code: int) -> bytes:
        """The reload trampoline (:mod:`gamevm_build.runtime.reference`): keep the arguments, call
        each function the ``next_code`` trap returns until it returns 0, then jump to
        what the ``resume_code`` trap returns."""
        raise NotImplementedError

    # --- stack walking --------------------------------------------------------------
    def is_return_address(self, machine, value: int, is_code) -> bool:
        """``value`` points into code just after a call instruction."""
        raise NotImplementedError

    def return_registers(self) -> tuple[str, ...]:
        """Registers a return address may sit in (beyond the stack)."""
        return ()

    def _words(self, *words: int) -> bytes:
        return b"".join((w & MASK32).to_bytes(4, self.byteorder) for w in words)

    def _halves(self, *halves: int) -> bytes:
        return b"".join((h & 0xFFFF).to_bytes(2, self.byteorder) for h in halves)


def cpu_for(profile) -> Cpu:
    """The :class:`Cpu` of a profile's ``arch`` (``gamevm_build/emu/<arch>.py``)."""
    try:
        module = importlib.import_module(f"{__package__}.{profile.arch}")
        cls = module.CPU
    except (ModuleNotFoundError, AttributeError):
        raise ConfigError(f"{profile.source}: the emulator has no CPU family '{profile.arch}' "
                          f"(gamevm_build/emu/{profile.arch}.py)") from None
    return cls(profile)
