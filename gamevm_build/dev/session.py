"""``gamevm dev``: a game running on the emulated console, reloaded module by module as
its sources change (issue 15, docs/dev.md).

One thread owns the console (unicorn is not shared between threads): it runs the frame
loop and, at each frame boundary, whatever the helper threads queued for it:

- the **watcher** (``watchfiles``) queues the sources and headers that changed;
- the **socket server** queues requests from ``gamevm reload`` (one JSON line in, one
  JSON line out: :mod:`gamevm_build.dev.protocol`) and sends the loop's answer back;
- the **prompt** reader queues the commands typed on stdin
  (:mod:`gamevm_build.dev.prompt`: call, modules, funcs, read, where), which the loop
  runs between two frames like ``gamevm reload --eval``.

A change becomes a reload at the next frame boundary: the stale objects are recompiled,
their modules relinked (:class:`~gamevm_build.dev.build.DevBuild`), and each relinked
module that is loaded is swapped by :func:`gamevm_build.dev.reload`.  No frame is live
between two frames, so a reload here is never ``busy``.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, EmulationError, GameVMError
from . import protocol
from .build import Rebuild
from .manifest import FRAME_EXPORT, MANIFEST_NAME, load_manifest
from .memory import region_use

#: a module whose frame function faults within this many frames of a reload goes back
#: to the build it replaced (its state carried back), as cr.h rolls back a crash
ROLLBACK_FRAMES = 60
#: how often (wall seconds) the loop also compares the files' digests itself: a change
#: the watcher missed (saved while it was starting, an editor's rename) is still seen
POLL_S = 1.0
#: the longest a socket client may take to send its request
REQUEST_TIMEOUT_S = 5.0
#: the longest the server waits for the loop's answer (a reload compiles and links)
ANSWER_TIMEOUT_S = 120.0


@dataclass
class Timing:
    """One reload's costs, from the change being seen to the new code's first frame."""

    module: str
    compile_s: float
    link_s: float
    swap_s: float
    seen_at: float                        #: perf_counter when the change was seen
    saved_at: float | None = None         #: wall time of the newest changed file
    ran_s: float | None = None            #: seen -> end of the first frame of new code
    since_save_s: float | None = None     #: the file's save -> that frame (wall clock)
    frame: int | None = None


@dataclass
class _Request:
    op: str
    args: dict = field(default_factory=dict)
    answer: queue.Queue | None = None
    seen_at: float = 0.0


class DevSession:
    """The emulated game, its build, its watcher and its socket (see the module doc).

    ``out`` receives every line the session prints (default: ``print``, flushed)."""

    def __init__(self, config_path, *, target: str | None = None, manifest=None,
                 scene: str | None = None, workdir=None, policy: str = "abort",
                 socket_path=None, watch: bool = True, speed: float = 1.0,
                 every: int | None = None, shows=(), out=None, prompt: bool = False,
                 loader: str | None = None):
        from ..project.config import load_config
        from .swap import POLICIES

        self.out = out or (lambda line: print(line, flush=True))
        if policy not in POLICIES:
            raise ConfigError(f"--on-layout-change {policy}: choose {', '.join(POLICIES)}")
        if speed < 0:
            raise ConfigError(f"--speed {speed}: give 0 (as fast as the host runs) or a "
                              "positive factor of real time")
        if loader not in (None, "host", "target"):
            raise ConfigError(f"--loader {loader}: choose target or host")
        self.loader_kind = loader
        self.policy, self.speed, self.watching = policy, speed, watch
        self.prompting = prompt
        config_path = Path(config_path)
        probe = load_config(config_path)
        if target is not None and target != probe.target:
            raise ConfigError(f"{config_path}: target is {probe.target!r}, but -t {target} was "
                              f"given; use the configuration written for {target}")
        self.target = probe.target
        self.workdir = Path(workdir) if workdir else Path("build") / "dev" / self.target
        self.manifest = load_manifest(Path(manifest) if manifest else
                                      config_path.parent / MANIFEST_NAME,
                                      self.target, probe.modules)
        built = self.manifest.modules
        self.config = load_config(
            config_path, module_files={n: self.workdir / f"{n}.elf" for n in built},
            resident_file=(self.workdir / "kernel.elf") if self.manifest.resident else None)
        self.scene = scene or self.config.start
        if self.scene not in self.config.scenes:
            raise ConfigError(f"--scene {self.scene}: no such scene in {config_path} (scenes: "
                              f"{', '.join(sorted(self.config.scenes))})")
        self.every = every if every is not None else max(1, self.config.frame_rate)
        if self.every < 1:
            raise ConfigError(f"--every {every}: give a number of frames >= 1")
        from ..play.callexpr import parse_call
        self.shows = [parse_call(s) for s in shows]
        self.socket_path = Path(socket_path) if socket_path else protocol.DEFAULT_SOCKET
        self.frame = 0
        self.reloads = 0
        self.timings: list[Timing] = []
        self._pending_timing: list[Timing] = []
        self.current: dict[str, bytes] = {}      #: module -> bytes of the copy running
        self.previous: dict[str, bytes] = {}     #: module -> the build it replaced
        self.fresh: dict[str, int] = {}          #: module -> last frame a fault rolls back
        self.stopped: dict[str, str] = {}        #: module -> why its frames stopped
        self.unswapped: dict[str, str] = {}      #: module -> why its newest build is not running
        self._rolled_back: set[str] = set()
        self._notes: list[str] = []              #: this frame's lines about new code
        self._held: list[tuple] = []             #: (request, answer) told after the next frame
        self._last_sig: tuple = ()               #: the files as the last build attempt saw them
        self._polled = 0.0
        self.inbox: queue.Queue = queue.Queue()
        self._woken: list = []                   #: taken off the inbox by the loop's wait
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: socket.socket | None = None
        self._printed = 0
        self._last_line: tuple | None = None
        self._show_next = True
        self._echo_input = False
        self._ttin = None                        #: SIGTTIN's handler before the prompt
        self._how: str | None = None             #: why the loop ends, when not by its frames
        self._top0: dict[str, int] = {}          #: region -> its top once the scene loaded
        self.console = None
        self.build = None

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        """Build everything, boot the resident, load the scene, start watcher and socket."""
        from ..play.console import Console
        from ..play.validate import load_with_needs
        from .build import DevBuild

        # the socket first: a second session on the same socket fails before any work
        self._open_socket()
        t = time.perf_counter()
        resident = None if self.manifest.resident else self.config.resident_file
        self.build = DevBuild(self.target, self.manifest, self.workdir, resident=resident)
        self.current = self.build.build_all()
        n = len(self.current)
        self.out(f"gamevm dev: {self.target}, built {n} module{'s' * (n != 1)} "
                 f"({', '.join(self.current)})"
                 + (" and the resident" if self.manifest.resident else "")
                 + f" in {time.perf_counter() - t:.1f} s into {self.workdir}")
        others = {name: spec.file for name, spec in self.config.modules.items()
                  if name not in self.current and spec.file is not None}
        self.console = Console(self.target, self.build.resident_path,
                               search_paths=[self.workdir], config=self.config,
                               module_files=others or None, loader=self.loader_kind)
        self._check_loader()
        placement = {n: s.region for n, s in self.config.modules.items()}
        from ..runtime.reference import LoadError
        try:
            for name in self.config.scenes[self.scene].modules:
                if self.console.loader.by_name(name) is not None:
                    continue
                for lm in load_with_needs(self.console, name, regions=placement):
                    self.out(f"loaded {lm.name} at 0x{lm.base:08x} ({lm.module.image_size} "
                             f"bytes, region {lm.region.name})")
        except LoadError as exc:
            raise GameVMError(f"scene {self.scene}: cannot load a module: "
                              f"{exc.status.name}: {exc}") from None
        for lm in list(self.console.loader.loaded.values()):
            unit = self.manifest.modules.get(lm.name)
            if unit is not None and unit.start:
                self._call_start(lm.name, unit.start)
        self._flush_output()
        frames = [f"{m}:{f}" for m, f in self._frame_functions()]
        self.out(f"scene {self.scene}: each frame calls "
                 + (", ".join(frames) if frames else
                    f"nothing (no module of the scene exports {FRAME_EXPORT})"))
        # what the first build compiled: an edit saved since then is seen by the first poll
        self._last_sig = tuple(sorted((p, d) for o in self.build.objects
                                      for p, d in o.digests.items()))
        self._polled = time.perf_counter()
        self._top0 = {r.name: r.top for r in self._module_regions()}
        if self.watching:
            self._start_watcher()
        self._start_server()
        self.out(f"watching {len(self.build.files())} files"
                 if self.watching else "not watching (--no-watch): gamevm reload asks")
        self.out(f"socket {self.socket_path}: gamevm reload --socket {self.socket_path}")
        if self.prompting:
            self._start_prompt()

    def _check_loader(self) -> None:
        """The console-side runtime reloads only with its reload API linked in."""
        loader = self.console.loader
        if self.console.loader_kind == "target" and not loader.reloads:
            raise ConfigError(
                f"{self.build.resident_path}: the resident's console-side runtime has no "
                "reload API: build the resident from the dev manifest with \"runtime\": "
                "\"target\" (gamevm dev adds it), or link it with --keep GameVMSetReload "
                "--keep GameVMLoadCopy --keep GameVMSwapCopy --keep GameVMFreeCopy; or start "
                "the session with --loader host")
        if self.console.loader_kind == "target":
            self.out("loader: the console-side runtime (C, in the resident)")

    def _call_start(self, module: str, fn: str) -> None:
        try:
            self.console.call(f"{module}:{fn}")
        except EmulationError as exc:
            raise GameVMError(f"{module}:{fn} (start, {self.manifest.path}) failed: {exc}") \
                from None

    # ------------------------------------------------------------------ frames
    def _frame_functions(self) -> list[tuple[str, str]]:
        out = []
        for lm in self.console.loader.loaded.values():
            unit = self.manifest.modules.get(lm.name)
            fn = (unit.frame if unit is not None and unit.frame else FRAME_EXPORT)
            if fn in lm.symbols:
                out.append((lm.name, fn))
        return out

    def run_frame(self) -> dict[str, int | str]:
        """One frame: every frame function of the loaded modules, then the clock."""
        from ..play.callexpr import signed32

        self.frame += 1
        results = {}
        budget = 1.0 / self.config.frame_rate
        for module, fn in self._frame_functions():
            if module in self.stopped:
                continue
            try:
                value = self.console.call(f"{module}:{fn}", self.frame, max_seconds=budget)
                results[module] = signed32(value)
            except EmulationError as exc:
                results[module] = "fault"
                self._frame_fault(module, fn, exc)
        self.console.advance(1)
        self._flush_output()
        now = time.perf_counter()
        for t in self._pending_timing:
            if t.module in self._rolled_back:
                continue                   # it faulted: the old build runs again
            t.ran_s, t.frame = now - t.seen_at, self.frame
            if t.saved_at is not None:
                t.since_save_s = time.time() - t.saved_at
            self._note(f"{t.module}: new code ran at frame {self.frame}, "
                     f"{t.ran_s * 1e3:.0f} ms after the change was seen"
                     + (f" ({t.since_save_s * 1e3:.0f} ms after the save)"
                        if t.since_save_s is not None else "")
                     + f": compile {t.compile_s * 1e3:.0f} ms, link {t.link_s * 1e3:.0f} ms, "
                       f"swap {t.swap_s * 1e3:.1f} ms")
            self.timings.append(t)
        self._pending_timing = []
        self._rolled_back = set()
        # a gamevm reload that swapped hears how the new code's first frame went
        for req, answer in self._held:
            answer["lines"] += self._notes
            answer["ok"] = answer["ok"] and not any("rolling back" in n for n in self._notes)
            answer["frame"] = self.frame
            req.answer.put(answer)
        self._held, self._notes = [], []
        key = tuple(sorted(results.items()))
        if self._show_next or key != self._last_line or self.frame % self.every == 0:
            self._frame_line(results)
        self._last_line, self._show_next = key, False
        return results

    def _frame_line(self, results: dict[str, int]) -> None:
        from ..play.callexpr import run_call, signed32

        parts = [f"{m}={v}" for m, v in results.items()]
        parts += [f"{m}=stopped" for m in self.stopped]
        for expr in self.shows:
            try:
                parts.append(f"{expr.text}={signed32(run_call(self.console, expr))}")
            except EmulationError as exc:
                parts.append(f"{expr.text}=<{str(exc).splitlines()[0]}>")
        self.out(f"frame {self.frame} {self.scene}: " + ("  ".join(parts) or "-"))

    def _frame_fault(self, module: str, fn: str, exc: EmulationError) -> None:
        from .swap import reload

        where = f"{module}:{fn} faulted at frame {self.frame}"
        if self.frame <= self.fresh.get(module, -1) and module in self.previous:
            self._note(f"{where}, within {ROLLBACK_FRAMES} frames of its reload: rolling back "
                       "to the build it replaced")
            self._note("  " + str(exc).replace("\n", "\n  "))
            report = reload(self.console, module, self.previous[module], policy="keep")
            for line in report.describe().splitlines():
                self._note(line)
            self._rolled_back.add(module)
            if report.ok:
                self.current[module] = self.previous.pop(module)
                self.fresh.pop(module, None)
                return
        self.stopped[module] = str(exc)
        self._note(f"{where}: its frames stop until a reload (fix the source and save)")
        self._note("  " + str(exc).replace("\n", "\n  "))

    def _note(self, line: str) -> None:
        """Print a line about this frame that a waiting gamevm reload also hears."""
        self.out(line)
        self._notes.append(line)

    def _flush_output(self) -> None:
        from ..commands.call import PRINT_PREFIX

        new = self.console.output[self._printed:]
        self._printed = len(self.console.output)
        for text in new:
            for line in text.rstrip("\n").split("\n"):
                self.out(PRINT_PREFIX + line)

    # ------------------------------------------------------------------ reloads
    def reload_changed(self, *, seen_at: float | None = None, module: str | None = None,
                       policy: str | None = None) -> tuple[bool, list[str]]:
        """Rebuild what changed (``module``: that module even if nothing did) and swap
        the loaded modules rebuilt, under ``policy`` (default: the session's).  With
        nothing changed, a build that was not swapped (a layout change, a rollback) is
        tried again.  Returns (every step succeeded, the lines printed)."""
        from .swap import POLICIES, reload

        seen_at = time.perf_counter() if seen_at is None else seen_at
        lines: list[str] = []
        self._last_sig = self._signature()

        def say(line: str) -> None:
            lines.append(line)
            self.out(line)

        if policy is not None and policy not in POLICIES:
            say(f"unknown layout-change policy '{policy}': choose {', '.join(POLICIES)}")
            return False, lines
        if module is not None:
            if module not in self.manifest.modules:
                say(f"no module '{module}' in {self.manifest.path} (modules: "
                    f"{', '.join(self.manifest.modules)})")
                return False, lines
            self.build.dirty.add(module)
        stale = self.build.changed()
        saved = [_mtime(p) for o in stale for p in o.digests]
        saved_at = max((s for s in saved if s is not None), default=None)
        if not stale and not self.build.dirty:
            if not self.unswapped:
                say("nothing changed since the last build")
                return True, lines
            say("nothing changed since the last build; swapping the build that is not "
                "running yet: " + ", ".join(f"{n} ({why})" for n, why in self.unswapped.items()))
            rb = Rebuild(modules={n: self.build.module_path(n).read_bytes()
                                  for n in self.unswapped})
        else:
            rb = self.build.rebuild(stale)
        if rb.sources:
            say(f"recompiled {', '.join(_short(s) for s in rb.sources)} "
                f"({rb.compile_s * 1e3:.0f} ms)"
                + (f"; relinked {', '.join(rb.modules)} ({rb.link_s * 1e3:.0f} ms)"
                   if rb.modules else ""))
        elif rb.modules and rb.link_s:
            say(f"relinked {', '.join(rb.modules)} ({rb.link_s * 1e3:.0f} ms)")
        ok = rb.error is None
        if rb.error:
            say("build failed: the old code keeps running")
            for line in rb.error.splitlines():
                say("  " + line)
        if rb.resident:
            say("a resident source changed: the resident is not reloaded (restart gamevm dev "
                "to boot the new one)")
            ok = False
        for name, data in rb.modules.items():
            if self.console.loader.by_name(name) is None:
                say(f"{name}: rebuilt; not loaded in scene {self.scene}")
                self.current[name] = data
                continue
            unit = self.manifest.modules[name]
            before = {u.name: (u.top, u.used) for u in region_use(self.console.loader).values()}
            report = reload(self.console, name, data, policy=policy or self.policy,
                            selftest=unit.selftest)
            for line in report.describe().splitlines():
                say(line)
            if report.ok:
                # what this reload cost in RAM where the new copy went (a module of an
                # overlay region is reloaded into a heap region): the region's top is what
                # a stack allocator can no longer give (docs/dev.md, "Memory per reload")
                region = region_use(self.console.loader)[
                    self.console.loader.by_name(name).region.name]
                top, in_use = before[region.name]
                self._top0.setdefault(region.name, top)
                now_used = region.used
                say(f"  memory: region {region.name} top {region.top - top:+d} bytes, in use "
                    f"{now_used - in_use:+d} ({now_used} bytes; "
                    f"{region.top - self._top0.get(region.name, top):+d} since the scene "
                    f"loaded, {region.end - region.top} free above the top)")
            self._flush_output()
            if report.ok:
                self.unswapped.pop(name, None)
                self.reloads += 1
                self.previous[name] = self.current.get(name, b"")
                self.current[name] = data
                self.fresh[name] = self.frame + ROLLBACK_FRAMES
                self.stopped.pop(name, None)
                self._pending_timing.append(Timing(name, rb.compile_s, rb.link_s,
                                                   report.seconds, seen_at, saved_at))
                self._show_next = True
            else:
                self.unswapped[name] = report.status
                if report.status == "layout-changed":
                    say(f"  (gamevm reload --on-layout-change keep|reset swaps this build)")
                ok = False
        return ok, lines

    def _signature(self) -> tuple:
        from .build import _digest
        return tuple(sorted((p, _digest(p)) for o in self.build.objects for p in o.digests))

    def _poll(self) -> None:
        """Queue a change when the files differ from what the last build attempt saw."""
        now = time.perf_counter()
        if now - self._polled < POLL_S:
            return
        self._polled = now
        if self._signature() != self._last_sig:
            self.inbox.put(now)

    # ------------------------------------------------------------------ requests
    def service(self) -> bool:
        """Handle what the watcher and the socket queued; False when asked to stop."""
        keep = True
        changes_at = None
        requests = []
        for item in self._drain():
            if isinstance(item, _Request):
                requests.append(item)
            else:
                changes_at = item if changes_at is None else min(changes_at, item)
        if changes_at is not None and (self.build.changed() or self.build.dirty):
            # (a save that changed no byte, or a file the editor only touched: nothing)
            self.reload_changed(seen_at=changes_at)
        for req in requests:
            answer = {"ok": True, "lines": [], "frame": self.frame, "scene": self.scene}
            try:
                if req.op == "reload":
                    answer["ok"], answer["lines"] = self.reload_changed(
                        seen_at=req.seen_at, module=req.args.get("module"),
                        policy=req.args.get("policy"))
                elif req.op == "status":
                    answer["lines"] = self.status_lines()
                elif req.op == "stop":
                    answer["lines"] = [f"session stops at frame {self.frame}"]
                    keep, self._how = False, "asked to stop"
                elif req.op == "eval":
                    result = self.evaluate(req.args.get("command"), echo=req.answer is None)
                    answer.update(ok=result.ok, lines=result.lines)
                    if result.quit:
                        keep, self._how = False, "quit"
                else:
                    answer.update(ok=False, lines=[f"unknown request '{req.op}' (reload, "
                                                   "status, stop, eval)"])
            except GameVMError as exc:
                answer.update(ok=False, lines=[str(exc)])
                self.out(f"gamevm: error: {exc}")
            answer["frame"] = self.frame
            if req.answer is None:
                continue
            if answer["ok"] and req.op == "reload" and self._pending_timing:
                self._held.append((req, answer))     # answered once the new code has run
            else:
                req.answer.put(answer)
        return keep

    def evaluate(self, command, *, echo: bool = False):
        """Run a prompt command (:mod:`gamevm_build.dev.prompt`) between two frames.
        ``echo``: it came from the session's stdin, so its lines are printed here (a
        command read from a pipe is echoed first, so a log shows what was asked)."""
        from .prompt import Result, run_command

        if not isinstance(command, str):
            result = Result(["error: bad request: eval needs {\"command\": \"TEXT\"}"],
                            ok=False)
        else:
            self._flush_output()             # the game's own prints come before the answer
            result = run_command(self, command)
        if echo:
            if self._echo_input and isinstance(command, str) and command.strip():
                self.out(f"> {command.strip()}")
            for line in result.lines:
                self.out(line)
        return result

    def take_output(self) -> list[str]:
        """What the game printed since the last look, as ``print:`` lines (not printed)."""
        from ..commands.call import PRINT_PREFIX

        new = self.console.output[self._printed:]
        self._printed = len(self.console.output)
        return [PRINT_PREFIX + line for text in new for line in text.rstrip("\n").split("\n")]

    # ------------------------------------------------------------------ memory
    def _module_regions(self) -> list:
        """The regions modules are loaded into (where reloads take memory)."""
        names = {lm.region.name for lm in self.console.loader.loaded.values()} | set(self._top0)
        return [u for u in region_use(self.console.loader, self._kept()).values()
                if u.name in names]

    def _kept(self) -> set[int]:
        from .swap import retired
        return {base for _n, base, _g in retired(self.console)}

    def memory_lines(self) -> list[str]:
        """Per region holding modules: its top, what it grew since the scene loaded,
        and how much of it is old copies and freed holes (docs/dev.md, Memory)."""
        lines = []
        for r in self._module_regions():
            used, old, holes = r.used, r.old, r.holes
            grown = r.top - self._top0.get(r.name, r.top)
            lines.append(f"memory: region {r.name} top 0x{r.top:08x} ({grown:+d} bytes since "
                         f"the scene loaded; {r.end - r.top} free above): {used} bytes in use, "
                         f"{old} of them old copies kept, {holes} in holes below the top")
        return lines

    def _drain(self) -> list:
        """Everything queued, in the order it came."""
        items, self._woken = self._woken, []
        while True:
            try:
                items.append(self.inbox.get_nowait())
            except queue.Empty:
                return items

    def status_lines(self) -> list[str]:
        from .swap import collect, retired

        collect(self.console)                # old copies nothing points into go first
        lines = [f"frame {self.frame}, scene {self.scene}, {self.reloads} reloads, "
                 f"console time {self.console.clock.now_s:.3f} s"]
        for lm in self.console.loader.loaded.values():
            lines.append(f"  {lm.name} at 0x{lm.base:08x} ({lm.module.image_size} bytes, "
                         f"region {lm.region.name})"
                         + (f": stopped ({self.stopped[lm.name].splitlines()[0]})"
                            if lm.name in self.stopped else "")
                         + (f"; its newest build is not running ({self.unswapped[lm.name]})"
                            if lm.name in self.unswapped else ""))
        for name, base, gen in retired(self.console):
            lines.append(f"  old copy #{gen} of {name} at 0x{base:08x} (still pointed into)")
        return lines + ["  " + line for line in self.memory_lines()]

    # ------------------------------------------------------------------ the loop
    def run(self, frames: int | None = None) -> int:
        """Run frames until ``frames`` have run, a ``stop`` request, or Ctrl-C."""
        how = "its frames ran"
        caught = catch_signals()
        try:
            period = (1.0 / self.config.frame_rate / self.speed) if self.speed else 0.0
            next_at = time.perf_counter()
            while frames is None or self.frame < frames:
                if self.watching:
                    self._poll()
                if not self.service():
                    how = self._how or "asked to stop"
                    break
                if period:
                    wait = next_at - time.perf_counter()
                    if wait > 0:
                        # sleep until the frame is due, waking for a change or a request
                        # (kept aside, not put back: the queue's order is the commands')
                        try:
                            self._woken.append(self.inbox.get(timeout=wait))
                        except queue.Empty:
                            pass
                        continue
                self.run_frame()
                # behind (a compile took the time of many frames): no rush to catch up
                next_at = max(next_at + period, time.perf_counter() - period)
        except KeyboardInterrupt:
            how = caught.get("name", "Ctrl-C")
        finally:
            restore_signals(caught)
            self.close()
        self.out(f"session ended ({how}) after {self.frame} frames, {self.reloads} "
                 f"reload{'s' * (self.reloads != 1)}")
        return 0

    # ------------------------------------------------------------------ threads
    def _start_watcher(self) -> None:
        try:
            import watchfiles
        except ImportError:
            raise ConfigError("gamevm dev watches sources with the watchfiles package, which "
                              "is not installed: pip install watchfiles (or run with "
                              "--no-watch and ask with gamevm reload)") from None
        self._watch_stop = threading.Event()
        files = self.build.files()
        dirs = sorted({str(p.parent) for p in files})
        known = {str(p) for p in files}

        def relevant(_change, path: str) -> bool:
            return str(Path(path).resolve()) in known

        def watch() -> None:
            try:
                for _changes in watchfiles.watch(*dirs, watch_filter=relevant, debounce=200,
                                                 step=20, stop_event=self._watch_stop,
                                                 rust_timeout=500, recursive=False,
                                                 raise_interrupt=False):
                    self.inbox.put(time.perf_counter())
            except Exception as exc:         # noqa: BLE001  (a dying watcher says why)
                self.out(f"watcher stopped: {exc} (gamevm reload still works)")
        th = threading.Thread(target=watch, name="gamevm-dev-watch", daemon=True)
        th.start()
        self._threads.append(th)

    def _start_prompt(self) -> None:
        """Read prompt commands from stdin (a terminal, a pipe or a file of commands) in
        a thread; the loop runs them.  The thread is not joined: a read of a terminal
        cannot be woken, and the process ends without it."""
        import stat
        import sys

        try:
            fd = sys.stdin.fileno()
            mode = os.fstat(fd).st_mode
        except (AttributeError, OSError, ValueError):
            return
        tty = os.isatty(fd)
        if not (tty or stat.S_ISFIFO(mode) or stat.S_ISREG(mode)):
            return                            # /dev/null, a socket: nothing to read
        self._echo_input = not tty
        if tty and threading.current_thread() is threading.main_thread():
            # started in the background (gamevm dev &), a read of the terminal would stop
            # the whole session (SIGTTIN); ignored, the read fails with EIO and is tried
            # again until the session is brought to the foreground
            self._ttin = signal.signal(signal.SIGTTIN, signal.SIG_IGN)

        def queue_line(line: bytes) -> None:
            text = line.decode("utf-8", "replace").strip()
            if text:
                self.inbox.put(_Request("eval", {"command": text}, None, time.perf_counter()))

        def read() -> None:
            # os.read, not sys.stdin: a thread blocked inside a buffered reader at exit
            # makes the interpreter's shutdown abort
            pending = b""
            while not self._stop.is_set():
                try:
                    chunk = os.read(fd, 4096)
                except OSError as exc:
                    if tty and exc.errno == errno.EIO:
                        time.sleep(0.5)           # in the background: wait for fg
                        continue
                    return
                if not chunk:
                    queue_line(pending)       # a last line without its newline
                    return                    # end of input: the session goes on
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    queue_line(line)
        threading.Thread(target=read, name="gamevm-dev-prompt", daemon=True).start()
        self.out("prompt: type a command and Enter (help lists them; quit ends the session)")

    def _open_socket(self) -> None:
        path = self.socket_path
        if path.exists() or path.is_symlink():
            if not path.is_socket():
                raise ConfigError(f"--socket {path}: exists and is not a socket; name another "
                                  "path")
            if protocol.alive(path):
                raise ConfigError(f"--socket {path}: a gamevm dev session is already running "
                                  "there; stop it (gamevm reload --stop) or use another "
                                  "--socket")
            path.unlink()                   # left by a session that was killed
        path.parent.mkdir(parents=True, exist_ok=True)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            srv.bind(str(path))
        except OSError as exc:
            srv.close()
            raise ConfigError(f"--socket {path}: cannot listen there ({exc.strerror}); a "
                              "Unix socket path is at most 107 bytes") from None
        srv.listen(4)
        srv.settimeout(0.2)                 # accept() wakes up to see the stop flag
        self._server = srv

    def _start_server(self) -> None:
        def serve() -> None:
            while not self._stop.is_set():
                try:
                    conn, _ = self._server.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                with conn:
                    self._answer(conn)
        th = threading.Thread(target=serve, name="gamevm-dev-socket", daemon=True)
        th.start()
        self._threads.append(th)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(REQUEST_TIMEOUT_S)
        try:
            msg = protocol.read_message(conn)
        except (OSError, ValueError) as exc:
            _send(conn, {"ok": False, "lines": [f"bad request: {exc}"]})
            return
        op = msg.get("op") if isinstance(msg, dict) else None
        if not isinstance(op, str):
            _send(conn, {"ok": False, "lines": ["bad request: expected {\"op\": ...}"]})
            return
        req = _Request(op, {k: v for k, v in msg.items() if k != "op"}, queue.Queue(),
                       time.perf_counter())
        self.inbox.put(req)
        try:
            answer = req.answer.get(timeout=ANSWER_TIMEOUT_S)
        except queue.Empty:
            answer = {"ok": False, "lines": [f"the session did not answer within "
                                             f"{ANSWER_TIMEOUT_S:.0f} s"]}
        conn.settimeout(REQUEST_TIMEOUT_S)
        _send(conn, answer)

    def close(self) -> None:
        """Answer what is still asked, stop the helper threads, close and remove the
        socket (idempotent)."""
        # requests still queued get an answer instead of a wait for their timeout
        for item in self._drain():
            if isinstance(item, _Request) and item.answer is not None:
                item.answer.put({"ok": False, "lines": ["the session ended"]})
        for req, answer in self._held:
            answer["lines"].append("the session ended before the new code's first frame")
            req.answer.put(answer)
        self._held = []
        self._stop.set()
        if self._ttin is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTTIN, self._ttin)
            self._ttin = None
        if getattr(self, "_watch_stop", None) is not None:
            self._watch_stop.set()
        for th in self._threads:
            th.join(timeout=2.0)
        self._threads = []
        if self._server is not None:
            self._server.close()
            self._server = None
            try:
                self.socket_path.unlink()
            except OSError:
                pass


def catch_signals() -> dict:
    """Ctrl-C (SIGINT) and SIGTERM end the loop cleanly.  SIGINT is caught even when the
    session inherited it ignored (started in the background by a script or a test
    runner): a session asked to end by a signal must end, socket removed."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    caught: dict = {"old": {}}

    def interrupt(signum, _frame):
        caught["name"] = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        raise KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM):
        caught["old"][sig] = signal.signal(sig, interrupt)
    return caught


def restore_signals(caught: dict) -> None:
    for sig, old in caught.get("old", {}).items():
        signal.signal(sig, old)


def _send(conn: socket.socket, answer: dict) -> None:
    try:
        conn.sendall(json.dumps(answer).encode() + b"\n")
    except OSError:
        pass                                # the client gave up; the session goes on


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _short(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path
