"""``gamevm call``: call functions of a resident and its modules on the emulated console.

::

    gamevm call -t psx --resident build/psx/kernel.elf --load level1 \\
        'level1:gamevm_selftest()' 'physics:fx_mul(0x30000, -0x20000)' 'gvm_strlen("hi")'

Each result is printed as ``EXPR = <signed decimal> (<unsigned hex>)`` of the
32-bit ``v0``; ``GameVMPrint`` output (and the loader's messages) as
``print: TEXT`` lines, in the order it happened.  ``--json`` prints one JSON
document instead (docs/loader.md).

Exit status: 0 every call returned; 1 a load failed (its ``TLoadStatus``), a
call faulted (the fault report) or ran out of budget; 2 usage, configuration
or input errors (bad expression, unknown symbol, unusable resident).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PRINT_PREFIX = "print: "
#: Machine.call's default budget in console seconds (gamevm_build.emu.machine.DEFAULT_SECONDS;
#: spelled out so that registering the command does not import unicorn;
#: tests/test_cli_startup.py checks)
DEFAULT_SECONDS = 0.25


def _module_arg(text: str) -> tuple[str, str | None]:
    """``MODULE[@REGION]``: a module name or path, and an optional memoryMap region."""
    name, sep, region = text.rpartition("@")
    if sep and name and region and "/" not in region:
        return name, region
    return text, None


def _config_regions(path: str, profile):
    """memoryMap regions (and module -> region) from a gamevm.json; only those parts are read."""
    from ..project.config import memory_regions
    from ..errors import ConfigError
    from ..fileutil import read_json

    data = read_json(path, "project configuration")
    if not isinstance(data, dict) or "memoryMap" not in data:
        raise ConfigError(f"{path}: no memoryMap (the regions modules are loaded into)")
    target = data.get("target")
    if target is not None and target != profile.name:
        raise ConfigError(f"{path}: target is {target!r}, but -t {profile.name} was given")
    regions = memory_regions(data["memoryMap"], where=f"{path}: memoryMap", profile=profile)
    placement = {}
    modules = data.get("modules")
    for name, spec in (modules.items() if isinstance(modules, dict) else ()):
        if isinstance(spec, dict) and isinstance(spec.get("region"), str):
            placement[name] = spec["region"]
    return regions, placement


def _loaded_json(lm) -> dict:
    return {"name": lm.name, "handle": lm.handle, "path": lm.path, "base": f"0x{lm.base:08x}",
            "size": lm.module.image_size, "region": lm.region.name}


def add_loader_option(p) -> None:
    """``--loader``, shared by the commands that run code on the emulated console."""
    p.add_argument("--loader", choices=("target", "host"),
                   help="load modules with the resident's console-side C runtime ('target', the "
                        "default when the resident has it) or the host's reference loader")


def add_gdb_options(p, cli, gdbinit: str) -> None:
    """``--gdb PORT`` and ``--gdbinit FILE`` (``gdbinit``: what the script holds, its default)."""
    p.add_argument("--gdb", type=cli.parse_int, metavar="PORT",
                   help="serve gdb on 127.0.0.1:PORT, stopped at the first call's first "
                        "instruction (docs/debugging.md)")
    p.add_argument("--gdbinit", metavar="FILE",
                   help=f"with --gdb: write gdb's script here ({gdbinit})")


def run(args) -> int:
    from ..play.callexpr import format_value, parse_call, run_call, signed32
    from ..play.console import Console
    from ..errors import EmulationFault, EmulationTimeout, GameVMError
    from ..runtime.reference import LoadError
    from ..project.profile import load_profile
    from ..play.validate import load_with_needs, print_progress

    exprs = [parse_call(e) for e in args.exprs]          # usage errors before any work
    if not exprs and not args.load:
        raise GameVMError("give at least one EXPR to call (or --load MODULE to just load)")
    profile = load_profile(args.target)
    regions, placement = (_config_regions(args.config, profile) if args.config else (None, {}))

    loads = []                       # (name for the reader, region)
    dirs: list[Path] = []
    for item in args.load:
        text, region = _module_arg(item)
        p = Path(text)
        if p.exists() and not p.is_file():
            kind = "a directory" if p.is_dir() else "not a regular file (a FIFO, device or socket)"
            raise GameVMError(f"--load {text}: is {kind}; give a module file (.elf) or a "
                              "module name to find in the search path")
        if p.suffix == ".elf" or "/" in text or p.is_file():
            # a path: its directory joins the search path (a missing file is
            # then lsFileNotFound, like a missing name)
            if p.parent not in dirs:
                dirs.append(p.parent)
            loads.append((p.name, region))
        else:
            loads.append((text, region))
    if args.search or args.disc:
        search = [Path(d) for d in args.search]
        search += [d for d in dirs if d not in search]
    else:
        search = dirs + [d for d in [Path(args.resident).parent] if d not in dirs]
    for d in args.search:
        if not Path(d).is_dir():
            raise GameVMError(f"--search {d}: not a directory")

    console = Console(args.target, args.resident, search_paths=search, disc=args.disc,
                      regions=regions, loader=args.loader)
    if args.max_seconds is not None and not 0 < args.max_seconds < 1e6:
        raise GameVMError(f"--max-seconds {args.max_seconds}: give a positive number of "
                          "console seconds")
    console.machine.progress = print_progress
    if args.gdb is not None:
        from ..play.gdbserver import GdbServer, default_script
        GdbServer(console, args.gdb, args.gdbinit or default_script()).arm()
    doc = {"target": profile.name, "resident": str(args.resident),
           "search_path": [str(d) for d in search], "disc": args.disc,
           "modules": [], "calls": [], "output": [], "status": "ok"}
    printed = 0

    def flush():
        nonlocal printed
        new = console.output[printed:]
        printed = len(console.output)
        doc["output"] += new
        if not args.json:
            for text in new:
                for line in (text.rstrip("\n").split("\n") or [""]):
                    print(PRINT_PREFIX + line)

    def fail(kind: str, message: str, **extra) -> int:
        flush()
        doc["status"] = kind
        doc["error"] = {"kind": kind, "message": message, **extra}
        if args.json:
            print(json.dumps(doc, indent=2))
        else:
            sys.stdout.flush()
            print(f"gamevm: error: {message}", file=sys.stderr)
        return 1

    for name, region in loads:
        try:
            for lm in load_with_needs(console, name, region=region, regions=placement):
                doc["modules"].append(_loaded_json(lm))
                if not args.json and not args.quiet:
                    print(f"loaded {lm.name} at 0x{lm.base:08x} ({lm.module.image_size} bytes, "
                          f"region {lm.region.name})")
        except LoadError as exc:
            return fail("load", f"cannot load module '{name}': {exc.status.name}: {exc}",
                        module=name, load_status=exc.status.name,
                        load_status_value=int(exc.status))
        flush()

    for expr in exprs:
        entry = {"call": expr.text, "function": expr.name,
                 "args": [a.decode("utf-8", "replace") if isinstance(a, bytes) else a
                          for a in expr.args]}
        try:
            value = run_call(console, expr, max_instructions=args.max_instructions,
                             max_seconds=args.max_seconds)
        except EmulationFault as exc:
            report = exc.report if exc.report is not None else exc
            return fail("fault", f"{expr.text}: emulated CPU fault: {report}", call=expr.text,
                        report=_fault_json(exc.report))
        except EmulationTimeout as exc:
            return fail("timeout", f"{expr.text}: {exc} (option --max-seconds S or "
                                   "--max-instructions N)",
                        call=expr.text,
                        budget=exc.budget, pc=None if exc.pc is None else f"0x{exc.pc:08x}")
        flush()
        entry.update(result=signed32(value), unsigned=value, hex=f"0x{value:08x}")
        doc["calls"].append(entry)
        if not args.json:
            print(f"{expr.text} = {format_value(value)}")
    flush()
    if args.json:
        print(json.dumps(doc, indent=2))
    return 0


def _fault_json(report) -> dict | None:
    if report is None:
        return None
    def addr(v):
        return None if v is None else f"0x{v:08x}"
    return {"text": str(report), "cause": report.cause, "access": report.access,
            "address": addr(report.address), "address_symbol": report.address_symbol,
            "pc": addr(report.pc), "pc_symbol": report.pc_symbol, "pc_exact": report.pc_exact,
            "ra": addr(report.ra), "ra_symbol": report.ra_symbol,
            "function": addr(report.function), "function_symbol": report.function_symbol}


def register(sub, cli) -> None:

    p = sub.add_parser(
        "call", help="call functions of a resident and its modules on the emulated console",
        description="Boot the emulated console with RESIDENT, load modules, and call each EXPR "
                    "([module:]symbol(arg, ...); integer and string-literal arguments) in order "
                    "on the same machine. Prints 'EXPR = SIGNED (0xUNSIGNED)' per call. Exit "
                    "status: 0 all calls returned, 1 a load failed or a call faulted or timed "
                    "out, 2 usage, configuration or input error.")
    p.add_argument("-t", "--target", required=True, type=cli.target_type,
                   help=f"console: {cli.targets_help()}")
    p.add_argument("--resident", required=True, metavar="RESIDENT", help="resident kernel ELF")
    p.add_argument("--load", action="append", default=[], metavar="MODULE",
                   help="module to load before the calls, its needs first: a name found in the "
                        "search path (or on the disc), or a path; MODULE@REGION picks a memoryMap "
                        "region (repeatable)")
    p.add_argument("--config", "-c", metavar="FILE",
                   help="gamevm.json whose memoryMap regions (and modules' regions) to use")
    p.add_argument("--search", action="append", default=[], metavar="DIR",
                   help="directory to read modules from (repeatable; default: the directories "
                        "of the --load paths, then the resident's)")
    p.add_argument("--disc", metavar="IMAGE", help="ISO 9660 image to read modules from "
                                                   "(after --search)")
    add_loader_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--max-seconds", type=float, metavar="S",
                   help=f"budget of each call in console seconds, at one instruction per cycle "
                        f"of the console's clock (default {DEFAULT_SECONDS})")
    p.add_argument("--max-instructions", type=cli.parse_int, metavar="N",
                   help="budget of each call in instructions (instead of --max-seconds)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not list loaded modules")
    add_gdb_options(p, cli, "target remote, the resident's and the loaded modules' symbols; "
                       "default: in a new temporary directory")
    p.add_argument("exprs", nargs="*", metavar="EXPR",
                   help="call expression, e.g. 'level1:level1_score()' or 'gvm_strlen(\"hi\")'")
    p.set_defaults(func=run)
