"""Where a loader reads module files from (seed 003: readers and search paths).

A reader maps a module *name* (what game code passes to ``LoadModule``) to the
module's bytes.  :class:`DirectoryReader` searches host directories;
:class:`IsoReader` reads an ISO 9660 image with pycdlib, so the emulated
console can load modules from the very disc image the build produced.
"""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath

from .errors import InputError


class ModuleNotFound(InputError):
    """No reader has a file for the requested module name."""


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
        return str(path), path.read_bytes()


class IsoReader:
    """Read modules from an ISO 9660 image (ISO names, Joliet or Rock Ridge)."""

    def __init__(self, image, directory: str = "/"):
        import pycdlib

        self.image = str(image)
        self.directory = "/" + directory.strip("/")
        self._iso = pycdlib.PyCdlib()
        try:
            self._iso.open(self.image)
        except (OSError, pycdlib.pycdlibexception.PyCdlibException) as exc:
            raise InputError(f"{self.image}: cannot open ISO 9660 image: {exc}") from None
        self._names = self._index()

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
                buf = io.BytesIO()
                self._iso.get_file_from_iso_fp(buf, iso_path=iso_path)
                return f"{self.image}:{iso_path}", buf.getvalue()
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
                misses.append(str(exc))
        if len(misses) == 1:
            raise ModuleNotFound(misses[0])
        raise ModuleNotFound(f"module '{name}' not found: " + "; ".join(
            m.split(" not found in ", 1)[-1] for m in misses))
