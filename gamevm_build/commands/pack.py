"""``gamevm pack``: a module in another shipping form (docs/cli.md, docs/format.md)."""

from __future__ import annotations


def run(args) -> int:
    from ..errors import InputError, PackError
    from ..fileutil import atomic_write, read_input
    from ..link.module import read_module
    from ..link.shipform import convert

    try:
        data = read_input(args.module, "module")
    except FileNotFoundError:
        raise InputError(f"{args.module}: module file not found") from None
    except OSError as exc:
        raise InputError(f"{args.module}: cannot read module: {exc.strerror}") from None
    try:
        out = convert(data, args.form, path=args.module)
    except ValueError as exc:
        raise PackError(str(exc)) from None
    atomic_write(args.output, out)
    if not args.quiet:
        m = read_module(out, name=args.output)
        ram = f", {m.load_size} bytes of RAM to decode in place" if m.load_size > m.image_size \
            else ""
        rel = (f", relocations {m.relpack_size} bytes"
               f" ({m.relpack_size / len(m.relocations):.2f} per relocation)"
               if m.form != "plain" and m.relocations else "")
        print(f"{args.output}: {args.form}, {len(out)} bytes (was {len(data)}){rel}{ram}")
    return 0


def register(sub, cli) -> None:
    p = sub.add_parser("pack", help="write a module in another shipping form (packed "
                                    "relocations, LZ4 or ZX0 image, or plain)")
    p.add_argument("module")
    p.add_argument("--form", required=True, choices=("plain", "packed", "lz4", "zx0"),
                   help="packed: packed relocations; lz4, zx0: also the image compressed "
                        "(zx0: smaller, slower to decode); "
                        "plain: back to the format objdump reads")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=run)
