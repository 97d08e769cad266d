#!/usr/bin/env python3
"""Size and speed of the four emission formats per console (issue 18, docs/formats.md).

The example's physics step (``examples/emission/step.gvm``) is built as STC, DTC, ITC and
TTC modules with each console's cross toolchain, beside the same logic in C
(``step_c.c``), and run on the emulated console.  Per console and format it prints:

Formats are ``stc``, ``dtc``, ``itc``, ``ttc`` (1-byte tokens, what ``gamevm thread``
chooses for this program) and ``ttc2`` (the same TTC threads with 2-byte tokens,
``--token-width 2``, what a program of more than 256 table entries gets).

``thread``
    bytes of the thread sections and the TTC token table in the object (what the format
    itself costs; STC's is native code);
``image``, ``file``
    the whole module's RAM and file bytes (threads + the C helper ``bounce`` + entry
    points + descriptors);
``relocs``, ``RELA``, ``packed``
    the module's relocations, their plain table (12 bytes each) and their packed table
    (``.gvm.relpack``);
``load reloc``
    microseconds the budget analyzer's load-time model charges the console's CPU for
    relocating the module (:func:`gamevm_build.runtime.loadtime.cpu_steps`: the module's
    own relocations, by type, at the measured per-relocation costs);
``instr/prim``
    emulated instructions of ``run_simulate(8, 50)`` per primitive the program executes.
    The primitive count is the DTC run's (a breakpoint on every ``gvm_p_*``: one per
    thread entry); every format executes the same source operations, so each format's
    instructions are divided by that one number (native C: the same work without a VM).
    Instructions are unicorn's, one per executed instruction (``Machine.instructions``).

    python bench/bench_emission.py [--target psx ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gamevm_build.link import elf32 as E  # noqa: E402
from gamevm_build.link.emission import NAMES, section_kind  # noqa: E402
from gamevm_build.link.linker import link_module  # noqa: E402
from gamevm_build.link.module import read_module  # noqa: E402
from gamevm_build.link.packrel import packed_size  # noqa: E402
from gamevm_build.link.resident import build_resident  # noqa: E402
from gamevm_build.link.threadc import compile_source  # noqa: E402
from gamevm_build.link.toolchain import find_toolchain  # noqa: E402
from gamevm_build.project.profile import load_profile  # noqa: E402

EXAMPLE = REPO / "examples" / "emission"
INCLUDE = REPO / "gamevm_build" / "include"
INTERPRETER = REPO / "gamevm_build" / "runtime" / "gvm_thread.c"
TARGETS = ("psx", "n64", "segacd", "gba", "3do")
BODIES, STEPS = 8, 50
#: the bench's rows: (emission format, TTC token width) by row name
VARIANTS = {**{f: (f, None) for f in NAMES}, "ttc2": ("ttc", 2)}


def build_example(tmp: Path, target: str) -> dict[str, Path]:
    """The thread modules (``stc`` ... ``ttc``, ``ttc2``: :data:`VARIANTS`), ``native`` and
    the ``kernel``, in ``tmp``; the thread objects as ``obj_<variant>``."""
    family = load_profile(target).arch
    tc = find_toolchain(target)
    objs = {name: tc.compile(EXAMPLE / f"{name}.c", tmp / f"{name}.o", include_dirs=[str(INCLUDE)])
            for name in ("step_c", "entry")}
    out: dict[str, Path] = {}
    for variant, (fmt, width) in VARIANTS.items():
        asm = tmp / f"step_{variant}.s"
        asm.write_text(compile_source((EXAMPLE / "step.gvm").read_text(), fmt, family,
                                      "step.gvm", width))
        out[f"obj_{variant}"] = obj = tc.compile(asm, tmp / f"step_{variant}.o")
        out[variant] = link_module(target, [obj, objs["step_c"], objs["entry"]],
                                   tmp / f"step_{variant}.elf", emission=fmt).output
    out["native"] = link_module(target, [objs["step_c"]], tmp / "step_native.elf").output
    kernel_objs = [tc.compile(EXAMPLE / "kernel.c", tmp / "kernel.o"),
                   tc.compile(INTERPRETER, tmp / "gvm_thread.o", include_dirs=[str(INCLUDE)])]
    build_resident(target, kernel_objs, tmp / "kernel.elf",
                   modules=[out[f] for f in (*VARIANTS, "native")])
    out["kernel"] = tmp / "kernel.elf"
    return out


def thread_bytes(obj: Path) -> int:
    """Bytes of an object's thread and token-table sections."""
    elf = E.parse(obj.read_bytes(), str(obj))
    return sum(s.size for s in elf.sections if s.alloc and section_kind(s.name))


def run(files: dict[str, Path], target: str) -> dict[str, tuple[int, int]]:
    """``{format: (result, instructions)}`` of run_simulate (simulate_c for native), and
    ``"primitives"``: the DTC run's executed primitives."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.prelink import chain_resolver, module_symbols, relocate
    from gamevm_build.link.resident import read_resident

    profile = load_profile(target)
    res = read_resident(files["kernel"], profile)
    out = {}
    for fmt in (*VARIANTS, "native"):
        m = Machine(target)
        m.load_elf(files["kernel"])
        mod = read_module(files[fmt])
        ram = profile.main_ram         # the module right after the resident, in main RAM
        base = (res.end + 15) & ~15 if ram.start <= res.end <= ram.end else ram.start
        m.write(base, bytes(relocate(mod, base, chain_resolver(res.symbols))))
        syms = module_symbols(mod, base)
        counted = [0]
        if fmt == "dtc":
            def hit(_m):
                counted[0] += 1
            for name, addr in res.symbols.items():
                if name.startswith("gvm_p_"):
                    m.breakpoint(addr, hit)
        entry = syms["simulate_c" if fmt == "native" else "run_simulate"]
        before = m.instructions
        result = m.call(entry, BODIES, STEPS, max_seconds=120)
        out[fmt] = (result, m.instructions - before)
        if fmt == "dtc":
            out["primitives"] = (counted[0], 0)
    return out


def measure(target: str) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-emission-") as tmp:
        files = build_example(Path(tmp), target)
        runs = run(files, target)
        prims = runs["primitives"][0]
        from gamevm_build.runtime.loadcost import cpu_costs
        from gamevm_build.runtime.loadtime import cpu_steps
        costs = cpu_costs(target)
        rows = []
        for fmt in (*VARIANTS, "native"):
            mod = read_module(files[fmt])
            relocate_s = cpu_steps(costs, mod, symbols=64,
                                   eager_imports=len(mod.imports))["relocate"]
            rows.append({
                "target": target, "format": fmt,
                "thread": thread_bytes(files[f"obj_{fmt}"]) if fmt != "native" else 0,
                "image": mod.image_size, "file": mod.file_size,
                "relocs": len(mod.relocations), "rela": 12 * len(mod.relocations),
                "packed": len(packed_size(mod).data), "relocate_us": relocate_s * 1e6,
                "result": runs[fmt][0], "instructions": runs[fmt][1],
                "per_primitive": runs[fmt][1] / prims, "primitives": prims,
            })
        return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target", action="append", choices=TARGETS)
    args = p.parse_args(argv)
    print("| console | format | thread | image | file | relocs | RELA | packed | "
          "load reloc µs | instr/prim |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for target in args.target or TARGETS:
        rows = measure(target)
        ok &= len({r["result"] for r in rows}) == 1
        for r in rows:
            print(f"| {r['target']} | {r['format']} | {r['thread']} | {r['image']} | "
                  f"{r['file']} | {r['relocs']} | {r['rela']} | {r['packed']} | "
                  f"{r['relocate_us']:.0f} | {r['per_primitive']:.1f} |")
    if not ok:
        print("the formats' results differ", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
