"""Finding and running a target's cross toolchain (gcc, as, ld, ar, readelf, objdump).

The profile lists toolchain prefixes in order of preference (homebrew bare-metal
toolchains first, Debian's ``*-linux-gnu`` packages last); the first prefix
whose ``gcc`` is on ``PATH`` wins.  ``GAMEVM_<TARGET>_PREFIX`` overrides it.

Console code never sees the build machine's headers.  Debian's ``*-linux-gnu``
cross compilers have no C library for the target and search the host's
``/usr/include``, so ``#include <limits.h>`` or ``<stdio.h>`` would pick up
x86 glibc headers.  Every compile of console code therefore gets
:attr:`Toolchain.cflags`: the profile's flags, ``-nostdinc`` and the
compiler's own freestanding header directories (``stddef.h``, ``stdint.h``,
``limits.h``, ``stdarg.h``...), the one definition the CLI, the resident's
runtime and the SCons tool all use.  A hosted header (``stdio.h``) then fails
to compile, and :func:`explain_compile_failure` says what to do instead.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import CompileError, ToolchainError
from ..project.profile import Profile, load_profile

#: Searched after the compiler's headers: holds the empty C library limits.h that the
#: limits.h of gcc's *-linux-gnu cross compilers includes (sysinclude/limits.h says why)
SYSINCLUDE_DIR = str(Path(__file__).resolve().parents[1] / "sysinclude")

#: The headers every console build has: the compiler's freestanding ones (C11 section 4)
FREESTANDING_HEADERS = ("float.h", "iso646.h", "limits.h", "stdalign.h", "stdarg.h",
                        "stdbool.h", "stddef.h", "stdint.h", "stdnoreturn.h")


@dataclass(frozen=True)
class Toolchain:
    """Absolute paths of one target toolchain's programs."""

    prefix: str
    profile: Profile

    def tool(self, name: str) -> str:
        found = shutil.which(self.prefix + name)
        if not found:
            raise ToolchainError(
                f"'{self.prefix}{name}' not found on PATH; install Debian package "
                f"'{self.profile.debian_package}' (apt-get install {self.profile.debian_package})"
            )
        return found

    @property
    def gcc(self) -> str:
        return self.tool("gcc")

    @property
    def ld(self) -> str:
        return self.tool("ld")

    @property
    def ar(self) -> str:
        return self.tool("ar")

    @property
    def readelf(self) -> str:
        return self.tool("readelf")

    @property
    def objdump(self) -> str:
        return self.tool("objdump")

    def libgcc(self) -> str:
        """Path of the libgcc.a matching the profile's compile flags."""
        out = run([self.gcc, *self.profile.cflags, "-print-libgcc-file-name"])
        return out.strip()

    @property
    def header_flags(self) -> tuple[str, ...]:
        """``-nostdinc`` and the compiler's freestanding header directories, then ours.

        ``-isystem`` directories come after every ``-I``, so the user's headers
        (and gamevm.h) are found first, as usual.
        """
        flags = ["-nostdinc"]
        for d in compiler_header_dirs(self.gcc):
            flags += ["-isystem", d]
        return (*flags, "-idirafter", SYSINCLUDE_DIR)

    @property
    def cflags(self) -> tuple[str, ...]:
        """Flags for C and preprocessed assembly (``.S``): profile's, then :attr:`header_flags`."""
        return (*self.profile.cflags, *self.header_flags)

    def compile(self, source: str | os.PathLike, output: str | os.PathLike,
                extra_flags: tuple[str, ...] | list[str] = (),
                include_dirs: tuple[str, ...] | list[str] = (),
                cwd: str | os.PathLike | None = None) -> Path:
        """Compile or assemble one ``.c``/``.s``/``.S`` file to an object with the profile's flags.

        ``cwd``: the directory the compiler runs in, which relative ``include_dirs`` name.

        Raises
        ------
        CompileError
            When the compiler refuses the source; a missing header is explained
            (:func:`explain_compile_failure`).
        """
        source = Path(source)
        if source.suffix not in (".c", ".s", ".S"):
            raise ToolchainError(f"{source}: cannot compile files of type '{source.suffix}'"
                                 " (expected .c, .s or .S)")
        flags = list(self.cflags if source.suffix != ".s" else self.profile.asflags)
        if source.suffix == ".c" and not any(f.startswith("-O") for f in extra_flags):
            flags.append("-O2")
        cmd = [self.gcc, *flags, *extra_flags, *(f"-I{d}" for d in include_dirs),
               "-c", str(source), "-o", str(output)]
        proc = _run(cmd, cwd=cwd)
        if proc.returncode != 0:
            explained = explain_compile_failure(proc.stderr, self.profile)
            if explained:
                message, header = explained
                raise CompileError(message, source=str(source), header=header)
            raise CompileError(f"{source}: {Path(cmd[0]).name} failed (exit {proc.returncode}):\n"
                               f"  {' '.join(cmd)}\n{proc.stderr.strip()}", source=str(source))
        return Path(output)

    def source_lines(self, obj: str | os.PathLike, section: str, offsets) -> dict[int, str]:
        """``file:line`` of code offsets in one section of an object with DWARF line info.

        Offsets without a line are left out.  Files under the current directory
        are given relative to it, as the user would have named them.
        """
        offsets = sorted(set(offsets))
        if not offsets:
            return {}
        proc = _run([self.tool("addr2line"), "-e", str(obj), "-j", section,
                     *(hex(o) for o in offsets)])
        if proc.returncode != 0:
            return {}
        out = {}
        for offset, line in zip(offsets, proc.stdout.splitlines()):
            path, _, number = line.rpartition(":")
            if path and path != "??" and number.isdigit() and int(number) > 0:
                out[offset] = f"{display_path(path)}:{number}"
        return out


def display_path(path: str) -> str:
    """``path`` relative to the current directory when it lies below it, else unchanged."""
    try:
        rel = os.path.relpath(path)
    except ValueError:                      # another drive (Windows)
        return path
    return path if rel.startswith(os.pardir) else rel


@functools.lru_cache(maxsize=None)
def compiler_header_dirs(gcc: str) -> tuple[str, ...]:
    """The compiler's own header directories (``include``, and ``include-fixed`` if it has one)."""
    dirs = []
    for name in ("include", "include-fixed"):
        # gcc echoes the bare name back when it has no such file
        out = run([gcc, f"-print-file-name={name}"]).strip()
        if os.path.isabs(out) and os.path.isdir(out):
            dirs.append(out)
    if not dirs:
        raise ToolchainError(f"{gcc} has no header directory of its own "
                             "(-print-file-name=include); console code is compiled with "
                             "-nostdinc and needs gcc's stddef.h, stdint.h and limits.h: "
                             "reinstall the cross compiler")
    return tuple(dirs)


#: The C library's headers (C11 7.1.2 hosted ones, a few POSIX ones newcomers reach
#: for) -> what to do instead on a console
_HOSTED_HINTS = {
    "stdio.h": "there is no console or file I/O: print text with GameVMPrint() from gamevm.h "
               "(the emulator shows it: gamevm call, GameVMValidate) and format numbers yourself",
    "string.h": "write memcpy, memset, strlen... yourself (a few lines each; gcc may also call "
                "memcpy and memset for struct copies and loops, so the resident usually defines "
                "them) or link a library that has them",
    "stdlib.h": "there is no malloc/free, abs, rand or qsort: allocate from your own pools or "
                "memory regions (the loader allocates module memory: gamevm.h), write abs()",
    "math.h": "there is no libm: use fixed-point arithmetic (examples/game/physics/fixed.c) or "
              "link a math library built for this CPU",
    "inttypes.h": "include stdint.h for the integer types; the PRI* macros only serve printf",
    "assert.h": "define an assert macro of your own, e.g. "
                "#define assert(c) ((c) ? (void)0 : __builtin_trap())",
    "ctype.h": "write isdigit, isalpha... yourself (a comparison or two each)",
    "time.h": "there is no clock or calendar: count frames (GameVMFrame() in gamevm.h) or "
              "read the console's timers",
}
for _h in ("strings.h", "memory.h"):
    _HOSTED_HINTS[_h] = _HOSTED_HINTS["string.h"]
for _h in ("malloc.h", "alloca.h"):
    _HOSTED_HINTS[_h] = _HOSTED_HINTS["stdlib.h"]
for _h in ("tgmath.h", "complex.h", "fenv.h"):
    _HOSTED_HINTS[_h] = _HOSTED_HINTS["math.h"]
HOSTED_HEADERS = frozenset(_HOSTED_HINTS) | {
    "errno.h", "locale.h", "setjmp.h", "signal.h", "threads.h", "uchar.h", "wchar.h",
    "wctype.h", "unistd.h", "fcntl.h", "pthread.h", "dirent.h"}

_MISSING = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?:\d+:)? fatal error: (?P<header>[^:\n]+): "
                      r"No such file or directory$", re.M)
_INCLUDED = re.compile(r"^(?:In file included|\s+) from (?P<file>.+?):(?P<line>\d+)[:,]$")


def explain_compile_failure(stderr: str, profile: Profile | None) -> tuple[str, str] | None:
    """``(message, header)`` when gcc failed because an ``#include`` was not found, else None.

    The message names the header, where it is included (and from where that
    file was included), and what to do instead: a hosted C library header gets
    the freestanding headers consoles do have, gamevm.h, and a hint for it.
    """
    m = _MISSING.search(stderr)
    if m is None:
        return None
    header, where = m["header"].strip(), f"{display_path(m['file'])}:{m['line']}"
    chain = []
    for line in stderr[:m.start()].splitlines():
        inc = _INCLUDED.match(line)
        if inc:
            chain.append(f"{display_path(inc['file'])}:{inc['line']}")
        elif not line.startswith(" "):
            chain = []                      # diagnostics of an earlier, finished include
    if chain:
        where += f" (included from {', '.join(chain)})"
    free = ", ".join(FREESTANDING_HEADERS)
    base = header.rsplit("/", 1)[-1]
    if header in HOSTED_HEADERS or header.startswith("sys/"):
        hint = _HOSTED_HINTS.get(header, "write the functions you need yourself")
        target = f"target {profile.name}" if profile else "a console"
        cpu = f"the {profile.cpu_name}" if profile else "the console's CPU"
        return (f"{where}: #include <{header}>: {header} belongs to the hosted C library (libc), "
                f"and console code is freestanding: {target} has only the "
                f"compiler's own headers ({free}), gamevm.h and your -I directories.\n"
                f"  instead: {hint};\n"
                f"  or link a library built for {cpu} and add its headers with -I DIR", header)
    return (f"{where}: '{header}' not found: console code sees only your -I directories, "
            f"gamevm.h and the compiler's freestanding headers ({free}); the build "
            f"machine's /usr/include is never searched. Add the directory that holds "
            f"{base} with -I DIR", header)


def _run(cmd: list[str], cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    except OSError as exc:
        raise ToolchainError(f"cannot run {cmd[0]}: {exc}") from exc


def run(cmd: list[str], *, check: bool = True) -> str:
    """Run a toolchain command; on failure raise ToolchainError carrying its stderr."""
    proc = _run(cmd)
    if check and proc.returncode != 0:
        raise ToolchainError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}):\n"
                             f"  {' '.join(cmd)}\n{proc.stderr.strip()}")
    return proc.stdout + ("" if check else proc.stderr)


@functools.lru_cache(maxsize=None)
def find_toolchain(target: str | Profile) -> Toolchain:
    """Locate the cross toolchain for ``target``.

    Raises
    ------
    ToolchainError
        When none of the profile's prefixes has a ``gcc`` on PATH; the message
        names the prefixes tried and the Debian package to install.
    """
    profile = load_profile(target) if isinstance(target, str) else target
    override = os.environ.get(f"GAMEVM_{profile.name.upper()}_PREFIX")
    prefixes = (override,) if override else profile.toolchain_prefixes
    for prefix in prefixes:
        if shutil.which(prefix + "gcc"):
            return Toolchain(prefix=prefix, profile=profile)
    raise ToolchainError(
        f"no cross compiler for target '{profile.name}': tried "
        f"{', '.join(p + 'gcc' for p in prefixes)}; install Debian package "
        f"'{profile.debian_package}' or set GAMEVM_{profile.name.upper()}_PREFIX"
    )
