"""``gamevm thread``: compile the stack language to one emission format (docs/formats.md).

::

    gamevm thread -t psx --format dtc examples/emission/step.gvm -o step_dtc.o
    gamevm thread -t psx --format ttc --token-width 2 examples/emission/step.gvm -o t.o
    gamevm thread --interpreter        # the resident's inner interpreter (C source path)

``-o`` ending in ``.s`` writes the GNU ``as`` source; anything else (``.o``) also
assembles it with the console's cross ``as``.  ``--token-width`` (TTC only) is the bytes
per token, 1 or 2; without it the narrowest that names the token table (1 up to 256
entries).  Exit status: 0 written; 1 the source does not compile (or has more table
entries than the width asked for names); 2 usage (missing option, unknown target or
format, a token width for another format, unreadable file).
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def run(args) -> int:
    from ..errors import ConfigError
    if args.interpreter:
        from ..runtime.build import RUNTIME_DIR
        print(RUNTIME_DIR / "gvm_thread.c")
        return 0
    missing = [o for o, v in (("-t/--target", args.target), ("--format", args.format),
                              ("-o/--output", args.output), ("SOURCE", args.source)) if not v]
    if missing:
        raise ConfigError(f"gamevm thread needs {', '.join(missing)} (or --interpreter)")
    from ..fileutil import atomic_write
    from ..link.threadc import compile_program, parse, read_source, ttc_token_width
    from ..link.toolchain import find_toolchain
    from ..project.profile import load_profile

    profile = load_profile(args.target)
    out = Path(args.output)
    text = read_source(args.source)
    if args.token_width is not None and args.format != "ttc":
        raise ConfigError(f"--token-width is for --format ttc only, not {args.format}")
    prog = parse(text, args.source)
    asm = compile_program(prog, args.format, profile.arch, args.source, args.token_width)
    if out.suffix == ".s":
        atomic_write(out, asm.encode())
    else:
        with tempfile.TemporaryDirectory(prefix="gamevm-thread-") as tmp:
            src = Path(tmp) / (Path(args.source).stem + ".s")
            src.write_text(asm)
            obj = Path(tmp) / "out.o"
            find_toolchain(profile).compile(src, obj)
            atomic_write(out, obj.read_bytes())
    if not args.quiet:
        tokens = ""
        if args.format == "ttc":
            entries, width = ttc_token_width(prog, args.token_width, args.source)
            how = "asked" if args.token_width else "chosen"
            tokens = f" ({width}-byte tokens, {how}; {entries} table entries)"
        print(f"{out}: {args.format} threads{tokens} for {profile.name} from {args.source}")
    return 0


def register(sub, cli) -> None:
    from ..link.emission import NAMES
    t = sub.add_parser("thread", help="compile the stack language to STC, DTC, ITC or TTC "
                                      "threads (docs/formats.md)")
    t.add_argument("-t", "--target", type=cli.target_type, help=f"console: {cli.targets_help()}")
    t.add_argument("--format", choices=NAMES, help="emission format")
    t.add_argument("-o", "--output", help="object (.o) or assembly (.s) to write")
    t.add_argument("--token-width", type=int, choices=(1, 2), metavar="{1,2}",
                   help="TTC: bytes per token (default: 1 when the token table has at most "
                        "256 entries, else 2)")
    t.add_argument("--interpreter", action="store_true",
                   help="print the path of the inner interpreter's C source, for the resident")
    t.add_argument("-q", "--quiet", action="store_true")
    t.add_argument("source", nargs="?", help="thread source (.gvm)")
    t.set_defaults(func=run)
