"""Finding and running a target's cross toolchain (gcc, as, ld, ar, readelf, objdump).

The profile lists toolchain prefixes in order of preference (homebrew bare-metal
toolchains first, Debian's ``*-linux-gnu`` packages last); the first prefix
whose ``gcc`` is on ``PATH`` wins.  ``GAMEVM_<TARGET>_PREFIX`` overrides it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolchainError
from .profile import Profile, load_profile


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

    def compile(self, source: str | os.PathLike, output: str | os.PathLike,
                extra_flags: tuple[str, ...] | list[str] = (),
                include_dirs: tuple[str, ...] | list[str] = ()) -> Path:
        """Compile or assemble one ``.c``/``.s``/``.S`` file to an object with the profile's flags."""
        source = Path(source)
        if source.suffix not in (".c", ".s", ".S"):
            raise ToolchainError(f"{source}: cannot compile files of type '{source.suffix}'"
                                 " (expected .c, .s or .S)")
        flags = list(self.profile.cflags if source.suffix != ".s" else self.profile.asflags)
        if source.suffix == ".c" and not any(f.startswith("-O") for f in extra_flags):
            flags.append("-O2")
        cmd = [self.gcc, *flags, *extra_flags, *(f"-I{d}" for d in include_dirs),
               "-c", str(source), "-o", str(output)]
        run(cmd)
        return Path(output)


def run(cmd: list[str], *, check: bool = True) -> str:
    """Run a toolchain command; on failure raise ToolchainError carrying its stderr."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        raise ToolchainError(f"cannot run {cmd[0]}: {exc}") from exc
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
