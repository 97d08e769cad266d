"""Exception hierarchy for gamevm_build.

Every error a user can cause derives from :class:`GameVMError`.  Front ends
(the ``gamevm`` CLI, the SCons tool) catch that one class and print its
message without a traceback; anything else escaping is a bug in gamevm_build.

Messages name what went wrong *where* (file, section, offset, symbol, config
key) and, when there is one, how to fix it.
"""

from __future__ import annotations


class GameVMError(Exception):
    """Base class of every error caused by user input or the environment."""

    #: CLI exit status for this class of error (2: usage/config/input).
    exit_status = 2


class ConfigError(GameVMError):
    """A profile, option or project configuration value is invalid.

    The message names the configuration key (or option) at fault.
    """


class ToolchainError(GameVMError):
    """A cross toolchain program is missing or failed (compiler, ld, ar)."""


class CompileError(ToolchainError):
    """The cross compiler refused a source file: the build failed (exit status 1).

    ``source`` is the file given to the compiler; ``header`` the ``#include`` it
    could not find, when that is why (``stdio.h``).
    """

    exit_status = 1

    def __init__(self, message: str, *, source: str | None = None, header: str | None = None):
        super().__init__(message)
        self.source = source
        self.header = header


class InputError(GameVMError):
    """An input file (object, archive, module, resident) cannot be used.

    Raised for unreadable or malformed files and for objects built for another
    target, ABI or float model.
    """


class LinkError(GameVMError):
    """Linking failed: duplicate or undefined symbols, unsupported sections."""

    exit_status = 1


class IsaError(LinkError):
    """Code uses instructions the console's CPU does not have (a build failure, exit 1).

    Raised for objects and archive members (module links), for the linked
    resident and for the library members a resident link pulls in, whether the
    code came from a C file, an assembly file or a prebuilt ``.o``.
    """


class RelocationError(LinkError):
    """A relocation is unsupported, malformed, or its result does not fit.

    Attributes name the object, section, offset, symbol and relocation type so
    that front ends and tests can inspect them without parsing the message.
    """

    def __init__(self, message: str, *, obj: str | None = None, section: str | None = None,
                 offset: int | None = None, symbol: str | None = None, rtype: str | None = None):
        super().__init__(message)
        self.obj = obj
        self.section = section
        self.offset = offset
        self.symbol = symbol
        self.rtype = rtype

    @classmethod
    def past_end(cls, obj: str, section: str, offset: int,
                 symbol: str | None = None) -> "RelocationError":
        """A relocation whose site runs past the end of its section (a malformed object)."""
        return cls(f"{location(obj, section, offset, symbol or None)}: relocation site runs "
                   "past the end of the section", obj=obj, section=section, offset=offset,
                   symbol=symbol)


class UndefinedSymbolError(LinkError):
    """Imports that nothing provides.

    ``missing`` maps each importing module (or object) to the sorted list of
    symbols it imports that no provider defines.
    """

    def __init__(self, message: str, missing: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.missing = dict(missing or {})


class PackError(GameVMError):
    """A module cannot be written in the shipping form asked for (``gamevm pack``)."""

    exit_status = 1


class ModuleFormatError(InputError):
    """A file claimed to be a GameVM module does not follow the Minimal ELF profile."""


class ModuleChecksumError(ModuleFormatError):
    """A well-formed module whose contents do not hash to the ``hash`` its metadata
    records: changed after it was linked (``lsBadChecksum``)."""

    exit_status = 1

    def __init__(self, message: str, *, recorded: str = "", actual: str = ""):
        super().__init__(message)
        self.recorded = recorded
        self.actual = actual
        self.module_name = ""          #: the metadata's name (read_module sets it)


class ImageDecodeError(ModuleFormatError):
    """A compressed module's ``.gvm.image`` header or block does not decode: what a
    loader finds only after reading the whole file (so after a trusted manifest's digest
    check, which a changed block fails first)."""

    def __init__(self, message: str, module_name: str = ""):
        super().__init__(message)
        self.module_name = module_name


def location(obj: str | None = None, section: str | None = None, offset: int | None = None,
             symbol: str | None = None) -> str:
    """Format ``obj:section+0xOFF (symbol 'x')`` consistently for messages."""
    text = obj or "<input>"
    if section is not None:
        text += f": section {section}"
        if offset is not None:
            text += f" offset 0x{offset:x}"
    if symbol:
        text += f" (symbol '{symbol}')"
    return text


class LayoutError(GameVMError):
    """A disc layout cannot be made or checked: a file does not fit the disc, or the
    mastered image read back differs from the plan (gamevm_build.layout)."""

    exit_status = 1


class EmulationError(GameVMError):
    """Running target code in the emulator failed (bad address, budget, misuse).

    Raised by :mod:`gamevm_build.emu` for host-side misuse too, e.g. reading an
    address no RAM view covers.
    """


class EmulationFault(EmulationError):
    """The emulated CPU faulted: unmapped access, unhandled trap or CPU exception.

    ``report`` is a :class:`gamevm_build.emu.fault.FaultReport` (address, access
    kind, pc, ra, symbolized); the message is its text.
    """

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


class EmulationTimeout(EmulationError):
    """A call ran out of its instruction budget (an endless loop, most likely)."""

    def __init__(self, message: str, *, function: int | None = None, budget: int | None = None,
                 pc: int | None = None):
        super().__init__(message)
        self.function = function
        self.budget = budget
        self.pc = pc
