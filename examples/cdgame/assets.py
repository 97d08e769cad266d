"""The CD game's generated assets: tiles, tile maps, meshes, tables, text and music.

A real CD game's modules are mostly const data. These generators make data shaped like
it, deterministically (each module's data from its name), so that it compresses like the
real thing: tile graphics with patterns, dithering and noise; tile maps with runs of sky,
ground and platforms; meshes of smooth surfaces with noise; fixed-point tables; dialogue
from a vocabulary; music as repeated patterns of note events over sampled instruments.

``module_source(name, kind, big_endian, outdir)`` writes the module's binary assets to
``outdir`` and returns the assembly that includes them (``.incbin``) and lists them in a
table of pointers, the module's relocations.  The SConscript runs it as a build step.
"""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

#: bump when the generators change: part of each generated module's build signature
VERSION = 1

WORDS = ("the", "gate", "of", "ember", "falls", "at", "dusk", "keeper", "stone", "river",
         "you", "must", "find", "three", "keys", "before", "tide", "turns", "north", "tower",
         "lantern", "ash", "crown", "old", "king", "sleeps", "beneath", "frozen", "lake",
         "take", "this", "map", "beware", "shadow", "wolves", "their", "eyes", "burn", "red")


def _rng(name: str, part: str) -> random.Random:
    return random.Random(f"{name}/{part}/{VERSION}")


def tiles(name: str, count: int) -> bytes:
    """``count`` 8x8 4-bit tiles: bricks, grass, gradients and a few noisy ones."""
    r = _rng(name, "tiles")
    out = bytearray()
    for t in range(count):
        kind = r.choice("bbggdn")
        base, alt = r.randrange(1, 15), r.randrange(1, 15)
        for y in range(8):
            row = []
            for x in range(8):
                if kind == "b":         # brick: mortar lines, shifted every other course
                    mortar = y % 4 == 3 or (x + (4 if (y // 4) % 2 else 0)) % 8 == 0
                    row.append(0 if mortar else base)
                elif kind == "g":       # grass: blades over soil
                    row.append(alt if y > 4 else (base if (x * 7 + y * 3 + t) % 5 else alt))
                elif kind == "d":       # vertical gradient, ordered dithering
                    row.append(min(15, base + (y + ((x ^ y) & 1)) // 2))
                else:                   # noise (rocks, foliage)
                    row.append(r.randrange(16) if r.random() < 0.6 else base)
            for x in range(0, 8, 2):
                out.append(row[x] | row[x + 1] << 4)
    return bytes(out)


def tilemap(name: str, width: int, height: int, tiles_count: int, big: bool) -> bytes:
    """A side-scrolling level: sky, hills, ground, platforms and decorations (u16 tiles)."""
    r = _rng(name, "map")
    ground = [height - 6 + int(3 * math.sin(x / 17.0) + 2 * math.sin(x / 5.3)) for x in range(width)]
    cells = [[0] * width for _ in range(height)]
    for x in range(width):
        for y in range(height):
            if y >= ground[x]:
                cells[y][x] = 1 + (2 if y == ground[x] else 3 + (x + y) % 4)
    for _p in range(width // 12):           # platforms
        px, py, pw = r.randrange(width - 8), r.randrange(4, height - 10), r.randrange(3, 9)
        for x in range(px, px + pw):
            cells[py][x] = 8 + (x - px) % 3
    for _d in range(width // 3):            # decorations
        x = r.randrange(width)
        y = max(0, ground[x] - 1)
        cells[y][x] = r.randrange(12, tiles_count)
    fmt = ">H" if big else "<H"
    return b"".join(struct.pack(fmt, c) for row in cells for c in row)


def mesh(name: str, part: int, verts_u: int, verts_v: int, big: bool) -> bytes:
    """A surface patch: 16.16-free int16 vertices (x, y, z, pad), u8 normals, u16 strips."""
    r = _rng(name, f"mesh{part}")
    e = ">" if big else "<"
    amp, freq = r.uniform(20, 200), r.uniform(0.05, 0.4)
    out = bytearray(struct.pack(e + "HH", verts_u, verts_v))
    for v in range(verts_v):              # a modelled surface: jittered, not a grid
        for u in range(verts_u):
            x = int((u - verts_u // 2) * 64 + r.gauss(0, 9))
            z = int((v - verts_v // 2) * 64 + r.gauss(0, 9))
            y = int(amp * math.sin(u * freq) * math.cos(v * freq) + r.gauss(0, 6))
            out += struct.pack(e + "hhhh", x, y, z, r.randrange(4))
    for v in range(verts_v):
        for u in range(verts_u):
            nx = int(127 * math.cos(u * freq) * 0.5 + r.gauss(0, 4))
            nz = int(127 * math.sin(v * freq) * 0.5 + r.gauss(0, 4))
            out += bytes([nx & 0xFF, (100 + r.randrange(8)) & 0xFF, nz & 0xFF, 0])
    for v in range(verts_v - 1):
        for u in range(verts_u):
            out += struct.pack(e + "HH", v * verts_u + u, (v + 1) * verts_u + u)
    return bytes(out)


def table(name: str, n: int, big: bool) -> bytes:
    """Fixed-point sine and a lighting falloff table (int16, 4.12)."""
    e = ">" if big else "<"
    sines = [int(4096 * math.sin(2 * math.pi * i / n)) for i in range(n)]
    falloff = [int(4096 / (1 + i / 64.0) ** 2) for i in range(n)]
    return struct.pack(e + f"{n}h", *sines) + struct.pack(e + f"{n}h", *falloff)


def text(name: str, lines: int) -> bytes:
    """Dialogue: NUL-terminated lines from the vocabulary."""
    r = _rng(name, "text")
    out = bytearray()
    for _i in range(lines):
        words = [r.choice(WORDS) for _w in range(r.randrange(4, 14))]
        out += (" ".join(words).capitalize() + ".").encode() + b"\0"
    return bytes(out)


def music(name: str, bars: int, sample_bytes: int) -> bytes:
    """A song: note events in repeating 4-bar patterns, then 4-bit ADPCM-like instrument
    samples (decaying waves with noise: they compress poorly, as real samples do)."""
    r = _rng(name, "music")
    patterns = [[(r.randrange(36, 84), r.choice((1, 2, 4)), r.randrange(40, 127))
                 for _n in range(16)] for _p in range(4)]
    out = bytearray()
    for b in range(bars):
        pat = patterns[(b // 4) % 4 if b % 16 < 12 else r.randrange(4)]
        for note, length, vel in pat:
            out += bytes([note, length, vel, b & 0xFF])
    for i in range(sample_bytes):
        decay = math.exp(-(i % 4096) / 1500.0)
        v = int(7.5 + 7 * decay * math.sin(i * 0.31)) + (r.randrange(3) - 1)
        out.append(max(0, min(15, v)) | (max(0, min(15, v + r.randrange(3) - 1)) << 4))
    return bytes(out)


#: module kind -> its parts: (part, generator arguments)
def parts(name: str, kind: str, big: bool) -> dict[str, bytes]:
    if kind == "world":
        p = {"tiles": tiles(name, 1024), "map": tilemap(name, 256, 96, 1024, big),
             "text": text(name, 300), "table": table(name, 1024, big)}
        for k in range(16):
            p[f"mesh{k}"] = mesh(name, k, 20, 24, big)
        return p
    if kind == "music":
        return {"song": music(name, 512, 136 * 1024)}
    if kind == "boss":
        p = {"tiles": tiles(name, 384), "text": text(name, 80)}
        for k in range(8):
            p[f"mesh{k}"] = mesh(name, k, 16, 16, big)
        return p
    if kind == "screen":       # title, menu, options, credits: pictures and text
        return {"tiles": tiles(name, 768), "map": tilemap(name, 64, 48, 768, big),
                "text": text(name, 200)}
    if kind == "shared":       # font, ui, sound effects
        return {"tiles": tiles(name, 512), "table": table(name, 2048, big),
                "sfx": music(name, 32, 24 * 1024)}
    raise ValueError(f"unknown module kind {kind!r}")


def module_source(name: str, kind: str, big: bool, outdir) -> str:
    """Write the module's assets to ``outdir`` as ``<name>_<part>.bin``; return the
    assembly that includes them in ``.rodata`` and lists them in ``<name>_assets`` (a
    table of part pointers and sizes in ``.data``, so each is a relocation)."""
    outdir = Path(outdir)
    data = parts(name, kind, big)
    lines = ["        .section .rodata", ""]
    for part, blob in data.items():
        path = outdir / f"{name}_{part}.bin"
        path.write_bytes(blob)
        lines += ["        .balign 4", f"        .globl {name}_{part}", f"{name}_{part}:",
                  f'        .incbin "{path.resolve()}"', ""]
    lines += ["        .data", "        .balign 4", f"        .globl {name}_assets",
              f"{name}_assets:", f"        .word {len(data)}"]
    for part, blob in data.items():
        lines.append(f"        .word {name}_{part}, {len(blob)}")
    a, b = checksum(data.values())
    lines += ["", "        .section .rodata", "        .balign 4", f"        .globl {name}_sum",
              f"{name}_sum:", f"        .word {a}, {b}"]
    return "\n".join(lines) + "\n"


def checksum(parts) -> tuple[int, int]:
    """engine.c's eng_sum over ``parts`` in order: a += byte, b += a (modulo 2**32)."""
    a = b = 0
    for blob in parts:
        for byte in blob:
            a = (a + byte) & 0xFFFFFFFF
            b = (b + a) & 0xFFFFFFFF
    return a, b
