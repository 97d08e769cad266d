#!/usr/bin/env python3
"""Bytes per relocation, plain (RELA + symbols) against packed, per console (issue 14).

Three sets of modules, each linked by ``gamevm_build`` for every console from C with the
console's cross compiler, as ``gamevm module`` compiles it (the profile's flags, ``-O2``):

``example``
    the example game's modules (``examples/game``: physics, level1, boss; the boss Thumb
    code on the GBA, as its SConscript builds it);
``corpus``
    the test corpus: ``tests/corpus/consoles`` (calls.c and other.c, one module) and
    ``tests/corpus/native`` (physics, and level that needs it);
``library``
    real C libraries: the stb single-file libraries of Debian's ``libstb-dev``
    (``/usr/include/stb``), compiled by ``tests/corpus/stb/*.c`` as modules:
    ``stb_image`` (PNG, JPEG, GIF, BMP, TGA, PSD, PIC and PNM decoders: Huffman and
    zigzag tables, the JPEG decoder's IDCT and colour-conversion function pointers), on
    every console but the 3DO, and ``stb_c_lexer`` (a C tokenizer) on all five.  The
    3DO's ARM60 has no halfword loads and gcc cannot target ARMv3, so stb_image's
    16-bit tables do not build for it (gamevm's ISA check refuses them).  The few libc
    functions they call (malloc, memcpy, strtol ...) are declared by
    ``tests/corpus/stb/include`` and imported from the resident.

Per set and console it prints the relocations, the RELA bytes a plain module carries
(12 each), with its symbols (``.symtab`` and ``.strtab``, kept in every form for crash
reports), and the ``.gvm.relpack`` bytes of the same module ``gamevm pack --form packed``
writes, per relocation; the goal is at most 2.0 packed bytes per relocation.

    python bench/bench_relocs.py [--target psx ...] [--check]

``--check`` exits 1 when a set misses the goal on a console.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gamevm_build import INCLUDE_DIR  # noqa: E402
from gamevm_build.link import elf32 as E  # noqa: E402

GOAL = 2.0
SETS = ("example", "corpus", "library")
EXAMPLE = REPO / "examples" / "game"
CORPUS = REPO / "tests" / "corpus"
STB_DIR = Path("/usr/include/stb")
STB = CORPUS / "stb"
#: module -> (sources, needs); the example's SConscript builds them so
EXAMPLE_MODULES = {"physics": (["physics/fixed.c", "physics/body.c"], []),
                   "level1": (["level1/level1.c", "level1/map.c"], ["physics"]),
                   "boss": (["boss/boss.c"], ["physics"])}
#: the library modules, and the consoles whose CPU runs them
LIBRARY_MODULES = {"stb_image": ("psx", "n64", "segacd", "gba"),
                   "stb_c_lexer": ("psx", "n64", "segacd", "gba", "3do")}


@dataclass(frozen=True)
class Figures:
    """One module's relocation bytes in each form."""

    name: str
    relocations: int
    rela: int            # the plain module's .rela.* sections
    symbols: int         # .symtab and .strtab (the same in every form)
    packed: int          # the packed module's .gvm.relpack


def library_available() -> bool:
    """Whether libstb-dev's headers are installed (``apt-get install libstb-dev``)."""
    return all((STB_DIR / f"{name}.h").is_file() for name in LIBRARY_MODULES)


def figures(path: Path) -> Figures:
    """The relocation bytes of the module at ``path`` (any form) plain and packed."""
    from gamevm_build.link.module import read_module
    from gamevm_build.link.shipform import convert
    data = convert(path.read_bytes(), "plain", path=str(path))
    elf = E.parse(data, str(path))
    sizes = {s.name: s.size for s in elf.sections}
    packed = read_module(convert(data, "packed", path=str(path)), name=path.stem)
    return Figures(path.stem, len(packed.relocations),
                   sum(s.size for s in elf.sections if s.type == E.SHT_RELA),
                   sizes.get(".symtab", 0) + sizes.get(".strtab", 0), packed.relpack_size)


def _link(target: str, name: str, sources: list, work: Path, *, flags=(), include=(),
          needs=(), per_source=None) -> Path:
    """Compile ``sources`` as ``gamevm module`` does and link the plain module ``name``."""
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.toolchain import find_toolchain
    tc = find_toolchain(target)
    objs = []
    for src in map(Path, sources):
        obj = work / f"{name}_{src.stem}.o"
        extra = [*flags, *((per_source or {}).get(src.name, ()))]
        tc.compile(src, obj, extra_flags=extra, include_dirs=[*include, INCLUDE_DIR])
        objs.append(obj)
    out = work / f"{name}.elf"
    link_module(target, objs, out, name=name, needs=[work / f"{n}.elf" for n in needs])
    return out


def example_modules(target: str, work: Path) -> list[Path]:
    thumb = ["-mthumb"] if target == "gba" else []
    return [_link(target, name, [EXAMPLE / s for s in srcs], work, include=[EXAMPLE / "include"],
                  flags=["-Wall", "-Wextra"] + (thumb if name == "boss" else []), needs=needs)
            for name, (srcs, needs) in EXAMPLE_MODULES.items()]


def corpus_modules(target: str, work: Path) -> list[Path]:
    native = CORPUS / "native"
    thumb = {"other.c": ["-mthumb"]} if target == "gba" else {}   # as tests/test_consoles.py
    return [_link(target, "calls", [CORPUS / "consoles" / "calls.c",
                                    CORPUS / "consoles" / "other.c"], work, per_source=thumb),
            _link(target, "physics", [native / "physics.c"], work, include=[native]),
            _link(target, "level", [native / "level.c"], work, include=[native],
                  needs=["physics"])]


def library_modules(target: str, work: Path) -> list[Path]:
    return [_link(target, name, [STB / f"{name}.c"], work, include=[STB / "include", STB_DIR])
            for name, consoles in LIBRARY_MODULES.items() if target in consoles]


BUILDERS = {"example": example_modules, "corpus": corpus_modules, "library": library_modules}


def per_relocation(rows: list[Figures]) -> dict:
    """The set's totals: relocations, and bytes per relocation plain (RELA, RELA +
    symbols) and packed (``.gvm.relpack``, and with the symbols)."""
    n = sum(r.relocations for r in rows)
    rela, syms, packed = (sum(getattr(r, k) for r in rows) for k in ("rela", "symbols", "packed"))
    return {"modules": len(rows), "relocations": n, "rela": rela / n,
            "plain": (rela + syms) / n, "packed": packed / n, "packed_symbols": (packed + syms) / n}


def measure(target: str, sets=SETS) -> dict[str, dict]:
    """Set name -> :func:`per_relocation` of its modules linked for ``target``."""
    out = {}
    for name in sets:
        with tempfile.TemporaryDirectory(prefix="bench_relocs-") as tmp:
            out[name] = per_relocation([figures(p) for p in BUILDERS[name](target, Path(tmp))])
    return out


def main(argv=None) -> int:
    from gamevm_build.project.profile import available_targets
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", action="append", help="console (repeatable; default all)")
    ap.add_argument("--check", action="store_true", help=f"exit 1 if a set packs into more "
                                                         f"than {GOAL} bytes a relocation")
    args = ap.parse_args(argv)
    sets = SETS if library_available() else SETS[:2]
    if len(sets) < len(SETS):
        print("bench_relocs: libstb-dev is not installed (apt-get install libstb-dev): "
              "no library set", file=sys.stderr)
    print("bench_relocs: bytes per relocation, plain (RELA, + symbols) vs packed "
          "(.gvm.relpack, + symbols)")
    print(f"  {'console':<7} {'set':<8} {'modules':>7} {'relocs':>6} {'RELA':>5} "
          f"{'+syms':>6} {'packed':>6} {'+syms':>6}")
    missed = []
    for target in args.target or available_targets():
        for name, f in measure(target, sets).items():
            print(f"  {target:<7} {name:<8} {f['modules']:>7} {f['relocations']:>6} "
                  f"{f['rela']:>5.1f} {f['plain']:>6.2f} {f['packed']:>6.2f} "
                  f"{f['packed_symbols']:>6.2f}")
            if f["packed"] > GOAL:
                missed.append(f"{target} {name}: {f['packed']:.2f}")
    print(f"  goal: packed <= {GOAL} bytes a relocation per set and console: "
          + ("met" if not missed else "NOT met (" + ", ".join(missed) + ")"))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
