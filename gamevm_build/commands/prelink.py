"""``gamevm prelink``: a module's RAM image for a fixed address (docs/cli.md)."""

from __future__ import annotations


def run(args) -> int:
    from ..link.prelink import prelink_file

    image = prelink_file(args.module, args.base, args.resident, args.needs, args.output)
    if not args.quiet:
        print(f"{args.output}: {len(image)} bytes for "
              f"0x{args.base:08x}-0x{args.base + len(image):08x}")
    return 0


def register(sub, cli) -> None:
    pl = sub.add_parser("prelink", help="write a module's RAM image for a fixed address")
    pl.add_argument("module")
    pl.add_argument("--base", required=True, type=cli.parse_address)
    pl.add_argument("--resident", required=True)
    pl.add_argument("--needs", nargs="+", action="extend", default=[], type=cli.parse_placed,
                    metavar="MODULE@ADDR")
    pl.add_argument("-o", "--output", required=True)
    pl.add_argument("-q", "--quiet", action="store_true")
    pl.set_defaults(func=run)
