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

from ..errors import EmulationError
from ..runtime.reference import TLoadStatus
from ..runtime.target import EV_PATCHING, LOAD_LAZY, TargetLoader
from .swap import (_STATE, ReloadReport, _collect, _data_areas, _data_pointers, _resident_ram,
                   _retarget, _retire, _start, _symbolized, _unretire, _write_entries, begin,
                   carry, self_test)


def reload(loader: TargetLoader, console, module, data: bytes, *, policy: str = "abort",
           selftest: str | None = None, path: str | None = None,
           max_seconds: float = 0.5) -> ReloadReport:
    """:func:`gamevm_build.dev.swap.reload` on the console-side runtime."""
    t0 = time.perf_counter()
    old, st, run = _start(loader, module, policy, t0)
    machine = loader.machine
    name = path or old.path or old.name
    new_module, pairs = begin(run, loader, old, data, name)
    if new_module is None:
        return run.report
    report, phase, done = run.report, run.phase, run.done
    if machine.running:
        return done("busy", "the CPU is running (a trap handler): the console-side runtime "
                            "reloads between calls")
    # what each other module imports from the old copy (the resident is bound first)
    resident = loader.resident.symbols if loader.resident is not None else {}
    others = [m for m in loader.loaded.values() if m is not old]
    binds = {m.name: {n for n in m.module.imports if n in old.symbols and n not in resident}
             for m in others if m.module is not None}
    lost = sorted(f"{m}->{n}" for m, names in binds.items() for n in names
                  if n not in new_module.exports)
    if lost:
        return done("refused", "the new copy no longer exports what other modules bind: "
                    + ", ".join(lost) + "; unload them first or keep the export")
    collect(loader)

    # 3. the runtime loads the copy beside the old one; snapshots for a rollback first
    snap = _resident_ram(loader)
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
        return run.rolled_back(f"a constructor of the new '{old.name}' failed")
    if status != TLoadStatus.lsSuccess:
        return done("refused", f"{status.name}: {loader.explain(name, status)}")
    new = loader.copies[loader.handle_base(copy)]
    new.lazy = old.lazy
    report.new_base = new.base
    phase("link")

    # 4. state
    carry(machine, old, new, pairs, report)
    phase("carry")

    # 5, 6. the runtime rebinds the others' imports and gives the new copy the handle
    live = old.handle
    events = len(loader.events)
    status = loader.swap_copy(live, copy)
    if status != TLoadStatus.lsSuccess:
        undo_load(copy)
        report.new_base = None
        if status == TLoadStatus.lsModuleInUse:
            return done("busy", f"a live frame is inside module '{old.name}'; reload at a "
                                "frame boundary")
        return done("refused", f"GameVMSwapCopy: {status.name}")
    patched = {e["module"] for e in loader.events[events:] if e["event"] == EV_PATCHING}
    for m in others:                   # what the runtime re-patched, counted from the files
        moved = binds.get(m.name) if m.name in patched else None
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
        loader.sync_code(r.lm.base, r.lm.code_end)
    retired = _retire(st, live, old, jumps)
    phase("entries")

    # 7. self test
    failure = self_test(machine, console, new, old.name, selftest, max_seconds, report)
    phase("selftest")
    if failure is not None:
        _unretire(machine, st, live, retired, saved_entries)
        loader.sync_code(old.base, old.code_end)
        for r in olds:
            _retarget(loader, st, r, old)
            loader.sync_code(r.lm.base, r.lm.code_end)
        if loader.swap_copy(live, copy) != TLoadStatus.lsSuccess:
            raise EmulationError(f"GameVMSwapCopy could not undo the reload of '{old.name}'")
        undo_load(copy)
        machine.write(old.base + old.code_end, old_state)
        return run.rolled_back(failure)
    return run.swapped(new)


def collect(loader: TargetLoader) -> list[int]:
    """Free the hidden old copies nothing points into (the rule of
    :func:`gamevm_build.dev.swap._collect`) with ``GameVMFreeCopy``; return their bases.
    Copies the runtime freed itself (an overlay they lay in was loaded into) are only
    forgotten; from inside a trap nothing can be freed (the runtime is not reentrant)."""
    st = _STATE.get(loader)
    if st is None:
        return []
    gone = []
    for olds in st.retired.values():
        for r in [r for r in olds if loader.copies.get(r.lm.base) is not r.lm]:
            _forget(st, r)
            olds.remove(r)
            gone.append(r.lm.base)
    for h in [h for h, olds in st.retired.items() if not olds]:
        del st.retired[h]
    if loader.machine.running:
        return gone
    return gone + _collect(loader, st, free=_free_copy)


def _free_copy(loader: TargetLoader, st, r) -> bool:
    """``GameVMFreeCopy`` of a retired copy; False when safe mode keeps it (a frame is
    inside it)."""
    if loader.free_copy(r.lm.handle) != TLoadStatus.lsSuccess:
        return False
    _forget(st, r)
    return True


def _forget(st, r) -> None:
    for at in r.jumps:
        st.redirect.pop(at, None)
