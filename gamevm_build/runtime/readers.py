"""Where a loader reads module files from (seed 003: readers and search paths).

A reader maps a module *name* (what game code passes to ``LoadModule``) to the
module's bytes.  :class:`DirectoryReader` searches host directories;
:class:`IsoReader` reads an ISO 9660 image with pycdlib, so the emulated
console can load modules from the very disc image the build produced.
"""

from __future__ import annotations

import io
import os
from pathlib import Path, PurePosixPath

from ..errors import InputError
from ..fileutil import MAX_INPUT_BYTES, read_input, require_regular


class ModuleNotFound(InputError):
    """No reader has a file for the requested module name.

    ``final``: the module was named to one file, which is missing; a
    :class:`ChainReader` does not look further (no silent substitute).
    """

    def __init__(self, message: str, *, final: bool = False):
        super().__init__(message)
        self.final = final


def candidate_names(name: str) -> list[str]:
    """File names tried for module ``name``: as given, then with ``.elf``."""
    base = PurePosixPath(name)
    names = [str(base)]
    if base.suffix.lower() != ".elf":
        names.append(str(base) + ".elf")
    return names


class DirectoryReader:
    """Look a module up in host directories, in order (like a search path)."""

    def __init__(self, search_paths):
        self.search_paths = [Path(p) for p in search_paths]

    def describe(self) -> str:
        return "search path " + (":".join(map(str, self.search_paths)) or "(empty)")

    def locate(self, name: str) -> Path | None:
        if ".." in PurePosixPath(name).parts:
            return None
        for directory in self.search_paths:
            for candidate in candidate_names(name):
                path = directory / candidate
                if path.is_file():
                    return path
        return None

    def read(self, name: str) -> tuple[str, bytes]:
        """``(path, bytes)`` of module ``name``; ModuleNotFound when absent."""
        path = self.locate(name)
        if path is None:
            raise ModuleNotFound(f"module '{name}' not found in {self.describe()} "
                                 f"(tried {', '.join(candidate_names(name))})")
        return str(path), read_input(path, "module")


class IsoReader:
    """Read modules from an ISO 9660 image (ISO names, Joliet or Rock Ridge)."""

    def __init__(self, image, directory: str = "/"):
        import pycdlib

        self.image = str(image)
        self.directory = "/" + directory.strip("/")
        self._iso = pycdlib.PyCdlib()
        try:
            require_regular(self.image, "disc image")
            self._iso.open(self.image)
            self._names = self._index()
        except InputError:
            raise
        except Exception as exc:     # noqa: BLE001  pycdlib on damaged bytes raises anything
            raise InputError(f"{self.image}: cannot open ISO 9660 image: "
                             f"{type(exc).__name__}: {exc}") from None

    def _index(self) -> dict[str, str]:
        """Lower-case plain file name -> ISO 9660 path (version suffix stripped)."""
        names = {}
        for dirpath, _, files in self._iso.walk(iso_path=self.directory if self.directory != "/" else "/"):
            for f in files:
                plain = f.split(";")[0].rstrip(".")
                names[plain.lower()] = f"{dirpath.rstrip('/')}/{f}"
        return names

    def describe(self) -> str:
        return f"disc image {self.image}"

    def read(self, name: str) -> tuple[str, bytes]:
        for candidate in candidate_names(name):
            iso_path = self._names.get(PurePosixPath(candidate).name.lower())
            if iso_path is not None:
                where = f"{self.image}:{iso_path}"
                buf = io.BytesIO()
                try:
                    size = self._iso.get_record(iso_path=iso_path).get_data_length()
                    if size > MAX_INPUT_BYTES:
                        raise InputError(f"{where}: module is {size} bytes, more than the "
                                         f"{MAX_INPUT_BYTES >> 20} MiB gamevm reads from one "
                                         "file")
                    self._iso.get_file_from_iso_fp(buf, iso_path=iso_path)
                except InputError:
                    raise
                except Exception as exc:     # noqa: BLE001  damaged image, as above
                    raise InputError(f"{where}: cannot read from the ISO 9660 image: "
                                     f"{type(exc).__name__}: {exc}") from None
                return where, buf.getvalue()
        raise ModuleNotFound(f"module '{name}' not found in {self.describe()} "
                             f"(tried {', '.join(c.upper() for c in candidate_names(name))})")

    def close(self) -> None:
        self._iso.close()


class ChainReader:
    """Try several readers in order (e.g. a development directory, then the disc)."""

    def __init__(self, *readers):
        self.readers = readers

    def describe(self) -> str:
        return ", then ".join(r.describe() for r in self.readers)

    def read(self, name: str) -> tuple[str, bytes]:
        misses = []
        for reader in self.readers:
            try:
                return reader.read(name)
            except ModuleNotFound as exc:
                if exc.final:
                    raise
                misses.append(str(exc))
        if len(misses) == 1:
            raise ModuleNotFound(misses[0])
        raise ModuleNotFound(f"module '{name}' not found: " + "; ".join(
            m.split(" not found in ", 1)[-1] for m in misses))


class ManifestReader:
    """Names -> files through a disc manifest (seed §9.2 "ELF dispatch": name -> file).

    The manifest is JSON; accepted shapes (a disc layout tool writes one of them)::

        {"modules": {"level1": {"file": "LEVEL1.ELF", "lba": 1002}, ...}}
        {"modules": {"level1": "LEVEL1.ELF", ...}}
        {"files": [{"name": "level1", "path": "/MODULES/LEVEL1.ELF", "lba": 1002}, ...]}

    ``GameVMDisc``'s ``layout.json`` (docs/layout.md) is of the first shape,
    with ``"image"`` naming the disc image and ``files[].source`` the module
    files it was mastered from.  Files are read through ``base`` (an
    :class:`IsoReader`), else the manifest's ISO image, else from the
    manifest's directory, falling back to a file's ``source``.
    :attr:`positions` holds the LBAs it gives (the runtime's drive uses them).
    """

    def __init__(self, manifest, base=None):
        from ..fileutil import read_json

        self.path = str(manifest)
        data = read_json(manifest, "disc manifest")
        self.sources: dict[str, str] = {}
        self.rom: Path | None = None              # a flat cartridge image (no file system)
        self.extents: dict[str, tuple[int, int]] = {}
        self.sector_size = data.get("sector_size") if isinstance(data, dict) else None
        if base is None and isinstance(data, dict) and isinstance(data.get("image"), str):
            image = Path(manifest).parent / data["image"]
            if not os.path.isfile(image):    # os.path: any odd name is just not a file
                image = Path(data["image"])
            if os.path.isfile(image) and image.suffix.lower() == ".iso":
                base = IsoReader(image)
            elif os.path.isfile(image) and isinstance(self.sector_size, int):
                self.rom = image
        self.base = base or DirectoryReader([Path(manifest).parent])
        self.files: dict[str, str] = {}
        self.positions: dict[str, int] = {}
        bh = data.get("boot_head") if isinstance(data, dict) else None
        #: where the boot executable leaves the head (a disc layout's manifest), or None
        self.boot_head: int | None = bh if isinstance(bh, int) and not isinstance(bh, bool) \
            else None
        entries = []
        if isinstance(data, dict) and isinstance(data.get("modules"), dict):
            for name, v in data["modules"].items():
                entries.append((name, v))
        if isinstance(data, dict) and isinstance(data.get("files"), list):
            for v in data["files"]:
                if isinstance(v, dict) and "name" in v:
                    entries.append((v["name"], v))
                if isinstance(v, dict) and isinstance(v.get("module"), str) \
                        and isinstance(v.get("source"), str):
                    self.sources.setdefault(v["module"], v["source"])
        for name, v in entries:
            if isinstance(v, str):
                self.files[name] = v
                continue
            if not isinstance(v, dict):
                continue
            f = v.get("file") or v.get("path")
            if isinstance(f, str):
                self.files[name] = f
            lba = v.get("lba", v.get("position"))
            if isinstance(lba, int) and not isinstance(lba, bool):
                self.positions[name] = lba
                if isinstance(v.get("bytes"), int):
                    self.extents[name] = (lba, v["bytes"])
        if not self.files and not self.sources and not (self.rom and self.extents):
            raise InputError(f"{manifest}: disc manifest lists no modules (expected "
                             "{\"modules\": {NAME: {\"file\": ..., \"lba\": ...}}})")

    def describe(self) -> str:
        return f"disc manifest {self.path}"

    def read(self, name: str) -> tuple[str, bytes]:
        stem = PurePosixPath(name).name
        stem = stem[:-4] if stem.lower().endswith(".elf") else stem
        key = name if name in self.files or name in self.sources or name in self.extents \
            else stem
        f = self.files.get(key)
        if f is None and self.rom is not None and key in self.extents:
            lba, size = self.extents[key]
            with open(self.rom, "rb") as fh:
                fh.seek(lba * self.sector_size)
                data = fh.read(min(size, MAX_INPUT_BYTES + 1))
            if len(data) == size:
                return f"{self.rom}@{lba}", data
        if f is None and self._source(key) is not None:
            src = self._source(key)
            return str(src), read_input(src, "module")
        if f is None:
            raise ModuleNotFound(f"module '{name}' not found in {self.describe()} "
                                 f"(it lists {', '.join(sorted(set(self.files) | set(self.sources) | set(self.extents)))})")
        try:
            return self.base.read(f.lstrip("/") if isinstance(self.base, DirectoryReader) else f)
        except ModuleNotFound:
            src = self._source(key)
            if src is None:
                raise
            return str(src), read_input(src, "module")

    def _source(self, key: str) -> Path | None:
        """The file a manifest entry was made from (relative: to the build's top directory,
        an ancestor of the manifest's)."""
        src = self.sources.get(key)
        if src is None:
            return None
        p = Path(src)
        for base in [Path.cwd(), *Path(self.path).resolve().parents]:
            cand = p if p.is_absolute() else base / p
            if os.path.isfile(cand):
                return cand
        return None


class MappingReader:
    """Module names -> files given explicitly (a project config's ``modules.NAME.file``)."""

    def __init__(self, files):
        self.files = {name: Path(path) for name, path in dict(files).items()}

    def describe(self) -> str:
        return "the project's module files"

    def read(self, name: str) -> tuple[str, bytes]:
        stem = PurePosixPath(name).name
        stem = stem[:-4] if stem.lower().endswith(".elf") else stem
        path = self.files.get(name) or self.files.get(stem)
        if path is None:
            raise ModuleNotFound(f"module '{name}' not found in {self.describe()}")
        # the file named for this module is the module: when it cannot be used, no
        # other file of that name (search path, disc) silently stands in for it
        try:
            return str(path), read_input(path, f"module '{name}'")
        except FileNotFoundError:
            raise ModuleNotFound(f"module '{name}' not found: {path} does not exist",
                                 final=True) from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read module '{name}': {exc.strerror}") from None
