"""Hot reload on the console-side C runtime: :func:`gamevm_build.dev.swap.reload`'s
steps, with the runtime doing the loader's part.

The runtime (``gvm_reload.c``, docs/dev.md "Reload on the console-side runtime") loads
the rebuilt file beside the live copy, hidden (``GameVMLoadCopy``: placed, relocated,
bound, constructed), and later rebinds every other module's imports into the new copy
and gives it the live handle (``GameVMSwapCopy``); the host does what needs both files'
symbols, statics included: the layout comparison, the state carried symbol by symbol,
the jumps from the old entries (made visible with the runtime's ``GameVMSyncCode``), the
self test, and deciding when an old copy can go (``GameVMFreeCopy``).  A rollback swaps
back, frees the new copy and puts back the bytes the constructors, the swap and the self
test may have written, as the reference loader's rollback does.
"""

from __future__ import annotations

import time

from ..emu import stackwalk
from ..errors import EmulationError, ModuleFormatError
from ..link.module import read_module
from ..runtime.reference import TLoadStatus
from ..runtime.target import LOAD_LAZY, TargetLoader, TargetModule
from .swap import (POLICIES, ReloadError, ReloadReport, _Retired, _data_areas, _data_pointers,
                   _resident_ram, _retarget, _state, _symbolized, _write_entries, carry,
                   compare_layouts)


def find(loader: TargetLoader, which) -> TargetModule:
    """The loaded module ``which`` names (handle, name or the module itself)."""
    if isinstance(which, TargetModule):
        which = which.handle
    if isinstance(which, int):
        t = next((t for t in loader.loaded.values() if t.handle == which), None)
    else:
        t = loader.by_name(str(which))
    if t is None:
        have = ", ".join(m.name for m in loader.loaded.values()) or "none"
        raise ReloadError(f"no loaded module '{which}' to reload (loaded: {have})")
    return t


def reload(loader: TargetLoader, console, module, data: bytes, *, policy: str = "abort",
           selftest: str | None = None, path: str | None = None,
           max_seconds: float = 0.5) -> ReloadReport:
    """:func:`gamevm_build.dev.swap.reload` on the console-side runtime."""
    t0 = time.perf_counter()
    if policy not in POLICIES:
        raise ReloadError(f"unknown layout-change policy '{policy}': choose "
                          f"{', '.join(POLICIES)}")
    old = find(loader, module)
    machine = loader.machine
    st = _state(loader)
    report = ReloadReport(old.name, policy=policy, old_base=old.base)
    phases = report.phases
    mark = [t0]

    def phase(name: str) -> None:
        now = time.perf_counter()
        phases[name] = phases.get(name, 0.0) + now - mark[0]
        mark[0] = now

    def done(status: str, message: str = "") -> ReloadReport:
        report.status, report.message = status, message
        report.seconds = time.perf_counter() - t0
        loader.events.append({"event": "hot-reload", "module": old.name, "status": status,
                              "base": report.new_base})
        return report

    # 1. no live frame inside the old copy (the runtime checks too: safe mode)
    if machine.running:
        refs = stackwalk.references(machine, [(old.base, old.base + old.code_end)],
                                    loader.function_start, loader.is_code)
        if refs:
            report.busy = [r.describe(machine.symbolize) for r in refs]
            return done("busy", f"a live frame is inside module '{old.name}' "
                                f"({report.busy[0]}); reload at a frame boundary")
        return done("busy", "the CPU is running (a trap handler): the console-side runtime "
                            "reloads between calls")
    # 2. the new bytes and their layout
    name = path or old.path or old.name
    try:
        new_module = read_module(bytes(data), name=name)
    except ModuleFormatError as exc:
        raise ReloadError(f"reload of '{old.name}': {exc}") from None
    if new_module.target != machine.profile.name:
        raise ReloadError(f"{name}: module built for target {new_module.target}, but this "
                          f"console is {machine.profile.name}; rebuild it with "
                          f"-t {machine.profile.name}")
    if new_module.name != old.name:
        raise ReloadError(f"{name}: module '{new_module.name}' cannot replace module "
                          f"'{old.name}' (a reload keeps the module's name)")
    pairs = compare_layouts(old.module, new_module, report)
    phase("parse")
    if report.resized and policy == "abort":
        return done("layout-changed",
                    "data symbols changed size: " + "; ".join(map(str, report.resized)) +
                    "; the old code keeps running (policy keep or reset to reload anyway)")
    resident = loader.resident.symbols if loader.resident is not None else {}
    lost = sorted(f"{m.name}->{n}" for m in loader.loaded.values() if m is not old
                  and m.module is not None for n in m.module.imports
                  if n in old.symbols and n not in resident and n not in new_module.exports)
    if lost:
        return done("refused", "the new copy no longer exports what other modules bind: "
                    + ", ".join(lost) + "; unload them first or keep the export")
    collect(loader)

    # 3. the runtime loads the copy beside the old one; snapshots for a rollback first
    snap = _resident_ram(loader)
    others = [m for m in loader.loaded.values() if m is not old]
    snap += [(m.base, machine.read(m.base, m.size)) for m in others]
    old_state = machine.read(old.base + old.code_end, old.size - old.code_end)

    def undo_load(copy: int) -> None:
        if copy:
            loader.free_copy(copy)
        for v, body in snap:
            machine.write(v, body)

    lazy = LOAD_LAZY if old.lazy else 0
    start_s = loader.timer.clock.now_s
    try:
        status, copy = loader.load_copy(old.handle, old.name, data, name, lazy)
    except EmulationError as exc:
        report.fault = _symbolized(console, exc)
        undo_load(loader.last_copy)
        return done("rolled-back", f"a constructor of the new '{old.name}' failed")
    if status != TLoadStatus.lsSuccess:
        return done("refused", f"{status.name}: {loader.explain(name, status)}"
                    if status != TLoadStatus.lsModuleInUse else
                    f"{status.name}: the console-side runtime refused a copy of '{old.name}'")
    new = loader.copies[machine.read_u32(copy + 8)]
    new.lazy = old.lazy
    report.new_base = new.base
    phase("link")

    # 4. state
    carry(machine, old, new, pairs, report)
    phase("carry")

    # 5, 6. the runtime rebinds the others' imports and gives the new copy the handle
    live = old.handle
    status = loader.swap_copy(live, copy)
    if status != TLoadStatus.lsSuccess:
        undo_load(copy)
        report.new_base = None
        if status == TLoadStatus.lsModuleInUse:
            return done("busy", f"a live frame is inside module '{old.name}'; reload at a "
                                "frame boundary")
        return done("refused", f"GameVMSwapCopy: {status.name}")
    for m in others:                   # the sites the runtime re-patched, from the files
        moved = {n for n in (m.module.imports if m.module is not None else ())
                 if n in old.symbols and n not in resident}
        sites = sum(1 for rel in m.module.relocations if rel.is_import and rel.symbol in moved) \
            if moved else 0
        if sites:
            report.rebound[m.name] = sites
    report.console_s = loader.timer.clock.now_s - start_s
    report.console_measured = True
    phase("rebind")
    jumps, saved_entries = _write_entries(loader, st, old, new, report)
    loader.sync_code(old.base, old.code_end)
    report.stale_data = _data_pointers(loader, old, _data_areas(loader, exclude=old))
    olds = list(st.retired.get(live, []))
    for r in olds:
        _retarget(loader, st, r, new)
    if olds:
        for r in olds:
            loader.sync_code(r.lm.base, r.lm.code_end)
    gen = st.generation.get(live, 0) + 1
    st.generation[live] = gen
    retired = _Retired(old.name, old, jumps, gen)
    st.retired.setdefault(live, []).append(retired)
    phase("entries")

    # 7. self test
    failure = None
    if selftest:
        addr = new.symbols.get(selftest)
        if addr is None:
            failure = f"the new '{old.name}' exports no self test '{selftest}'"
        else:
            try:
                got = machine.call(addr, max_seconds=max_seconds)
                if got != 0:
                    failure = f"self test {selftest} returned {got} (0 is a pass)"
            except EmulationError as exc:
                report.fault = _symbolized(console, exc)
                failure = f"self test {selftest} of the new '{old.name}' failed"
    phase("selftest")
    if failure is not None:
        st.retired[live].remove(retired)
        if not st.retired[live]:
            del st.retired[live]
        st.generation[live] = gen - 1
        for at in jumps:
            st.redirect.pop(at, None)
        for at, body in saved_entries.items():
            machine.write(at, body)
        loader.sync_code(old.base, old.code_end)
        for r in olds:
            _retarget(loader, st, r, old)
            loader.sync_code(r.lm.base, r.lm.code_end)
        if loader.swap_copy(live, copy) != TLoadStatus.lsSuccess:
            raise EmulationError(f"GameVMSwapCopy could not undo the reload of '{old.name}'")
        undo_load(copy)
        machine.write(old.base + old.code_end, old_state)
        report.new_base = None
        report.entries, report.rebound, report.stale_data = {}, {}, []
        return done("rolled-back", failure)
    loader.events.append({"event": "hot-swap", "module": old.name, "from": old.base,
                          "to": new.base, "kept": len(report.kept)})
    return done("reloaded")


def collect(loader: TargetLoader) -> list[int]:
    """Free the hidden old copies nothing points into (the rule of
    :func:`gamevm_build.dev.swap._collect`) with ``GameVMFreeCopy``; return their bases."""
    from .swap import _STATE, _words
    st = _STATE.get(loader)
    if st is None or not st.retired:
        return []
    machine = loader.machine
    live = {t.handle for t in loader.loaded.values()}
    values = set()
    for base, body in _data_areas(loader):
        values.update(v for _i, v in _words(machine, base, body))
    freed = []
    for h, olds in list(st.retired.items()):
        for r in list(olds):
            lo, hi = r.lm.base, r.lm.end
            gone = loader.copies.get(lo) is not r.lm     # its overlay was loaded into
            if not gone and h in live and any(lo <= v < hi for v in values):
                continue
            if not gone and loader.free_copy(r.lm.handle) != TLoadStatus.lsSuccess:
                continue                 # safe mode: a frame is inside it
            for at in r.jumps:
                st.redirect.pop(at, None)
            olds.remove(r)
            freed.append(r.lm.base)
        if not olds:
            del st.retired[h]
    return freed
