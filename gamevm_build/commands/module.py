"""``gamevm module``: link a relocatable module (docs/cli.md)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from ._build import add_build_options, compile_inputs, has_sources


def shipping_form(args) -> tuple[str, str]:
    """``(form, why it is that one)``: ``--form`` when given (it beats the config), else
    what the config's ``modules.NAME.form`` forces (NAME: ``--name`` or the output's stem),
    else ``plain``; ``why`` names the key that forced it, or is empty."""
    if args.form is not None or not args.config:
        return args.form or "plain", ""
    from ..fileutil import read_json
    from ..project.config import forced_form
    name = args.name or Path(args.output).stem
    form = forced_form(read_json(args.config, "project configuration"), name, where=args.config)
    if form is None:
        return "plain", ""
    return form, (f"modules.{name}.form: auto" if form == "auto" else
                  f"forced by modules.{name}.form")


def run(args) -> int:
    from ..link.linker import link_module
    from ..link.sources import SourceMap

    form, forced = shipping_form(args)
    if has_sources(args.inputs):
        import tempfile
        workdir = tempfile.TemporaryDirectory(prefix="gamevm-")
    else:
        # objects alone need no directory, nor tempfile's imports (shutil, random: ~4 ms
        # of a link's start-up)
        workdir = contextlib.nullcontext()
    with workdir as tmp, SourceMap() as sources:
        objs = compile_inputs(args.target, args.inputs, tmp and Path(tmp), args.cflags,
                              args.include, sources=sources)
        result = link_module(args.target, objs, args.output, name=args.name, needs=args.needs,
                             resident=args.resident, entry=args.entry, map_file=args.map,
                             sources=sources, form=form, trusted=args.trusted,
                             emission=args.emission)
    for w in result.warnings:
        print(f"gamevm: warning: {w}", file=sys.stderr)
    img = result.image
    if not args.quiet:
        print(f"{args.output}: module '{img.name}' for {img.target}: {img.image_size} bytes, "
              f"{len(img.exports)} exports, {len(img.imports)} imports, "
              f"{len(img.relocations)} relocations"
              + (f", emission {img.emission}" if img.emission != "stc" else "")
              + (f", shipped {result.form}" if result.form != "plain" or form != "plain"
                 or forced else "") + (f" ({forced})" if forced else ""))
        if args.verbose_form and (form == "auto" or forced):
            print("  form: " + "; ".join(w for w in (forced, result.form_why) if w))
    return 0


def register(sub, cli) -> None:
    m = sub.add_parser("module", help="link a relocatable module (Minimal ELF)")
    add_build_options(m, cli.targets_help(), cli.target_type)
    m.add_argument("--name", help="module name (default: output file stem)")
    m.add_argument("--needs", nargs="+", action="extend", default=[], metavar="MODULE",
                   help="modules this one imports from (built files or names)")
    m.add_argument("--resident", help="resident ELF to check imports against")
    m.add_argument("--entry", help="exported symbol recorded as the module entry")
    m.add_argument("--map", help="write a link map to this file")
    m.add_argument("--form", choices=("plain", "packed", "lz4", "zx0", "auto"),
                   help="shipping form (docs/format.md): packed relocations, an LZ4 or ZX0 image, "
                        "or auto: the one that loads soonest; default: what --config's "
                        "modules.NAME.form forces, else plain")
    from ..link.emission import NAMES
    m.add_argument("--emission", choices=NAMES, default="stc",
                   help="emission format of the module's threads (docs/formats.md): stc "
                        "(native code, the default), dtc, itc or ttc; recorded in the "
                        "metadata, and thread relocations it does not allow are refused")
    m.add_argument("--config", "-c", metavar="FILE",
                   help="project configuration (gamevm.json) whose modules.NAME.form "
                        "forces the form when --form is not given")
    m.add_argument("--trusted", action="store_true",
                   help="with --form auto: the resident checks every module's digest "
                        "(docs/signing.md), so each form is charged hashing its file")
    m.add_argument("--why", dest="verbose_form", action="store_true",
                   help="say why the form: forced by the config, or (auto) each form's "
                        "read and CPU time")
    m.set_defaults(func=run, list_options=("needs",))
