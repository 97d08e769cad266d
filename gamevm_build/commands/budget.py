"""``gamevm budget``: check load-time budgets, memory fit and overlay safety (docs/budget.md).

Exit status: 0 every budget holds; 1 a budget, deadline, memory or closure
rule is violated; 2 configuration or input errors.  With ``--check-trace``:
0 no observed load exceeds its static bound, 1 one does (the analysis is
unsound), 2 configuration or input errors.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def parse_module_file(text: str) -> tuple[str, str]:
    """``NAME=FILE`` (argparse type)."""
    import argparse

    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"'{text}': expected NAME=FILE, e.g. boss=build/boss.elf")
    return name, path


#: the manifest the build's GameVMDisc writes next to the resident (SConstruct, docs/scons.md)
BUILD_LAYOUT = "layout.json"


def build_layout(args) -> tuple[str | None, str]:
    """The disc layout to check with, and the line that says which.

    ``--layout`` or the config's ``disc.layout`` say where the modules are.  Without
    them the config's ``disc.positions`` (or nothing) are assumed, and the line says so
    and how to pass the layout the build wrote (``build/<target>/layout.json``, next to
    the resident: what the build's own ``budget.txt`` checks).  That file is never used
    unasked: it may be a layout of another configuration.
    """
    from ..project.config import load_config

    if args.layout:
        return args.layout, f"Disc layout: {args.layout} (--layout)"
    cfg = load_config(args.config, resident_file=args.resident)
    disc = cfg.raw.get("disc", {})
    if "layout" in disc:
        return None, f"Disc layout: {disc['layout']} (the config's disc.layout)"
    assumed = ("the config's disc.positions, placed by hand" if disc.get("positions")
               else "unknown: any load may seek across the whole disc")
    how = "pass the manifest 'gamevm layout' writes with --layout FILE"
    if cfg.resident_file is not None:
        candidate = Path(cfg.resident_file).parent / BUILD_LAYOUT
        if candidate.is_file():
            how = (f"to check the disc the build laid out (as its budget.txt does), pass "
                   f"--layout {os.path.relpath(candidate)}")
    return None, f"Disc layout: ASSUMED ({assumed}); {how}"


def run(args) -> int:
    from gamevm_build.analysis import check_project, render

    layout, note = build_layout(args)
    result = check_project(args.config, module_files=dict(args.module or ()),
                           resident_file=args.resident, layout_file=layout)
    if args.check_trace:
        return _check_traces(args, result, note)
    return _emit(args, render(result.to_dict(), args.format), result, note)


def _emit(args, text: str, result, note: str = "") -> int:
    """Write the report to ``-o`` (with a summary line) or stdout; exit 0 if it holds, else 1.

    ``note`` (which disc layout was checked) is the text report's first line, and goes
    to stderr for the other formats and with ``-o``.
    """
    from ..fileutil import atomic_write

    if note and args.format == "text" and not args.output:
        text = note + "\n" + text
    elif note and not args.quiet:
        print(f"gamevm budget: {note}", file=sys.stderr)
    if args.output:
        atomic_write(Path(args.output), text.encode())
        if not args.quiet:
            print(f"gamevm budget: {result.summary_line()} (report: {args.output})",
                  file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0 if result.ok else 1


def _check_traces(args, result, note: str = "") -> int:
    """``--check-trace``: observed load times of ``gamevm run`` traces against the bounds."""
    import json

    from gamevm_build.analysis.trace import check_trace, load_trace

    check = check_trace(result, [load_trace(t) for t in args.check_trace])
    text = (json.dumps(check.to_dict(), indent=2) + "\n" if args.format == "json"
            else check.render_text())
    return _emit(args, text, check, note)


#: report formats (gamevm_build.analysis.report.FORMATS; spelled out so that registering the command
#: does not import networkx on every ``gamevm`` start; tests/test_cli_startup.py checks)
FORMATS = ("text", "json", "markdown", "junit", "html")


def register(sub, cli) -> None:
    p = sub.add_parser("budget", help="check load-time budgets, memory fit and overlay safety",
                       description="Check the load-time budgets, streaming deadlines, memory fit "
                                   "and module closure of a project (gamevm.json). Exit status: "
                                   "0 all hold, 1 a budget or check is violated, 2 configuration "
                                   "or input error.")
    p.add_argument("--config", "-c", required=True, metavar="FILE",
                   help="project configuration (gamevm.json)")
    p.add_argument("--format", "-f", choices=FORMATS, default="text",
                   help="report format (default: text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here (default: stdout)")
    p.add_argument("--module", "-m", action="append", type=parse_module_file, metavar="NAME=FILE",
                   help="use FILE as module NAME instead of the file the config names "
                        "(repeatable)")
    p.add_argument("--resident", metavar="FILE", help="resident kernel ELF (overrides resident.file)")
    p.add_argument("--layout", metavar="FILE",
                   help="disc layout written by 'gamevm layout' (its manifest); replaces the "
                        "config's disc.layout and disc.positions")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line with -o")
    p.add_argument("--check-trace", action="append", metavar="TRACE.json",
                   help="compare the load times a 'gamevm run' trace observed with their static "
                        "bounds; observed > bound fails (repeatable; report as text or json)")
    p.set_defaults(func=run)
