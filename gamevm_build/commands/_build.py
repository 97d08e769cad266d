"""Compiling command-line inputs (shared by ``gamevm module`` and ``gamevm resident``)."""

from __future__ import annotations

from pathlib import Path

from .. import INCLUDE_DIR
from ..errors import ConfigError

SOURCE_SUFFIXES = (".c", ".s", ".S")
OBJECT_SUFFIXES = (".o", ".a", ".obj")
INPUT_SUFFIXES = SOURCE_SUFFIXES + OBJECT_SUFFIXES


def has_sources(inputs: list[str]) -> bool:
    """Whether ``inputs`` name a file :func:`compile_inputs` compiles."""
    # a name ending in an object suffix has that suffix, or none (".o" alone), never a
    # source's: the string test spares a link of 500 objects 500 Paths (~9 M instructions)
    return any(Path(item).suffix in SOURCE_SUFFIXES for item in inputs
               if not item.endswith(OBJECT_SUFFIXES))


def compile_inputs(target: str, inputs: list[str], workdir: Path | None, extra: list[str],
                   include_dirs: list[str], resident: bool = False, sources=None) -> list[str]:
    """Compile sources among ``inputs`` with the profile's toolchain into ``workdir`` (None
    when :func:`has_sources` is false); keep .o/.a as given.

    ``sources`` (a :class:`~gamevm_build.link.sources.SourceMap`) learns which source
    each temporary object comes from, so that messages name the source.
    """
    out = []
    tc = None
    # the user's flags last, so they can override ours (e.g. -fno-function-sections)
    flags = (["-ffunction-sections", "-fdata-sections"] if resident else []) + list(extra)
    for i, item in enumerate(inputs):
        p = Path(item)
        suffix = p.suffix
        if suffix in SOURCE_SUFFIXES:
            if not p.is_file():
                raise ConfigError(f"{p}: source file not found")
            if tc is None:
                # only here: the toolchain module costs a linker of objects alone ~4 ms of
                # imports (subprocess)
                from ..link.toolchain import find_toolchain
                tc = find_toolchain(target)
            obj = workdir / f"{i:04d}_{p.stem}.o"
            dirs = [*include_dirs, INCLUDE_DIR]
            tc.compile(p, obj, extra_flags=flags, include_dirs=dirs)
            if sources is not None:
                sources.add_compiled(tc, p, obj, flags, dirs)
            out.append(str(obj))
        elif suffix in OBJECT_SUFFIXES:
            if not p.is_file():
                raise ConfigError(f"{p}: input file not found")
            out.append(str(p))
        else:
            raise ConfigError(f"{p}: unknown input type '{suffix}' (expected .c, .s, .S, .o or .a)")
    return out


def add_build_options(sp, targets: str, target_type) -> None:
    """Options common to the commands that compile and link (module, resident)."""
    sp.add_argument("-t", "--target", required=True, type=target_type, help=f"console: {targets}")
    sp.add_argument("-o", "--output", required=True, help="file to write")
    sp.add_argument("-I", "--include", action="append", default=[], metavar="DIR",
                    help="include directory for C sources")
    sp.add_argument("--cflags", action="append", default=[], metavar="FLAG",
                    help="extra compiler flag (repeatable), e.g. --cflags=-O1")
    sp.add_argument("-q", "--quiet", action="store_true")
    sp.add_argument("inputs", nargs="*", metavar="INPUT", help=".c .s .S .o .a files")
