"""``gamevm module``: link a relocatable module (docs/cli.md)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ._build import add_build_options, compile_inputs


def run(args) -> int:
    from ..link.linker import link_module
    from ..link.sources import SourceMap

    with tempfile.TemporaryDirectory(prefix="gamevm-") as tmp, SourceMap() as sources:
        objs = compile_inputs(args.target, args.inputs, Path(tmp), args.cflags, args.include,
                              sources=sources)
        result = link_module(args.target, objs, args.output, name=args.name, needs=args.needs,
                             resident=args.resident, entry=args.entry, map_file=args.map,
                             sources=sources, form=args.form)
    for w in result.warnings:
        print(f"gamevm: warning: {w}", file=sys.stderr)
    img = result.image
    if not args.quiet:
        print(f"{args.output}: module '{img.name}' for {img.target}: {img.image_size} bytes, "
              f"{len(img.exports)} exports, {len(img.imports)} imports, "
              f"{len(img.relocations)} relocations"
              + (f", shipped {result.form}" if result.form != "plain" or args.form != "plain"
                 else ""))
        if args.form == "auto" and args.verbose_form:
            print(f"  form: {result.form_why}")
    return 0


def register(sub, cli) -> None:
    m = sub.add_parser("module", help="link a relocatable module (Minimal ELF)")
    add_build_options(m, cli.targets_help(), cli.target_type)
    m.add_argument("--name", help="module name (default: output file stem)")
    m.add_argument("--needs", nargs="+", default=[], metavar="MODULE",
                   help="modules this one imports from (built files or names)")
    m.add_argument("--resident", help="resident ELF to check imports against")
    m.add_argument("--entry", help="exported symbol recorded as the module entry")
    m.add_argument("--map", help="write a link map to this file")
    m.add_argument("--form", default="plain", choices=("plain", "packed", "lz4", "auto"),
                   help="shipping form (docs/format.md): packed relocations, an LZ4 image, "
                        "or auto: the one that loads soonest")
    m.add_argument("--why", dest="verbose_form", action="store_true",
                   help="with --form auto: print each form's read and CPU time")
    m.set_defaults(func=run, list_options=("needs",))
