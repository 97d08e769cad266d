#!/usr/bin/env python3
"""The console-side LZ4 decoder's cost per byte on each console's emulated CPU (issue 14).

Compresses two inputs with the host's encoder (``gamevm_build.link.compress``): a text
(this repository's ``gamevm_build/link/linker.py``) and code (the console-side runtime's
machine code for the console), decodes them with ``gvm_lz4_decode`` on the emulated CPU, and
prints per console the ratio, the instructions per output byte (one cycle each, the
load-time model's convention) and the decode time per KiB at the console's clock,
against what a KiB less on the medium saves (the media model's transfer time).

    python bench/bench_codecs.py [--target psx ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gamevm_build.emu.machine import Machine  # noqa: E402
from gamevm_build.link.compress import lz4_compress  # noqa: E402
from gamevm_build.link.toolchain import find_toolchain  # noqa: E402
from gamevm_build.project.media import default_model_for  # noqa: E402
from gamevm_build.project.profile import available_targets, load_profile  # noqa: E402
from gamevm_build.runtime.build import link_codecs  # noqa: E402
from gamevm_build.runtime.loadcost import cpu_costs  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def runtime_code(profile, work: Path) -> bytes:
    """The console-side runtime's machine code for this console (its .text sections)."""
    from elftools.elf.elffile import ELFFile
    from gamevm_build.runtime.build import compile_runtime_loader
    obj = compile_runtime_loader(profile, find_toolchain(profile), work, "target")[0]
    with open(obj, "rb") as f:
        return b"".join(sec.data() for sec in ELFFile(f).iter_sections()
                        if sec.name.startswith(".text") and sec["sh_type"] == "SHT_PROGBITS")


def measure(target: str, work: Path) -> list[tuple]:
    profile = load_profile(target)
    elf = link_codecs(profile, find_toolchain(profile), work)
    m = Machine(profile)
    m.load_elf(elf)
    inputs = {"text": (REPO / "gamevm_build" / "link" / "linker.py").read_bytes()[:16384],
              "code": runtime_code(profile, work)[:16384]}
    buf = profile.main_ram.start + profile.main_ram.size // 2
    rows = []
    for name, data in inputs.items():
        block = lz4_compress(data)
        src = buf + len(data) + 64
        m.write(src, block)
        before = m.instructions
        n = m.call("gvm_lz4_decode", src, len(block), buf, len(data))
        spent = m.instructions - before
        assert n == len(data) and m.read(buf, n) == data, (target, name)
        rows.append((name, len(data), len(block), spent / len(data)))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", action="append", help="console (repeatable; default all)")
    args = ap.parse_args(argv)
    print("bench_codecs: gvm_lz4_decode on the emulated CPU, one cycle per instruction")
    print(f"  {'console':<7} {'input':<5} {'bytes':>6} {'packed':>6} {'ratio':>6} "
          f"{'cyc/B':>6} {'ms/KiB':>7} {'media ms/KiB':>12}")
    for target in args.target or available_targets():
        hz = cpu_costs(target).clock_hz
        model = default_model_for(target)
        with tempfile.TemporaryDirectory() as tmp:
            for name, size, packed, cyc in measure(target, Path(tmp)):
                print(f"  {target:<7} {name:<5} {size:>6} {packed:>6} {size / packed:>6.2f} "
                      f"{cyc:>6.1f} {cyc * 1024 / hz * 1e3:>7.3f} "
                      f"{model.transfer_s(1024) * 1e3:>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
