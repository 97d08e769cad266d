"""``gamevm run``: play a scenario on the emulated console; write its trace (docs/runtime.md).

Exit status: 0 every step ran and every expectation held; 1 a step failed (a
load status, a fault, a wrong result or frame count); 2 usage, configuration
or input errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def run(args) -> int:
    from ..fileutil import atomic_write
    from ..play.scenario import run_scenario

    echo = None if (args.quiet or args.json) else print
    result = run_scenario(args.scenario, config=args.config, resident=args.resident,
                          target=args.target, search_paths=args.search, echo=echo,
                          layout=args.layout, loader=args.loader,
                          on_console=_with_progress(args, _gdb_server(args)))
    trace = result.trace()
    if args.trace:
        atomic_write(Path(args.trace), (json.dumps(trace, indent=1) + "\n").encode())
    if args.json:
        print(json.dumps(trace, indent=1))
    elif not args.quiet:
        sys.stdout.flush()
    print(f"gamevm run: {result.summary_line()}"
          + (f" (trace: {args.trace})" if args.trace else ""), file=sys.stderr)
    return 0 if result.ok else 1


def _with_progress(args, then):
    """A long emulated call says what it is doing on stderr (`gamevm call`'s lines), when
    stderr is a terminal or with ``--progress``: never in the outputs tests compare."""
    if not (getattr(args, "progress", False) or sys.stderr.isatty()):
        return then
    from ..play.validate import print_progress

    def hook(console):
        console.machine.progress = print_progress
        if then is not None:
            then(console)
    return hook


def _gdb_server(args):
    """``--gdb PORT``: serve gdb on the scenario's console, stopped at its first call; gdb's
    script goes to ``--gdbinit``, else beside the trace (``TRACE.json.gdbinit``)."""
    if args.gdb is None:
        return None
    from ..play.gdbserver import GdbServer, default_script
    script = args.gdbinit or (f"{args.trace}.gdbinit" if args.trace else default_script())
    return lambda console: GdbServer(console, args.gdb, script).arm()


def register(sub, cli) -> None:
    from .call import add_gdb_options, add_loader_option

    p = sub.add_parser(
        "run", help="play a scenario on the emulated console and write its load trace",
        description="Play SCENARIO.json (a project config, then steps: enter a scene, load, "
                    "load_async, unload, call with expected results or faults, advance frames, "
                    "expect states) on the emulated console, print a readable log and write a "
                    "trace of every load with simulated timestamps (--trace). Check the trace "
                    "against the static bounds with 'gamevm budget --check-trace'. Exit status: "
                    "0 all steps passed, 1 a step failed, 2 usage, configuration or input error.")
    p.add_argument("scenario", metavar="SCENARIO.json", help="the scenario (docs/runtime.md)")
    p.add_argument("--trace", metavar="TRACE.json", help="write the load trace here")
    p.add_argument("-t", "--target", type=cli.target_type,
                   help="pick this target's config from a per-target 'config' mapping")
    p.add_argument("--config", "-c", metavar="FILE",
                   help="project configuration (overrides the scenario's)")
    p.add_argument("--resident", metavar="FILE", help="resident kernel ELF (overrides resident.file)")
    p.add_argument("--layout", metavar="FILE",
                   help="disc layout (GameVMDisc's layout.json) replacing the config's disc "
                        "positions, as 'gamevm budget --layout' does")
    p.add_argument("--search", action="append", default=[], metavar="DIR",
                   help="more directories to read modules from (repeatable)")
    add_loader_option(p)
    add_gdb_options(p, cli, "default: TRACE.json.gdbinit beside --trace, else in a new temporary "
                       "directory")
    p.add_argument("--progress", action="store_true",
                   help="report a call still running after 2 s on stderr (default: only "
                        "when stderr is a terminal)")
    p.add_argument("--json", action="store_true", help="print the trace instead of the log")
    p.add_argument("-q", "--quiet", action="store_true", help="only the summary line")
    p.set_defaults(func=run)
