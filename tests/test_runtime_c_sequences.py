"""Walks of API calls: after every call the C runtime's console is the reference loader's.

The other differential tests each check one load, one unload or one order of them;
mutation testing's fresh samples of the runtime kept finding faults that only a later
call shows (a reference count off by one that the third unload reveals, a constructor run
again by an unrelated load, a failed load's rollback freeing a need another module
holds).  Here each console gets seeded walks of calls in every order: eager and lazy loads
of the example's modules (with needs shared between them, a constructor, and a module
whose import nobody provides, which fails after loading its need), a module that does not
exist, unloads of any handle still held, unloads of a handle already given back,
GetModuleProc of every export, self tests that bind lazy imports at their first call, and
asynchronous loads completed over game frames (the reference loads synchronously: the
result must be the same).  After every call the two consoles must agree: the status, the
modules loaded with their bases and bytes, the stub table, what GetModuleProc returns.
A disagreement is reported with the walk that led to it.

A handle given back stays invalid whatever was loaded since, in both loaders: when a
later load takes its record, the runtime's handle names the record and the load that
took it, not the record alone (the walks found that they disagreed, when the runtime's
handle was the record's address).

``GAMEVM_HYPOTHESIS_PROFILE=explore`` walks 20 times as many sequences, from fresh seeds.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from conftest import ALL_TARGETS, examples
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.errors import EmulationError
from gamevm_build.runtime.allocator import Region
from gamevm_build.runtime.reference import LoadError, TLoadStatus, default_regions
from gamevm_build.runtime.target import (HANDLE_BASE_OFFSET, HANDLE_SEQ_OFFSET, LOAD_LAZY,
                                         RECORD_SIZE, SLOT_BITS)
from test_target_runtime import MODULES, pair, same_modules, same_stubs, target_resident

STEPS = 30
WALKS = examples(12)
TIGHT_WALKS = examples(8)
EXPLORING = WALKS > 12
#: what a walk loads: the example's modules, one that does not exist, one whose import
#: nobody provides (it needs physics, which its failed load must give back)
NAMES = ("physics", "level1", "boss", "crashy", "nothing_here", "unbound")


def unbound_copy(module: bytes) -> bytes:
    """``module`` (boss) with one imported name changed into one nobody provides."""
    at = module.index(b"\0gvm_score_get\0") + 1
    return module[:at] + b"gvm_score_gex" + module[at + len(b"gvm_score_gex"):]


@pytest.fixture(scope="module", params=ALL_TARGETS)
def console(request, example_game, tmp_path_factory):
    target = request.param
    out = example_game(target)
    kernel = target_resident(out, target, [out / f"{m}.elf" for m in MODULES])
    search = tmp_path_factory.mktemp(f"walks-{target}")
    for m in MODULES:
        (search / f"{m}.elf").write_bytes((out / f"{m}.elf").read_bytes())
    (search / "unbound.elf").write_bytes(unbound_copy((out / "boss.elf").read_bytes()))
    return target, kernel, search


class Walk:
    """Two consoles in the same state and the handles a game holds on each."""

    def __init__(self, target: str, kernel: Path, search: Path, seed: str,
                 regions=default_regions, placement=None):
        self.rng = random.Random(seed)
        self.host, self.tl = pair(target, kernel, search, regions=regions,
                                  placement=placement)
        self.held: list[tuple[int, int, str]] = []      # (reference handle, runtime handle, name)
        self.given_back: list[tuple[int, int, str]] = []
        self.calls: list[str] = []

    def step(self):
        """Make one call on both consoles; return the two results."""
        rng, host, tl = self.rng, self.host, self.tl
        r = rng.random()
        if r < 0.4 or not self.held:
            name, lazy = rng.choice(NAMES), rng.random() < 0.3
            self.calls.append(f"load {name}" + (" lazy" if lazy else ""))
            try:
                h, want = host.load(name, needs=True, lazy=lazy).handle, TLoadStatus.lsSuccess
            except LoadError as exc:
                h, want = None, exc.status
            t, got = tl.load_module(name, LOAD_LAZY if lazy else 0)
            if want == got == TLoadStatus.lsSuccess:
                self.held.append((h, t, name))
            return want, got
        if r < 0.5:
            name = rng.choice(NAMES[:4])
            self.calls.append(f"load {name} asynchronously")
            rec = tl.load_async(name, callback=0)
            for _ in range(2000):
                if rec["status"] != "lsPending":
                    break
                tl.frame()
                clock = tl.timer.clock
                clock.now_s = clock.frame_start(clock.frame + 1)
            try:
                want = TLoadStatus.lsSuccess if host.load(name, needs=True) else None
            except LoadError as exc:
                want = exc.status
            got = TLoadStatus[rec["status"]]
            if want == got == TLoadStatus.lsSuccess:   # the game takes the handle it was given
                t, again = tl.load_module(name)
                assert again == TLoadStatus.lsSuccess
                tl.unload_module(t)
                self.held.append((host.by_name(name).handle, t, name))
            return want, got
        if r < 0.75:
            k = rng.randrange(len(self.held))
            h, t, name = self.held[k]
            self.calls.append(f"unload {name} (held #{k})")
            result = self.unload(h, t)
            if result[0] == TLoadStatus.lsSuccess:
                self.given_back.append(self.held.pop(k))
            return result
        if r < 0.85 and self.given_back:
            h, t, name = rng.choice(self.given_back)
            if r < 0.8:
                self.calls.append(f"unload {name} again")
                result = self.unload(h, t)
                # the module was still loaded (for the game or as a need): a reference the
                # game holds, if it holds one, is given back
                if result[0] == TLoadStatus.lsSuccess and (h, t, name) in self.held:
                    self.held.remove((h, t, name))
                return result
            self.calls.append(f"GetModuleProc of {name}'s handle given back")
            return self.host_proc(h, "gamevm_selftest"), tl.get_proc(t, "gamevm_selftest")
        h, t, name = rng.choice(self.held)
        if r < 0.93:
            self.calls.append(f"GetModuleProc of {name}'s exports")
            held = host.loaded.get(h)               # None: evicted from an overlay region
            symbols = sorted(held.symbols if held else ()) + ["gamevm_selftest",
                                                             "no_such_symbol"]
            return ([self.host_proc(h, s) for s in symbols], [tl.get_proc(t, s) for s in symbols])
        self.calls.append(f"{name}'s self test")
        lm = host.by_name(name)
        if lm is None or "gamevm_selftest" not in lm.symbols:
            return None, None
        # a module whose lazy import nobody provides (unbound, which is named boss) faults
        # at its first call, on both consoles: that is their agreement
        return (fault_or(lambda: host.machine.call(lm.symbols["gamevm_selftest"])),
                fault_or(lambda: tl.machine.call(lm.symbols["gamevm_selftest"])))

    def host_proc(self, h: int, symbol: str) -> int:
        """The reference's GetModuleProc: 0 for a name the module does not export or a
        handle that names no module."""
        try:
            return self.host.get_proc(h, symbol)
        except LoadError as exc:
            assert exc.status in (TLoadStatus.lsSymbolNotFound, TLoadStatus.lsInvalidHandle)
            return 0

    def unload(self, h: int, t: int):
        try:
            self.host.unload(h)
            want = TLoadStatus.lsSuccess
        except LoadError as exc:
            want = exc.status
        return want, self.tl.unload_module(t)

    def disagreement(self) -> str | None:
        want, got = self.step()
        if want != got:
            return f"reference {want}, runtime {got}"
        try:
            same_modules(self.host, self.tl)
            same_stubs(self.host, self.tl)
        except AssertionError as exc:
            return f"RAM differs: {str(exc).splitlines()[0]}"
        held = {lm.name: lm.refcount for lm in self.host.loaded.values()}
        if held != target_refcounts(self.tl):
            return f"reference counts differ: {held} and {target_refcounts(self.tl)}"
        return None


def fault_or(call):
    """What ``call`` returns, or "fault" when the emulated CPU faulted."""
    try:
        return call()
    except EmulationError:
        return "fault"


def target_refcounts(tl) -> dict[str, int]:
    """Each loaded module's reference count in its runtime record (gvm_loader.c
    module_t: a record in use has a nonzero load number)."""
    records = tl.machine.read_u32(tl.symbols["gvm_records"])
    out = {}
    for slot in range(1 << SLOT_BITS):
        record = records + slot * RECORD_SIZE
        module = tl.loaded.get(tl.machine.read_u32(record + HANDLE_BASE_OFFSET))
        if module is not None and tl.machine.read_u32(record + HANDLE_SEQ_OFFSET):
            out[module.name] = tl.handle_refcount(slot)
    return out


def sizes(search: Path) -> dict[str, int]:
    """The memory each of the example's modules takes, rounded up to 16 bytes."""
    from gamevm_build.link.module import read_module
    return {m: -(-read_module((search / f"{m}.elf").read_bytes()).footprint // 16) * 16
            for m in MODULES}


def tight_regions(search: Path):
    """Two regions with room for some of the example's modules, not all: loads fail for
    want of memory, go to the second region when the first is full, and reuse what the
    modules unloaded gave back."""
    size = sizes(search)

    def regions(machine, resident):
        (heap,) = default_regions(machine, resident)
        first = size["physics"] + size["level1"] + 16
        second = heap.start + first + 0x100
        return [Region("heap", heap.start, first, "heap"),
                Region("more", second, size["boss"] + size["physics"] // 2, "heap")]
    return regions


#: which overlay region each module goes to (unbound is a copy of boss, named boss)
OVERLAID = {"level1": "LevelA", "boss": "LevelA", "crashy": "LevelB"}


def overlay_regions(search: Path):
    """The general region and two overlay regions, LevelA paired with LevelB (the
    example's Sega CD map): a module placed in an occupied one evicts its occupant, or
    is refused while the occupant is in use."""
    room = max(size for m, size in sizes(search).items() if m in OVERLAID) + 16

    def regions(machine, resident):
        (heap,) = default_regions(machine, resident)
        level_a = heap.start + heap.size - 2 * room - 0x200
        return [Region("heap", heap.start, level_a - heap.start - 0x100, "heap"),
                Region("LevelA", level_a, room, "overlay", pair="LevelB"),
                Region("LevelB", level_a + room + 0x100, room, "overlay")]
    return regions


def walks(target: str, kernel: Path, search: Path, count: int, label: str,
          regions=default_regions, placement=None) -> None:
    """``count`` walks of STEPS calls each (seeded by ``label``): both consoles agree
    after every call."""
    base = os.urandom(4).hex() if EXPLORING else label
    found, calls = [], 0
    for n in range(count):
        walk = Walk(target, kernel, search, f"{base}-{target}-{n}", regions, placement)
        for _ in range(STEPS):
            try:
                problem = walk.disagreement()
            except EmulationError as exc:
                problem = f"the console stopped: {exc}"
            calls += 1
            if problem:
                found.append(f"walk {base}-{target}-{n}: {' -> '.join(walk.calls)}: {problem}")
                break
    assert not found, "\n".join(found)
    assert calls == count * STEPS


def test_walks_of_api_calls_leave_both_consoles_alike(console):
    walks(*console, WALKS, "suite")


def test_walks_in_memory_too_small_for_every_module_leave_both_consoles_alike(console):
    target, kernel, search = console
    walks(target, kernel, search, TIGHT_WALKS, "tight", tight_regions(search))


def test_walks_with_modules_placed_in_overlay_regions_leave_both_consoles_alike(console):
    target, kernel, search = console
    walks(target, kernel, search, TIGHT_WALKS, "overlays", overlay_regions(search), OVERLAID)
