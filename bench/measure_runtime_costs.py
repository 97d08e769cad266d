"""Measure what the console-side runtime costs, per operation, on each console's emulated CPU.

The load-budget analyzer charges a module's CPU time from per-operation costs
(``gamevm_build.runtime.loadcost``).  This script measures those costs from the runtime
itself (docs/runtime-c.md): for each console it links synthetic modules that
differ in exactly one quantity (relocations of one type, local symbols, exported
symbols, imports, bss bytes, constructors, metadata bytes), loads each with the
runtime's ``LoadModuleEx`` on the emulated console, and takes the slope of the
executed instructions between two sizes (so fixed costs cancel).  The module
with none of them gives the fixed cost.  Binding is measured against two residents
whose Global Symbol Tables differ in size, which separates the cost per import from
the cost per binary-search probe.

    python bench/measure_runtime_costs.py             # prints the table
    python bench/measure_runtime_costs.py --write     # also writes the package's costs file

``--write`` stores the figures in ``gamevm_build/runtime/loader/costs.json`` with the
SHA-256 of the runtime's sources; ``tests/test_target_runtime.py`` fails when the
sources change and the file was not re-measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS = ("psx", "n64", "segacd", "gba", "3do")
SMALL, LARGE = 8, 72
GST_SMALL, GST_LARGE = 80, 1024

# Assembly per CPU family: one site of each relocation type, referring to a local label
# `t` in the module (MIPS HI16 needs its LO16, so they are measured as a pair and the
# LO16 alone).
SITES = {
    "mips": {"R_MIPS_32": ("data", ".word t"),
             "R_MIPS_26": ("text", "jal t\n        nop"),
             "R_MIPS_LO16": ("text", "addiu $2, $2, %lo(t)"),
             "R_MIPS_HI16+R_MIPS_LO16": ("text", "lui $2, %hi(t)\n        addiu $2, $2, %lo(t)")},
    "m68k": {"R_68K_32": ("data", ".long t")},
    "arm": {"R_ARM_ABS32": ("data", ".word t")},
}
#: measured as another type's cost: fields of the same width patched the same way
SAME_AS = {"R_68K_16": "R_68K_32", "R_68K_8": "R_68K_32", "R_ARM_TARGET1": "R_ARM_ABS32"}


def asm(arch: str, text: str = "", data: str = "", bss: int = 0, locals_: int = 0,
        exports: int = 0, ctors: int = 0, imports: int = 0, isa: str = "") -> str:
    word = ".long" if arch == "m68k" else ".word"
    # a constructor called from Thumb code must return with bx on ARMv4T (the ARMv3 has none)
    ret = {"mips": "jr $31\n        nop", "m68k": "rts",
           "arm": "bx lr" if isa == "armv4t" else "mov pc, lr"}[arch]
    out = ["        .text", "        .globl entry", "entry:", "t:      " + ret]
    if text:
        out += ["        " + text]
    out += [f"l{i}:     {ret}" for i in range(locals_)]
    for i in range(exports):
        out += [f"        .globl e{i}", f"e{i}:     {ret}"]
    out += ["        .data", "        .balign 4", "d:      " + word + " 0"]
    if data:
        out += ["        " + data]
    out += [f"        {word} k_fn{i}" for i in range(imports)]
    if ctors:
        out += ['        .section .init_array,"aw"', "        .balign 4"]
        out += [f"        {word} t" for _ in range(ctors)]
    if bss:
        out += ["        .bss", f"        .space {bss}"]
    return "\n".join(out) + "\n"


def repeat(snippet: str, n: int) -> str:
    return "\n        ".join([snippet] * n)


class Bench:
    def __init__(self, target: str, tmp: Path):
        from gamevm_build.project.profile import load_profile
        from gamevm_build.link.toolchain import find_toolchain
        self.target, self.tmp = target, tmp
        self.profile = load_profile(target)
        self.arch = self.profile.arch
        self.tc = find_toolchain(target)
        self.residents = {n: self.resident(n) for n in (GST_SMALL, GST_LARGE)}
        self.count = 0

    def resident(self, symbols: int) -> Path:
        from gamevm_build.link.resident import build_resident
        src = self.tmp / f"kernel{symbols}.c"
        src.write_text("void _start(void) {}\n" + "".join(
            f"int k_fn{i}(void) {{ return {i}; }}\n" for i in range(symbols)))
        obj = self.tc.compile(src, self.tmp / f"kernel{symbols}.o",
                              extra_flags=["-ffunction-sections"])
        out = self.tmp / f"kernel{symbols}.elf"
        build_resident(self.target, [obj], out, runtime="target",
                       keep=[f"k_fn{i}" for i in range(symbols)])
        return out

    def module(self, source: str, name: str = "m") -> Path:
        from gamevm_build.link.linker import link_module
        self.count += 1
        d = self.tmp / f"mod{self.count}"
        d.mkdir()
        src = d / "m.s"
        src.write_text(source)
        obj = self.tc.compile(src, d / "m.o")
        link_module(self.target, [obj], d / f"{name}.elf", name=name)
        return d

    def instructions(self, source: str, *, gst: int = GST_SMALL, name: str = "m") -> int:
        from gamevm_build.play.console import Console
        from gamevm_build.runtime.reference import TLoadStatus
        d = self.module(source, name)
        c = Console(self.target, self.residents[gst], search_paths=[d], loader="target")
        before = c.machine.instructions
        _handle, status = c.loader.load_module(name)
        if status != TLoadStatus.lsSuccess:
            raise SystemExit(f"measure: {self.target}: a synthetic module failed: {status.name}")
        return c.machine.instructions - before

    def slope(self, make, **kw) -> float:
        return (self.instructions(make(LARGE), **kw) - self.instructions(make(SMALL), **kw)) \
            / (LARGE - SMALL)


def measure(target: str, tmp: Path) -> dict:
    import math
    b = Bench(target, tmp)
    a = b.arch

    def src(arch, **kw):                   # with this console's return instruction
        return asm(arch, isa=b.profile.isa, **kw)
    row: dict = {"reloc": {}}
    for rtype, (where, snippet) in SITES[a].items():
        kw = "text" if where == "text" else "data"
        row["reloc"][rtype] = b.slope(lambda n: src(a, **{kw: repeat(snippet, n)}))
    if a == "mips":
        pair = row["reloc"].pop("R_MIPS_HI16+R_MIPS_LO16")
        row["reloc"]["R_MIPS_HI16"] = pair - row["reloc"]["R_MIPS_LO16"]
    for rtype, same in SAME_AS.items():
        if same in row["reloc"]:
            row["reloc"][rtype] = row["reloc"][same]
    word = next(iter(t for t in row["reloc"] if t.endswith(("_32", "ABS32"))))
    row["per_local_symbol"] = b.slope(lambda n: src(a, locals_=n))
    row["per_export"] = b.slope(lambda n: src(a, exports=n))
    row["zero_per_byte"] = b.slope(lambda n: src(a, bss=64 * n)) / 64
    ctor_body = 2 if a == "mips" else 1
    row["ctor_call"] = b.slope(lambda n: src(a, ctors=n)) - row["reloc"][word] - ctor_body
    # an import: its relocation, its symbol, and a lookup of ceil(log2(n+1)) probes
    small, large = (b.slope(lambda n: src(a, imports=n), gst=g) - row["reloc"][word]
                    for g in (GST_SMALL, GST_LARGE))
    from gamevm_build.link.resident import read_resident
    probes = [math.ceil(math.log2(len(read_resident(b.residents[g], target).symbols) + 1))
              for g in (GST_SMALL, GST_LARGE)]
    row["bind_per_probe"] = max((large - small) / (probes[1] - probes[0]), 0.0)
    row["bind_fixed"] = small - row["bind_per_probe"] * probes[0]
    row["per_metadata_byte"] = (b.instructions(src(a), name="m" + "x" * 160)
                                - b.instructions(src(a), name="m")) / 160
    row["module_fixed"] = b.instructions(src(a))
    return {k: (round(v, 2) if isinstance(v, float) else
                {t: round(x, 2) for t, x in sorted(v.items())} if isinstance(v, dict) else v)
            for k, v in sorted(row.items())}


def main(argv=None) -> int:
    from gamevm_build.runtime.build import COSTS_FILE, runtime_sha256
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", action="append", choices=TARGETS)
    p.add_argument("--write", action="store_true",
                   help=f"write the figures to {COSTS_FILE.relative_to(REPO)}")
    args = p.parse_args(argv)
    targets = args.target or list(TARGETS)
    results = {}
    with tempfile.TemporaryDirectory(prefix="measure-runtime-") as tmp:
        for t in targets:
            d = Path(tmp) / t
            d.mkdir()
            results[t] = measure(t, d)
            print(f"{t:7} {json.dumps(results[t])}")
    if args.write:
        doc = json.loads(COSTS_FILE.read_text()) if COSTS_FILE.exists() else {}
        doc.update({
            "runtime_sha256": runtime_sha256(),
            "unit": "instructions executed by the console-side runtime on the emulated CPU",
            "method": "bench/measure_runtime_costs.py: slopes between synthetic modules of "
                      f"{SMALL} and {LARGE} items; bind against residents of {GST_SMALL} and "
                      f"{GST_LARGE} extra symbols",
        })
        doc.setdefault("targets", {}).update(results)
        COSTS_FILE.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        print(f"wrote {COSTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
