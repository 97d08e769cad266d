"""``gamevm resident``: link the resident kernel at its fixed base (docs/cli.md)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ._build import add_build_options, compile_inputs


def run(args) -> int:
    from ..link.resident import build_resident
    from ..link.sources import SourceMap

    target = args.target
    if args.runtime_isa is not None:
        # the runtime's instruction set only; the kernel's own code keeps the profile's
        from ..errors import ConfigError
        from ..project.profile import load_profile, runtime_isa
        profile = load_profile(args.target)
        if args.runtime != "target":
            raise ConfigError("--runtime-isa chooses how the console-side runtime is compiled: "
                              "give --runtime target too")
        target = profile.replace(runtime_isa=runtime_isa(
            args.runtime_isa, profile.arch, f"--runtime-isa (target {profile.name})",
            profile.isa))
    with tempfile.TemporaryDirectory(prefix="gamevm-") as tmp, SourceMap() as sources:
        objs = compile_inputs(args.target, args.inputs, Path(tmp), args.cflags, args.include,
                              resident=True, sources=sources)
        result = build_resident(target, objs, args.output, base=args.base,
                                modules=args.modules, strict=args.strict, entry=args.entry,
                                keep=args.keep, runtime=args.runtime, sources=sources)
    for w in result.warnings:
        print(f"gamevm: warning: {w}", file=sys.stderr)
    if not args.quiet:
        r = result.resident
        print(f"{args.output}: resident for {args.target} at 0x{min(s[0] for s in r.segments):08x}"
              f"-0x{r.end:08x}, {len(r.symbols)} global symbols, {len(result.forced)} kept for "
              "modules")
        if result.runtime == "target":
            b = result.runtime_bytes
            print(f"  console-side runtime: {b['code']} bytes code, {b['data']} bytes data, "
                  f"{b['table']} bytes Global Symbol Table ({len(r.symbols)} symbols)")
    return 0


def register(sub, cli) -> None:
    r = sub.add_parser("resident", help="link the resident kernel at its fixed base")
    add_build_options(r, cli.targets_help(), cli.target_type)
    r.add_argument("--base", type=cli.parse_address, help="link address (default: profile's)")
    r.add_argument("--modules", nargs="+", action="extend", default=[], metavar="MODULE",
                   help="modules whose imports the resident must provide")
    r.add_argument("--strict", action="store_true",
                   help="error when a module redefines a resident global")
    r.add_argument("--entry", default="_start", help="entry symbol (default _start)")
    r.add_argument("--keep", action="append", default=[], metavar="SYMBOL",
                   help="keep this symbol through --gc-sections (repeatable)")
    r.add_argument("--runtime", choices=("host", "target"), default="host",
                   help="loader behind gamevm.h's API: 'target' links the console-side C "
                        "runtime and a Global Symbol Table (docs/runtime-c.md); 'host' (default) "
                        "traps to the emulated console's reference loader")
    r.add_argument("--runtime-isa", choices=("arm", "thumb"), default=None,
                   help="instruction set of the console-side runtime on ARM consoles: 'thumb' "
                        "compiles it with -mthumb (smaller; faster from a 16-bit bus like the "
                        "GBA's); default: the profile's runtime_isa (docs/runtime-c.md)")
    r.set_defaults(func=run, list_options=("modules",))
