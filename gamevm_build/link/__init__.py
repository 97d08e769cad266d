"""Build-time ELF work: from cross-compiled objects to Minimal ELF modules and residents.

:mod:`~gamevm_build.link.elf32` reads and writes ELF32 for every console,
:mod:`~gamevm_build.link.linker` links objects into one relocatable module (the
relocation semantics live once per architecture in :mod:`gamevm_build.arch`),
:mod:`~gamevm_build.link.modformat` and :mod:`~gamevm_build.link.module` write and
read the module format (docs/format.md), :mod:`~gamevm_build.link.resident` links
the statically placed kernel with GNU ld and the loader runtime
(:mod:`gamevm_build.runtime.build`), :mod:`~gamevm_build.link.prelink` fixes modules
at known bases, :mod:`~gamevm_build.link.debugfile` writes the ``.debug`` files gdb
reads, :mod:`~gamevm_build.link.toolchain` finds the cross compilers.

This world imports the console profiles (:mod:`gamevm_build.project`), the
relocation recipes (:mod:`gamevm_build.arch`) and the shared ``errors``/``fileutil``;
it never runs code, so it imports nothing of :mod:`gamevm_build.emu` or
:mod:`gamevm_build.play`.
"""
