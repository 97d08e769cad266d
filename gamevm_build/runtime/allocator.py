"""Region-based stack allocation of module memory (seed §8 "Fragmentation").

A loader on a console with 2-4 MiB of RAM cannot afford a fragmenting heap.
Each :class:`Region` is a stack: allocations go on top, a freed block is
marked free and the top drops back past every free block at once.  Freeing
modules in reverse load order (the common case: leave a level, drop what it
loaded) therefore returns every byte; freeing out of order leaves a hole only
until everything above it is freed too.  All state changes are explicit, so a
failed load can roll back with :meth:`Region.free` and leave the region
exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError, GameVMError


class OutOfMemory(GameVMError):
    """No region has room for a block; the message says how much is missing where."""

    exit_status = 1


@dataclass
class Block:
    start: int
    size: int
    owner: str
    free: bool = False

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass
class Region:
    """A named address range managed as a stack of blocks."""

    name: str
    start: int
    size: int
    type: str = "heap"
    blocks: list[Block] = field(default_factory=list)
    pair: str | None = None          #: the other half of a double buffer (overlay regions)

    @property
    def overlay(self) -> bool:
        return self.type == "overlay"

    @property
    def occupants(self) -> list[Block]:
        """Blocks in use, bottom first."""
        return [b for b in self.blocks if not b.free]

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def top(self) -> int:
        return self.blocks[-1].end if self.blocks else self.start

    @property
    def used(self) -> int:
        return sum(b.size for b in self.blocks if not b.free)

    @property
    def available(self) -> int:
        return self.end - self.top

    def alloc(self, size: int, align: int, owner: str) -> Block:
        """Push a block of ``size`` bytes aligned to ``align``; OutOfMemory if it does not fit."""
        start = -(-self.top // align) * align
        if start + size > self.end:
            raise OutOfMemory(
                f"region '{self.name}' (0x{self.start:08x}-0x{self.end:08x}) has "
                f"{max(self.end - start, 0)} bytes free at the top but '{owner}' needs {size}; "
                "unload modules loaded after it, or give it a larger region in memoryMap")
        block = Block(start, size, owner)
        self.blocks.append(block)
        return block

    def alloc_at(self, addr: int, size: int, owner: str, *, into_free: bool = False) -> Block:
        """Push a block at exactly ``addr`` (a prelinked placement); the gap below stays free.

        ``addr`` must lie at or above the top, and the block inside the region; with
        ``into_free``, it may also lie in freed blocks below the top (a hole the stack
        cannot give back yet: hot reload reuses those, docs/dev.md).
        """
        if into_free and addr < self.top:
            return self._alloc_in_free(addr, size, owner)
        if not (self.top <= addr and addr + size <= self.end):
            raise OutOfMemory(
                f"region '{self.name}' (0x{self.start:08x}-0x{self.end:08x}, top 0x{self.top:08x})"
                f" cannot place '{owner}' ({size} bytes) at 0x{addr:08x}")
        if addr > self.top:
            self.blocks.append(Block(self.top, addr - self.top, "(gap)", True))
        block = Block(addr, size, owner)
        self.blocks.append(block)
        return block

    def holes(self) -> list[tuple[int, int]]:
        """``(start, size)`` of each run of adjacent freed blocks below the top."""
        out: list[list[int]] = []
        for b in self.blocks:
            if not b.free:
                continue
            if out and out[-1][0] + out[-1][1] == b.start:
                out[-1][1] += b.size
            else:
                out.append([b.start, b.size])
        return [(s, n) for s, n in out]

    def _alloc_in_free(self, addr: int, size: int, owner: str) -> Block:
        end = addr + size
        run = [i for i, b in enumerate(self.blocks) if b.free and b.start < end and addr < b.end]
        if (not run or run != list(range(run[0], run[-1] + 1))
                or self.blocks[run[0]].start > addr or self.blocks[run[-1]].end < end
                or any(self.blocks[i].end != self.blocks[i + 1].start for i in run[:-1])):
            raise OutOfMemory(f"region '{self.name}': 0x{addr:08x}..0x{end:08x} is not inside "
                              f"freed memory, so '{owner}' ({size} bytes) cannot go there")
        first, last = self.blocks[run[0]], self.blocks[run[-1]]
        block = Block(addr, size, owner)
        pieces = ([Block(first.start, addr - first.start, "(gap)", True)]
                  if addr > first.start else [])
        pieces.append(block)
        if end < last.end:
            pieces.append(Block(end, last.end - end, "(gap)", True))
        self.blocks[run[0]:run[-1] + 1] = pieces
        return block

    def free(self, block: Block) -> None:
        """Release ``block``; the top shrinks past every trailing free block."""
        if block not in self.blocks:
            raise ValueError(f"block 0x{block.start:08x} ({block.owner}) is not in region {self.name}")
        block.free = True
        while self.blocks and self.blocks[-1].free:
            self.blocks.pop()

    def snapshot(self) -> tuple:
        """Comparable state (for 'a failed load changes nothing' checks)."""
        return tuple((b.start, b.size, b.owner, b.free) for b in self.blocks)


class Allocator:
    """The regions a loader may place modules in, tried in order."""

    def __init__(self, regions: list[Region]):
        if not regions:
            raise GameVMError("no memory regions to load modules into")
        self.regions = list(regions)

    def region_at(self, addr: int) -> Region | None:
        """The region containing ``addr``, if any."""
        for r in self.regions:
            if r.start <= addr < r.end:
                return r
        return None

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise ConfigError(f"no memory region named '{name}' (memoryMap.regions has: "
                          f"{', '.join(r.name for r in self.regions)})")

    def alloc(self, size: int, align: int, owner: str, region: str | None = None
              ) -> tuple[Region, Block]:
        """Allocate in ``region`` or in the first general region with room."""
        if region is not None:
            r = self.region(region)
            return r, r.alloc(size, align, owner)
        errors = []
        for r in self.regions:
            if r.type == "overlay":
                continue  # overlay regions are only used when asked for by name
            try:
                return r, r.alloc(size, align, owner)
            except OutOfMemory as exc:
                errors.append(str(exc))
        raise OutOfMemory("; ".join(errors) or f"no general region can hold '{owner}'")

    def snapshot(self) -> tuple:
        return tuple((r.name, r.snapshot()) for r in self.regions)
