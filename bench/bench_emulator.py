#!/usr/bin/env python3
"""Emulator speed per console: instructions per second with and without block tracking.

Compiles two C functions with each console's toolchain and profile flags (``work(n)``:
a loop over a 256-word array; ``fib(n)``: naive recursion), links them at the
profile's resident base, loads them into a bare :class:`~gamevm_build.emu.machine.Machine`
and times ``m.call("work", 20000)`` and ``m.call("fib", 18)``, best of ``--repeat``
calls each (after one warm-up call that translates the code), on three machines:

* **tracked**: ``track_blocks=True``, the default: a Python ``UC_HOOK_BLOCK`` per
  translation block executed, which counts :attr:`Machine.instructions`, locates
  faults and checks execution guards;
* **guarded**: the same with three ``noexec`` guards in the scratch area, as a
  console with loaded modules has (module data, freed memory);
* **untracked**: ``track_blocks=False``.

It prints the instructions per call (``Machine.instructions`` of the tracked
machine), milliseconds and millions of instructions per second on each machine, and
the ratio tracked / untracked.  ``gba-thumb`` is the gba with ``-mthumb``: with both
it prints the ARM code's rate / the Thumb code's rate (tracked), and with ``--check``
exits 1 when that is above 1.5.

    python bench/bench_emulator.py                          # every console, best of 5
    python bench/bench_emulator.py --target segacd --target gba-thumb --repeat 9

Reading: the untracked time is unicorn plus the per-access alignment hook of the
68000 and ARM consoles (docs/consoles.md, "Unaligned accesses"); what the tracked
time adds is the block hook.  MIPS consoles have neither hook beyond the stack guard.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SOURCE = r"""
static int table[256];

int work(int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++) {
        table[i & 255] += i;
        sum += table[(i * 7) & 255] >> 1;
    }
    return sum;
}

int fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
"""
#: variant -> (target, extra compiler flags)
VARIANTS = {"psx": ("psx", []), "n64": ("n64", []), "segacd": ("segacd", []),
            "gba": ("gba", []), "gba-thumb": ("gba", ["-mthumb"]), "3do": ("3do", [])}
CALLS = (("work", 20000), ("fib", 18))


def build(tmp: Path, variant: str) -> Path:
    from gamevm_build.emu.elfimage import BARE_METAL_SCRIPT
    from gamevm_build.project.profile import load_profile
    from gamevm_build.link.toolchain import find_toolchain, run

    target, flags = VARIANTS[variant]
    tc = find_toolchain(target)
    profile = load_profile(target)
    src = tmp / f"{variant}.c"
    src.write_text(SOURCE)
    obj = src.with_suffix(".o")
    tc.compile(src, obj, extra_flags=flags)
    script = tmp / f"{variant}.ld"
    script.write_text(BARE_METAL_SCRIPT.format(base=profile.resident_base))
    out = tmp / f"{variant}.elf"
    endian = ["-EB"] if profile.big_endian and profile.arch == "arm" else []
    run([tc.ld, *endian, "-T", str(script), str(obj), "-o", str(out)])
    return out


def best(machine, function: str, arg: int, repeat: int) -> float:
    machine.call(function, arg)                    # translate first
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        machine.call(function, arg)
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(elf: Path, variant: str, repeat: int) -> list[tuple]:
    from gamevm_build.emu.machine import Machine

    target = VARIANTS[variant][0]
    machines = Machine(target), Machine(target), Machine(target, track_blocks=False)
    for m in machines:
        m.load_elf(elf)
    guarded = machines[1]
    for i in range(3):
        guarded.guard(guarded.alloc(256), 256, "noexec", f"data {i}")
    rows = []
    for function, arg in CALLS:
        before = machines[0].instructions
        result = machines[0].call(function, arg)
        n = machines[0].instructions - before
        for m in machines[1:]:
            before = m.instructions
            if m.call(function, arg) != result or m.track_blocks and m.instructions - before != n:
                sys.exit(f"bench_emulator: {variant} {function}({arg}) differs between machines")
        rows.append((function, arg, n, *(best(m, function, arg, repeat) for m in machines)))
    return rows


THUMB_GOAL = 1.5


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", action="append", choices=list(VARIANTS),
                   help="console (repeatable; default: all)")
    p.add_argument("--repeat", type=int, default=5, help="calls timed, best kept (default 5)")
    p.add_argument("--check", action="store_true",
                   help=f"exit 1 when Thumb code runs more than {THUMB_GOAL:g}x slower than ARM")
    args = p.parse_args(argv)
    variants = args.target or list(VARIANTS)
    print(f"bench_emulator: best of {args.repeat} calls; M/s = millions of instructions "
          "per second")
    print(f"{'console':10} {'call':11} {'instructions':>12}"
          + "".join(f" {h:>19}" for h in ("tracked", "guarded", "untracked"))
          + "  tracked/untracked")
    rates: dict[tuple[str, str], float] = {}       # (console, call) -> tracked M/s
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        for variant in variants:
            elf = build(Path(tmp), variant)
            for function, arg, n, *times in measure(elf, variant, args.repeat):
                call = f"{function}({arg})"
                rates[variant, call] = n / times[0] / 1e6
                cells = "".join(f" {t * 1e3:6.1f} ms {n / t / 1e6:5.1f} M/s" for t in times)
                print(f"{variant:10} {call:11} {n:12}{cells}  {times[0] / times[2]:16.2f}x")
    # issue 16: Thumb code within 1.5x of ARM code's rate, tracked, in the same run
    worst = 0.0
    for (variant, call), rate in rates.items():
        if variant == "gba-thumb" and ("gba", call) in rates:
            ratio = rates["gba", call] / rate
            worst = max(worst, ratio)
            print(f"Thumb/ARM {call:11}: {rate:5.1f} vs {rates['gba', call]:5.1f} M/s tracked, "
                  f"ARM rate / Thumb rate {ratio:.2f}x (goal <= {THUMB_GOAL:g}x)")
    if args.check and worst > THUMB_GOAL:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
