"""``gamevm registry``: write the module registry of a cartridge build as C (seed §9.1).

Exit status: 0 written; 2 usage, configuration or input errors.
"""

from __future__ import annotations


def _placed(text: str):
    """``MODULE.elf`` or ``MODULE.elf@ADDR`` (argparse type)."""
    import argparse

    path, sep, addr = text.rpartition("@")
    if not sep:
        return text
    try:
        return path, int(addr, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': expected MODULE or MODULE@ADDR") from None


def run(args) -> int:
    from ..runtime.registry import write_registry

    placed = write_registry(args.target, args.modules, args.output, base=args.base)
    if not args.quiet:
        for name, base in placed:
            print(f"{name} @ 0x{base:08x}")
    return 0


def register(sub, cli) -> None:
    p = sub.add_parser(
        "registry", help="write the module registry (name -> export table) of a cartridge build",
        description="Write a C file defining gvm_registry: the given modules, prelinked at "
                    "fixed addresses, sorted by name, each with its exports sorted by name, for "
                    "GameVMRegistryLookup/GameVMExportLookup of gamevm.h (binary search). Link "
                    "it into the resident. docs/runtime.md.")
    p.add_argument("-t", "--target", required=True, type=cli.target_type,
                   help=f"console: {cli.targets_help()}")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="C file to write")
    p.add_argument("--base", type=cli.parse_address, metavar="ADDR",
                   help="place modules given without @ADDR one after the other from ADDR")
    p.add_argument("-q", "--quiet", action="store_true", help="do not list the placements")
    p.add_argument("modules", nargs="+", type=_placed, metavar="MODULE[@ADDR]",
                   help="module file, optionally with its prelink base address")
    p.set_defaults(func=run)
