"""Emulator-backed execution of target code: a console's CPU and RAM in unicorn.

:class:`~gamevm_build.emu.machine.Machine` is built from a target profile,
loads statically linked executables and calls their functions with the
target's C calling convention; faults and runaway loops become
:class:`~gamevm_build.errors.EmulationFault` (with a
:class:`~gamevm_build.emu.fault.FaultReport`) and
:class:`~gamevm_build.errors.EmulationTimeout`; :mod:`~gamevm_build.emu.stackwalk`
walks the emulated CPU's stack (safe mode, fault reports, debug).

This world knows CPUs and memory only: it imports :mod:`gamevm_build.project`
(profiles), :mod:`gamevm_build.arch` and the shared ``errors``, never the loaders.
"""

from .fault import FaultReport
from .machine import DEFAULT_SECONDS, Machine

__all__ = ["DEFAULT_SECONDS", "FaultReport", "Machine"]
