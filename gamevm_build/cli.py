"""The ``gamevm`` command line (also ``python -m gamevm_build``).

Exit status: 0 success; 1 a build or check failed (link error, undefined
symbol, relocation overflow, failed check); 2 usage, configuration or unusable
input.  User errors print ``gamevm: error: ...`` without a traceback.
Subcommands live in :mod:`gamevm_build.commands`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from pathlib import Path

from . import __version__
from .commands import COMMANDS
from .commands._build import INPUT_SUFFIXES
from .errors import ConfigError, GameVMError
from .project.profile import available_targets, load_profile


def parse_int(text: str) -> int:
    """Decimal or 0x-prefixed hex (argparse type)."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer (use decimal or 0x hex)")


def parse_address(text: str) -> int:
    """A 32-bit address, decimal or 0x hex (argparse type): no negative or wider values."""
    value = parse_int(text)
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"'{text}' is not a 32-bit address (0 to 0xffffffff)")
    return value


def parse_placed(text: str) -> tuple[str, int]:
    """``MODULE@ADDR`` (argparse type)."""
    path, sep, addr = text.rpartition("@")
    if not sep or not path:
        raise argparse.ArgumentTypeError(
            f"'{text}': expected MODULE@ADDR, e.g. physics.elf@0x80100000")
    return path, parse_address(addr)


def target_type(text: str) -> str:
    """A known target name (argparse type)."""
    try:
        load_profile(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc))
    return text


def targets_help() -> str:
    return ", ".join(available_targets())


def _columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (and its zlib, bz2
    and lzma): argparse imports it for every formatter it makes, and the parser makes one
    per option it checks, so every command paid ~2 ms for a width only help text uses."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        # argparse's own default: the terminal's width less 2
        super().__init__(prog, indent_increment, max_help_position,
                         _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, formatter_class=_Formatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"gamevm: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``gamevm`` parser: every subcommand, or only ``command`` when it names one.

    The command line names one command; registering only that one imports one command
    module instead of all of them at every start (``gamevm --help``, no command or an
    unknown one still get the full list)."""
    p = _Parser(prog="gamevm",
                description="Build, link, inspect and check GameVM modules for retro consoles.")
    p.add_argument("--version", action="version", version=f"gamevm {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    this = sys.modules[__name__]
    for name in [command] if command in COMMANDS else COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub, this)
    return p


def _command_of(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (the top-level
    options take no value); None after ``--help``, which lists every command."""
    for arg in argv:
        if arg in ("-h", "--help"):
            return None
        if not arg.startswith("-"):
            return arg
    return None


def _split_greedy(args) -> None:
    """``--modules a.elf kernel.c``: build inputs swallowed by a list option go back to INPUT.

    The documented syntax puts INPUT... after ``--modules MODULE ...`` /
    ``--needs MODULE ...``; argparse cannot tell where the list ends, but a
    module is never a source, object or archive.
    """
    for option in getattr(args, "list_options", ()):
        items = getattr(args, option)
        moved = [i for i in items if Path(i).suffix in INPUT_SUFFIXES]
        setattr(args, option, [i for i in items if i not in moved])
        args.inputs = moved + list(args.inputs)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: this process's, ``sys.argv[1:]``)."""
    try:
        return _main(argv)
    finally:
        if argv is None:
            # the process's own command, which it ends with: interpreter exit's last
            # collection walks every object still alive, the imported modules' too, ~10 ms
            # of a short command (issue 16); frozen, they are left to the process's end.
            # A command leaves no garbage cycle that needs collecting (its files are
            # closed by ``with`` blocks).  Not for callers in a longer-lived process.
            gc.freeze()


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_of(argv))
    args = parser.parse_args(argv)
    if hasattr(args, "inputs"):
        _split_greedy(args)
        if not args.inputs:
            parser.error(f"{args.command}: give at least one INPUT (.c .s .S .o .a)")
    try:
        # outputs the command line names are checked before any work (a directory or a
        # device named by -o is an error, never replaced): docs/cli.md, "Files"
        from .fileutil import check_output
        for option in ("output", "trace", "map"):
            if isinstance(getattr(args, option, None), str):
                check_output(args.__dict__[option], f"--{option}")
        return args.func(args)
    except GameVMError as exc:
        print(f"gamevm: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
