"""Swap a loaded module for a rebuilt one in a running emulated console, keeping its state.

:func:`reload` is the whole operation; docs/dev.md describes what it keeps, when it
reports instead of swapping, when it rolls back and how the old copy is retired.
The steps, in order (any failure before the commit leaves the console as it was):

1. **check**: no live frame, saved return address or register points into the old
   module's code (safe mode's stack walk), else ``busy``;
2. **compare layouts**: the data and bss symbols of both copies, by name: kept
   (same size), added, removed, resized.  A resized symbol with policy ``abort``
   stops here (``layout-changed``);
3. **place and bind** the new copy next to the old one (the loader's own
   ``_link_one``: allocation, relocation, imports bound as for any load), then run
   its constructors;
4. **carry** the kept symbols' bytes from the old copy to the new one, pointers into
   the old copy translated to the same symbol in the new one;
5. **rebind** every other module's relocated sites that pointed into the old copy;
6. **commit**: the new copy takes the old one's handle (and reference count, needs,
   pins), the old entry points are overwritten with jumps to the new code
   (:mod:`gamevm_build.dev.jumps`);
7. **self test** (optional): a function of the new copy is called; a fault, a timeout
   or a non-zero result undoes steps 3-6 (``rolled-back``).
"""

from __future__ import annotations

import array
import sys
import time
import weakref
from dataclasses import dataclass, field

from ..emu import stackwalk
from ..errors import EmulationError, GameVMError, ModuleFormatError
from ..link.module import Module, read_module
from ..runtime.reference import LoadError, LoadedModule, Loader, _Item
from .jumps import entry_jump

POLICIES = ("abort", "keep", "reset")
#: sections whose symbols are state (constructor tables are not: the new copy's own run)
STATE_SECTIONS = (".data", ".bss")


class ReloadError(GameVMError):
    """A reload asked for something impossible (bad bytes, another module, bad policy)."""

    exit_status = 2


@dataclass
class SymbolChange:
    """A data symbol whose size differs between the old and new copy."""

    name: str
    old_size: int
    new_size: int

    def __str__(self) -> str:
        return f"{self.name}: {self.old_size} -> {self.new_size} bytes"


@dataclass
class ReloadReport:
    """What :func:`reload` did (``status``) and why.

    status
        ``reloaded``; ``layout-changed`` (policy abort: nothing changed); ``busy`` (a
        live frame is inside the module: nothing changed); ``rolled-back`` (the new
        copy faulted, timed out or failed its self test: the old one runs again, with
        its state); ``refused`` (the new copy cannot be placed or bound, or drops an
        export another module binds: nothing changed).
    """

    module: str
    status: str = "reloaded"
    policy: str = "abort"
    message: str = ""
    old_base: int = 0
    new_base: int | None = None
    kept: list[str] = field(default_factory=list)        #: state carried, by symbol
    added: list[str] = field(default_factory=list)       #: new symbols: initial values
    removed: list[str] = field(default_factory=list)     #: dropped with the old copy
    resized: list[SymbolChange] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)   #: names defined twice: not carried
    pointers: int = 0                  #: words of carried state re-aimed at the new copy
    rebound: dict[str, int] = field(default_factory=dict)  #: module -> relocated sites rewritten
    resident_sites: int = 0            #: the resident is linked before modules: none point in
    entries: dict[str, str] = field(default_factory=dict)  #: old function -> jump written
    busy: list[str] = field(default_factory=list)        #: what keeps the module busy
    #: words outside the module (resident, other modules' data) holding the address of the
    #: old copy's data: they keep reading the old copy's (no longer updated) state
    stale_data: list[str] = field(default_factory=list)
    fault: str | None = None           #: the new copy's symbolized fault (rolled-back)
    retired: list[int] = field(default_factory=list)     #: old copies freed by this reload
    phases: dict[str, float] = field(default_factory=dict)  #: host seconds per step
    seconds: float = 0.0               #: host time of the whole reload
    #: the load model's CPU time of placing and binding the new copy on the console
    #: (copy, relocate, bind: what the console-side runtime would spend; no media read)
    console_s: float = 0.0
    #: console_s is what the console-side runtime took (its load of the copy, media
    #: read included, and the swap), not the model's
    console_measured: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "reloaded"

    def describe(self) -> str:
        lines = [f"reload {self.module}: {self.status}" + (f": {self.message}" if self.message
                                                          else "")]
        if self.resized:
            lines.append("  resized: " + "; ".join(map(str, self.resized)) +
                         f" (policy {self.policy})")
        if self.status == "reloaded":
            lines.append(f"  0x{self.old_base:08x} -> 0x{self.new_base:08x}: kept "
                         f"{len(self.kept)}, added {len(self.added)}, removed "
                         f"{len(self.removed)} data symbols; {sum(self.rebound.values())} "
                         f"sites rebound; {len(self.entries)} old entries jump to new code "
                         f"({self.seconds * 1e3:.1f} ms on the host, "
                         f"{self.console_s * 1e3:.2f} ms "
                         f"{'on' if self.console_measured else 'modelled on'} the console)")
        for w in self.stale_data:
            lines.append(f"  warning: {w}")
        if self.fault:
            lines.append("  " + self.fault.replace("\n", "\n  "))
        return "\n".join(lines)


@dataclass
class _Retired:
    """An old copy kept because something may still jump to its entry points."""

    name: str
    lm: LoadedModule
    jumps: dict[int, str]              #: old entry address -> function name
    generation: int


class _DevState:
    """Per-loader bookkeeping: retired copies, host-redirected entries, reload counts."""

    def __init__(self, loader: Loader):
        self.retired: dict[int, list[_Retired]] = {}      # live handle -> its old copies
        self.redirect: dict[int, int] = {}                 # old entry -> new (host breakpoint)
        self.generation: dict[int, int] = {}
        machine = loader.machine
        previous = getattr(machine, "symbolizer", None)

        def symbolize(addr: int) -> str | None:
            name = previous(addr) if previous else None
            if name is not None:
                return name
            for olds in self.retired.values():
                for r in olds:
                    if r.lm.contains(addr):
                        return f"{r.lm.symbolize(addr)} (replaced copy #{r.generation})"
            return None
        machine.symbolizer = symbolize


_STATE: "weakref.WeakKeyDictionary[Loader, _DevState]" = weakref.WeakKeyDictionary()


def _state(loader: Loader) -> _DevState:
    st = _STATE.get(loader)
    if st is None:
        st = _STATE[loader] = _DevState(loader)
    return st


def _loader_of(target) -> tuple[Loader, object | None]:
    """The loader a reload works on (the reference loader, or the console-side runtime's
    :class:`~gamevm_build.runtime.target.TargetLoader`) and the console, if given one."""
    from ..runtime.target import TargetLoader
    if isinstance(target, (Loader, TargetLoader)):
        return target, None
    loader = getattr(target, "loader", None)
    if isinstance(loader, Loader):
        return loader, target
    if isinstance(loader, TargetLoader):
        if not loader.reloads:
            raise ReloadError("this console's runtime has no reload API: link the resident "
                              "with --keep for GameVMSetReload, GameVMLoadCopy, GameVMSwapCopy "
                              "and GameVMFreeCopy (gamevm dev does), or use loader='host'")
        return loader, target
    raise ReloadError(f"nothing to reload on: {target!r} is neither a console nor a loader")


def _find(loader, which):
    """The loaded module ``which`` names: a handle, a name, or the module itself."""
    if isinstance(which, int) or hasattr(which, "handle"):
        handle = which if isinstance(which, int) else which.handle
        lm = next((m for m in loader.loaded.values() if m.handle == handle), None)
    elif isinstance(loader, Loader):
        lm = loader._loaded_for(str(which))
    else:
        lm = loader.by_name(str(which))
    if lm is None:
        have = ", ".join(m.name for m in loader.loaded.values()) or "none"
        raise ReloadError(f"no loaded module '{which}' to reload (loaded: {have})")
    return lm


def _start(loader, module, policy: str, t0: float):
    """``(old copy, the loader's reload bookkeeping, the run)`` of a reload asked for."""
    if policy not in POLICIES:
        raise ReloadError(f"unknown layout-change policy '{policy}': choose "
                          f"{', '.join(POLICIES)}")
    old = _find(loader, module)
    return old, _state(loader), _Run(loader, old, policy, t0)


# ----------------------------------------------------------------------------- layouts

def _symbols(module: Module):
    return list(module.exports.values()) + module.locals


def state_symbols(module: Module) -> tuple[dict, set]:
    """Data and bss symbols by name, and the names defined more than once (statics of
    two files): those cannot be matched, so they are not carried."""
    out, dup = {}, set()
    for s in _symbols(module):
        if s.section in STATE_SECTIONS and s.size > 0 and s.kind in ("object", "notype"):
            if s.name in out:
                dup.add(s.name)
            out[s.name] = s
    return out, dup


def compare_layouts(old: Module, new: Module, report: ReloadReport) -> dict:
    """Fill the report's kept/added/removed/resized; return name -> (old sym, new sym)
    of what is carried."""
    a, dup_a = state_symbols(old)
    b, dup_b = state_symbols(new)
    dup = dup_a | dup_b
    report.ambiguous = sorted(dup & (set(a) | set(b)))
    pairs = {}
    for name in sorted(set(a) | set(b)):
        if name in dup:
            continue
        if name not in b:
            report.removed.append(name)
        elif name not in a:
            report.added.append(name)
        elif a[name].size != b[name].size:
            report.resized.append(SymbolChange(name, a[name].size, b[name].size))
            pairs[name] = (a[name], b[name])
        else:
            report.kept.append(name)
            pairs[name] = (a[name], b[name])
    return pairs


class _Translator:
    """Maps an address inside the old copy to the same symbol (and offset) in the new."""

    def __init__(self, old: LoadedModule, new: LoadedModule):
        self.old, self.new = old, new
        news, twice = {}, set()
        for s in _symbols(new.module):
            key = (s.name, s.kind == "func")
            if s.section and key in news:
                twice.add(key)
            if s.section:
                news.setdefault(key, s)
        spans, seen = [], set()
        for s in _symbols(old.module):
            key = (s.name, s.kind == "func")
            if not s.section or s.name.startswith("$"):     # ARM mapping symbols
                continue
            if key in seen:
                twice.add(key)
            seen.add(key)
            match = news.get(key)
            if match is None:
                continue
            start = s.value & ~1 if s.kind == "func" else s.value
            spans.append((start, start + max(s.size, 1), s, match, key))
        # a name defined twice (statics of two files) cannot be matched
        self.spans = sorted(((a, b, s, m) for a, b, s, m, k in spans if k not in twice),
                            key=lambda x: (x[0], -x[1]))

    def __call__(self, addr: int) -> int | None:
        if not self.old.contains(addr):
            return None
        off = addr - self.old.base
        for start, end, s, ns in self.spans:
            if start <= off < end:
                delta = off - s.value          # 0 for a Thumb function's (odd) address
                if delta < max(ns.size, 1):
                    return (self.new.base + ns.value + delta) & 0xFFFFFFFF
        return None


def carry(machine, old, new, pairs: dict, report: ReloadReport) -> None:
    """Copy each carried symbol's bytes from the old copy to the new one (the first
    min(old, new) bytes; none of a resized one under policy reset), every word that
    points into the old copy re-aimed at the same symbol of the new one."""
    translate = _Translator(old, new)
    word = 2 if machine.profile.arch == "m68k" else 4
    order = machine.profile.byteorder
    for sym_name, (a, b) in pairs.items():
        if any(c.name == sym_name for c in report.resized) and report.policy == "reset":
            continue
        size = min(a.size, b.size)
        body = bytearray(machine.read(old.base + a.value, size))
        dst = new.base + b.value
        i = (-dst) % word
        while i + 4 <= size:
            to = translate(int.from_bytes(body[i:i + 4], order))
            if to is not None:
                body[i:i + 4] = to.to_bytes(4, order)
                report.pointers += 1
                i += 4                 # a pointer's second half is not another one's first
            else:
                i += word
        machine.write(dst, bytes(body))


# ----------------------------------------------------------------------------- the swap

class _Run:
    """One reload under way: its report, the host time each step took, how it ended."""

    def __init__(self, loader, old, policy: str, t0: float):
        self.loader, self.old, self.t0, self.mark = loader, old, t0, t0
        self.report = ReloadReport(old.name, policy=policy, old_base=old.base)

    def phase(self, name: str) -> None:
        now = time.perf_counter()
        phases = self.report.phases
        phases[name] = phases.get(name, 0.0) + now - self.mark
        self.mark = now

    def done(self, status: str, message: str = "") -> ReloadReport:
        report = self.report
        report.status, report.message = status, message
        report.seconds = time.perf_counter() - self.t0
        self.loader.events.append({"event": "hot-reload", "module": self.old.name,
                                   "status": status, "base": report.new_base})
        return report

    def rolled_back(self, why: str) -> ReloadReport:
        """The new copy is gone and the old one runs again: nothing of the swap stays."""
        report = self.report
        report.new_base = None
        report.entries, report.rebound, report.stale_data = {}, {}, []
        return self.done("rolled-back", why)

    def swapped(self, new) -> ReloadReport:
        self.loader.events.append({"event": "hot-swap", "module": self.old.name,
                                   "from": self.old.base, "to": new.base,
                                   "kept": len(self.report.kept)})
        return self.done("reloaded")


def begin(run: _Run, loader, old, data: bytes, name: str, *, verify_hash: bool = True):
    """Steps 1 and 2 of a reload on either loader: no live frame inside the old copy, the
    new bytes read and checked, the layouts compared.  ``(new module, carried pairs)``,
    or ``(None, None)`` when the reload ends there (``run.report`` says why); raises
    :class:`ReloadError` for bytes that cannot replace the module."""
    machine, report = loader.machine, run.report
    # 1. no live frame inside the old copy (only possible while the CPU runs: a trap)
    if machine.running:
        refs = stackwalk.references(machine, [(old.base, old.base + old.code_end)],
                                    loader.function_start, loader.is_code)
        if refs:
            report.busy = [r.describe(machine.symbolize) for r in refs]
            run.done("busy", f"a live frame is inside module '{old.name}' "
                             f"({report.busy[0]}); reload at a frame boundary")
            return None, None
    # 2. the new bytes and their layout
    try:
        new_module = read_module(bytes(data), name=name, verify_hash=verify_hash)
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
    run.phase("parse")
    if report.resized and report.policy == "abort":
        run.done("layout-changed",
                 "data symbols changed size: " + "; ".join(map(str, report.resized)) +
                 "; the old code keeps running (policy keep or reset to reload anyway)")
        return None, None
    return new_module, pairs


def reload(target, module, data: bytes, *, policy: str = "abort", selftest: str | None = None,
           path: str | None = None, max_seconds: float = 0.5) -> ReloadReport:
    """Replace loaded module ``module`` (handle, name or LoadedModule) with ``data``.

    ``target`` is a :class:`~gamevm_build.play.console.Console` (on the host loader, or on
    the console-side runtime with its reload API: :mod:`.swap_target`) or a
    :class:`~gamevm_build.runtime.reference.Loader`.  ``policy`` decides what a resized
    data symbol does: ``abort`` (default: no reload, the old copy keeps running),
    ``keep`` (carry its first min(old, new) bytes), ``reset`` (its new initial value).
    ``selftest`` names a function of the new copy to call after the swap: a fault, a
    timeout (``max_seconds`` of console time, as for constructors) or a non-zero result
    rolls the reload back.  Returns a :class:`ReloadReport`; raises
    :class:`ReloadError` for bad input.
    """
    t0 = time.perf_counter()
    loader, console = _loader_of(target)
    if not isinstance(loader, Loader):
        from . import swap_target
        return swap_target.reload(loader, console, module, data, policy=policy,
                                  selftest=selftest, path=path, max_seconds=max_seconds)
    old, st, run = _start(loader, module, policy, t0)
    machine = loader.machine
    name = path or old.path
    new_module, pairs = begin(run, loader, old, data, name,
                              verify_hash=loader.policy.verify_hash)
    if new_module is None:
        return run.report
    report, phase, done = run.report, run.phase, run.done
    lost = sorted({f"{m.name}->{n}" for m in loader.loaded.values() if m is not old
                   for n, a in m.bindings.items()
                   if old.symbols.get(n) == a and n not in new_module.exports})
    if lost:
        return done("refused", "the new copy no longer exports what other modules bind: "
                    + ", ".join(lost) + "; unload them first or keep the export")
    runs_code = bool(selftest) or bool(new_module.init)
    if machine.running and runs_code:
        return done("busy", "the CPU is running (a trap handler): constructors and the self "
                            "test cannot run here; reload between calls")
    _collect(loader, st, report)

    # 3. place, relocate, bind; constructors
    region = old.region if old.region.type != "overlay" else next(
        (r for r in loader.allocator.regions if r.type != "overlay"), None)
    if region is None:
        return done("refused", f"module '{old.name}' lives in overlay region "
                               f"{old.region.name} and no heap region can hold a second copy")
    item = _Item(old.request or old.name, name, new_module, region.name)
    # a freed old copy below the region's top is a hole a stack cannot give back until
    # the blocks above it go: the new copy goes there when it fits, so a session that
    # reloads a module again and again holds about two copies of it, not one per reload
    hole = _hole(region, new_module.load_size, max(new_module.align, 4))
    try:
        new = loader._link_one(item, lazy=bool(old.lazy) or loader.policy.lazy, at=hole,
                               alternate=False, record=None, into_free=hole is not None)
    except LoadError as exc:
        return done("refused", f"{exc.status.name}: {exc}")
    temp_handle = new.handle
    report.new_base = new.base
    steps = loader.cpu_model(new_module, eager_imports=len(new_module.imports) - len(new.lazy),
                             init_s=0.0)
    report.console_s = sum(v for k, v in steps.items() if k != "init")
    # snapshots for a rollback: what constructors, the swap and the self test may write
    snap = _resident_ram(loader)
    others = [m for m in loader.loaded.values() if m is not old and m is not new]
    snap += [(m.base, machine.read(m.base, m.module.load_size)) for m in others]
    old_bindings = {m.handle: (dict(m.bindings), set(m.providers)) for m in others}
    old_state = machine.read(old.base + old.code_end, old.module.load_size - old.code_end)
    phase("link")
    for fn in loader.init_functions(new):
        try:
            machine.call(fn, max_seconds=max_seconds)
        except EmulationError as exc:
            report.fault = _symbolized(console, exc)
            for v, body in snap:
                machine.write(v, body)
            loader._rollback(new)
            return run.rolled_back(f"a constructor of the new '{old.name}' failed")
    phase("init")

    # 4. state
    carry(machine, old, new, pairs, report)
    phase("carry")

    # 5. other modules' relocated sites
    for m in others:
        for n, a in list(m.bindings.items()):
            if n in m.lazy or old.symbols.get(n) != a:
                continue
            to = new.symbols[n]
            sites = loader._patch_sites(m, n, to)
            m.bindings[n] = to
            report.rebound[m.name] = report.rebound.get(m.name, 0) + sites
    phase("rebind")

    # 6. commit: the new copy takes the old one's place and handle
    del loader.loaded[temp_handle]
    new.handle = old.handle
    loader.loaded[old.handle] = new          # same key: the binding order is kept
    new.refcount, new.deps, new.pinned = old.refcount, list(old.deps), old.pinned
    new.timing = new.timing or old.timing
    _lazy_holders(loader, new, old)
    jumps, saved_entries = _write_entries(loader, st, old, new, report)
    report.stale_data = _data_pointers(loader, old, _data_areas(loader, exclude=old))
    # older copies of this module jump straight to the newest one
    olds = list(st.retired.get(old.handle, []))
    for r in olds:
        _retarget(loader, st, r, new)
    retired = _retire(st, old.handle, old, jumps)
    phase("entries")

    # 7. self test
    failure = self_test(machine, console, new, old.name, selftest, max_seconds, report)
    phase("selftest")
    if failure is not None:
        _unretire(machine, st, old.handle, retired, saved_entries)
        for r in olds:
            _retarget(loader, st, r, old)
        new.handle = temp_handle
        loader.loaded[old.handle] = old
        _lazy_holders(loader, old, new)
        for v, body in snap:
            machine.write(v, body)
        machine.write(old.base + old.code_end, old_state)
        for m in others:
            m.bindings = dict(old_bindings[m.handle][0])
            m.providers = set(old_bindings[m.handle][1])
        loader._rollback(new)
        return run.rolled_back(failure)
    return run.swapped(new)


def _lazy_holders(loader: Loader, live: LoadedModule, kept: LoadedModule) -> None:
    """``live`` holds the handle: its lazy stubs bind it; ``kept``'s bind ``kept`` itself.

    A function the new build no longer has keeps its old code, which a stored pointer
    may still call: its lazy imports bind the old copy's sites, as the console-side
    runtime's stubs (which name their holder's copy) do."""
    if loader.stubs is None:
        return
    for lm in (live, kept):
        for stub in lm.lazy.values():
            info = loader.stubs.slots.get(stub)
            if info is None:
                continue
            info["handle"] = live.handle
            if lm is kept:
                info["copy"] = kept
            else:
                info.pop("copy", None)


def _retire(st: _DevState, handle: int, old, jumps: dict) -> _Retired:
    """Keep the replaced copy ``old`` (its entries now jump to the new code) under the
    live ``handle``, as its next generation."""
    gen = st.generation.get(handle, 0) + 1
    st.generation[handle] = gen
    retired = _Retired(old.name, old, jumps, gen)
    st.retired.setdefault(handle, []).append(retired)
    return retired


def _unretire(machine, st: _DevState, handle: int, retired: _Retired, saved: dict) -> None:
    """Undo :func:`_retire` for a rollback: the copy's entries get their bytes back."""
    st.retired[handle].remove(retired)
    if not st.retired[handle]:
        del st.retired[handle]
    st.generation[handle] = retired.generation - 1
    for at in retired.jumps:
        st.redirect.pop(at, None)
    for at, body in saved.items():
        machine.write(at, body)


def self_test(machine, console, new, module: str, selftest: str | None, max_seconds: float,
              report: ReloadReport) -> str | None:
    """Call the new copy's ``selftest`` (when given): why it failed, or None."""
    if not selftest:
        return None
    addr = new.symbols.get(selftest)
    if addr is None:
        return f"the new '{module}' exports no self test '{selftest}'"
    try:
        got = machine.call(addr, max_seconds=max_seconds)
    except EmulationError as exc:
        report.fault = _symbolized(console, exc)
        return f"self test {selftest} of the new '{module}' failed"
    return f"self test {selftest} returned {got} (0 is a pass)" if got != 0 else None


def _data_areas(loader: Loader, exclude=None) -> list[tuple[int, bytes]]:
    """``(address, bytes)`` of where a game stores pointers: the resident's segments but
    its code (and the console-side runtime's own records), and every loaded module's
    data and bss (but ``exclude``'s)."""
    out = []
    skip = list(loader.resident.code)
    if hasattr(loader, "runtime_state"):
        skip += loader.runtime_state()
    for v, body in _resident_ram(loader):
        cuts = sorted((max(a, v), min(b, v + len(body))) for a, b in skip
                      if a < v + len(body) and v < b)
        at = v
        for a, b in cuts + [(v + len(body), v + len(body))]:
            if a > at:
                out.append((at, body[at - v:a - v]))
            at = max(at, b)
    machine = loader.machine
    for m in loader.loaded.values():
        if m is not exclude:
            out.append((m.base + m.code_end, machine.read(m.base + m.code_end,
                                                          m.module.load_size - m.code_end)))
    return out


def _words(machine, base: int, body: bytes):
    """``(offset, value)`` of every aligned 32-bit word of ``body`` (at ``base``); on the
    68000, whose ints are 2-aligned, at every even address."""
    step = 2 if machine.profile.arch == "m68k" else 4
    swap = machine.profile.byteorder != sys.byteorder
    for first in range((-base) % step, 4, step):
        n = (len(body) - first) // 4
        words = array.array("I", body[first:first + 4 * n])
        if swap:
            words.byteswap()
        yield from zip(range(first, first + 4 * n, 4), words)


def _data_pointers(loader: Loader, old: LoadedModule, areas) -> list[str]:
    """Words of ``areas`` (address, bytes) that hold an address in ``old``'s data or bss."""
    machine = loader.machine
    lo, hi = old.base + old.code_end, old.end
    out = []
    for base, body in areas:
        for i, v in _words(machine, base, body):
            if lo <= v < hi:
                where = machine.symbolize(base + i) or f"0x{base + i:08x}"
                out.append(f"{where} holds 0x{v:08x} ({old.symbolize(v)} of the replaced copy):"
                           " it keeps reading the old state; take the address again after a "
                           "reload")
    return out


def _resident_ram(loader: Loader) -> list[tuple[int, bytes]]:
    """The resident's segments as they are now (in main RAM or elsewhere, as the Sega
    CD's work RAM); segments outside RAM (binutils' ``.MIPS.abiflags``) are skipped."""
    out = []
    for v, _d, m, _f in loader.resident.segments:
        try:
            out.append((v, loader.machine.read(v, m)))
        except EmulationError:
            continue
    return out


def _hole(region, size: int, align: int) -> int | None:
    """The lowest address of freed memory below ``region``'s top that holds ``size``
    bytes aligned to ``align``, or None."""
    for start, n in region.holes():
        at = -(-start // align) * align
        if at + size <= start + n:
            return at
    return None


def _symbolized(console, exc: EmulationError) -> str:
    if console is not None and hasattr(exc, "report") and hasattr(console, "with_backtrace"):
        exc = console.with_backtrace(exc)
    return str(exc)


def _functions(module: Module) -> dict[str, tuple[int, int]]:
    """Function name -> (value, room): the bytes a jump may cover at its entry (its size,
    or up to the next symbol when the size is unknown)."""
    funcs = [s for s in _symbols(module) if s.section == ".text" and s.kind == "func"]
    starts = sorted({s.value & ~1 for s in _symbols(module) if s.section == ".text"})
    text_end = module.sections[".text"][0] + module.section_size(".text") \
        if ".text" in module.sections else 0
    out, seen = {}, set()
    for s in funcs:
        if s.name in seen:          # two statics of one name: which is which is unknowable
            out.pop(s.name, None)
            continue
        seen.add(s.name)
        start = s.value & ~1
        nxt = min((v for v in starts if v > start), default=text_end)
        out[s.name] = (s.value, s.size or (nxt - start))
    return out


def _write_entries(loader: Loader, st: _DevState, old: LoadedModule, new: LoadedModule,
                   report: ReloadReport) -> tuple[dict, dict]:
    """Overwrite each old function's entry with a jump to its new copy; return
    (entry -> name, entry -> the bytes overwritten)."""
    newf = _functions(new.module)
    jumps, saved = {}, {}
    for fname, (value, room) in _functions(old.module).items():
        if fname not in newf:
            continue                 # removed: the old code stays as it was
        at = old.base + value
        saved[at & ~1] = loader.machine.read(at & ~1, max(min(room, 16), 2))
        report.entries[fname] = _jump(loader, st, at, new.base + newf[fname][0], room)
        jumps[at] = fname
    return jumps, saved


def _jump(loader: Loader, st: _DevState, at: int, to: int, room: int) -> str:
    """Make the entry ``at`` (of an old copy, ``room`` bytes) continue at ``to``; return
    the jump's kind."""
    machine = loader.machine
    if at not in st.redirect:
        hit = entry_jump(machine.profile.arch, at, to, room, machine.profile.byteorder,
                         has_bx=getattr(machine.cpu, "has_bx", True))
        if hit is not None:
            code, kind = hit
            machine.write(at & ~1, code)
            return kind
        # too small for any jump that reaches: the host redirects the entry
        machine.breakpoint(at, lambda m, at=at: _redirect(m, st, at))
    st.redirect[at] = to
    return "host breakpoint"


def _retarget(loader: Loader, st: _DevState, r: _Retired, new: LoadedModule) -> None:
    """Point the entries an older copy jumps from at ``new`` (no chains of jumps, so
    freeing one copy never strands another).  A function the newest copy lacks keeps
    the jump it had."""
    funcs, newf = _functions(r.lm.module), _functions(new.module)
    for at, fname in r.jumps.items():
        if fname in newf:
            _jump(loader, st, at, new.base + newf[fname][0], funcs[fname][1])


def _redirect(machine, st: _DevState, at: int) -> None:
    to = st.redirect.get(at)
    if to is not None:
        machine.set_reg("pc", to)


# ----------------------------------------------------------------------------- retiring

def _collect(loader, st: _DevState, report: ReloadReport | None = None,
             free=None) -> list[int]:
    """Free the old copies nothing points into any more; return their bases.

    An old copy is kept while a word of the resident's segments or of a loaded module's
    data and bss holds an address inside it (a stored function pointer), or a
    live frame is inside it, or its module is still loaded under the handle it was
    replaced for.  Memory elsewhere (a heap the game manages itself) is not scanned.
    ``free(loader, st, retired)`` frees one (default: the reference loader's
    :func:`_free_copy`); False keeps it.
    """
    machine = loader.machine
    free = free or _free_copy
    freed = []
    live = {m.handle for m in loader.loaded.values()}
    pending = [(h, r) for h, olds in st.retired.items() for r in olds]
    if not pending:
        return freed
    values = set()
    for base, body in _data_areas(loader):
        values.update(v for _i, v in _words(machine, base, body))
    for h, r in pending:
        lo, hi = r.lm.base, r.lm.end
        pointed = any(lo <= v < hi for v in values)
        frames = machine.running and stackwalk.references(
            machine, [(lo, hi)], loader.function_start, loader.is_code)
        if (h in live and (pointed or frames)) or not free(loader, st, r):
            continue
        st.retired[h].remove(r)
        freed.append(r.lm.base)
    for h in [h for h, olds in st.retired.items() if not olds]:
        del st.retired[h]
    if report is not None:
        report.retired = freed
    return freed


def _free_copy(loader: Loader, st: _DevState, r: _Retired) -> bool:
    lm = r.lm
    loader._free_stubs(lm)
    for at in r.jumps:
        st.redirect.pop(at, None)
    for token in lm.guards:
        loader.machine.unguard(token)
    loader._bury(lm, f"replaced copy of module '{lm.name}'")
    lm.region.free(lm.block)
    loader.timer.memory_event("free", module=lm.name, region=lm.region.name,
                              base=f"0x{lm.base:08x}", size=lm.module.load_size,
                              reason="replaced by a reload, nothing points into it")
    return True


def collect(target) -> list[int]:
    """Free old copies of reloaded modules that nothing points into (see :func:`_collect`);
    return their bases.  :func:`reload` does this first, each time."""
    loader, _console = _loader_of(target)
    if not isinstance(loader, Loader):
        from . import swap_target
        return swap_target.collect(loader)
    return _collect(loader, _state(loader))


def retired(target) -> list[tuple[str, int, int]]:
    """``(module, base, generation)`` of every old copy still kept."""
    loader, _console = _loader_of(target)
    st = _STATE.get(loader)
    if st is None:
        return []
    return [(r.name, r.lm.base, r.generation) for olds in st.retired.values() for r in olds]
