"""Placing a module at an address: relocation and import binding.

:func:`relocate` is *the* implementation of what a GameVM loader does to a
module's bytes; ``gamevm prelink`` writes its result to a file (fixed-address
overlays, cartridge ROM), and the emulated console's loader calls it on the
bytes it copies into emulated RAM.  The arithmetic itself comes from the
architecture's relocation table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ..arch import RelocationOverflow, get_arch
from ..errors import ConfigError, RelocationError, UndefinedSymbolError
from ..fileutil import atomic_write
from .module import Module, read_module

Resolver = Callable[[str], "int | None"]


def check_base(module: Module, base: int) -> None:
    """Refuse a base address the module's alignment or the 32-bit space cannot take."""
    if base % module.align:
        raise ConfigError(f"--base 0x{base:08x}: module '{module.name}' needs "
                          f"{module.align}-byte alignment (try 0x{base - base % module.align + module.align:08x})")
    if not 0 <= base <= 0xFFFFFFFF - module.image_size:
        raise ConfigError(f"--base 0x{base:08x}: module '{module.name}' "
                          f"({module.image_size} bytes) does not fit the 32-bit address space")


def bind_imports(module: Module, resolve: Resolver) -> dict[str, int]:
    """Address of every import, or UndefinedSymbolError listing all strong misses.

    Weak imports nothing provides bind to 0, as in ELF.
    """
    bound, missing = {}, []
    for name, imp in sorted(module.imports.items()):
        addr = resolve(name)
        if addr is None:
            if not imp.weak:
                missing.append(name)
                continue
            addr = 0
        bound[name] = addr & 0xFFFFFFFF
    if missing:
        raise UndefinedSymbolError(
            f"module '{module.name}' ({module.path}): undefined import"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}: provide "
            f"{'them' if len(missing) > 1 else 'it'} in the resident or in a needed module",
            {module.name: missing})
    return bound


def relocate(module: Module, base: int, resolve: Resolver) -> bytearray:
    """The bytes ``module`` occupies in RAM when loaded at ``base``.

    Parameters
    ----------
    module : Module
    base : int
        Load address (aligned to ``module.align``).
    resolve : callable
        ``resolve(name) -> address or None`` for imports.

    Returns
    -------
    bytearray
        ``module.image_size`` bytes: code, data, zeroed bss, relocated and bound.

    Raises
    ------
    UndefinedSymbolError
        A strong import nothing provides.
    RelocationError
        A result does not fit its field (e.g. ``R_MIPS_26`` across 256 MB
        segments); names the section, offset, symbol and type.
    """
    check_base(module, base)
    bound = bind_imports(module, resolve)
    arch = get_arch(module.profile.arch)
    order = module.endian
    sections = module.sections
    image = module.unrelocated_image()
    for r in module.relocations:
        recipe = arch.relocations[r.type]
        if r.is_import:
            S = bound[r.symbol]
        else:
            S = base + sections[r.symbol][0]
        P = base + r.offset
        word = int.from_bytes(image[r.offset:r.offset + recipe.size], order)
        try:
            new = recipe.apply(word, S, r.addend, P)
        except RelocationOverflow as exc:
            if r.is_import and module.imports[r.symbol].weak and S == 0:
                continue  # unresolved weak call: the code tests the address before calling
            raise RelocationError(
                f"module '{module.name}': section {r.section} offset 0x{r.offset - sections[r.section][0]:x}"
                f" (module offset 0x{r.offset:x}, address 0x{P:08x}) {r.type_name} against "
                f"'{r.symbol}': {exc}", obj=module.path, section=r.section, offset=r.offset,
                symbol=r.symbol, rtype=r.type_name) from None
        image[r.offset:r.offset + recipe.size] = new.to_bytes(recipe.size, order)
    return image


def chain_resolver(*tables: Mapping[str, int]) -> Resolver:
    """Resolve names against symbol tables in order (resident first, then needed modules)."""
    def resolve(name: str) -> int | None:
        for table in tables:
            if name in table:
                return table[name]
        return None
    return resolve


def module_symbols(module: Module, base: int) -> dict[str, int]:
    """Absolute addresses of a module's exports when loaded at ``base``."""
    return {n: (base + e.value) & 0xFFFFFFFF if e.section else e.value
            for n, e in module.exports.items()}


def prelink_module(module: Module, base: int, symbols: Mapping[str, int]) -> bytearray:
    """:func:`relocate` with imports looked up in one ``symbols`` mapping."""
    return relocate(module, base, symbols.get)


def prelink_file(module_path, base: int, resident_path, needs=(), output=None) -> bytearray:
    """What ``gamevm prelink`` does: relocate a module file against a resident and modules.

    ``needs`` is a list of ``(module_path, base)`` of modules already placed.
    """
    from .resident import read_resident

    module = read_module(module_path)
    resident = read_resident(resident_path, module.profile)
    tables = [resident.symbols]
    for path, addr in needs:
        tables.append(module_symbols(read_module(path, expect_target=module.target), addr))
    image = relocate(module, base, chain_resolver(*tables))
    if output is not None:
        atomic_write(Path(output), bytes(image))
    return image
