"""pytest plugin for bench/coverage_c.py: which instructions of each resident ran.

Loaded with ``-p c_coverage_plugin`` (bench/ on PYTHONPATH) when ``GAMEVM_C_COVERAGE`` names
a directory.  Every emulated console that loads a statically linked executable (a
resident) gets a unicorn block hook over that executable's code; at the end of the
session each function's executed offsets are written to ``<dir>/<pid>.json`` as
``{function symbol: [offsets]}``, merged over every resident the tests linked (each maps
its own addresses to its own symbols).  It measures; it changes nothing the tests see.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import unicorn

from gamevm_build.emu.machine import Machine

_OUT = os.environ.get("GAMEVM_C_COVERAGE")
#: resident path -> executed translation blocks (address, size)
_BLOCKS: dict[str, set[tuple[int, int]]] = defaultdict(set)


def _code_range(path: str) -> tuple[int, int] | None:
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        spans = [(s["p_vaddr"], s["p_vaddr"] + s["p_memsz"]) for s in ELFFile(f).iter_segments()
                 if s["p_type"] == "PT_LOAD" and s["p_flags"] & 1]
    if not spans:
        return None
    return min(a for a, _ in spans) & 0xFFFFFFFF, max(b for _, b in spans) & 0xFFFFFFFF


def _hook(machine: Machine, uc: unicorn.Uc) -> None:
    blocks = _BLOCKS[machine._cov_path]
    lo, hi = machine._cov_range
    uc.hook_add(unicorn.UC_HOOK_BLOCK, lambda _uc, addr, size, _: blocks.add((addr, size)),
                None, lo, hi - 1)


def _patch() -> None:
    load_elf, new_engine = Machine.load_elf, Machine._new_engine

    def traced_load_elf(self, path):
        symbols = load_elf(self, path)
        span = _code_range(str(path))
        if span is not None:
            self._cov_path, self._cov_range = str(Path(path).resolve()), span
            _hook(self, self.uc)
        return symbols

    def traced_new_engine(self, previous=None):
        uc = new_engine(self, previous)
        if previous is not None and getattr(self, "_cov_range", None):
            _hook(self, uc)             # an engine rebuilt after a fault keeps being measured
        return uc

    Machine.load_elf, Machine._new_engine = traced_load_elf, traced_new_engine


def _functions(path: str) -> list[tuple[int, int, str]]:
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return sorted((s["st_value"] & ~1 & 0xFFFFFFFF, s["st_size"], s.name)
                      for s in symtab.iter_symbols()
                      if s["st_info"]["type"] == "STT_FUNC" and s["st_size"])


def pytest_sessionfinish(session, exitstatus):
    if not _OUT:
        return
    import bisect
    executed: dict[str, set[int]] = defaultdict(set)
    for path, blocks in _BLOCKS.items():
        if not os.path.exists(path):
            continue
        funcs = _functions(path)
        starts = [f[0] for f in funcs]
        for addr, size in blocks:
            i = bisect.bisect_right(starts, addr) - 1
            if i < 0:
                continue
            start, length, name = funcs[i]
            executed[name].update(o for o in range(addr - start, addr - start + size)
                                  if 0 <= o < length)
    out = Path(_OUT) / f"{os.getpid()}.json"
    out.write_text(json.dumps({k: sorted(v) for k, v in executed.items()}))


if _OUT:
    _patch()
