"""Writing the planned order to an ISO 9660 image, and checking it by reading the image back.

The image is mastered by ``genisoimage`` (Debian package ``genisoimage``) or
``xorriso`` (package ``xorriso``) with **sort weights** (``-sort FILE``: higher
weight, lower LBA; xorriso: ``--sort-weight-list``).  Padding sectors the plan
leaves before a file are hidden files (``-hide``: written to the image, but
in no directory), like mkpsxiso's ``<dummy>``.  Neither tool lets us choose
the first data sector (it follows the volume descriptors, path tables and
directories), so the plan is placed relative to it; :func:`verify_iso` then
reads every file's extent back with pycdlib and fails unless each file sits
exactly where the plan puts it relative to the first, with the right bytes.

File names follow ISO 9660 **level 1** (ECMA-119 §7.4, §7.5, §10.1): at most
8 d-characters (``A-Z``, ``0-9``, ``_``) before the dot and 3 after it.
Module ``physics`` is ``PHYSICS.ELF`` (the loader looks modules up by name,
case-insensitively, with or without ``.elf``); extra copies of a module are
``PHYSICS.C01``, ``PHYSICS.C02``…

For cartridge media there is no file system: :func:`write_rom` writes the
modules at their planned page offsets into one flat ROM segment.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ConfigError, GameVMError, InputError, LayoutError, ToolchainError
from ..fileutil import read_input, require_regular
from .cost import RESIDENT

__all__ = ["TOOLS", "iso_name", "file_names", "find_tool", "master_iso", "read_extents",
           "verify_iso", "write_rom", "estimate_base"]

#: Mastering tools in order of preference: name -> Debian package.
#: mastering tools in order of preference -> Debian package.  xorriso first: with a fixed
#: SOURCE_DATE_EPOCH and file times it writes byte-identical images; genisoimage stamps
#: the current time into the volume descriptors and directory records.
TOOLS = {"xorriso": "xorriso", "genisoimage": "genisoimage"}
#: every time an image records (volume dates, file dates): 2000-01-01 00:00:00 UTC
FIXED_EPOCH = 946684800
_D_CHARS = re.compile(r"[A-Z0-9_]*")


def iso_name(name: str, ext: str = "ELF", *, what: str = "module") -> str:
    """The ISO 9660 level 1 file name of ``name`` (``physics`` -> ``PHYSICS.ELF``).

    Raises
    ------
    ConfigError
        Naming the level 1 rule the name breaks.

    Examples
    --------
    >>> iso_name("physics"), iso_name("level1", "C01")
    ('PHYSICS.ELF', 'LEVEL1.C01')
    >>> iso_name("level-1")
    Traceback (most recent call last):
    ...
    gamevm_build.errors.ConfigError: module 'level-1' cannot be an ISO 9660 level 1 file name: '-' is not a d-character (ECMA-119 §7.4.1 allows only A-Z, 0-9 and _); rename it
    """
    upper = name.upper()
    bad = sorted({c for c in upper if not _D_CHARS.fullmatch(c)})
    if bad:
        chars = ", ".join(f"'{c}'" for c in bad)
        verb = "is not a d-character" if len(bad) == 1 else "are not d-characters"
        raise ConfigError(f"{what} '{name}' cannot be an ISO 9660 level 1 file name: {chars} "
                          f"{verb} (ECMA-119 §7.4.1 allows only A-Z, 0-9 and _); rename it")
    if not upper:
        raise ConfigError(f"{what} '{name}': an ISO 9660 file name needs at least one character")
    if len(upper) > 8:
        raise ConfigError(f"{what} '{name}' cannot be an ISO 9660 level 1 file name: level 1 "
                          f"allows at most 8 characters before the extension (ECMA-119 §10.1), "
                          f"'{name}' has {len(upper)}; rename it")
    return f"{upper}.{ext}"


def file_names(problem, arr) -> dict:
    """Extent -> file name on the image (module copies get extensions ``C01``...).

    Raises
    ------
    ConfigError
        A name breaks ISO 9660 level 1, or two names become the same file.
    """
    where = problem.config.where if problem.config is not None else "<config>"
    names = {}
    seen: dict = {}
    copies = arr.copies()
    for e in arr.seq:
        m = arr.extents[e]
        if m == RESIDENT:
            stem, _, ext = Path(problem.resident["path"] or "kernel.elf").name.partition(".")
            try:
                name = iso_name(stem, (ext or "EXE").upper()[:3] or "EXE", what="resident")
            except ConfigError as exc:
                raise ConfigError(f"{where}: resident.file: {exc}") from None
            who = f"the resident '{Path(problem.resident['path'] or 'kernel.elf').name}'"
        else:
            mod = problem.modules[m]
            k = copies[m].index(e)
            try:
                name = iso_name(mod.name, "ELF" if k == 0 else f"C{k:02d}")
            except ConfigError as exc:
                raise ConfigError(f"{where}: modules.{mod.name}: {exc}") from None
            who = f"module '{mod.name}'"
        if name in seen:
            raise ConfigError(f"{where}: {who} and {seen[name]} both become {name} on the disc "
                              "(ISO 9660 names are upper case); rename one")
        seen[name] = who
        names[e] = name
    return names


def name_table(problem) -> dict:
    """Module id (and RESIDENT) -> primary file name, for orders and errors before planning."""
    from .cost import Arrangement

    arr = Arrangement.from_modules(problem, [m.id for m in problem.modules])
    names = file_names(problem, arr)
    return {arr.extents[e]: n for e, n in names.items()}


def find_tool(prefer: str | None = None) -> tuple[str, str]:
    """``(name, path)`` of the mastering tool (``prefer`` first, then xorriso, genisoimage).

    Raises
    ------
    ToolchainError
        Naming the Debian packages to install.
    """
    order = ([prefer] if prefer else []) + [t for t in TOOLS if t != prefer]
    if prefer and prefer not in TOOLS:
        raise ConfigError(f"unknown ISO mastering tool '{prefer}': choose "
                          f"{' or '.join(TOOLS)}")
    for tool in order:
        path = shutil.which(tool)
        if path:
            return tool, path
    wanted = prefer or "xorriso"
    raise ToolchainError(
        f"no ISO 9660 mastering tool found ({' or '.join(order)}): install the Debian "
        f"package {TOOLS[wanted]} (apt-get install {TOOLS[wanted]}, or run bash tools/bootstrap)")


def estimate_base(n_files: int, name_len: int = 12) -> int:
    """First data sector genisoimage uses for ``n_files`` files in the root (a close guess;
    :func:`first_data_sector` is exact)."""
    record = 33 + name_len + 2 + 1
    dir_sectors = -(-(68 + n_files * record) // 2048)
    return 23 + dir_sectors


def first_data_sector(names, *, tool: str | None = None) -> int:
    """The LBA of the first file ``tool`` writes for the root directory ``names``.

    Where the data starts depends on the tool (xorriso and genisoimage differ by up to
    twice the directory's sectors) and on every name's length; rather than model both,
    master an image of one-byte files with the same names and read it back (0.7 s for
    1,650 names). Planning at the real base spares re-evaluating the plan after mastering;
    padding files are hidden (in no directory) and do not move it.
    """
    with tempfile.TemporaryDirectory(prefix="gamevm-base-") as tmp:
        src = Path(tmp) / "byte"
        src.write_bytes(b"\0")
        image = Path(tmp) / "probe.iso"
        # hard links: staging 1,650 copies cost 0.3 s, links 0.01 s; the tools place the
        # data after the directory all the same (the probe file is ours, its time too)
        master_iso([(n, src, 0) for n in names], image, tool=tool, link=True)
        return min(lba for lba, _size, _sha in read_extents(image).values())


def master_iso(entries, output, *, tool: str | None = None, volume_id: str = "GAMEVM",
               system_id: str | None = None, link: bool = False, meanwhile=None) -> str:
    """Write the ISO image ``output`` with ``entries`` in order.

    ``entries`` is a list of ``(iso_name, source_path, pad_sectors_before)`` in disc
    order.  Returns the tool's name.  ``link``: stage the sources as hard links rather
    than copies (only for sources of our own: their time is set to the fixed epoch).
    ``meanwhile``: a function called while the tool runs (in its own process); a
    :class:`~gamevm_build.errors.GameVMError` it raises is raised after the tool ends,
    unless the tool failed too (that is reported first).
    """
    name, path = find_tool(tool)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gamevm-iso-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        staged: list[tuple[str, Path, bool]] = []
        for i, (iso, src, pad) in enumerate(entries):
            if pad:
                pad_name = f"_PAD{i:04d}.PAD"
                (root / pad_name).write_bytes(b"\0" * (2048 * pad))
                staged.append((pad_name, root / pad_name, True))
            dest = root / iso
            try:   # a copy, not a link: its time is set below and the source keeps its own
                os.link(src, dest) if link else shutil.copyfile(src, dest)
            except OSError as exc:
                raise InputError(f"{src}: cannot read: {exc.strerror}") from None
            staged.append((iso, dest, False))
        for _s, p, _h in staged:
            os.utime(p, (FIXED_EPOCH, FIXED_EPOCH))
        os.utime(root, (FIXED_EPOCH, FIXED_EPOCH))   # last: adding files changed it
        n = len(staged)
        sort = Path(tmp) / "sort.txt"
        hidden = [s for s, _, h in staged if h]
        tmp_out = Path(tmp) / "out.iso"
        if name == "genisoimage":
            sort.write_text("".join(f"{p} {n - k}\n" for k, (_s, p, _h) in enumerate(staged)))
            cmd = [path, "-quiet", "-iso-level", "1", "-sort", str(sort), "-V", volume_id,
                   "-o", str(tmp_out)]
        else:
            sort.write_text("".join(f"{n - k} /{s}\n" for k, (s, _p, _h) in enumerate(staged)))
            cmd = [path, "-as", "mkisofs", "-quiet", "-iso-level", "1",
                   "--sort-weight-list", str(sort), "-V", volume_id, "-o", str(tmp_out)]
        if system_id:
            cmd += ["-sysid", system_id]
        for h in hidden:
            cmd += ["-hide", h]
        cmd.append(str(root))
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(FIXED_EPOCH))
        pending = None
        # the tool's messages go to a file: a pipe nobody reads while `meanwhile` runs
        # could fill and stall it
        with open(Path(tmp) / "log", "w+") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True,
                                    env=env)
            try:
                if meanwhile is not None:
                    meanwhile()
            except GameVMError as exc:
                pending = exc
            finally:
                proc.wait()
            log.seek(0)
            output_text = log.read()
        if proc.returncode != 0 or not tmp_out.exists():
            msg = output_text.strip().splitlines()
            raise ToolchainError(f"{name} failed (exit {proc.returncode}): "
                                 f"{msg[-1] if msg else 'no output'}")
        if pending is not None:
            raise pending
        os.replace(tmp_out, output) if _same_fs(tmp_out, output) else \
            shutil.move(str(tmp_out), str(output))
    return name


def _same_fs(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b.parent).st_dev
    except OSError:
        return False


def read_extents(image) -> dict:
    """File name (``PHYSICS.ELF``) -> ``(lba, bytes, sha256)`` of every file in the image."""
    import io

    import pycdlib

    iso = pycdlib.PyCdlib()
    try:
        require_regular(image, "disc image")
        iso.open(str(image))
    except (OSError, pycdlib.pycdlibexception.PyCdlibException) as exc:
        raise InputError(f"{image}: cannot open ISO 9660 image: {exc}") from None
    out = {}
    try:
        for dirpath, _dirs, files in iso.walk(iso_path="/"):
            for f in files:
                p = f"{dirpath.rstrip('/')}/{f}"
                rec = iso.get_record(iso_path=p)
                buf = io.BytesIO()
                iso.get_file_from_iso_fp(buf, iso_path=p)
                out[f.split(";")[0].rstrip(".")] = (rec.extent_location(), rec.get_data_length(),
                                                     hashlib.sha256(buf.getvalue()).hexdigest())
    finally:
        iso.close()
    return out


def verify_iso(image, expected: dict, tool: str) -> int:
    """Check the image against the plan; returns the LBA of the plan's first file.

    ``expected`` maps file name -> ``(offset from the first file, bytes, sha256)``.

    Raises
    ------
    LayoutError
        A file is missing, elsewhere than planned, or has other bytes.
    """
    got = read_extents(image)
    missing = sorted(set(expected) - set(got))
    if missing:
        raise LayoutError(f"{image}: {tool} left out {', '.join(missing)}")
    first = min(expected, key=lambda n: expected[n][0])
    base = got[first][0] - expected[first][0]
    wrong = []
    for n, (off, size, sha) in sorted(expected.items(), key=lambda kv: kv[1][0]):
        lba, length, digest = got[n]
        if lba != base + off:
            wrong.append(f"{n} at LBA {lba}, planned {base + off}")
        elif length != size or digest != sha:
            wrong.append(f"{n}: {length} bytes read back, {size} planned (content differs)")
    if wrong:
        raise LayoutError(f"{image}: the image read back differs from the plan ({tool}): "
                          + "; ".join(wrong[:5]) + (f"; and {len(wrong) - 5} more"
                                                    if len(wrong) > 5 else ""))
    return base


def write_rom(entries, output, sector_size: int) -> None:
    """Write a cartridge ROM segment: ``entries`` = ``(source_path, offset_in_sectors)``."""
    from ..fileutil import atomic_write

    size = 0
    chunks = []
    for src, off in entries:
        data = read_input(src, "module")
        chunks.append((off * sector_size, data))
        size = max(size, off * sector_size + len(data))
    size = -(-size // sector_size) * sector_size
    buf = bytearray(size)
    for at, data in chunks:
        buf[at:at + len(data)] = data
    atomic_write(output, bytes(buf))
