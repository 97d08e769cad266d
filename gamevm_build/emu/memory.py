"""The emulated console's address space: physical RAM and the views the profile lists.

Each profile RAM region is backed once, at its ``physical`` address, by one
``mem_map``.  The CPU's own fixed translation shows that backing at kseg0
(``0x80000000 + phys``) and kseg1 (``0xa0000000 + phys``).  kuseg goes through
the MIPS TLB: the machine clears ``Status.ERL`` (set at reset, it would map
kuseg 1:1 onto RAM) and writes wired TLB entries for exactly the kuseg views
the profile lists (the PS1's RAM mirror at 0 and scratchpad), less the NULL
page.  Every other kuseg access, and any in kseg2/kseg3, is a TLB miss: the
N64 has no RAM in kuseg, and a NULL dereference faults even on the PS1, which
would tolerate it.

Why not unicorn's virtual-TLB mode (a Python callback translating every
page): in unicorn 2.1.4 a TLB fill that happens in a branch delay slot leaves
the CPU flagged "in a delay slot", and the branch target then fails as a
reserved instruction (unicorn issue #2272); ordinary code hits that on its
first touch of a page.  Memory hooks cannot guard instead: unicorn passes them
physical addresses, the same for kuseg and kseg0.

Unicorn's page granularity is 4 KiB: a smaller region (the PS1's 1 KiB
scratchpad) is backed, and TLB-mapped, as a whole page.
"""

from __future__ import annotations

from dataclasses import dataclass

import unicorn

from ..errors import ConfigError
from ..project.profile import Profile
from .cpu import SENTINEL_PHYS

PAGE = 0x1000
MASK32 = 0xFFFFFFFF

#: Return address of host calls: kseg1 of a physical page no console uses
#: (above the PS1 BIOS and N64 PIF ROMs), backed so the CPU can look it up.
SENTINEL = 0xA0000000 | SENTINEL_PHYS          # kseg1

#: TLB entries of the CPU models in use (MIPS32 4Kc and 24Kf both have 16).
TLB_SIZE = 16
# MIPS page sizes and their PageMask values; one TLB entry maps an even/odd pair.
_PAGE_SIZES = ((0x1000000, 0x1FFE000), (0x400000, 0x7FE000), (0x100000, 0x1FE000),
               (0x40000, 0x7E000), (0x10000, 0x1E000), (0x4000, 0x6000), (0x1000, 0x0))


@dataclass(frozen=True)
class TlbEntry:
    """One wired MIPS TLB entry: ``2 * page`` bytes at ``vpn2``, each half mapped or not."""

    vpn2: int
    page: int
    page_mask: int
    even: int | None          # physical address of the even page, None: invalid
    odd: int | None

    def entry_lo(self, phys: int | None) -> int:
        # PFN, cacheable (C=3), dirty (writable), valid, global -- or only global.
        if phys is None:
            return 1
        return (phys >> 12) << 6 | 3 << 3 | 0b111


def page_align_up(value: int) -> int:
    return (value + PAGE - 1) & ~(PAGE - 1)


def cpu_physical(vaddr: int) -> int | None:
    """Physical address of ``vaddr`` as a machine translates it, None for kseg2/kseg3.

    kseg0/kseg1 are fixed; kuseg is 1:1 where the machine's TLB maps it at all.
    """
    vaddr &= MASK32
    if vaddr < 0x80000000:
        return vaddr
    if vaddr < 0xC0000000:
        return vaddr & 0x1FFFFFFF
    return None


@dataclass(frozen=True)
class View:
    """``size`` bytes of physical memory at ``phys`` seen at virtual ``start``."""

    start: int
    size: int
    phys: int
    name: str

    @property
    def end(self) -> int:
        return self.start + self.size

    def covers(self, addr: int, size: int = 1) -> bool:
        return self.start <= addr and addr + size <= self.end


def tlb_entries(start: int, end: int) -> list[TlbEntry]:
    """Entries mapping kuseg ``[start, end)`` 1:1 (page-aligned), no entry overlapping another.

    Greedy, largest pages first.  A pair may have one invalid half only at the
    edges of the range, where no other entry needs that half.
    """
    entries = []
    addr = start
    while addr < end:
        for page, mask in _PAGE_SIZES:
            pair = addr & ~(2 * page - 1)
            if addr == pair and addr + 2 * page <= end:
                entries.append(TlbEntry(pair, page, mask, addr, addr + page))
                addr += 2 * page
                break
            if addr == pair + page and addr == start and addr + page <= end:
                entries.append(TlbEntry(pair, page, mask, None, addr))
                addr += page
                break
            if page == 0x1000 and addr == pair:        # the range ends mid-pair
                entries.append(TlbEntry(pair, page, mask, addr, None))
                addr += page
                break
    return entries


class AddressSpace:
    """RAM views, physical backing and kuseg TLB entries of one machine.

    Parameters
    ----------
    profile
        Target profile; every ``[[memory.ram]]`` region becomes one physical
        block and one view per virtual address (``start`` and ``mirrors``).
    expansion
        Use a region's ``expansion_size`` (N64 Expansion Pak) when it has one.
    null_guard
        CPU accesses below this virtual address fault even where a view maps
        them (the PS1 kuseg mirror at 0).  Host-side :meth:`translate` ignores it.
    """

    def __init__(self, profile: Profile, *, expansion: bool = False, null_guard: int = PAGE,
                 cpu=None):
        if cpu is None:
            from .cpu import cpu_for
            cpu = cpu_for(profile)
        self.cpu = cpu
        self.null_guard = null_guard
        #: (physical address, mapped size) of each block, page-rounded.
        self.physical: list[tuple[int, int]] = []
        views = []
        for region in (*profile.ram, *profile.rom):
            size = region.expansion_size if expansion and region.expansion_size else region.size
            if region.physical % PAGE:
                raise ConfigError(f"{profile.source}: RAM region '{region.name}' has a physical "
                                  f"address 0x{region.physical:08x} that is not page-aligned")
            self.physical.append((region.physical, page_align_up(size)))
            for start in (region.start, *region.mirrors):
                problem = cpu.view_problem(start, region.physical)
                if problem:
                    raise ConfigError(f"{profile.source}: memory region '{region.name}' lists "
                                      f"view 0x{start:08x}, but {problem}")
                views.append(View(start, size, region.physical, region.name))
        self.views = tuple(views)
        for phys, size in self.physical:
            if phys < SENTINEL_PHYS + PAGE and phys + size > SENTINEL_PHYS:
                raise ConfigError(f"{profile.source}: RAM at physical 0x{phys:08x} overlaps the "
                                  f"emulator's reserved page 0x{SENTINEL_PHYS:08x}")
        self.tlb = self._tlb() if cpu.arch == "mips" else []
        if cpu.arch != "mips":
            # no TLB to leave page 0 out: the NULL guard stays unmapped instead
            cut = page_align_up(null_guard)
            self.physical = [(max(p, cut), s - (max(p, cut) - p))
                             for p, s in self.physical if p + s > cut]
        if len(self.tlb) > TLB_SIZE:
            raise ConfigError(f"{profile.source}: the kuseg RAM views need {len(self.tlb)} TLB "
                              f"entries; the CPU has {TLB_SIZE}")

    def _tlb(self) -> list[TlbEntry]:
        entries = []
        for view in self.views:
            if view.start < 0x80000000:
                start = max(view.start, page_align_up(self.null_guard))
                entries += tlb_entries(start, page_align_up(view.end))
        spans = sorted((e.vpn2, e.vpn2 + 2 * e.page) for e in entries)
        if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
            raise ConfigError("kuseg RAM views too close together for separate TLB entries")
        return entries

    def map_into(self, uc: unicorn.Uc) -> None:
        """``mem_map`` every physical block (once: views share it) and the sentinel page.

        Without address translation (no TLB to leave page 0 out), the NULL
        guard is left unmapped instead.
        """
        for phys, size in self.physical:
            uc.mem_map(phys, size)
        uc.mem_map(SENTINEL_PHYS, PAGE)

    def view_for(self, addr: int, size: int = 1) -> View | None:
        for view in self.views:
            if view.covers(addr, size):
                return view
        return None

    def memory_map(self) -> str:
        """The RAM (and ROM) views, one region a clause: ``main 0x80000000..0x80200000 (also
        at 0xa0000000, 0x00000000), scratchpad ...``."""
        regions: dict[str, list[View]] = {}
        for view in self.views:
            regions.setdefault(view.name, []).append(view)
        parts = []
        for name, views in regions.items():
            first = views[0]
            also = ", ".join(f"0x{v.start:08x}" for v in views[1:])
            parts.append(f"{name} 0x{first.start:08x}..0x{first.end:08x}"
                         + (f" (also at {also})" if also else ""))
        return ", ".join(parts)

    def placement_problem(self, start: int, end: int) -> str | None:
        """What is wrong with ``[start, end)`` reaching into RAM without fitting one view;
        None when it lies wholly outside every view."""
        first, last = self.view_for(start), self.view_for(end - 1)
        if first is not None:
            return (f"extends past the end of RAM region '{first.name}' "
                    f"0x{first.start:08x}..0x{first.end:08x} by 0x{end - first.end:x} bytes")
        if last is not None:
            return (f"starts before RAM region '{last.name}' at 0x{last.start:08x} "
                    f"(0x{last.start - start:x} bytes too low)")
        inside = next((v for v in self.views if start < v.start and v.end < end), None)
        if inside is not None:
            return (f"covers RAM region '{inside.name}' 0x{inside.start:08x}..0x{inside.end:08x} "
                    "and runs past both of its ends")
        return None

    def translate(self, addr: int, size: int = 1) -> int | None:
        """Physical address of ``[addr, addr+size)`` if one view covers it all, else None."""
        addr &= MASK32
        view = self.view_for(addr, size)
        return None if view is None else view.phys + (addr - view.start)

    def cpu_reaches(self, addr: int) -> bool:
        """True when a CPU access to ``addr`` does not miss the TLB (it may hit unbacked memory)."""
        addr &= MASK32
        if self.cpu.arch != "mips":
            return self.view_for(addr) is not None and addr >= self.null_guard
        if 0x80000000 <= addr < 0xC0000000:
            return True
        return any(e.vpn2 <= addr < e.vpn2 + 2 * e.page and
                   (e.even if addr < e.vpn2 + e.page else e.odd) is not None for e in self.tlb)
