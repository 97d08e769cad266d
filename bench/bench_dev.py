#!/usr/bin/env python3
"""Hot-reload benchmark: edit -> new code running in a ``gamevm dev`` session (issue 15).

Runs a real session (:class:`gamevm_build.dev.session.DevSession`, the code behind
``gamevm dev``) on a copy of a project, in this process: the frame loop in a thread at
the configuration's frame rate, the ``watchfiles`` watcher on.  Each of ``--edits``
edits rewrites one source so that a function returns a new value, then waits for the
first frame whose result shows it.  Printed per edit and as p50 / max:

* **save -> running**: from the file's write to the end of the first frame of the new
  code (wall clock: watcher latency, debounce, compile, link, swap, and the wait for
  the next frame boundary at 60 Hz, up to 16.7 ms);
* the split: **compile** (the one object), **link** (its module), **swap**
  (``gamevm_build.dev.reload``), and **wait** (the rest: the watcher and the frame
  boundary);
* what the reloads cost in RAM: how far the region's top grew over them, and each
  region's state at the end (docs/dev.md, "Memory per reload").

    python bench/bench_dev.py                                  # examples/dev, psx, 20 edits
    python bench/bench_dev.py --config examples/game/gamevm.json --scene level1 \\
        --file level1/level1.c --pattern 'map_touch(player, level1_map[ty * MAP_W + tx])'
    python bench/bench_dev.py --manifest dev-target.json       # on the console-side runtime

The loader is the session's default (the console-side runtime when the dev manifest's
resident has it, as examples/game's does) unless ``--loader`` says.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(REPO / "examples/dev/gamevm.json"))
    ap.add_argument("--scene")
    ap.add_argument("--file", default="hud/hud.c",
                    help="source to edit, relative to the configuration's directory")
    ap.add_argument("--pattern", default="return 1;",
                    help="text of the edited function the edit rewrites; the example's "
                         "hud_message: its result is the frame function's")
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--manifest", help="dev manifest, relative to the configuration's "
                                       "directory (default: its dev.json)")
    ap.add_argument("--loader", choices=("target", "host"))
    args = ap.parse_args()

    from gamevm_build.dev.session import DevSession

    src_dir = Path(args.config).resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix="bench-dev-"))
    try:
        project = tmp / src_dir.name
        shutil.copytree(src_dir, project)
        lines: list[str] = []
        session = DevSession(project / Path(args.config).name, scene=args.scene,
                             workdir=tmp / "build", socket_path=tmp / "s.sock",
                             out=lines.append, loader=args.loader,
                             manifest=project / args.manifest if args.manifest else None)
        session.start()
        results: list[dict] = []
        seen = threading.Condition()
        real_frame = session.run_frame

        def frame():                      # the loop thread tells the bench what each frame returned
            r = real_frame()
            with seen:
                results.append(r)
                seen.notify_all()
            return r
        session.run_frame = frame
        loop = threading.Thread(target=session.run, daemon=True)
        loop.start()
        target = project / args.file
        text = target.read_text()
        if args.pattern not in text:
            print(f"bench_dev: {args.pattern!r} not in {target}", file=sys.stderr)
            return 2
        edits = []
        time.sleep(0.5)
        old = args.pattern
        for i in range(args.edits):
            value = 1000 + i
            new = (f"return {value};" if args.pattern.startswith("return ")
                   else f"{args.pattern} + {value}")
            text = text.replace(old, new)
            old = new
            n = len(session.timings)
            with seen:
                start = len(results)
            target.write_text(text)
            t0 = time.perf_counter()
            deadline = t0 + 30
            with seen:
                while len(session.timings) <= n and time.perf_counter() < deadline:
                    seen.wait(0.05)
                ran = time.perf_counter() - t0
            if len(session.timings) <= n:
                print(f"bench_dev: edit {i + 1} did not reload within 30 s:\n"
                      + "\n".join(lines[-20:]), file=sys.stderr)
                return 1
            t = session.timings[-1]
            with seen:
                shown = any(value in r.values() for r in results[start:])
            if args.pattern.startswith("return ") and not shown:
                print(f"bench_dev: edit {i + 1}: no frame returned {value}", file=sys.stderr)
                return 1
            edits.append({"total": ran, "compile": t.compile_s, "link": t.link_s,
                          "swap": t.swap_s, "wait": ran - t.compile_s - t.link_s - t.swap_s})
            time.sleep(0.3)               # let the watcher settle: edits are human-paced
        session.inbox.put(_stop_request())
        loop.join(timeout=10)
        # what the reloads cost in RAM: each reload's "memory:" line, then the regions
        grown = [line.strip() for line in lines if line.startswith("  memory: region")]
        memory = session.memory_lines()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"bench_dev: {args.edits} edits of {args.file} in {Path(args.config).name} "
          f"({session.target}, {'console-side runtime' if session.console.loader_kind == 'target' else 'host loader'}), "
          "save -> first frame of the new code")
    print(f"{'':10} {'p50 ms':>9} {'max ms':>9}")
    for key in ("total", "compile", "link", "swap", "wait"):
        vals = [e[key] * 1e3 for e in edits]
        print(f"{key:10} {statistics.median(vals):9.1f} {max(vals):9.1f}")
    tops = [int(line.split(" top ")[1].split(" ")[0]) for line in grown]
    print(f"memory over the {len(tops)} reloads: region top grew {sum(tops)} bytes "
          f"(largest step {max(tops, default=0)})")
    for line in memory:
        print(line)
    return 0


def _stop_request():
    from gamevm_build.dev.session import _Request
    return _Request("stop")


if __name__ == "__main__":
    sys.exit(main())
