"""Reading inputs and writing outputs safely (docs/cli.md, "Files gamevm reads and writes").

Reads: every input (module, object, archive, resident, configuration, scenario,
manifest, trace, ISO image) must be a regular file, and at most
:data:`MAX_INPUT_BYTES` of it is read; a FIFO, device, socket or directory is
refused before anything waits on it or reads it without end.

Writes: outputs are written to a temporary file in the destination directory
and renamed, so a failed build never leaves a half-written file; they get the
mode a new file gets under the umask (0644 under 022).  An existing output
that is not a regular file (directory, device, FIFO, socket) is an error
naming it, never replaced.  An output *named by a configuration file* must
resolve, symlinks followed, inside the project's directory (or the build
directory): only the command line may send an output anywhere.
:class:`Outputs` stages several outputs and renames them together at the end
of a command, so a command that fails writes none of them.
"""

from __future__ import annotations

import math
import os
import stat
import struct
from pathlib import Path

from .errors import InputError

__all__ = ["MAX_INPUT_BYTES", "MAX_JSON_DEPTH", "read_input", "require_regular", "read_json",
           "check_json", "check_output", "confined_output", "atomic_write", "Outputs"]

#: The most bytes gamevm reads from one input file: far more than any console's RAM (a
#: module or resident larger than it cannot load anywhere), and bounded for a mistaken
#: ``/dev/zero`` or a multi-gigabyte file.  ISO images are opened, not read whole.
MAX_INPUT_BYTES = 64 << 20

#: The deepest nesting of arrays and objects a JSON input may have (configurations and
#: scenarios use 6 levels); deeper documents are refused before anything recurses on them.
MAX_JSON_DEPTH = 64


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def require_regular(path, what: str = "input") -> os.stat_result:
    """``os.stat`` of ``path``; InputError unless it is a regular file (symlinks followed).

    Missing files raise ``FileNotFoundError`` as before, so callers keep their own
    "not found (build it first)" messages.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: {what} is {_kind(st.st_mode)}, not a regular file; "
                         "name the file itself")
    return st


def read_input(path, what: str = "input", limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Opened without blocking (a FIFO cannot hang the open) and checked with
    ``fstat`` on the open file (no race with a rename).

    Raises
    ------
    InputError
        ``path`` is a directory, device, FIFO or socket, or larger than ``limit``.
    OSError
        As ``open`` raises it (``FileNotFoundError``, ``PermissionError``, ...);
        callers word those themselves.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{path}: {what} is {_kind(st.st_mode)}, not a regular file; "
                             "name the file itself")
        if st.st_size > limit:
            raise InputError(f"{path}: {what} is {st.st_size} bytes, more than the "
                             f"{limit >> 20} MiB gamevm reads from one file")
        _check_elf(fd, path, what, st.st_size)
        chunks = []
        left = limit + 1
        # the whole file in the first read, its end in the next: a buffer of the file's
        # size, not 1 MiB per read (allocated, then shrunk: two per object of a link)
        want = st.st_size + 1
        while left > 0:
            chunk = os.read(fd, min(left, want))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
            want = 1 << 16
        data = b"".join(chunks)
        if len(data) > limit:        # grew while we read it
            raise InputError(f"{path}: {what} grows past the {limit >> 20} MiB gamevm reads "
                             "from one file")
        return data
    finally:
        os.close(fd)


#: ELF header fields by class (EI_CLASS 1: ELF32, 2: ELF64): header size, then the
#: struct formats and offsets of (e_phoff, e_shoff) and of (e_phentsize, e_phnum,
#: e_shentsize, e_shnum), and of a program header's (p_type, p_offset, p_filesz).
_ELF = {1: (52, "I", 0x1c, 0x2a, ("I", 0, 4, 16)), 2: (64, "Q", 0x20, 0x36, ("Q", 0, 8, 32))}
_PT = {1: "PT_LOAD", 2: "PT_DYNAMIC", 3: "PT_INTERP", 4: "PT_NOTE", 6: "PT_PHDR", 7: "PT_TLS"}


def _check_elf(fd: int, path, what: str, size: int) -> None:
    """An ELF file's header first, then the tables and segments it declares: each must lie
    inside the file's ``size`` bytes, before the rest is read (a truncated file, or one
    whose sizes were damaged, is an error naming the offset, not a short read that a
    parser later takes for zeros).  Other files, and ELF classes or byte orders this does
    not know, pass through to their own parsers."""
    if what.startswith("module"):
        # a module's readers check every size it declares (link.elf32, link.module; the
        # console-side loader too) and must see its bytes to answer with a load status
        return
    head = os.pread(fd, 64, 0)
    if head[:4] != b"\x7fELF" or len(head) < 6 or head[4] not in _ELF or head[5] not in (1, 2):
        return
    hsize, word, at_off, at_num, (pword, at_type, at_poff, at_pfilesz) = _ELF[head[4]]
    e = "<" if head[5] == 1 else ">"
    if len(head) < hsize:
        raise InputError(f"{path}: not a valid ELF file: the ELF header needs {hsize} bytes, the "
                         f"file has {len(head)} (truncated?)")
    phoff, shoff = struct.unpack_from(e + word * 2, head, at_off)
    phentsize, phnum, shentsize, shnum = struct.unpack_from(e + "4H", head, at_num)
    if shnum and shoff + shnum * shentsize > size:
        raise InputError(f"{path}: not a valid ELF file: section headers at 0x{shoff:x} ({shnum} "
                         f"entries) run past the end of the file ({size} bytes)")
    if not phnum:
        return
    if phoff + phnum * phentsize > size:
        raise InputError(f"{path}: not a valid ELF file: program headers at 0x{phoff:x} ({phnum} "
                         f"entries) run past the end of the file ({size} bytes)")
    if phentsize < at_pfilesz + struct.calcsize(e + pword):
        return                                  # odd entry size: the ELF parsers say so
    table = os.pread(fd, phnum * phentsize, phoff)
    for i in range(phnum):
        at = i * phentsize
        p_type, = struct.unpack_from(e + "I", table, at + at_type)
        p_offset, = struct.unpack_from(e + pword, table, at + at_poff)
        p_filesz, = struct.unpack_from(e + pword, table, at + at_pfilesz)
        if p_filesz and p_offset + p_filesz > size:
            kind = _PT.get(p_type, f"type 0x{p_type:x}")
            raise InputError(f"{path}: not a valid ELF file: program header [{i}] ({kind}) "
                             f"p_offset 0x{p_offset:x} + p_filesz 0x{p_filesz:x} runs past the "
                             f"end of the file ({size} bytes)")


# ------------------------------------------------------------------------------- JSON

def check_json(data, where: str) -> None:
    """ConfigError unless every number in ``data`` is finite and it nests at most
    :data:`MAX_JSON_DEPTH` levels; the message names the key.

    JSON has no NaN or Infinity, but Python's parser accepts them (and ``1e999``
    becomes infinity); comparisons with NaN are all false, so one would silently
    drop out of every budget.  Iterative: safe on any depth.
    """
    if _json_is_sound(data):
        return
    from .project.config import key_path
    from .errors import ConfigError

    # the same walk, with the key path of every node, says where (the first found)
    stack = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise ConfigError(f"{where}: {key_path(path)}: expected a finite number, not "
                              f"{node!r} (JSON has no NaN or Infinity)")
        if isinstance(node, (dict, list)):
            if len(path) >= MAX_JSON_DEPTH:
                raise ConfigError(f"{where}: {key_path(path)}: nested more than "
                                  f"{MAX_JSON_DEPTH} levels deep")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((v, path + (k,)) for k, v in items)


def _json_is_sound(data) -> bool:
    """True when :func:`check_json` has nothing to say: the walk without key paths.

    Paths cost a tuple per value, which is most of the check on a large project: the
    common case (nothing wrong) needs only the nesting depth of each container."""
    isfinite = math.isfinite
    if isinstance(data, float):
        return isfinite(data)
    if not isinstance(data, (dict, list)):
        return True
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        for v in (node.values() if isinstance(node, dict) else node):
            if isinstance(v, float):
                if not isfinite(v):
                    return False
            elif isinstance(v, (dict, list)):
                if depth + 1 >= MAX_JSON_DEPTH:
                    return False
                stack.append((v, depth + 1))
    return True


def read_json(path, what: str, hint: str = ""):
    """Parse the JSON file ``path``; errors name the file, say what it was for, and where.

    ``what`` ("project configuration", "scenario", …) goes into the messages;
    ``hint`` is appended to "not found" (e.g. how to produce the file).  The file
    must be a regular file of at most :data:`MAX_INPUT_BYTES`; NaN, Infinity and
    nesting deeper than :data:`MAX_JSON_DEPTH` are refused (:func:`check_json`).
    Raises InputError (missing/unreadable) or ConfigError (not valid JSON).
    """
    import json

    from .errors import ConfigError, InputError

    path = Path(path)
    try:
        text = read_input(path, what).decode()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found{' (' + hint + ')' if hint else ''}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read {what}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} "
                          f"column {exc.colno}") from None
    except RecursionError:
        raise ConfigError(f"{path}: {what} nests arrays or objects more than "
                          f"{MAX_JSON_DEPTH} levels deep") from None
    check_json(data, str(path))
    return data


# ----------------------------------------------------------------------------- outputs

def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output(path, what: str = "output") -> Path:
    """``path`` as a Path; InputError if it exists and is not a regular file (or a symlink:
    renaming over a symlink replaces the link, not what it points to)."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise InputError(f"{path}: cannot write {what}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: {what} names a directory; give a file name "
                         f"(e.g. {path / 'out'})")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise InputError(f"{path}: {what} is {_kind(st.st_mode)}; gamevm replaces only "
                         "regular files")
    return path


def confined_output(value: str, base, key: str, roots=(), option: str = "") -> Path:
    """The path an output *named by a configuration* means, checked to stay in the project.

    ``value`` is relative to ``base`` (the configuration's directory).  The result,
    symlinks resolved, must lie inside ``base`` or one of ``roots`` (a build
    directory): a configuration cannot make gamevm write ``/etc/passwd`` or follow a
    symlink out of the project.  Paths given on the command line are not checked.

    Raises ConfigError naming ``key``.
    """
    from .errors import ConfigError

    base = Path(base)
    path = Path(os.path.normpath(base / value))
    real = Path(os.path.realpath(path))
    allowed = [Path(os.path.realpath(r)) for r in (base, *roots)]
    if not any(real == r or r in real.parents for r in allowed):
        raise ConfigError(f"{key}: {value!r} resolves to {real}, outside the project "
                          f"directory {allowed[0]}; name a file inside it, or give the path "
                          f"on the command line{f' ({option})' if option else ''}")
    return path


def atomic_write(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same directory and rename."""
    with Outputs() as out:
        out.write(path, data)
    return Path(path)


def _mkstemp(directory, prefix: str, suffix: str) -> tuple[int, str]:
    """A new file as ``tempfile.mkstemp`` makes it (exclusive create, mode 0600): without
    importing tempfile, whose own imports (shutil, random) cost every command ~4 ms of
    start-up; ``(descriptor, absolute path)``."""
    flags = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))
    for _ in range(100):
        name = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(name, flags, 0o600), os.path.abspath(name)
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: no unused temporary file name")


class Outputs:
    """A command's outputs, written together: each :meth:`write` stages a temporary file
    next to its destination; leaving the ``with`` block normally renames them all into
    place, an exception deletes them, so a failing command leaves no outputs."""

    def __init__(self):
        self._staged: list[tuple[Path, Path]] = []

    def __enter__(self) -> "Outputs":
        return self

    def temporary(self, path, what: str = "output") -> Path:
        """A fresh temporary path next to ``path`` that becomes ``path`` on success (for
        files a tool writes, e.g. an ISO image)."""
        path = check_output(path, what)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = _mkstemp(path.parent, f".{path.name}.", ".tmp")
        except OSError as exc:
            raise InputError(f"{path}: cannot write {what}: {exc.strerror or exc}") from None
        os.close(fd)
        self._staged.append((Path(tmp), path))
        return Path(tmp)

    def write(self, path, data: bytes, what: str = "output") -> Path:
        tmp = self.temporary(path, what)
        with open(tmp, "wb") as f:
            f.write(data)
        return tmp

    def commit(self) -> None:
        mode = 0o666 & ~_umask()
        for tmp, path in self._staged:
            check_output(path)                  # may have changed while the command ran
            os.chmod(tmp, mode)
        while self._staged:
            tmp, path = self._staged.pop(0)
            os.replace(tmp, path)

    def discard(self) -> None:
        while self._staged:
            tmp, _path = self._staged.pop()
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()
