"""What reloads cost in memory, per region, on either loader (docs/dev.md, "Memory per
reload"): the reference loader's allocator knows its blocks; the console-side runtime's
regions are stacks whose blocks are the modules it reported loaded and the hidden copies
it keeps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RegionUse:
    name: str
    start: int
    end: int
    top: int              #: what a stack allocator can no longer give
    used: int             #: bytes of live modules and kept old copies
    old: int              #: of which old copies kept
    holes: int            #: freed bytes below the top


def region_use(loader, kept_bases=()) -> dict[str, RegionUse]:
    """Every memory region the loader places modules in, by name."""
    kept = set(kept_bases)
    allocator = getattr(loader, "allocator", None)
    out = {}
    if allocator is not None:
        for r in allocator.regions:
            used = sum(b.size for b in r.occupants)
            out[r.name] = RegionUse(r.name, r.start, r.end, r.top, used,
                                    sum(b.size for b in r.occupants if b.start in kept),
                                    sum(b.size for b in r.blocks if b.free))
        return out
    modules = list(loader.loaded.values()) + list(loader.copies.values())
    for r in loader.regions:
        mine = [m for m in modules if m.region is not None and m.region.name == r.name]
        top = max((m.end for m in mine), default=r.start)
        used = sum(m.size for m in mine)
        out[r.name] = RegionUse(r.name, r.start, r.start + r.size, top, used,
                                sum(m.size for m in loader.copies.values() if m in mine),
                                top - r.start - used)
    return out


def region_at(loader, addr: int):
    """The region ``addr`` lies in (a RegionUse), or None."""
    return next((u for u in region_use(loader).values() if u.start <= addr < u.end), None)
