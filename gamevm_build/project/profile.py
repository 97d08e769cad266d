"""Target console profiles.

A console is *data*: one TOML file per target in ``gamevm_build/profiles/``
(CPU and unicorn model, ELF machine and ABI, RAM map, toolchain prefixes and
flags).  Code asks the profile; it never branches on a console's name.  Adding
a console means adding a profile here and, for a new CPU family, a relocation
table in :mod:`gamevm_build.arch`.
"""

from __future__ import annotations

import functools
import marshal
import os
import re
import sys
from pathlib import Path

from ..errors import ConfigError, InputError
from ..record import Record

PROFILE_DIR = Path(__file__).resolve().parents[1] / "profiles"

#: ELF e_machine numbers of the CPU families profiles may name (System V gABI)
E_MACHINE = {"EM_68K": 4, "EM_MIPS": 8, "EM_ARM": 40}


class RamRegion(Record, frozen=True):
    """One block of RAM as the CPU sees it (a virtual start, physical backing, mirrors)."""

    name: str
    start: int
    size: int
    physical: int
    mirrors: tuple[int, ...] = ()
    expansion_size: int | None = None

    @property
    def end(self) -> int:
        return self.start + self.size

    def contains(self, addr: int, size: int = 1) -> bool:
        return self.start <= addr and addr + size <= self.end


class Profile(Record, frozen=True):
    """Everything gamevm_build knows about one target console (``replace`` makes a copy with
    other values, as ``dataclasses.replace`` did)."""

    name: str
    title: str
    arch: str
    media: str
    cpu_name: str
    clock_hz: int
    unicorn_arch: str
    unicorn_mode: tuple[str, ...]
    unicorn_cpu: str
    e_machine: int
    e_machine_name: str
    elfclass: int
    endian: str
    abi: str
    float_abi: str
    isa_max: int
    resident_base: int
    stack_top: int
    ram: tuple[RamRegion, ...]
    toolchain_prefixes: tuple[str, ...]
    debian_package: str
    cflags: tuple[str, ...]
    asflags: tuple[str, ...]
    runtime: tuple[str, ...] = ()
    #: extra flags for the resident's link (gcc driver syntax: ``-Wl,...``)
    ldflags: tuple[str, ...] = ()
    #: instruction set name a disassembler checks code against (arch/isacheck.py), or ""
    isa: str = ""
    #: bytes of emulator stack below ``stack_top`` and of scratch area below that
    stack_size: int = 0x10000
    scratch_size: int = 0x10000
    #: read-only memory code may run from in place (cartridge ROM), mapped by the emulator
    rom: tuple[RamRegion, ...] = ()
    #: how code the CPU wrote becomes visible to instruction fetch: "psx-bios" (BIOS
    #: FlushCache), "vr4300" (cache hit ops), or "" (no caches); the C runtime and the
    #: emulator's stale-instruction-cache check follow it
    code_sync: str = ""
    #: the compressed forms whose decoders the console-side runtime carries (and so the
    #: forms a module for this console may ship in): "lz4", "zx0"
    codecs: tuple[str, ...] = ("lz4", "zx0")
    #: the instruction set the console-side runtime is compiled for: "" (the profile's
    #: cflags), or on ARM "arm" or "thumb" (-mthumb, interworking with ARM callers:
    #: smaller, and faster from a 16-bit bus such as the GBA's EWRAM and ROM)
    runtime_isa: str = ""
    source: Path = Path()
    _uncompared = ("source",)

    @property
    def big_endian(self) -> bool:
        return self.endian == "big"

    @property
    def byteorder(self) -> str:
        return self.endian

    @property
    def main_ram(self) -> RamRegion:
        return self.ram[0]

    def ram_region_for(self, addr: int, size: int = 1) -> RamRegion | None:
        for region in self.ram:
            if region.contains(addr, size):
                return region
        return None


def available_targets() -> list[str]:
    """Names of the bundled target profiles, sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def _require(table: dict, key: str, where: str):
    if key not in table:
        raise ConfigError(f"{where}: missing key '{key}'")
    return table[key]


#: the largest kept parse read (a profile's is a few KiB)
_CACHE_LIMIT = 1 << 20


def _cache_file(path: Path) -> Path | None:
    """Where :func:`_profile_table` keeps ``path``'s parse: as Python keeps the bytecode of
    a ``.py`` file (``__pycache__`` beside it, or under ``sys.pycache_prefix``)."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    name = f"{path.name}.{tag}.marshal"
    if sys.pycache_prefix:
        head = os.path.dirname(os.path.abspath(path))
        return Path(sys.pycache_prefix, head.lstrip(os.sep), name)
    return path.parent / "__pycache__" / name


def _profile_table(path: Path) -> dict:
    """The TOML tables of the profile ``path``.

    Importing tomllib (its regular expressions, typing, datetime) and parsing cost every
    command ~6 ms (issue 16), so the parse is kept as marshal data beside Python's
    bytecode cache, with the TOML's text, and used while that text is unchanged; nothing
    is written when Python writes no bytecode (``PYTHONDONTWRITEBYTECODE``) or cannot.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read target profile: {exc}") from exc
    cache = _cache_file(path)
    if cache is not None:
        from ..fileutil import read_input
        try:
            # a regular file of at most the bound (a FIFO or device put there cannot hang
            # or flood the read), its text the profile's own
            kept = read_input(cache, "kept profile parse", limit=_CACHE_LIMIT)
            cached_text, table = marshal.loads(kept)
            if cached_text == text and isinstance(table, dict):
                return table
        except (OSError, EOFError, ValueError, TypeError, InputError):
            pass                       # no cache, another Python's, or damaged: parse
    try:  # Python 3.11+
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot read target profile: {exc}") from exc
    if cache is not None and not sys.dont_write_bytecode:
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(marshal.dumps((text, table)))
            os.replace(tmp, cache)
        except (OSError, ValueError):  # read-only install; a value marshal cannot keep
            try:
                tmp.unlink()
            except OSError:
                pass
    return table


def _parse_profile(path: Path) -> Profile:
    data = _profile_table(path)
    where = str(path)
    cpu = _require(data, "cpu", where)
    elf = _require(data, "elf", where)
    mem = _require(data, "memory", where)
    tc = _require(data, "toolchain", where)
    machine_name = _require(elf, "machine", f"{where} [elf]")
    if machine_name not in E_MACHINE:
        raise ConfigError(f"{where} [elf] machine: unknown ELF machine '{machine_name}'")
    def regions(key: str, required: bool) -> tuple[RamRegion, ...]:
        table = _require(mem, key, f"{where} [memory]") if required else mem.get(key, ())
        return tuple(
            RamRegion(
                name=_require(r, "name", f"{where} [[memory.{key}]]"),
                start=_require(r, "start", f"{where} [[memory.{key}]]"),
                size=_require(r, "size", f"{where} [[memory.{key}]]"),
                physical=r.get("physical", r["start"]),
                mirrors=tuple(r.get("mirrors", ())),
                expansion_size=r.get("expansion_size"),
            )
            for r in table
        )
    ram = regions("ram", True)
    return Profile(
        name=_require(data, "name", where),
        title=data.get("title", data["name"]),
        arch=_require(data, "arch", where),
        media=data.get("media", "cdrom"),
        cpu_name=_require(cpu, "name", f"{where} [cpu]"),
        clock_hz=_require(cpu, "clock_hz", f"{where} [cpu]"),
        unicorn_arch=_require(cpu, "unicorn_arch", f"{where} [cpu]"),
        unicorn_mode=tuple(_require(cpu, "unicorn_mode", f"{where} [cpu]")),
        unicorn_cpu=_require(cpu, "unicorn_cpu", f"{where} [cpu]"),
        e_machine=E_MACHINE[machine_name],
        e_machine_name=machine_name,
        elfclass=elf.get("elfclass", 32),
        endian=_require(elf, "endian", f"{where} [elf]"),
        abi=elf.get("abi", ""),
        float_abi=elf.get("float", "any"),
        isa_max=elf.get("isa_max", 0),
        resident_base=_require(mem, "resident_base", f"{where} [memory]"),
        stack_top=_require(mem, "stack_top", f"{where} [memory]"),
        ram=ram,
        toolchain_prefixes=tuple(_require(tc, "prefixes", f"{where} [toolchain]")),
        debian_package=tc.get("debian_package", ""),
        cflags=tuple(tc.get("cflags", ())),
        asflags=tuple(tc.get("asflags", ())),
        runtime=tuple(tc.get("runtime", ())),
        ldflags=tuple(tc.get("ldflags", ())),
        isa=elf.get("isa", ""),
        stack_size=mem.get("stack_size", 0x10000),
        scratch_size=mem.get("scratch_size", 0x10000),
        rom=regions("rom", False),
        code_sync=cpu.get("code_sync", ""),
        codecs=_codecs(data.get("codecs", ["lz4", "zx0"]), where),
        runtime_isa=runtime_isa(data.get("runtime_isa", ""), data.get("arch", ""), where,
                                elf.get("isa", "")),
        source=path,
    )


def runtime_isa(value, arch: str, where: str, isa: str = "") -> str:
    """The checked ``runtime_isa`` of a profile (or ``gamevm resident --runtime-isa``):
    Thumb needs an ARM CPU with Thumb (ARMv4T and later: the GBA, not the 3DO's ARMv3)."""
    known = ("",) if arch != "arm" else ("", "arm", "thumb") if "t" in isa[5:] else ("", "arm")
    if value not in known:
        cpu = f"{arch} ({isa})" if isa else arch or "this CPU"
        choices = " or ".join(f'"{k}"' for k in known if k) or "nothing (ARM CPUs only)"
        raise ConfigError(f"{where}: runtime_isa: {value!r} is not an instruction set the "
                          f"console-side runtime builds for on {cpu}: choose {choices}")
    return value


def _codecs(value, where: str) -> tuple[str, ...]:
    known = ("lz4", "zx0")
    if not isinstance(value, list) or any(v not in known for v in value):
        raise ConfigError(f"{where}: codecs: a list of {' and '.join(known)}, not {value!r}")
    return tuple(v for v in known if v in value)


@functools.lru_cache(maxsize=None)
def load_profile(target: str) -> Profile:
    """Return the profile of ``target`` (``psx``, ``n64``, ...).

    Raises
    ------
    ConfigError
        When no profile of that name exists; the message lists the known ones.
    """
    if isinstance(target, Profile):  # convenience for callers that already hold one
        return target
    # a target is a profile's name, never a path (nor a 5000-character file name)
    path = PROFILE_DIR / f"{target}.toml"
    if not (isinstance(target, str) and _TARGET_NAME.fullmatch(target) and path.is_file()):
        shown = str(target) if len(str(target)) <= 40 else str(target)[:40] + "..."
        raise ConfigError(
            f"unknown target '{shown}': choose one of {', '.join(available_targets())}"
        )
    return _parse_profile(path)


_TARGET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
