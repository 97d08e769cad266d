"""Memory: every region fits at every scene, overlays hold one module, peak RAM per scene.

At each reachable scene, with the *may* resident sets of
:func:`gamevm_build.analysis.plans.residency` (modules resident on some path, before or
after the scene's streams):

* a **resident** region holds the kernel (if it lies there), its reserved
  bytes and every module of the region that may be resident: their sum must
  fit the region;
* an **overlay** region holds one module at a time: its largest possible
  occupant must fit, and two modules the scene needs at the same time in the
  same overlay region are an error naming both and the scene;
* **peak RAM** is the sum over regions (plus a kernel outside every region).

Sums over *may* sets are an upper bound: two modules resident on different
paths are both counted.

Examples
--------
>>> from gamevm_build.analysis.graph import graph_from_dict
>>> G = graph_from_dict({
...     "target": "psx",
...     "memoryMap": {"regions": [
...         {"name": "Main", "start": "0x80010000", "size": "64KB"},
...         {"name": "Ovl", "start": "0x80020000", "size": "32KB", "type": "overlay"},
...         {"name": "Spare", "start": "0x80030000", "size": "32KB", "type": "overlay"}]},
...     "modules": {"a": {"region": "Ovl", "estimate": {"size": "16KB"}},
...                 "b": {"region": "Ovl", "estimate": {"size": "16KB"}}},
...     "scenes": {"both": {"modules": ["a", "b"]}}})
>>> scene_memory(G)["both"].peak_ram
16384
>>> f, = memory_findings(G)
>>> print(f.message)
needs a and b at the same time, but both live in overlay region Ovl, which holds one module
>>> f.suggestions
('move b to region Spare',)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._index import bits, index, lowest_bits
from .findings import Finding, kib
from .plans import residency

__all__ = ["RegionUse", "SceneMemory", "scene_memory", "memory_findings"]

#: occupants a region's report lists per scene (the rest are counted)
LISTED = 50


class Occupants:
    """The first :data:`LISTED` modules of one set of region occupants, read from its mask
    on first use: once for every scene (and report) with the same set."""

    __slots__ = ("mask", "_first")

    def __init__(self, mask: int, first: list | None = None):
        self.mask = mask
        self._first = first

    @property
    def first(self) -> list[int]:
        if self._first is None:
            self._first = lowest_bits(self.mask, LISTED)
        return self._first


@dataclass(frozen=True)
class RegionUse:
    """Bytes a region holds at one scene (worst case over paths)."""

    region: str
    type: str
    size: int
    used: int
    kernel: int
    reserved: int
    count: int                               # modules that may be resident in it
    mask: int = field(default=0, repr=False, compare=False)
    names: list = field(default_factory=list, repr=False, compare=False)
    #: the first occupants (:class:`Occupants`), shared by the scenes with the same ones
    listed: object = field(default=None, repr=False, compare=False)

    @property
    def occupants(self) -> tuple[str, ...]:
        """Modules that may be resident in the region, in load order."""
        return tuple(self.names[i] for i in lowest_bits(self.mask, self.count))

    @property
    def free(self) -> int:
        return self.size - self.used

    @property
    def fits(self) -> bool:
        return self.used <= self.size

    def to_dict(self, limit: int = LISTED) -> dict:
        first = self.listed.first if self.listed is not None and limit <= LISTED \
            else lowest_bits(self.mask, limit)
        occ = [self.names[i] for i in first[:limit]]
        return {"region": self.region, "type": self.type, "size": self.size, "used": self.used,
                "free": self.free, "kernel": self.kernel, "reserved": self.reserved,
                "occupant_count": self.count, "occupants": occ}


@dataclass(frozen=True)
class SceneMemory:
    """Per-region use and peak RAM of one scene."""

    scene: str
    regions: tuple[RegionUse, ...]
    peak_ram: int

    def region(self, name: str) -> RegionUse:
        return next(r for r in self.regions if r.region == name)

    def to_dict(self) -> dict:
        return {"scene": self.scene, "peak_ram": self.peak_ram,
                "regions": [r.to_dict() for r in self.regions]}


def _kernel(G):
    node = G.graph.get("resident")
    if node is None:
        return None, 0
    d = G.nodes[node]
    return d.get("region"), d.get("size") or 0


def scene_memory(G, R=None) -> dict:
    """:class:`SceneMemory` of every reachable scene, by scene name."""
    ix = index(G)
    R = R if R is not None else residency(G)
    regions = G.graph["regions"]
    k_region, k_size = _kernel(G)
    out = {}
    cache: dict = {}          # (region, modules inside) -> (bytes of modules, count, listed)
    by_size = {name: sorted(lowest_bits(ix.region_mask[name], len(ix.names)),
                            key=lambda i: -ix.footprint[i])
               for name, reg in regions.items() if reg.overlay}
    for s in ix.scenes:
        if s not in R.exit_may:
            continue
        may = R.entry_may[s] | R.exit_may[s]     # before and after the scene's streams
        uses = []
        peak = 0 if k_region in regions else k_size
        for name, reg in regions.items():
            inside = may & ix.region_mask[name]
            hit = cache.get((name, inside))
            if hit is None:
                count = inside.bit_count()
                if reg.overlay and count > 8:       # the largest possible occupant
                    data = inside.to_bytes((ix.region_mask[name].bit_length() + 7) // 8,
                                           "little")
                    biggest = next(ix.footprint[i] for i in by_size[name]
                                   if data[i >> 3] >> (i & 7) & 1)
                    hit = (biggest, count, Occupants(inside))
                else:
                    occupants = list(bits(inside)) if count <= 8 else lowest_bits(inside, count)
                    sizes = [ix.footprint[i] for i in occupants]
                    hit = (max(sizes, default=0) if reg.overlay else sum(sizes), count,
                           Occupants(inside, occupants[:LISTED]))
                cache[name, inside] = hit
            kernel = k_size if k_region == name else 0
            used = kernel + reg.reserved + hit[0]
            peak += used
            uses.append(RegionUse(name, reg.type, reg.size, used, kernel, reg.reserved, hit[1],
                                  inside, ix.names, hit[2]))
        out[s] = SceneMemory(s, tuple(uses), peak)
    return out


def _room(G, mem: dict, ix, module: int, scenes, exclude: set) -> str | None:
    """A region that can take ``module`` at every one of ``scenes``.

    The other half of a double buffer first, then regions of the module's own
    type (overlay or resident), then the others, each by name.
    """
    regions = G.graph["regions"]
    need = ix.footprint[module]
    home = regions[ix.region[module]]
    order = ([home.pair] if home.pair else []) + sorted(
        regions, key=lambda n: (regions[n].overlay != home.overlay, n))
    for name in order:
        if name in exclude or name == home.name:
            continue
        reg = regions[name]
        ok = True
        for s in scenes:
            use = mem[s].region(name)
            if reg.overlay:
                required = ix.scene_mask[s] & ix.region_mask[name]
                if required or need + use.reserved + use.kernel > reg.size:
                    ok = False
            elif use.free < need:
                ok = False
            if not ok:
                break
        if ok and (not reg.overlay or need <= reg.capacity):
            return name
    return None


def memory_findings(G, R=None, mem: dict | None = None) -> list[Finding]:
    """Overlay conflicts, overlay modules too large, resident regions that overflow."""
    ix = index(G)
    R = R if R is not None else residency(G)
    mem = mem if mem is not None else scene_memory(G, R)
    regions = G.graph["regions"]
    out: list[Finding] = []
    reach = sorted(mem)
    # two modules needed at once in one overlay
    for s in reach:
        need = ix.scene_mask[s]
        for name, reg in regions.items():
            if not reg.overlay:
                continue
            inside = list(bits(need & ix.region_mask[name]))
            if len(inside) < 2:
                continue
            keep, *others = inside
            for o in others:
                where = _room(G, mem, ix, o, [s], {name})
                sugg = (f"move {ix.names[o]} to region {where}",) if where else (
                    f"give {ix.names[o]} an overlay region of its own "
                    f"({kib(ix.footprint[o])}), or merge {ix.names[keep]} and {ix.names[o]}",)
                out.append(Finding(
                    "error", "overlay", f"scene {s}",
                    f"needs {ix.names[keep]} and {ix.names[o]} at the same time, but both live "
                    f"in overlay region {name}, which holds one module", sugg))
    # modules larger than their overlay
    for i, name in enumerate(ix.names):
        reg = regions[ix.region[i]]
        if reg.overlay and ix.footprint[i] > reg.capacity:
            used_in = [s for s in reach if R.exit_may[s] >> i & 1]
            where = _room(G, mem, ix, i, used_in, set()) if used_in else None
            sugg = ((f"move {name} to region {where}",) if where else ()) + (
                f"split {name} into modules of at most {kib(reg.capacity)}",)
            out.append(Finding(
                "error", "memory", f"module {name}",
                f"needs {kib(ix.footprint[i])} but overlay region {reg.name} holds "
                f"{kib(reg.capacity)}" + (f" (scenes: {', '.join(used_in)})" if used_in else ""),
                sugg))
    # resident regions that overflow
    for name, reg in regions.items():
        if reg.overlay:
            continue
        over = [(mem[s].region(name), s) for s in reach if not mem[s].region(name).fits]
        if not over:
            continue
        over.sort(key=lambda us: (-us[0].used, us[1]))
        use, worst = over[0]
        members = sorted((ix.bit[m] for m in use.occupants), key=lambda i: -ix.footprint[i])
        parts = ([f"kernel {kib(use.kernel)}"] if use.kernel else []) + \
            ([f"reserved {kib(use.reserved)}"] if use.reserved else []) + \
            [f"{ix.names[i]} {kib(ix.footprint[i])}" for i in members]
        sugg = []
        for i in members[:3]:
            scenes_i = [s for s in reach if R.exit_may[s] >> i & 1]
            where = _room(G, mem, ix, i, scenes_i, {name})
            if where:
                sugg.append(f"move {ix.names[i]} to region {where}")
        if members:
            sugg.append(f"split {ix.names[members[0]]} ({kib(ix.footprint[members[0]])}) "
                        "or make it an overlay")
        scenes_txt = ", ".join(s for _, s in over)
        out.append(Finding(
            "error", "memory", f"region {name}",
            f"needs {kib(use.used)} at scene {worst} but holds {kib(reg.size)} "
            f"(over by {kib(use.used - reg.size)}: {', '.join(parts)}); overflows at "
            f"scenes: {scenes_txt}", tuple(sugg)))
    return out
