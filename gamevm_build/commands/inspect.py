"""``gamevm inspect``: a module's exports, imports and relocations (docs/cli.md)."""

from __future__ import annotations

import json
import sys


def run(args) -> int:
    from ..inspect_module import describe, render_text
    from ..module import read_module

    info = describe(read_module(args.module))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        sys.stdout.write(render_text(info))
    return 0


def register(sub, cli) -> None:
    ins = sub.add_parser("inspect", help="show a module's exports, imports and relocations")
    ins.add_argument("module")
    ins.add_argument("--json", action="store_true", help="machine-readable output")
    ins.set_defaults(func=run)
