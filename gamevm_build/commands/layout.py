"""``gamevm layout``: lay the modules out on a disc in seek order (docs/layout.md).

Exit status: 0 the image and outputs were written; 1 the layout failed (a file
does not fit the disc, the image read back differs from the plan); 2
configuration, input or tool errors (names invalid for ISO 9660 level 1, a
module given twice with different contents, no mastering tool).
"""

from __future__ import annotations

import sys

#: mastering tools (gamevm_build.layout.iso.TOOLS; spelled out so that registering the
#: command imports nothing heavy, tests/test_cli_startup.py checks)
TOOLS = ("genisoimage", "xorriso")


def time_limit_seconds(text: str) -> float:
    """A time limit in seconds: a finite number >= 0 (argparse type; GameVMDisc's
    ``GAMEVM_DISC_TIME_LIMIT`` too).  0 plans without searching."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"'{text}': expected a time in seconds, a finite "
                                         "number >= 0 (e.g. 5)")
    return value


def run(args) -> int:
    from ..layout.disc import build_disc, module_files

    files = module_files(args.module or ())
    manifest = args.manifest
    if manifest is None:
        from pathlib import Path

        from ..fileutil import confined_output, read_json

        data = read_json(args.config, "project configuration")
        disc = data.get("disc") if isinstance(data, dict) else None
        if isinstance(disc, dict) and isinstance(disc.get("layout"), str):
            # named by the config, not the command line: it stays in the project
            manifest = str(confined_output(disc["layout"], Path(args.config).parent,
                                           f"{args.config}: disc.layout",
                                           option="--manifest FILE"))
    result = build_disc(args.config, args.output, module_files=files or None,
                        resident_file=args.resident, manifest=manifest, mkpsxiso=args.mkpsxiso,
                        lba_header=args.lba_header, report=args.report, tool=args.tool,
                        time_limit=args.time_limit, seed=args.seed)
    if not args.quiet:
        print(f"gamevm {result.summary_line()}", file=sys.stderr)
        for kind, path in result.outputs.items():
            if kind != "image":
                print(f"  {kind}: {path}", file=sys.stderr)
    note = result.over_limit()
    if note:                    # even with -q: the limit a build asked for did not hold
        print(f"gamevm layout: note: {note}", file=sys.stderr)
    return 0


def register(sub, cli) -> None:
    from .budget import parse_module_file

    p = sub.add_parser(
        "layout", help="lay modules out on a disc in seek order (ISO image, reports)",
        description="Plan the disc order of a project's modules from its flow graph (load "
                    "bundles, copies, padding) to minimise the weighted worst-case load time "
                    "under its media model, then write the ISO 9660 image (or a cartridge ROM "
                    "segment), verified by reading it back. Exit status: 0 written, 1 the "
                    "layout failed (does not fit, image differs from the plan), 2 "
                    "configuration, input or tool error.")
    p.add_argument("--config", "-c", required=True, metavar="FILE",
                   help="project configuration (gamevm.json)")
    p.add_argument("-o", "--output", required=True, metavar="IMAGE",
                   help="the disc image to write (ISO 9660; a ROM segment for cartridges)")
    p.add_argument("--manifest", metavar="FILE",
                   help="JSON manifest and layout file (default: the config's disc.layout, "
                        "if it names one)")
    p.add_argument("--mkpsxiso", metavar="FILE", help="also write a mkpsxiso XML project")
    p.add_argument("--lba-header", metavar="FILE", help="also write a C header of LBAs and sizes")
    p.add_argument("--report", metavar="FILE",
                   help="layout report: HTML with a disc map (.html) or text (other suffixes)")
    p.add_argument("--module", "-m", action="append", type=parse_module_file,
                   metavar="NAME=FILE",
                   help="use FILE as module NAME instead of the file the config names "
                        "(repeatable)")
    p.add_argument("--resident", metavar="FILE",
                   help="resident kernel ELF (overrides resident.file); placed on the disc")
    p.add_argument("--tool", choices=TOOLS, help="ISO mastering tool (default: genisoimage, "
                                                 "else xorriso)")
    p.add_argument("--time-limit", type=time_limit_seconds, metavar="SECONDS",
                   help="optimiser time limit (default: 2 s + 20 ms per module, at most 25 s)")
    p.add_argument("--seed", type=int, default=0, help="optimiser seed (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=run)
