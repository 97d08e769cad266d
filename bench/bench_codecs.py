#!/usr/bin/env python3
"""Which codec ships module images best: bytes, compress time, decode cost per console.

Issue 14 asks for a codec stronger than LZ4, suited to slow CPUs, chosen by measurement.
This takes the loadable bytes of every module of the CD game (``examples/cdgame``,
4.45 MB on psx) and of the example game (``examples/game``), compresses them with each
candidate and prints per codec the bytes, the ratio to LZ4, the host's compress time, and
for the codecs with a console-side decoder (``gamevm_build/runtime/codec/gvm_*.c``) the
instructions per output byte each console's emulated CPU executes to decode every CD game
module (one cycle each, the load-time model's convention).  Then it estimates the load
time of the CD game's largest module (the worst case) and of all its modules: reading
the compressed bytes on a 2x CD (307,200 B/s) plus decoding them, on the psx (R3000A at
33.87 MHz) and the Sega CD (68000 at 12.5 MHz, its sub-CPU; and at the profile's clock
on the profile's 1x drive).

Candidates:

- ``lz4``: LZ4 block format (lz4.org), the ``lz4`` package's HC encoder at level 12;
  ``gvm_lz4.c``.
- ``zx0``: ZX0 format 2 by Einar Saukas (github.com/einar-saukas/ZX0), forward, with the
  end marker; our greedy-lazy encoder (``gamevm_build.link.compress.zx0_compress``);
  ``gvm_zx0.c``.
- ``deflate``: RFC 1951 raw DEFLATE, Python's zlib at level 9 (wbits -15).  Bytes only:
  no console-side inflater; the table prints the most cycles per byte an inflater could
  spend and still load as fast as the best measured codec (its break-even).
- LZSA2 (Emmanuel Marty) was not measured: no maintained Python encoder exists and its
  format, like ZX0's, has no entropy coder, so its ratio lies between LZ4's and ZX0's
  (its author's own tables) while ZX0's decoder is as small.

The choice (measured 2026-12-05 on the psx images; one instruction per cycle): the
second codec is **ZX0**, and LZ4 stays the better form for the CD game on a 2x CD.

- ZX0 stores 90.1 % of LZ4's bytes on the CD game (2,388,416 against 2,651,501; 79 % on
  the example game) and its decoder is small (728 bytes of 68000 code, 1,052 of MIPS),
  in place with an exact margin.  But its decoder spends 19 to 25 cycles per output
  byte against LZ4's 8.5 to 11.3: this data (tiles with noise, music samples) parses into
  many short blocks (0.22 per byte on the largest module, LZ4 0.05), each a few bit
  codes.  At 2x CD a byte not read is worth 110 cycles on the psx and 41 on the 68000 at
  12.5 MHz; ZX0 saves 0.06 bytes read per byte decoded, worth 6.5 and 2.4 cycles, less
  than the 11 and 15 cycles more it decodes for.  Largest module (world5): psx 424.6 ms
  against LZ4's 404.9 ms, Sega CD 652.8 against 481.5 (plain: 725 ms).  It pays where the
  medium is slower against the CPU (the psx at 1x: 727.7 against 744.2 ms) and on data
  that LZ matches well.  An encoder that trades ratio for fewer blocks (``block_bits``)
  did not close the gap: its blocks grow past LZ4's before its decode cost drops enough.
- DEFLATE stores 77.8 % of LZ4's bytes (the Huffman stage codes the noisy literals that
  LZ4 and ZX0 store raw), but to match LZ4 on the largest module an inflater would have
  to decode within 19.1 cycles per byte on the psx and 11.3 on the 68000 at 12.5 MHz,
  table building included; a Huffman decode costs about that per symbol before copying
  anything, so it loses on the Sega CD and is at best even on the psx.  Not measured on
  the consoles (no console-side inflater).
- LZSA2 (Emmanuel Marty) was not measured: no maintained Python encoder, and like ZX0 it
  has no entropy coder, so it cannot reach DEFLATE's bytes; its decoder is faster than
  ZX0's by design (nibble and byte codes, no bit codes), which is the direction this data
  needs: the next candidate if a codec between LZ4 and ZX0 is wanted.

Runs in about 3.5 minutes (23 s of it ZX0's encoder; the rest decoding 4.45 MB with two
codecs on five emulated CPUs).

    python bench/bench_codecs.py [--target psx ...] [--cdgame DIR] [--game DIR]

``--cdgame``/``--game`` read the modules of an existing build (default
``build/psx/cdgame`` and ``build/psx``); without one, the games are built with scons
in a scratch copy first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gamevm_build.link import compress  # noqa: E402

CD_2X = 307_200                     # bytes per second
CLOCKS = {"psx": 33_868_800, "segacd": 12_500_000}


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


#: name -> (encoder, console-side entry point or None)
CODECS = {
    "lz4": (compress.lz4_compress, "gvm_lz4_decode"),
    "zx0": (compress.zx0_compress, "gvm_zx0_decode"),
    "deflate": (_deflate, None),
}


def module_images(directory: Path) -> dict[str, bytes]:
    """The stored bytes (loadable image but ``.bss``) of every module in ``directory``,
    whatever form it ships in (the kernel is no module)."""
    from gamevm_build.link.module import read_module
    out = {}
    for p in sorted(directory.glob("*.elf")):
        if p.stem == "kernel":
            continue
        m = read_module(p)
        out[p.stem] = bytes(m.unrelocated_image()[:m.image_size - m.bss_size])
    return out


def build_games(root: Path) -> tuple[Path, Path]:
    """Build the example game and the CD game for psx in a scratch copy at ``root``."""
    for name in ("SConstruct", "site_scons", "examples"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for alias in ([], ["cdgame"]):
        proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", "target=psx", *alias],
                              cwd=root, env=env, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"bench_codecs: scons target=psx {' '.join(alias)} failed:\n"
                             f"{proc.stdout}{proc.stderr}")
    return root / "build" / "psx", root / "build" / "psx" / "cdgame"


def compress_all(images: dict[str, bytes]) -> dict[str, dict]:
    """Per codec: each module's block and the seconds the encoder took in all."""
    out = {}
    for codec, (encode, _entry) in CODECS.items():
        t = time.perf_counter()
        blocks = {name: encode(data) for name, data in images.items()}
        out[codec] = {"blocks": blocks, "seconds": time.perf_counter() - t}
    return out


class Decoder:
    """The console-side decoders on one console's emulated CPU, with a buffer big enough
    for a CD game module (the Sega CD's and the GBA's RAM views are smaller than one: an
    extra bank where their bus has nothing; the emulated CPU charges no wait states, so
    the instructions counted are the same)."""

    ROOM = 1 << 20

    def __init__(self, target: str, work: Path):
        from gamevm_build.emu.machine import Machine
        from gamevm_build.link.toolchain import find_toolchain
        from gamevm_build.project.profile import load_profile
        from gamevm_build.runtime.build import link_codecs
        self.profile = load_profile(target)
        elf = link_codecs(self.profile, find_toolchain(self.profile), work)
        self.m = Machine(self.profile)
        self.m.load_elf(elf)
        self.code = _symbol_sizes(elf)
        ram = self.profile.main_ram
        if ram.size >= 2 * self.ROOM:
            self.base, self.raw = ram.start + ram.size // 8, False
        else:
            self.base = {"m68k": 0x400000, "arm": 0x0A000000}[self.profile.arch]
            self.m.uc.mem_map(self.base, self.ROOM)
            self.raw = True

    def _write(self, addr: int, data: bytes) -> None:
        (self.m.uc.mem_write if self.raw else self.m.write)(addr, data)

    def _read(self, addr: int, n: int) -> bytes:
        return bytes(self.m.uc.mem_read(addr, n)) if self.raw else self.m.read(addr, n)

    def decode(self, entry: str, block: bytes, size: int) -> tuple[int, bytes, int]:
        """``(result, output, instructions)`` of ``entry(block)`` into ``size`` bytes."""
        src = self.base + ((size + 64 + 3) & ~3)
        if src + len(block) > self.base + self.ROOM:
            raise SystemExit(f"bench_codecs: a module of {size} bytes does not fit the buffer")
        self._write(src, block)
        before = self.m.instructions
        r = self.m.call(entry, src, len(block), self.base, size, max_instructions=200 * size + 10_000)
        r = r - (1 << 32) if r >= 1 << 31 else r
        return r, self._read(self.base, max(r, 0)), self.m.instructions - before


def _symbol_sizes(elf: Path) -> dict[str, int]:
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: s["st_size"] for s in symtab.iter_symbols() if s.name.endswith("_decode")}


def measure_decode(targets, images, packed, work: Path) -> tuple[dict, dict]:
    """``cycles[codec][target][module]`` (instructions to decode it) and the decoders'
    code bytes ``code[codec][target]``."""
    cycles: dict = {c: {} for c, (_e, entry) in CODECS.items() if entry}
    code: dict = {c: {} for c in cycles}
    for target in targets:
        d = work / target
        d.mkdir()
        dec = Decoder(target, d)
        for codec in cycles:
            entry = CODECS[codec][1]
            code[codec][target] = dec.code[entry]
            per = cycles[codec][target] = {}
            for name, data in images.items():
                r, out, n = dec.decode(entry, packed[codec]["blocks"][name], len(data))
                if r != len(data) or out != data:
                    raise SystemExit(f"bench_codecs: {target}: {entry} got module {name} wrong")
                per[name] = n
    return cycles, code


def load_s(nbytes: int, size: int, cyc_per_byte: float, hz: int, rate: float = CD_2X) -> float:
    return nbytes / rate + size * cyc_per_byte / hz


def report(title: str, images, packed, cycles, targets) -> list[str]:
    total = sum(len(d) for d in images.values())
    lz4 = sum(len(b) for b in packed["lz4"]["blocks"].values())
    lines = [f"{title}: {len(images)} modules, {total} bytes stored",
             f"  {'codec':<8} {'bytes':>9} {'vs lz4':>7} {'ratio':>6} {'compress s':>10}"
             + "".join(f" {t + ' cyc/B':>11}" for t in targets)]
    for codec, got in packed.items():
        nbytes = sum(len(b) for b in got["blocks"].values())
        row = (f"  {codec:<8} {nbytes:>9} {nbytes / lz4:>7.3f} {total / nbytes:>6.2f} "
               f"{got['seconds']:>10.2f}")
        for t in targets:
            if cycles and codec in cycles:
                row += f" {sum(cycles[codec][t].values()) / total:>11.2f}"
            else:
                row += f" {'-':>11}"
        lines.append(row)
    return lines


def load_report(images, packed, cycles) -> list[str]:
    """Worst-case (largest module) and whole-game load time per codec, psx and segacd."""
    total = sum(len(d) for d in images.values())
    big = max(images, key=lambda n: len(images[n]))
    size = len(images[big])
    from gamevm_build.project.media import default_model_for
    from gamevm_build.runtime.loadcost import cpu_costs
    cases = [("psx", CLOCKS["psx"], CD_2X, "2x CD, 33.87 MHz"),
             ("segacd", CLOCKS["segacd"], CD_2X, "2x CD, 12.5 MHz"),
             ("segacd", cpu_costs("segacd").clock_hz,
              307_200 / default_model_for("segacd").transfer_s(307_200), "profile: 1x CD, 7.67 MHz")]
    lines = [f"load time = read on CD + decode (largest module '{big}', {size} bytes; all modules)",
             f"  {'console':<7} {'medium, clock':<26} {'codec':<8} {'largest ms':>10} "
             f"{'all s':>7}"]
    for target, hz, rate, label in cases:
        if target not in next(iter(cycles.values())):
            continue
        best = None
        for codec, got in packed.items():
            blocks = got["blocks"]
            nbytes = sum(len(b) for b in blocks.values())
            if codec in cycles:
                per = cycles[codec][target]
                one = len(blocks[big]) / rate + per[big] / hz
                everything = nbytes / rate + sum(per.values()) / hz
                best = min(best or (one, everything, codec), (one, everything, codec))
                lines.append(f"  {target:<7} {label:<26} {codec:<8} {one * 1e3:>10.1f} "
                             f"{everything:>7.2f}")
            else:                    # break-even: the cycles per byte left to match the best
                one = len(blocks[big]) / rate
                room = (best[0] - one) * hz / size if best else float("nan")
                lines.append(f"  {target:<7} {label:<26} {codec:<8} {'read ' + format(one * 1e3, '.1f'):>10} "
                             f"{nbytes / rate:>7.2f}  (ties {best[2]} at {room:.1f} cyc/B decoding)")
    plain = ", ".join(f"{t} {size / r * 1e3:.0f} ms / {total / r:.1f} s"
                      for t, r in (("2x CD", CD_2X),))
    lines.append(f"  (stored plain: {plain})")
    return lines


def main(argv=None) -> int:
    from gamevm_build.project.profile import available_targets
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", action="append", help="console (repeatable; default all)")
    ap.add_argument("--cdgame", type=Path, help="a built CD game's modules (build/psx/cdgame)")
    ap.add_argument("--game", type=Path, help="a built example game's modules (build/psx)")
    args = ap.parse_args(argv)
    targets = args.target or list(available_targets())
    cd_dir = args.cdgame or REPO / "build" / "psx" / "cdgame"
    game_dir = args.game or REPO / "build" / "psx"
    with tempfile.TemporaryDirectory(prefix="bench-codecs-") as tmp:
        tmp = Path(tmp)
        if not (any(cd_dir.glob("*.elf")) and any(game_dir.glob("*.elf"))):
            (tmp / "src").mkdir()
            game_dir, cd_dir = build_games(tmp / "src")
        games = [("example game (psx)", module_images(game_dir)),
                 ("CD game (psx)", module_images(cd_dir))]
        work = tmp / "codecs"
        work.mkdir()
        for title, images in games:
            packed = compress_all(images)
            cycles = None
            if title.startswith("CD"):
                (work / "cd").mkdir()
                cycles, code = measure_decode(targets, images, packed, work / "cd")
            print("\n".join(report(title, images, packed, cycles, targets)))
            print()
        print("\n".join(load_report(images, packed, cycles)))
        print()
        print("decoder code bytes: " + "; ".join(
            f"{codec}: " + ", ".join(f"{t} {n}" for t, n in per.items())
            for codec, per in code.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
