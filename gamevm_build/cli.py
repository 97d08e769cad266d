"""The ``gamevm`` command line (also ``python -m gamevm_build``).

Exit status: 0 success; 1 a build or check failed (link error, undefined
symbol, relocation overflow); 2 usage, configuration or unusable input.
User errors print ``gamevm: error: ...`` without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from . import __version__
from .errors import ConfigError, GameVMError, LinkError
from .profile import available_targets, load_profile

SOURCE_SUFFIXES = (".c", ".s", ".S")


def parse_int(text: str) -> int:
    """Decimal or 0x-prefixed hex (argparse type)."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer (use decimal or 0x hex)")


def parse_placed(text: str) -> tuple[str, int]:
    """``MODULE@ADDR`` (argparse type for prelink --needs)."""
    path, sep, addr = text.rpartition("@")
    if not sep or not path:
        raise argparse.ArgumentTypeError(f"'{text}': expected MODULE@ADDR, e.g. physics.elf@0x80100000")
    return path, parse_int(addr)


def compile_inputs(target: str, inputs: list[str], workdir: Path, extra: list[str],
                   include_dirs: list[str], resident: bool = False) -> list[str]:
    """Compile sources among ``inputs`` with the profile's toolchain; keep .o/.a as given."""
    from .toolchain import find_toolchain

    out = []
    tc = None
    flags = list(extra) + (["-ffunction-sections", "-fdata-sections"] if resident else [])
    for i, item in enumerate(inputs):
        p = Path(item)
        if p.suffix in SOURCE_SUFFIXES:
            if not p.is_file():
                raise ConfigError(f"{p}: source file not found")
            tc = tc or find_toolchain(target)
            obj = workdir / f"{i:04d}_{p.stem}.o"
            tc.compile(p, obj, extra_flags=flags, include_dirs=include_dirs)
            out.append(str(obj))
        elif p.suffix in (".o", ".a", ".obj"):
            if not p.is_file():
                raise ConfigError(f"{p}: input file not found")
            out.append(str(p))
        else:
            raise ConfigError(f"{p}: unknown input type '{p.suffix}' (expected .c, .s, .S, .o or .a)")
    return out


def cmd_module(args) -> int:
    from .linker import link_module

    with tempfile.TemporaryDirectory(prefix="gamevm-") as tmp:
        objs = compile_inputs(args.target, args.inputs, Path(tmp), args.cflags, args.include)
        result = link_module(args.target, objs, args.output, name=args.name, needs=args.needs,
                             resident=args.resident, entry=args.entry, map_file=args.map)
    for w in result.warnings:
        print(f"gamevm: warning: {w}", file=sys.stderr)
    img = result.image
    if not args.quiet:
        print(f"{args.output}: module '{img.name}' for {img.target}: {img.image_size} bytes, "
              f"{len(img.exports)} exports, {len(img.imports)} imports, "
              f"{len(img.relocations)} relocations")
    return 0


def cmd_resident(args) -> int:
    from .resident import build_resident

    with tempfile.TemporaryDirectory(prefix="gamevm-") as tmp:
        objs = compile_inputs(args.target, args.inputs, Path(tmp), args.cflags, args.include,
                              resident=True)
        result = build_resident(args.target, objs, args.output, base=args.base,
                                modules=args.modules, strict=args.strict, entry=args.entry)
    for w in result.warnings:
        print(f"gamevm: warning: {w}", file=sys.stderr)
    if not args.quiet:
        r = result.resident
        print(f"{args.output}: resident for {args.target} at 0x{min(s[0] for s in r.segments):08x}"
              f"-0x{r.end:08x}, {len(r.symbols)} global symbols, {len(result.forced)} kept for "
              "modules")
    return 0


def cmd_prelink(args) -> int:
    from .prelink import prelink_file

    image = prelink_file(args.module, args.base, args.resident, args.needs, args.output)
    if not args.quiet:
        print(f"{args.output}: {len(image)} bytes for 0x{args.base:08x}-0x{args.base + len(image):08x}")
    return 0


def cmd_inspect(args) -> int:
    from .inspect_module import describe, render_text
    from .module import read_module

    info = describe(read_module(args.module))
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=False))
    else:
        sys.stdout.write(render_text(info))
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"gamevm: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _target(text: str) -> str:
    try:
        load_profile(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc))
    return text


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gamevm", description="Build, link and inspect GameVM modules for retro "
                                           "consoles.")
    p.add_argument("--version", action="version", version=f"gamevm {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    targets = ", ".join(available_targets())

    def common_build(sp):
        sp.add_argument("-t", "--target", required=True, type=_target, help=f"console: {targets}")
        sp.add_argument("-o", "--output", required=True, help="file to write")
        sp.add_argument("-I", "--include", action="append", default=[], metavar="DIR",
                        help="include directory for C sources")
        sp.add_argument("--cflags", action="append", default=[], metavar="FLAG",
                        help="extra compiler flag (repeatable), e.g. --cflags=-O1")
        sp.add_argument("-q", "--quiet", action="store_true")
        sp.add_argument("inputs", nargs="*", metavar="INPUT", help=".c .s .S .o .a files")

    m = sub.add_parser("module", help="link a relocatable module (Minimal ELF)")
    common_build(m)
    m.add_argument("--name", help="module name (default: output file stem)")
    m.add_argument("--needs", nargs="+", default=[], metavar="MODULE",
                   help="modules this one imports from (built files or names)")
    m.add_argument("--resident", help="resident ELF to check imports against")
    m.add_argument("--entry", help="exported symbol recorded as the module entry")
    m.add_argument("--map", help="write a link map to this file")
    m.set_defaults(func=cmd_module)

    r = sub.add_parser("resident", help="link the resident kernel at its fixed base")
    common_build(r)
    r.add_argument("--base", type=parse_int, help="link address (default: profile's)")
    r.add_argument("--modules", nargs="+", default=[], metavar="MODULE",
                   help="modules whose imports the resident must provide")
    r.add_argument("--strict", action="store_true",
                   help="error when a module redefines a resident global")
    r.add_argument("--entry", default="_start", help="entry symbol (default _start)")
    r.set_defaults(func=cmd_resident)

    pl = sub.add_parser("prelink", help="write a module's RAM image for a fixed address")
    pl.add_argument("module")
    pl.add_argument("--base", required=True, type=parse_int)
    pl.add_argument("--resident", required=True)
    pl.add_argument("--needs", nargs="+", default=[], type=parse_placed, metavar="MODULE@ADDR")
    pl.add_argument("-o", "--output", required=True)
    pl.add_argument("-q", "--quiet", action="store_true")
    pl.set_defaults(func=cmd_prelink)

    ins = sub.add_parser("inspect", help="show a module's exports, imports and relocations")
    ins.add_argument("module")
    ins.add_argument("--json", action="store_true", help="machine-readable output")
    ins.set_defaults(func=cmd_inspect)
    return p


INPUT_SUFFIXES = SOURCE_SUFFIXES + (".o", ".a", ".obj")


def _split_greedy(args, option: str) -> None:
    """``--modules a.elf kernel.c`` : build inputs swallowed by a list option go back to INPUT.

    The documented syntax puts INPUT... after ``--modules MODULE ...`` /
    ``--needs MODULE ...``; argparse cannot tell where the list ends, but a
    module is never a source, object or archive.
    """
    items = getattr(args, option, None)
    if items is None or not all(isinstance(i, str) for i in items):
        return
    moved = [i for i in items if Path(i).suffix in INPUT_SUFFIXES]
    setattr(args, option, [i for i in items if i not in moved])
    args.inputs = moved + list(args.inputs)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(args, "inputs"):
        _split_greedy(args, "needs")
        _split_greedy(args, "modules")
        if not args.inputs:
            parser.error(f"{args.command}: give at least one INPUT (.c .s .S .o .a)")
    try:
        return args.func(args)
    except GameVMError as exc:
        print(f"gamevm: error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, LinkError) else exc.exit_status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
