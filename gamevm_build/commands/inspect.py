"""``gamevm inspect``: a module's exports, imports and relocations (docs/cli.md)."""

from __future__ import annotations

import json
import sys


def run(args) -> int:
    from ..errors import ModuleChecksumError
    from ..link.inspect_module import describe, render_text
    from ..link.module import read_module

    mismatch = None
    try:
        module = read_module(args.module)
    except ModuleChecksumError as exc:
        # show what the file holds anyway: that is what one wants to look at
        mismatch = exc
        module = read_module(args.module, verify_hash=False)
    info = describe(module, hash_ok=mismatch is None,
                    actual_hash=mismatch.actual if mismatch else None)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        sys.stdout.write(render_text(info))
    if mismatch is not None:
        print(f"gamevm: error: {mismatch}", file=sys.stderr)
        return mismatch.exit_status
    return 0


def register(sub, cli) -> None:
    ins = sub.add_parser("inspect", help="show a module's exports, imports and relocations")
    ins.add_argument("module")
    ins.add_argument("--json", action="store_true", help="machine-readable output")
    ins.set_defaults(func=run)
