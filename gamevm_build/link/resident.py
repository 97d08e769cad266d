"""The resident kernel: building it, reading any resident, checking modules against it.

The resident is a statically linked ELF executable at a fixed base.  Its
GLOBAL/WEAK defined symbols form the global symbol table modules bind
against (seed §6.1).  :func:`build_resident` links it with the target's own
gcc/ld and libgcc from a generated linker script, and forces in every symbol
the given modules import from it (``-u``), so ``--gc-sections`` never strips a
function only modules use: the problem libdragon solves with ``n64dso-extern``
and PSn00bSDK with a DO_NOT_STRIP array.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from ..errors import InputError, IsaError, LinkError, UndefinedSymbolError
from ..fileutil import Outputs, read_input
from ..project.profile import Profile, load_profile
from ..runtime.build import (NOT_FOR_MODULES, compile_gst, compile_runtime_loader, keep_symbols,
                             runtime_bytes)
from .toolchain import Toolchain, find_toolchain, run


@dataclass
class Resident:
    """A resident as loaders see it."""

    path: str
    entry: int
    symbols: dict[str, int]                      # global symbol table (32-bit addresses)
    segments: list[tuple[int, bytes, int, int]]  # (vaddr, file bytes, memsz, p_flags)
    sizes: dict[str, int] = field(default_factory=dict)   # symbol -> st_size
    kinds: dict[str, str] = field(default_factory=dict)   # symbol -> func/object/notype
    #: ``(start, end)`` of its executable sections: what the console guards against writes
    #: (its segments are read+write+execute, since it writes its own .data and, with the
    #: C runtime, module images)
    code: list[tuple[int, int]] = field(default_factory=list)

    @property
    def end(self) -> int:
        """First address after the resident's loaded segments."""
        return max((v + m for v, _, m, _ in self.segments), default=0)


def read_resident(path, profile: Profile | str | None = None) -> Resident:
    """Read any statically linked target ELF executable as a resident.

    ELF64 files and 32-bit MIPS values sign-extended to 64 bits (as some GNU
    ld configurations write them) are accepted; addresses are masked to the
    profile's 32 bits.  Segments outside the profile's RAM (binutils'
    ``.MIPS.abiflags`` segment at 0x00400000) are kept in ``segments`` but a
    loader ignores them.
    """
    if isinstance(profile, str):
        profile = load_profile(profile)
    path = str(path)
    try:
        f = io.BytesIO(read_input(path, "resident"))
    except FileNotFoundError:
        raise InputError(f"{path}: resident file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read resident: {exc.strerror}") from None
    with f:
        try:
            elf = ELFFile(f)
            if elf["e_type"] not in ("ET_EXEC", "ET_DYN"):
                raise InputError(f"{path}: is not an executable (ELF type {elf['e_type']}); a "
                                 "resident is a statically linked executable")
            if profile is not None:
                if elf["e_machine"] != profile.e_machine_name:
                    raise InputError(f"{path}: resident is for {elf['e_machine']}, target "
                                     f"{profile.name} needs {profile.e_machine_name}")
                if elf.little_endian != (profile.endian == "little"):
                    raise InputError(f"{path}: resident byte order does not match target "
                                     f"{profile.name} ({profile.endian}-endian)")
            symbols, sizes, kinds = {}, {}, {}
            symtab = elf.get_section_by_name(".symtab")
            if symtab is None:
                raise InputError(f"{path}: resident has no .symtab (do not strip it); modules "
                                 "bind against its symbol table")
            for sym in symtab.iter_symbols():
                if (sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK") and sym.name
                        and sym["st_shndx"] != "SHN_UNDEF" and sym.name not in NOT_FOR_MODULES):
                    symbols[sym.name] = sym["st_value"] & 0xFFFFFFFF
                    sizes[sym.name] = sym["st_size"]
                    kinds[sym.name] = {"STT_FUNC": "func", "STT_OBJECT": "object"}.get(
                        sym["st_info"]["type"], "notype")
            segments = [(seg["p_vaddr"] & 0xFFFFFFFF, seg.data(), seg["p_memsz"], seg["p_flags"])
                        for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"]
            entry = elf["e_entry"] & 0xFFFFFFFF
            code = [(sec["sh_addr"] & 0xFFFFFFFF, (sec["sh_addr"] + sec["sh_size"]) & 0xFFFFFFFF)
                     for sec in elf.iter_sections()
                     if sec["sh_flags"] & 0x6 == 0x6 and sec["sh_size"]   # SHF_ALLOC|SHF_EXECINSTR
                     and sec["sh_type"] == "SHT_PROGBITS"]
        except ELFError as exc:
            raise InputError(f"{path}: not a valid ELF file: {exc}") from None
    if profile is not None:
        segments = [s for s in segments if profile.ram_region_for(s[0], max(s[2], 1))]
        code = [c for c in code if profile.ram_region_for(c[0], c[1] - c[0])]
    return Resident(path, entry, symbols, segments, sizes, kinds, code)


def _missing_imports_message(missing: dict[str, list[str]], mods, by_name) -> str:
    """The resident's error for imports nothing provides: per importing module, the
    symbols, and for those another listed module exports, that module and the fix
    (a missing ``needs`` is the usual cause, and the module is right there)."""
    lines = []
    for mod, syms in sorted(missing.items()):
        lines.append(f"  module '{mod}' ({by_name[mod].path}) imports: {', '.join(syms)}")
        providers: dict[str, list[str]] = {}
        for sym in syms:
            for m in mods:
                if m.name != mod and sym in m.exports:
                    providers.setdefault(m.name, []).append(sym)
        for provider, provided in sorted(providers.items()):
            path = str(by_name[provider].path)
            # SCons runs links from the top directory: '#' keeps the path right in any
            # SConscript (a bare name would mean the calling SConscript's directory)
            top = path if os.path.isabs(path) else "#" + path
            lines.append(f"    {', '.join(provided)} exported by module '{provider}' "
                         f"({path}), which is not among the needs of '{mod}': add it "
                         f"(SCons: GAMEVM_NEEDS=[{top!r}], or the module's node, on the "
                         f"GameVMModule of '{mod}'; CLI: gamevm module ... --needs {path})")
    return ("imports provided by neither the resident nor the modules' needs:\n"
            + "\n".join(lines) + "\ndefine them in the resident's sources or add the "
            "providing module to the importing module's needs")


def _needed_closure(mod, by_name: dict) -> list:
    seen, stack, out = set(), list(mod.needs), []
    while stack:
        n = stack.pop(0)
        if n in seen or n not in by_name:
            continue
        seen.add(n)
        out.append(by_name[n])
        stack.extend(by_name[n].needs)
    return out


def check_imports(name: str, imports: dict[str, bool], exports, resident: Resident,
                  needed_modules) -> list[str]:
    """Check one module's imports against the resident and its needed modules.

    Parameters
    ----------
    imports : dict
        Import name -> True when the import is weak.
    exports : iterable of str
        Names the module exports.

    Returns the warnings for globals the module defines again (a second copy of
    the runtime); raises :class:`UndefinedSymbolError` for imports nobody provides.
    """
    provided = set(resident.symbols)
    for m in needed_modules:
        provided |= set(m.exports)
    missing = sorted(n for n, weak in imports.items() if n not in provided and not weak)
    if missing:
        raise UndefinedSymbolError(
            f"module '{name}' imports {', '.join(missing)}, which neither the resident "
            f"({resident.path}) nor its needed modules define", {name: missing})
    return [f"module '{name}' defines '{s}', which the resident ({resident.path}) also defines: "
            "the module will use its own copy (a second copy of the runtime?)"
            for s in sorted(set(exports) & set(resident.symbols))]


LINKER_SCRIPT = """\
/* generated by gamevm_build for target {target} */
OUTPUT_ARCH({arch})
ENTRY({entry})
SECTIONS
{{
  . = 0x{base:08x};
  __resident_start = .;
  .text : {{ KEEP(*(.text.boot .text.start)) *(.text .text.* .stub) }}
  .rodata : {{ *(.rodata .rodata.* .rdata) }}
  .init_array : {{ __init_array_start = .; KEEP(*(SORT_BY_INIT_PRIORITY(.init_array.*)))
                   KEEP(*(.init_array .ctors)) __init_array_end = .; }}
  .fini_array : {{ __fini_array_start = .; KEEP(*(SORT_BY_INIT_PRIORITY(.fini_array.*)))
                   KEEP(*(.fini_array .dtors)) __fini_array_end = .; }}
  .data : {{ *(.data .data.* .sdata .sdata.*) }}
  .bss (NOLOAD) : {{ . = ALIGN(16); __bss_start = .; *(.bss .bss.* .sbss .sbss.* COMMON)
                     . = ALIGN(16); __bss_end = .; }}
  . = ALIGN(16);
  __resident_end = .;
  _end = .;
  /DISCARD/ : {{ *(.comment) *(.pdr) *(.reginfo) *(.mdebug.*) *(.gnu.attributes)
                 *(.note.GNU-stack) *(.eh_frame) *(.gptab.*) }}
}}
"""

#: ld warnings that are expected when Debian's hard-float, abicalls libgcc is linked into
#: a non-abicalls (soft-float on psx) resident: its integer helpers run fine either way.
_BENIGN = re.compile(r"linking abicalls files with non-abicalls files|LOAD segment with RWX|"
                     r"uses -m(soft|hard)-float \(set by .*libgcc\.a|libgcc\.a.*uses -m(soft|hard)-float|"
                     r"uses -m(soft|hard)-float.*libgcc\.a|"
                     # consoles have no MMU: no stack is "executable" or not
                     r"missing \.note\.GNU-stack section implies executable stack|"
                     r"requires executable stack")


RUNTIME_DIR = Path(__file__).resolve().parents[1] / "runtime"


def compile_runtime(profile: Profile, tc: Toolchain, workdir: Path, sources=None) -> list[Path]:
    """Compile the profile's runtime helpers (``toolchain.runtime``) for a resident link."""
    objs = []
    for name in profile.runtime:
        obj = workdir / f"gamevm_runtime_{Path(name).stem}.o"
        tc.compile(RUNTIME_DIR / name, obj, extra_flags=["-ffunction-sections"])
        if sources is not None:
            sources.add_compiled(tc, RUNTIME_DIR / name, obj, ["-ffunction-sections"])
        objs.append(obj)
    return objs


_MEMBER = re.compile(r"^(\S+\.a)\(([^)]+)\)$")


def pulled_members(map_text: str) -> list[tuple[str, str, str]]:
    """``(archive, member, why)`` for each archive member in a GNU ld ``-Map`` file.

    ``why`` is the "file (symbol)" line ld gives as the reason it was included.
    """
    lines = map_text.split("\n")
    out = []
    try:
        start = lines.index("Archive member included to satisfy reference by file (symbol)")
    except ValueError:
        return out
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line and not line.startswith(" ") and not _MEMBER.match(line):
            break
        m = _MEMBER.match(line.strip()) if not line.startswith("  ") else None
        if m:
            why = lines[i + 1].strip() if i + 1 < len(lines) else ""
            out.append((m.group(1), m.group(2), why))
    return out


_WHY = re.compile(r"^(?:(?P<file>.*\S)\s+)?\((?P<symbol>[^()]+)\)$")


def _pulled_by(why: str, sources=None, importers=None) -> str:
    """ld's reason for pulling a member ("file (symbol)"), in the user's terms.

    A bare "(symbol)" is an ``ld --undefined``: the resident keeps the symbol
    for the modules that import it (``--modules``), or for ``--keep``.
    """
    m = _WHY.match(why)
    if m is None:
        return why
    symbol = m["symbol"]
    if m["file"]:
        member = _MEMBER.match(m["file"])
        if member:
            name = f"{Path(member[1]).name}({member[2]})"
        else:
            name = sources.name(m["file"]) if sources is not None else m["file"]
        return f"{name} ({symbol})"
    users = (importers or {}).get(symbol)
    if users:
        return (", ".join(users) + (" import " if len(users) > 1 else " imports ") + symbol)
    return f"the resident's kept symbols ({symbol}: --keep, or gamevm.h's loader API)"


def check_pulled_members(map_text: str, profile: Profile, sources=None, importers=None) -> None:
    """Fail when the link pulled archive code the console's CPU cannot run.

    ``importers`` maps a symbol the resident keeps for modules to descriptions
    of the modules that import it, so that a refusal names them.
    """
    from . import elf32
    from ..arch import get_arch

    arch = get_arch(profile.arch)
    cache: dict[str, dict[str, bytes]] = {}
    problems = []
    for archive, member, why in pulled_members(map_text):
        if archive not in cache:
            try:
                data = read_input(archive, "archive")
            except OSError:
                continue
            cache[archive] = {m.name: m.data for m in elf32.read_archive(data, archive)}
        body = cache[archive].get(member)
        if body is None:
            continue
        elf = elf32.parse(body, f"{archive}({member})")
        # ld --no-warn-mismatch links a little-endian member into a big-endian resident
        # (arm-none-eabi's libgcc on the 3DO); disassembled, its bytes are nonsense
        if elf.endian != profile.endian:
            problem = (f"{elf.endian}-endian code, and the {profile.cpu_name} of target "
                       f"{profile.name} is {profile.endian}-endian")
        else:
            problem = arch.isa_problem(elf, profile)
        if problem:
            problems.append(f"  {Path(archive).name}({member}), pulled in by "
                            f"{_pulled_by(why, sources, importers)}: {problem}")
    if problems:
        others = profile.toolchain_prefixes[:-1]
        raise IsaError(
            "the resident would contain library code the console cannot execute:\n"
            + "\n".join(problems) + "\nprovide these functions in the resident's own sources "
            "(compiled with the profile's flags), or "
            + (f"use a toolchain whose libgcc is built for this CPU ({', '.join(others)})"
               if others else "link a library built for this CPU ahead of libgcc"))


def check_resident_inputs(inputs, profile: Profile, sources=None) -> None:
    """Fail for input objects whose ELF flags name an instruction set the CPU lacks.

    That is how MIPS objects are judged (``-march=mips32r2`` code says so in
    e_flags; there is no disassembler check); consoles with one
    (``elf.isa``) have the linked code disassembled instead
    (:func:`check_resident_isa`), and archive members are checked when ld
    pulls them (:func:`check_pulled_members`).
    """
    if profile.isa:
        return
    from . import elf32
    from ..arch import get_arch

    arch = get_arch(profile.arch)
    march = next((f for f in profile.cflags if f.startswith(("-march=", "-mcpu="))),
                 "the profile's flags")
    problems = []
    for path in map(str, inputs):
        try:
            data = read_input(path, "input")
        except OSError as exc:
            raise InputError(f"{path}: cannot read input: {exc.strerror}") from None
        if elf32.is_archive(data):
            continue
        name = sources.name(path) if sources is not None else path
        problem = arch.isa_problem(elf32.parse(data, name, want_symbols=False), profile)
        if problem:
            problems.append(f"  {name}: {problem}")
    if problems:
        raise IsaError("the resident would contain code the console cannot execute:\n"
                       + "\n".join(problems) + f"\ncompile with {march}")


_MAP_INPUT = re.compile(r"^ (?P<section>\.\S+)(?:\s+0x(?P<addr>[0-9a-f]+)\s+0x(?P<size>[0-9a-f]+)"
                        r"\s+(?P<file>\S.*))?$")
_MAP_CONT = re.compile(r"^\s+0x(?P<addr>[0-9a-f]+)\s+0x(?P<size>[0-9a-f]+)\s+(?P<file>\S.*)$")


def input_sections(map_text: str) -> list[tuple[int, int, str, str]]:
    """``(address, size, file, section)`` of each input section a GNU ld ``-Map`` placed.

    ``file`` is an object as given to ld or ``archive(member)``; addresses are
    masked to 32 bits (MIPS ld may print them sign-extended).
    """
    lines = map_text.split("\n")
    try:
        start = lines.index("Linker script and memory map")
    except ValueError:
        return []
    out, pending = [], None
    for line in lines[start:]:
        if line.startswith("/DISCARD/"):
            break
        m = _MAP_INPUT.match(line)
        if m and m["addr"] is None:
            pending = m["section"]          # a long name: address and size on the next line
            continue
        if m is None and pending and (c := _MAP_CONT.match(line)):
            m, section = c, pending
        elif m is not None:
            section = m["section"]
        else:
            pending = None
            continue
        pending = None
        size = int(m["size"], 16)
        if size:
            out.append((int(m["addr"], 16) & 0xFFFFFFFF, size, m["file"].strip(), section))
    return out


def check_resident_isa(path: Path, output: Path, profile: Profile, map_text: str = "",
                       sources=None) -> None:
    """Fail when the linked resident's code uses instructions the console's CPU lacks.

    Each instruction is reported at its source line (or its object) through
    the link map, since the resident's own symbols only name functions.
    """
    if not profile.isa:
        return
    import bisect
    from dataclasses import replace

    from . import elf32
    from ..arch import get_arch
    from .sources import SourceMap, describe_lines

    placed = sorted(input_sections(map_text))
    starts = [p[0] for p in placed]
    sources = sources if sources is not None else SourceMap()

    def describe(violations):
        out = []
        for v in violations:
            i = bisect.bisect_right(starts, v.offset) - 1
            if i < 0 or v.offset >= placed[i][0] + placed[i][1]:
                out.append(v.describe(str(output)))
                continue
            addr, _, obj, section = placed[i]
            local = replace(v, section=section, offset=v.offset - addr)
            out += describe_lines([local], obj, sources, sources.name(obj), profile)
        return out

    report = get_arch(profile.arch).isa_report(
        elf32.parse(Path(path).read_bytes(), str(output)), profile, str(output), describe)
    if report:
        raise IsaError(f"the resident contains {report}\nchange the source as each hint says")


@dataclass
class ResidentResult:
    output: Path
    resident: Resident
    forced: list[str]
    warnings: list[str] = field(default_factory=list)
    #: which loader the resident carries (``"host"`` traps or the ``"target"`` C runtime)
    runtime: str = "host"
    #: bytes the loader adds: ``{"code", "data", "table"}`` (runtime_build.runtime_bytes)
    runtime_bytes: dict = field(default_factory=dict)
    #: library members ld pulled in, as ``archive(member)`` (each checked against the CPU)
    pulled: list[str] = field(default_factory=list)
    #: the debug file written beside the resident (None: no input has debug info)
    debug_file: Path | None = None


def build_resident(target, inputs, output, *, base: int | None = None, modules=(),
                   strict: bool = False, entry: str = "_start", keep=(),
                   toolchain: Toolchain | None = None, ldflags=(),
                   runtime: str = "host", sources=None) -> ResidentResult:
    """Link the resident kernel at ``base`` with the target toolchain and libgcc.

    Parameters
    ----------
    target : str
        Profile name.
    inputs : list of path
        Objects and archives (compile sources first; the CLI does).
    output : path
        Resident ELF to write (atomically).
    base : int, optional
        Link address (default: the profile's ``resident_base``).
    modules : list of path
        Built modules whose imports the resident must provide: each import not
        satisfied by the module's needed modules is forced into the link, and
        any import nobody provides fails the build naming module and symbol.
    strict : bool
        Make "module redefines a resident global" an error instead of a warning.
    keep : list of str
        More symbols to keep through ``--gc-sections`` (functions only the host
        or modules not listed in ``modules`` call); each must be defined.
    runtime : str
        The loader gamevm.h's API calls: ``"target"`` links the console-side C
        runtime and a Global Symbol Table, ``"host"`` the traps to the emulated
        console's reference loader (:mod:`gamevm_build.runtime.build`).
    sources : gamevm_build.link.sources.SourceMap, optional
        The source file of each compiled input: messages name it (and the
        source line of code the CPU cannot run) instead of the object.

    Raises
    ------
    ToolchainError, InputError, UndefinedSymbolError, LinkError, IsaError
    """
    from .module import read_module
    from .sources import SourceMap

    profile = load_profile(target) if isinstance(target, str) else target
    tc = toolchain or find_toolchain(profile)
    base = profile.resident_base if base is None else base
    if profile.ram_region_for(base) is None:
        raise InputError(f"--base 0x{base:08x} is not in target {profile.name}'s RAM "
                         f"({', '.join(f'{r.name} 0x{r.start:08x}-0x{r.end - 1:08x}' for r in profile.ram)})")
    mods = [read_module(m, expect_target=profile.name) for m in modules]
    by_name = {m.name: m for m in mods}
    forced: set[str] = set()
    importers: dict[str, list[str]] = {}     # symbol -> the modules it is kept for
    for m in mods:
        from_needs = set()
        for dep in _needed_closure(m, by_name):
            from_needs |= set(dep.exports)
        for n in m.imports:
            if n not in from_needs:
                forced.add(n)
                importers.setdefault(n, []).append(f"module '{m.name}' ({m.path})")
    forced |= set(keep)
    sources = sources if sources is not None else SourceMap(tc)
    check_resident_inputs(inputs, profile, sources)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".gamevm-resident-", dir=output.parent) as tmp:
        script = Path(tmp) / "resident.ld"
        script.write_text(LINKER_SCRIPT.format(target=profile.name, arch=profile.arch,
                                               entry=entry, base=base))
        tmp_out = Path(tmp) / output.name
        link_map = Path(tmp) / "resident.map"
        helpers = compile_runtime(profile, tc, Path(tmp), sources)
        loader = compile_runtime_loader(profile, tc, Path(tmp), runtime, sources)
        api = sorted(set(keep_symbols(runtime)) - forced)

        def link(extra: list[Path]) -> str:
            tmp_out.unlink(missing_ok=True)
            cmd = [tc.gcc, *profile.cflags, "-nostdlib", "-nostartfiles", "-static",
                   f"-Wl,-T,{script}", "-Wl,--gc-sections", "-Wl,--build-id=none",
                   # -n: no page alignment, so nothing (not even ELF headers) loads below base
                   "-Wl,-n", f"-Wl,-Map,{link_map}",
                   # ld refuses Debian's mips32r2 libgcc next to older-ISA objects outright;
                   # we check every member it pulls ourselves (check_pulled_members), with a
                   # message that says what to do
                   "-Wl,--no-warn-mismatch",
                   *(f"-Wl,--undefined={s}" for s in sorted(forced) + api),
                   *map(str, inputs), *map(str, loader + extra + helpers), "-lgcc",
                   *profile.ldflags, *ldflags, "-o", str(tmp_out)]
            stderr = sources.rewrite(run(cmd, check=False))
            if not tmp_out.exists():
                # library code built for another CPU often fails ld itself (Debian's MIPS
                # libgcc wants a GOT): say what it is and who pulled it, when the map tells
                if link_map.exists():
                    check_pulled_members(link_map.read_text(), profile, sources, importers)
                raise LinkError(f"resident link failed for target {profile.name}:\n{stderr.strip()}")
            return stderr

        gst: list[Path] = []
        if runtime == "target":
            # the table lists what the first link defines; the second link adds it
            link([compile_gst(tc, Path(tmp), (), "empty")])
            names = read_resident(tmp_out, profile).symbols
            gst = [compile_gst(tc, Path(tmp), names, "final")]
        stderr = link(gst)
        # the host traps linked beside the runtime only serve the emulator: not counted
        sizes = runtime_bytes(link_map.read_text(),
                              [o for o in loader if "api_host" not in o.name] + gst)
        map_text = link_map.read_text()
        check_pulled_members(map_text, profile, sources, importers)
        check_resident_isa(tmp_out, output, profile, map_text, sources)
        warnings = [line for line in stderr.splitlines()
                    if "warning" in line and not _BENIGN.search(line)]
        resident = read_resident(tmp_out, profile)
        resident.path = str(output)   # messages name the output, not the temporary file
        unkept = sorted(set(keep) - set(resident.symbols))
        if unkept:
            raise LinkError(f"--keep names symbols the resident does not define: {', '.join(unkept)}")
        if entry not in resident.symbols:
            raise LinkError(f"resident has no entry symbol '{entry}': define {entry}() in the "
                            "resident's sources")
        missing: dict[str, list[str]] = {}
        for m in mods:
            deps = _needed_closure(m, by_name)
            try:
                warnings += check_imports(m.name, {n: i.weak for n, i in m.imports.items()},
                                          m.exports, resident, deps)
            except UndefinedSymbolError as exc:
                missing.update(exc.missing)
        if missing:
            raise UndefinedSymbolError(_missing_imports_message(missing, mods, by_name),
                                       missing)
        dup = [w for w in warnings if "also defines" in w]
        if strict and dup:
            raise LinkError("strict mode (--strict, GAMEVM_STRICT): " + "; ".join(dup))
        from .debugfile import debug_path, inputs_have_debug, remove_stale, split_resident

        debug = split_resident(tc, tmp_out, keep=inputs_have_debug(inputs))
        debug_file = debug_path(output) if debug is not None else None
        with Outputs() as outs:
            outs.write(output, tmp_out.read_bytes())
            if debug is not None:
                outs.write(debug_file, debug, "debug file")
        if debug is None:
            remove_stale(output)
    pulled = [f"{archive}({member})" for archive, member, _ in pulled_members(map_text)]
    return ResidentResult(output, resident, sorted(forced), warnings, runtime, sizes, pulled,
                          debug_file)
