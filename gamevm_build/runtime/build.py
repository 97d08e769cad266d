"""Building the loader into a resident: the console-side C runtime or the host traps.

gamevm.h's loader API (``LoadModuleEx``, ``GetModuleProc``, ``UnloadModule``...) is
a set of functions the resident provides and modules import (seed §6.1).  A
resident gets one of two implementations:

* ``"target"``: the C runtime of ``gamevm_build/runtime/loader`` compiled for the
  console (freestanding C99, ``-Os``), plus the resident's **Global Symbol Table**:
  every global the resident defines, sorted by name, names stored once, which the
  runtime binary-searches to bind imports.  The table's entries are ``.4byte SYMBOL``
  so GNU ld fills in the addresses; its symbol set comes from a first link, and a
  second link adds the table (docs/runtime-c.md).
* ``"host"`` (default): ``gamevm_build/runtime/gvm_api_host.c``, whose traps reach
  the host's reference loader (:mod:`gamevm_build.runtime.reference`) on the emulated console.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..project.profile import Profile, available_targets, load_profile
from ..errors import ConfigError
from ..link.toolchain import Toolchain

RUNTIME_DIR = Path(__file__).resolve().parent
LOADER_DIR = RUNTIME_DIR / "loader"
INCLUDE_DIR = Path(__file__).resolve().parents[1] / "include"
CODEC_DIR = RUNTIME_DIR / "codec"          # decoders the runtime includes (gvm_runtime.c)
#: the runtime is one translation unit that includes the others (see its comment)
LOADER_SOURCES = ("gvm_runtime.c",)
HOST_SOURCES = ("gvm_api_host.c",)
RUNTIMES = ("host", "target")

#: gamevm.h's loader API: kept in every resident whatever the resident itself calls,
#: because modules loaded later import it
API = ("LoadModuleEx", "LoadModule", "LoadModuleFlags", "GetModuleProc", "UnloadModule",
       "LoadModuleAsyncEx", "LoadModuleAsync", "GameVMImport", "GameVMAsyncStatus",
       "GameVMFrame")
HOST_ONLY_API = ()
#: hot reload (gvm_reload.c): linked only into a resident that keeps them (a development
#: session's: gamevm dev adds them to a target runtime's --keep)
RELOAD_API = ("GameVMSetReload", "GameVMLoadCopy", "GameVMSwapCopy", "GameVMFreeCopy")
#: what the emulated console and games call to set the C runtime up
TARGET_ENTRY = ("GameVMInit", "GameVMAddRegion", "GameVMPlaceModule", "GameVMPairRegions",
                "GameVMAddNeed",
                "GameVMResidentSymbol",
                "GameVMSyncCode",
                "GameVMEmulatorReader", "GameVMEmulatorClock", "GameVMSetSlice",
                "gvm_debug_event", "gvm_records")
#: flags every runtime object gets on top of the profile's: each function in its own
#: section (what the game never calls is dropped), and no loop turned into a
#: memcpy/memset call the resident may not provide
RUNTIME_CFLAGS = ("-Os", "-ffunction-sections", "-fdata-sections",
                  "-fno-tree-loop-distribute-patterns", "-std=gnu99",
                  # merged byte stores become halfword stores the ARM60 lacks
                  "-fno-store-merging")

#: the profile's ``runtime_isa``: Thumb code for the runtime (its stub entry stays ARM; the
#: profile's -mthumb-interwork lets ARM and Thumb callers call it and it call them)
RUNTIME_ISA_FLAGS = {"thumb": ("-mthumb",)}

#: checked builds of the runtime (``GAMEVM_RUNTIME_CHECKS=bounds``, what bench/mutation_c.py
#: tests): an index past the end of one of the runtime's arrays (the module records, the
#: request queue, a table of needs) executes a trap instruction, which the emulated console
#: reports as a fault, instead of reading or writing what lies after it.  No runtime library
#: is needed; the code grows, so costs are measured from the shipping build only.
RUNTIME_CHECKS = {"bounds": ("-fsanitize=bounds", "-fsanitize-undefined-trap-on-error")}
CHECKS_VAR = "GAMEVM_RUNTIME_CHECKS"


def checked_flags() -> list[str]:
    """The compiler flags of the checked build ``GAMEVM_RUNTIME_CHECKS`` asks for (none
    when it is unset or empty)."""
    want = os.environ.get(CHECKS_VAR, "")
    if want and want not in RUNTIME_CHECKS:
        raise ConfigError(f"{CHECKS_VAR}={want!r} is not a checked build of the runtime; "
                          f"use one of {', '.join(sorted(RUNTIME_CHECKS))}, or unset it")
    return list(RUNTIME_CHECKS.get(want, ()))


#: per-operation costs measured from the runtime (bench/measure_runtime_costs.py)
COSTS_FILE = LOADER_DIR / "costs.json"


def runtime_sha256() -> str:
    """SHA-256 over what the runtime's measured costs depend on: its sources, the header
    generated for each console and the flags every console compiles it with."""
    import hashlib
    h = hashlib.sha256()
    for p in runtime_sources("target"):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    h.update(" ".join(RUNTIME_CFLAGS).encode() + b"\0")
    for name in available_targets():
        p = load_profile(name)
        h.update(name.encode() + b":" + " ".join(p.cflags).encode() +
                 (b"|" + p.runtime_isa.encode() if p.runtime_isa else b"") + b"\0" +
                 target_header(p).encode() + b"\0")
    return h.hexdigest()


def runtime_sources(runtime: str) -> list[Path]:
    """Every file the loader ``runtime`` is built from (a resident depends on them)."""
    if runtime == "target":
        return sorted(LOADER_DIR.glob("*.[ch]")) + runtime_codecs() + [
                                                   INCLUDE_DIR / "gamevm_runtime.h",
                                                   INCLUDE_DIR / "gamevm.h"]
    return [RUNTIME_DIR / s for s in HOST_SOURCES] + [INCLUDE_DIR / "gamevm.h"]


def runtime_codecs() -> list[Path]:
    """The decoders the console-side runtime includes (``#include "../codec/NAME.c"`` in
    gvm_runtime.c), with their headers: a decoder in ``codec/`` that the runtime does not
    include yet (measured by bench/bench_codecs.py first) changes neither the runtime's
    costs nor a resident."""
    import re
    names = re.findall(r'^#include "\.\./codec/(\w+)\.c"', (LOADER_DIR / "gvm_runtime.c")
                       .read_text(), re.M)
    return sorted(CODEC_DIR / f"{n}{ext}" for n in names for ext in (".c", ".h")
                  if (CODEC_DIR / f"{n}{ext}").exists())


#: in a resident with the console-side runtime, the host traps under these names let the
#: emulated console run the reference loader instead (Console(loader="host"))
HOST_PREFIX = "gvm_host_"
#: globals of the runtime for debuggers and the emulated console, not in the Global Symbol
#: Table modules bind against (the module records, where a handle's slot is)
NOT_FOR_MODULES = frozenset({"gvm_records"})


def keep_symbols(runtime: str) -> tuple[str, ...]:
    """Symbols a resident with ``runtime`` must keep through ``--gc-sections``."""
    if runtime == "target":
        return API + TARGET_ENTRY + tuple(HOST_PREFIX + n for n in API + HOST_ONLY_API)
    return API + HOST_ONLY_API


def target_header(profile: Profile) -> str:
    """``gvm_target.h``: this console and every known one (to tell a corrupt module
    from one built for another console, as the host's reader does)."""
    rows = []
    for name in available_targets():
        p = load_profile(name)
        rows.append(f'    {{"{p.name}", {p.e_machine}u, {int(p.big_endian)}u, '
                    f'GVM_FAMILY_{p.arch.upper()}, {p.isa_max}u, '
                    f'{int(p.float_abi == "soft")}u, {int(p.isa == "m68000")}u}},')
    sync = {"psx-bios": "GVM_CACHE_PSX_BIOS", "vr4300": "GVM_CACHE_VR4300"}.get(profile.code_sync)
    from ..arch.mips import MipsArch
    levels = MipsArch.ARCH_LEVELS                     # one table for the host and the console
    mips = [str(levels[n][1]) if n in levels else "255" for n in range(max(levels) + 1)]
    return "\n".join([
        f"/* generated by gamevm_build for target {profile.name} */",
        f'#define GVM_TARGET_NAME "{profile.name}"',
        f"#define GVM_BIG_ENDIAN {int(profile.big_endian)}",
        *[f"#define GVM_CODEC_{c.upper()} 1" for c in profile.codecs],
        *([f"#define {sync} 1"] if sync else []),
        f"#define GVM_TARGET_COUNT {len(rows)}",
        "/* the e_flags rules of gamevm_build.arch's check_object: MIPS ISA level, soft",
        " * float, 68000 only */",
        "static const struct { const char *name; u32 machine, big, family, isa_max, soft, "
        "m68000; } gvm_targets[] = {",
        *rows, "};",
        "/* EF_MIPS_ARCH -> the ISA level a target's isa_max is compared with (255: none) */",
        f"#define GVM_MIPS_ARCHS {len(mips)}",
        f"static const u8 gvm_mips_level[GVM_MIPS_ARCHS] = {{{', '.join(mips)}}};", ""])


def compile_runtime_loader(profile: Profile, tc: Toolchain, workdir: Path, runtime: str,
                           source_map=None) -> list[Path]:
    """Compile the loader implementation ``runtime`` selects; return the objects.

    ``source_map`` (a :class:`~gamevm_build.link.sources.SourceMap`) learns each object's source.
    """
    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime '{runtime}': choose {' or '.join(RUNTIMES)}")
    workdir = Path(workdir).resolve()       # the compiler runs there (below)
    gen = workdir / "gvm_gen"
    gen.mkdir(exist_ok=True)
    (gen / "gvm_target.h").write_text(target_header(profile))
    sources = [(RUNTIME_DIR / s, ()) for s in HOST_SOURCES]
    if runtime == "target":
        sources = [(LOADER_DIR / s, ()) for s in LOADER_SOURCES] + [
            (src, ("-DGVM_HOST_PREFIXED",)) for src, _ in sources]
    objs = []
    for src, defines in sources:
        obj = workdir / f"gamevm_{runtime}_{src.stem}.o"
        # the generated header by a relative name, the compiler run in `workdir`: the
        # command and the preprocessed text are then the same in every build (a
        # compiler cache's key: tests link hundreds of residents)
        flags, dirs = [*RUNTIME_CFLAGS, *defines], [gen.name, str(INCLUDE_DIR), str(LOADER_DIR)]
        if src.parent == LOADER_DIR:        # the runtime; the host traps' twins stay as they are
            flags += list(RUNTIME_ISA_FLAGS.get(profile.runtime_isa, ()))
            flags += checked_flags()
        tc.compile(src, obj, extra_flags=flags, include_dirs=dirs, cwd=workdir)
        if source_map is not None:
            source_map.add_compiled(tc, src, obj, flags, dirs, cwd=workdir)
        objs.append(obj)
    return objs


_INPUT = re.compile(r"^ (\.\S+)(?:\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+))?$")
_CONT = re.compile(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$")


def runtime_bytes(map_text: str, objects) -> dict[str, int]:
    """Bytes the runtime's ``objects`` put into the linked resident (GNU ld ``-Map``).

    Returns ``{"code": .text+.rodata, "data": .data+.bss, "table": the Global Symbol
    Table}`` counting only input sections the link kept.
    """
    names = {Path(o).name for o in objects}
    out = {"code": 0, "data": 0, "table": 0}
    lines = map_text.split("\n")
    try:
        start = lines.index("Linker script and memory map")
    except ValueError:
        return out
    pending = None
    for line in lines[start:]:
        if line.startswith("/DISCARD/"):
            break
        m = _INPUT.match(line)
        if m and m.group(2) is None:
            pending = m.group(1)
            continue
        if m:
            section, size, path = m.group(1), int(m.group(2), 16), m.group(3)
        elif pending and (c := _CONT.match(line)):
            section, size, path = pending, int(c.group(1), 16), c.group(2)
        else:
            pending = None
            continue
        pending = None
        base = Path(path).name
        if base not in names:
            continue
        if section.startswith(".rodata.gvm_gst"):
            out["table"] += size
        elif section.startswith((".text", ".rodata")):
            out["code"] += size
        elif section.startswith((".data", ".bss", ".sdata", ".sbss")):
            out["data"] += size
    return out


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gst_source(names, arch: str = "mips") -> str:
    """Assembly of the Global Symbol Table for the resident's global ``names``.

    ``gvm_gst`` holds ``{name pointer, address}`` pairs sorted by the names' bytes
    (the C runtime compares with strcmp), then ``gvm_gst_count``; the names follow,
    each once.  The table's two symbols are globals of the resident like any other,
    so it lists them too (the first link defines them with an empty table).
    """
    ordered = sorted(set(names), key=lambda n: n.encode("utf-8"))
    lines = ["/* generated by gamevm_build: the resident's Global Symbol Table */",
             '        .section .rodata.gvm_gst,"a"', "        .balign 4",
             "        .globl gvm_gst", "        .globl gvm_gst_count",
             "gvm_gst_count:", f"        .4byte {len(ordered)}", "gvm_gst:"]
    for i, name in enumerate(ordered):
        lines.append(f"        .4byte .Lgst_name{i}, {_quote(name)}")
    lines.append('        .section .rodata.gvm_gst_names,"a"')
    for i, name in enumerate(ordered):
        body = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03o}"
                       for b in name.encode("utf-8"))
        lines.append(f'.Lgst_name{i}: .asciz "{body}"')
    if arch != "arm":
        # data only: say so as the *-linux-gnu compilers' objects do, or GNU ld warns that
        # the stack might need to be executable (arm-none-eabi objects carry no such note)
        lines.append('        .section .note.GNU-stack,"",@progbits')
    return "\n".join(lines) + "\n"


def compile_gst(tc: Toolchain, workdir: Path, names, tag: str) -> Path:
    src = workdir / f"gvm_gst_{tag}.s"
    src.write_text(gst_source(names, tc.profile.arch))
    obj = workdir / f"gvm_gst_{tag}.o"
    tc.compile(src, obj)
    return obj


#: the console-side decoders of compressed segments (gvm_lz4.c)



def link_codecs(profile: Profile, tc: Toolchain, workdir: Path) -> Path:
    """The decoders alone (every ``codec/gvm_NAME.c``, entry ``gvm_NAME_decode``), linked
    at the resident's base for the emulated console (their tests and
    bench/bench_codecs.py call them there)."""
    workdir = Path(workdir)
    objs, entries = [], []
    for src in sorted(CODEC_DIR.glob("gvm_*.c")):
        obj = workdir / f"{src.stem}.o"
        tc.compile(src, obj, extra_flags=[*RUNTIME_CFLAGS, *checked_flags()],
                   include_dirs=[str(CODEC_DIR)])
        objs.append(obj)
        entries.append(f"{src.stem}_decode")
    return _link_alone(profile, tc, workdir / "codecs.elf", objs, entries)


def link_probe(profile: Profile, tc: Toolchain, workdir: Path, c_text: str,
               entries: list[str]) -> Path:
    """C text that includes parts of the runtime (``#include "gvm_reloc.c"``), compiled
    as the runtime is and linked alone at the resident's base: its ``entries`` reach
    the parts' static functions, so tests can call one on the emulated CPU."""
    workdir = Path(workdir)
    gen = workdir / "gvm_gen"
    gen.mkdir(exist_ok=True)
    (gen / "gvm_target.h").write_text(target_header(profile))
    src = workdir / "probe.c"
    src.write_text(c_text)
    obj = workdir / "probe.o"
    tc.compile(src, obj, extra_flags=[*RUNTIME_CFLAGS, *checked_flags(),
                                      *RUNTIME_ISA_FLAGS.get(profile.runtime_isa, ())],
               include_dirs=[str(gen), str(INCLUDE_DIR), str(LOADER_DIR)])
    return _link_alone(profile, tc, workdir / "probe.elf", [obj], entries)


def _link_alone(profile: Profile, tc: Toolchain, out: Path, objs, entries) -> Path:
    """``objs`` linked bare at the resident's base, keeping ``entries`` (the first is the
    entry point)."""
    from ..emu.elfimage import BARE_METAL_SCRIPT
    from ..link.toolchain import run
    script = out.with_suffix(".ld")
    script.write_text(BARE_METAL_SCRIPT.format(base=profile.resident_base))
    run([tc.gcc, *profile.cflags, "-nostdlib", "-nostartfiles", "-static", f"-Wl,-T,{script}",
         f"-Wl,-e,{entries[0]}", *(f"-Wl,--undefined={e}" for e in entries),
         *map(str, objs), *profile.ldflags, "-o", str(out)])
    return out
