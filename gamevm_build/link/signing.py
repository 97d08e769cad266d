"""Signed module manifests: Ed25519 over the digests of a disc's modules (docs/signing.md).

A signed manifest says, for one disc (or directory of modules), which module files it
holds, how long each is and the SHA-256 of its bytes exactly as shipped; it is signed
with an Ed25519 key (the ``cryptography`` package).  :func:`sign_manifest` builds it
from a layout file, a directory or a list of module files; :func:`verify` checks one
against a directory or an ISO 9660 image and names every module that differs.

The file (``.gvmsig``) is ``magic(8) | length(4, little-endian) | manifest(length) |
signature(64)``; the signature covers every byte before it, and the manifest is
canonical JSON (sorted keys, no spaces, ASCII), so the same inputs and key give the
same bytes (Ed25519 signatures are deterministic, RFC 8032).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GameVMError, InputError

__all__ = ["MAGIC", "SigningError", "VerificationError", "canonical_json", "key_id",
           "new_key", "load_private_key", "load_public_key", "collect", "manifest_doc",
           "pack", "unpack", "sign_manifest", "verify", "Report"]

#: First 8 bytes of a signed manifest: "GVMSIG", NUL, the container version (1).
MAGIC = b"GVMSIG\x00\x01"
HEADER = struct.Struct("<8sI")
SIGNATURE_BYTES = 64
#: The manifest's ``format`` and ``version`` (the JSON document inside the container).
FORMAT, VERSION = "gamevm-signed-manifest", 1
#: The most bytes read from a key file or a signed manifest (a manifest of 10,000
#: modules is about 1.5 MB).
MAX_KEY_BYTES = 64 << 10
MAX_SIGNED_BYTES = 16 << 20
#: Read modules in chunks of this size while hashing (images are not read whole).
CHUNK = 1 << 20


class SigningError(InputError):
    """A key or a signed manifest cannot be used: missing, unreadable, not a key of the
    right kind, not a signed manifest (exit status 2)."""


class VerificationError(GameVMError):
    """A signed manifest does not check: its signature, or a module's size or digest
    (exit status 1).  ``problems`` lists one line per fault."""

    exit_status = 1

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


# ------------------------------------------------------------------------------- keys

def _crypto():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    return serialization, ed25519


def raw_public(public_key) -> bytes:
    serialization, _ = _crypto()
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key) -> str:
    """``ed25519:`` and the first 16 hex digits of the SHA-256 of the raw 32-byte key."""
    return "ed25519:" + hashlib.sha256(raw_public(public_key)).hexdigest()[:16]


def public_key_path(private: Path) -> Path:
    """Where :func:`new_key` puts the public key of ``private``: ``dev.pem`` ->
    ``dev.pub.pem``, any other name gets ``.pub.pem`` appended."""
    private = Path(private)
    stem = private.name[:-4] if private.name.endswith(".pem") else private.name
    return private.with_name(stem + ".pub.pem")


def _read_key(path, what: str) -> bytes:
    return _read(path, what, MAX_KEY_BYTES,
                 "create a key pair with `gamevm sign --new-key KEY.pem`")


def _read(path, what: str, limit: int, how: str) -> bytes:
    """The bytes of ``path`` (at most ``limit``), or a SigningError naming it and ``how``
    to make it when it is missing."""
    from ..fileutil import read_input

    try:
        return read_input(path, what, limit=limit)
    except FileNotFoundError:
        raise SigningError(f"{path}: {what} not found ({how})") from None
    except OSError as exc:
        raise SigningError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except InputError as exc:
        raise SigningError(str(exc)) from None


def load_private_key(path):
    """The Ed25519 private key in the PEM file ``path`` (PKCS#8, unencrypted)."""
    serialization, ed25519 = _crypto()
    data = _read_key(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningError(f"{path}: the private key is encrypted; gamevm reads unencrypted "
                           "PEM keys (decrypt it: openssl pkey -in KEY -out PLAIN.pem)") from None
    except Exception as exc:                    # ValueError, UnsupportedAlgorithm
        if b"PUBLIC KEY" in data:
            raise SigningError(f"{path}: this is a public key; signing needs the private key "
                               "(the .pem that `gamevm sign --new-key` wrote)") from None
        raise SigningError(f"{path}: not a PEM private key ({_reason(exc)}); create one with "
                           "`gamevm sign --new-key KEY.pem`") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningError(f"{path}: a {type(key).__name__.replace('_', '')} key; GameVM signs "
                           "with Ed25519 (create one with `gamevm sign --new-key KEY.pem`)")
    return key


def load_public_key(path):
    """The Ed25519 public key in the PEM file ``path``; a private key file gives its
    public half (verifying with the private key is allowed, if unwise to hand out)."""
    serialization, ed25519 = _crypto()
    data = _read_key(path, "public key")
    try:
        if b"PRIVATE KEY" in data:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except TypeError:
        raise SigningError(f"{path}: an encrypted private key; give the public key "
                           "(KEY.pub.pem) to verify") from None
    except Exception as exc:                    # ValueError, UnsupportedAlgorithm
        raise SigningError(f"{path}: not a PEM public key ({_reason(exc)}); give the "
                           ".pub.pem file `gamevm sign --new-key` wrote") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningError(f"{path}: not an Ed25519 key; GameVM manifests are signed with "
                           "Ed25519 (`gamevm sign --new-key KEY.pem`)")
    return key


def _reason(exc) -> str:
    text = str(exc).split("\n")[0].strip()
    return text[:120] or type(exc).__name__


def new_key(path, *, force: bool = False) -> tuple[Path, Path, str]:
    """Create an Ed25519 key pair: the private key at ``path`` (PEM PKCS#8, mode 0600) and
    the public key at :func:`public_key_path` (PEM SubjectPublicKeyInfo).  Neither is
    overwritten unless ``force``; both are written to temporary files and renamed.
    Returns ``(private path, public path, key id)``."""
    from ..fileutil import check_output

    serialization, ed25519 = _crypto()
    private, public = Path(path), public_key_path(path)
    for p, what in ((private, "private key"), (public, "public key")):
        check_output(p, what)
        if os.path.lexists(p) and not force:
            raise SigningError(f"{p}: {what} exists; gamevm never replaces a key (a lost "
                               "private key cannot sign again); pick another name or add "
                               "--force")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    _write_together([(private, pem, 0o600), (public, pub, 0o666 & ~_umask())])
    return private, public, key_id(key.public_key())


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_together(files) -> None:
    """Write ``(path, bytes, mode)`` files via temporaries (created 0600) and rename them
    all at the end; on any error none is left behind."""
    staged = []
    try:
        for path, data, mode in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode)
        for tmp, path in staged:
            os.replace(tmp, path)
        staged = []
    except OSError as exc:
        raise SigningError(f"{getattr(exc, 'filename', None) or files[0][0]}: cannot write: "
                           f"{exc.strerror or exc}") from None
    finally:
        for tmp, _ in staged:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


# --------------------------------------------------------------------------- manifest

def canonical_json(doc) -> bytes:
    """Sorted keys, no spaces, ASCII only: one byte string per document."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


@dataclass
class Entry:
    """One file the manifest lists: a module (or the resident) and where its bytes are."""

    name: str
    file: str                       # the name on the disc (or in the directory)
    source: Path                    # where gamevm reads it now
    copies: list[str] = field(default_factory=list)   # other disc names with the same bytes


def _digest(path: Path, what: str) -> tuple[int, str]:
    """``(size, sha256 hex)`` of a regular file, read in chunks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SigningError(f"{path}: {what} not found (build the modules first, e.g. "
                           "scons)") from None
    except OSError as exc:
        raise SigningError(f"{path}: cannot read {what}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise SigningError(f"{path}: {what} is not a regular file; name the file itself")
        h = hashlib.sha256()
        size = 0
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _module_identity(path: Path) -> tuple[str | None, str | None]:
    """``(name, target)`` from a module's metadata, or ``(None, None)`` if it is not a
    GameVM module (a resident, another file).  A module whose contents no longer match
    its metadata's hash still is one."""
    from .module import read_module

    try:
        m = read_module(str(path), verify_hash=False)
    except GameVMError:             # not a module, unreadable, too large: not one to sign
        return None, None
    return m.name, m.target


def collect(sources, *, target: str | None = None) -> tuple[list[Entry], Entry | None, str]:
    """The entries to sign from ``sources``: one layout file (``gamevm layout
    --manifest``), one directory, or module files.  Returns ``(modules, resident,
    target)``; the target is the modules' metadata's (they must agree with each other
    and with ``target`` when given)."""
    sources = [Path(s) for s in sources]
    if not sources:
        raise SigningError("give what to sign: a layout file (layout.json), a directory of "
                           "modules or module files")
    resident = None
    targets: dict[str, str] = {}
    if len(sources) == 1 and sources[0].suffix == ".json":
        modules, resident = _from_layout(sources[0])
        for e in modules:
            t = _module_identity(e.source)[1]
            if t:
                targets[e.name] = t
    else:
        if len(sources) == 1 and sources[0].is_dir():
            files = sorted(p for p in sources[0].iterdir() if p.is_file())
            given = False
        else:
            for s in sources:
                if s.is_dir():
                    raise SigningError(f"{s}: a directory among module files; give one "
                                       "directory, one layout file or module files")
            files, given = sources, True
        modules = []
        seen: dict[str, Path] = {}
        for p in files:
            if not p.exists():
                raise SigningError(f"{p}: module file not found (build the modules first, "
                                   "e.g. scons)")
            name, t = _module_identity(p)
            if name is None:
                if given:
                    raise SigningError(f"{p}: not a GameVM module (no readable .note.gamevm); "
                                       "sign modules made by `gamevm module`")
                continue                     # a resident, a map, a report: not signed
            if name in seen:
                raise SigningError(f"module '{name}' is given twice: {seen[name]} and {p}; "
                                   "give each module once")
            seen[name] = p
            targets[name] = t
            modules.append(Entry(name, p.name, p))
        if not modules:
            raise SigningError(f"{sources[0]}: no GameVM modules found to sign")
    found = sorted(set(targets.values()))
    if len(found) > 1:
        named = ", ".join(f"{n} ({t})" for n, t in sorted(targets.items()))
        raise SigningError(f"the modules are built for different targets: {named}; a "
                           "manifest signs one console's modules")
    if target and found and found[0] != target:
        raise SigningError(f"--target {target}: the modules are built for {found[0]}")
    target = target or (found[0] if found else None)
    if not target:
        raise SigningError("no module says its target; give --target")
    return sorted(modules, key=lambda e: e.name), resident, target


def _from_layout(path: Path) -> tuple[list[Entry], Entry | None]:
    """Modules (with their copies' names) and the resident of a ``gamevm layout`` file."""
    from ..fileutil import read_json

    doc = read_json(path, "disc layout file", "write it with gamevm layout --manifest")
    if not (isinstance(doc, dict) and doc.get("format") == "gamevm-disc-layout"
            and isinstance(doc.get("files"), list)):
        raise SigningError(f"{path}: not a disc layout file (no \"format\": "
                           "\"gamevm-disc-layout\"); give the --manifest file of `gamevm "
                           "layout`, a directory of modules or module files")
    modules: dict[str, Entry] = {}
    resident = None
    for i, f in enumerate(doc["files"]):
        where = f"{path}: files[{i}]"
        if not (isinstance(f, dict) and isinstance(f.get("file"), str)
                and isinstance(f.get("source"), str)):
            raise SigningError(f"{where}: expected an object with \"file\" and \"source\"")
        src = _source(path, f["source"])
        if isinstance(f.get("resident"), str):
            resident = Entry(f["resident"], f["file"], src)
        elif isinstance(f.get("module"), str):
            e = modules.get(f["module"])
            if e is None:
                modules[f["module"]] = e = Entry(f["module"], f["file"], src)
            elif f.get("primary"):
                e.copies.append(e.file)
                e.file, e.source = f["file"], src
            else:
                e.copies.append(f["file"])
        else:
            raise SigningError(f"{where}: names neither a \"module\" nor a \"resident\"")
    if not modules:
        raise SigningError(f"{path}: the layout lists no modules")
    for e in modules.values():
        e.copies.sort()
    return list(modules.values()), resident


def _source(layout: Path, source: str) -> Path:
    """A layout's ``source`` (relative to where gamevm layout ran, often the project's
    top); else the same file name next to the layout file."""
    p = Path(source)
    if p.is_absolute() or p.exists():
        return p
    near = layout.parent / p.name
    return near if near.exists() else p


def manifest_doc(modules: list[Entry], resident: Entry | None, target: str,
                 kid: str) -> dict:
    """The manifest's JSON document (docs/signing.md, "The manifest")."""
    mods = {}
    for e in modules:
        size, sha = _digest(e.source, f"module '{e.name}'")
        item = {"file": e.file, "size": size, "sha256": sha}
        if e.copies:
            item["copies"] = list(e.copies)
        mods[e.name] = item
    doc = {"format": FORMAT, "version": VERSION, "target": target, "key_id": kid,
           "hash": "sha256", "modules": mods}
    if resident is not None:
        size, sha = _digest(resident.source, "resident")
        doc["resident"] = {"name": resident.name, "file": resident.file, "size": size,
                           "sha256": sha}
    return doc


def pack(doc: dict, private_key) -> bytes:
    """The signed manifest's bytes: header, canonical JSON, Ed25519 signature."""
    body = canonical_json(doc)
    head = HEADER.pack(MAGIC, len(body)) + body
    return head + private_key.sign(head)


def sign_manifest(sources, key_path, output=None, *, target: str | None = None,
                  table=None) -> tuple[bytes, dict]:
    """Sign ``sources`` (see :func:`collect`) with the private key at ``key_path``; write
    the signed manifest to ``output`` when given, and with ``table`` the console's trust
    table of the same modules (:mod:`gamevm_build.runtime.trust`; a C source when the
    name ends in ``.c``), all or nothing.  Returns the bytes and the manifest document."""
    from ..fileutil import Outputs, check_output
    from ..runtime import trust

    for path, what in ((output, "signed manifest"), (table, "trust table")):
        if path is not None:
            check_output(path, what)
    key = load_private_key(key_path)
    modules, resident, target = collect(sources, target=target)
    doc = manifest_doc(modules, resident, target, key_id(key.public_key()))
    data = pack(doc, key)
    files = [(output, data)] if output is not None else []
    if table is not None:
        try:
            raw = trust.from_manifest(doc)
        except trust.TrustTableError as exc:
            raise SigningError(f"--table {table}: {exc}") from None
        text = trust.c_source(raw) if str(table).endswith(".c") else None
        files.append((table, text.encode() if text else raw))
    with Outputs() as out:
        for path, blob in files:
            out.write(path, blob)
    return data, doc


def unpack(data: bytes, where: str) -> tuple[bytes, bytes, bytes]:
    """``(signed bytes, manifest JSON, signature)`` of a signed manifest's bytes."""
    if data[:6] != MAGIC[:6]:
        hint = (" (this is JSON: a layout file? sign it with `gamevm sign --key KEY.pem "
                f"{where} -o SIGNED`)" if data[:1] == b"{" else "")
        raise SigningError(f"{where}: not a GameVM signed manifest (no {MAGIC[:6].decode()} "
                           f"magic){hint}")
    if data[:8] != MAGIC:
        raise SigningError(f"{where}: signed manifest container version {data[7]}; this "
                           f"gamevm reads version {MAGIC[7]}: update gamevm")
    if len(data) < HEADER.size + SIGNATURE_BYTES:
        raise VerificationError(f"{where}: damaged signed manifest: {len(data)} bytes, shorter "
                                "than a header and a signature")
    _magic, length = HEADER.unpack_from(data)
    end = HEADER.size + length
    if end + SIGNATURE_BYTES != len(data):
        raise VerificationError(f"{where}: damaged signed manifest: the header says "
                                f"{length} bytes of manifest, so {end + SIGNATURE_BYTES} "
                                f"bytes in all; the file has {len(data)}")
    return data[:end], data[HEADER.size:end], data[end:]


# ----------------------------------------------------------------------------- verify

@dataclass
class Report:
    """What :func:`verify` checked."""

    doc: dict
    key_id: str
    checked: list[str]                # module names (and the resident's) that match
    against: str                      # "directory build/psx" / "image game.iso"


def read_signed(path) -> bytes:
    return _read(path, "signed manifest", MAX_SIGNED_BYTES,
                 "write it with `gamevm sign --key KEY.pem LAYOUT.json -o SIGNED`")


def check_signature(data: bytes, public_key, where: str, key_name: str) -> dict:
    """The manifest document, once its signature checks with ``public_key``."""
    from cryptography.exceptions import InvalidSignature

    signed, body, sig = unpack(data, where)
    try:
        public_key.verify(sig, signed)
    except InvalidSignature:
        try:
            claimed = json.loads(body).get("key_id")
        except (ValueError, AttributeError):
            claimed = None
        mine = key_id(public_key)
        if isinstance(claimed, str) and claimed != mine:
            raise VerificationError(f"{where}: signed with key {claimed}, not with {key_name} "
                                    f"({mine}); verify with the public key it was signed "
                                    "with") from None
        raise VerificationError(f"{where}: the signature does not match the manifest: it was "
                                f"changed after signing (or signed with another key than "
                                f"{key_name}); sign it again") from None
    doc = json.loads(body)
    if not (isinstance(doc, dict) and doc.get("format") == FORMAT
            and doc.get("version") == VERSION and isinstance(doc.get("modules"), dict)):
        raise SigningError(f"{where}: a signed document that is not a version {VERSION} module "
                           "manifest; update gamevm")
    return doc


def _listed(doc: dict):
    """``(label, disc file name, size, sha256)`` for every file the manifest lists."""
    for name, m in sorted(doc["modules"].items()):
        for f in [m["file"], *m.get("copies", [])]:
            label = f"module '{name}'" + ("" if f == m["file"] else f" (copy {f})")
            yield label, f, m["size"], m["sha256"]
    r = doc.get("resident")
    if isinstance(r, dict):
        yield f"resident '{r['name']}'", r["file"], r["size"], r["sha256"]


class _Directory:
    """Files of a directory by upper-case name (ISO 9660 names are upper case; a build
    directory's are usually not)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            entries = sorted(p for p in path.iterdir() if p.is_file())
        except FileNotFoundError:
            raise SigningError(f"{path}: directory not found") from None
        except NotADirectoryError:
            raise SigningError(f"{path}: not a directory; give the directory of the modules "
                               "(--dir) or a disc image") from None
        self.files = {}
        for p in entries:
            self.files.setdefault(p.name.upper(), p)

    def names(self):
        return self.files

    def size(self, key: str) -> int:
        return self.files[key].stat().st_size

    def digest(self, key: str) -> str:
        return _digest(self.files[key], "module")[1]

    def is_module(self, key: str) -> bool:
        return _module_identity(self.files[key])[0] is not None

    def where(self, key: str) -> str:
        return str(self.files[key])

    def close(self):
        pass


class _Image:
    """Files of an ISO 9660 image (pycdlib), read one at a time."""

    def __init__(self, path: Path):
        import pycdlib

        from ..fileutil import require_regular

        self.path = path
        self.iso = pycdlib.PyCdlib()
        try:
            require_regular(path, "disc image")
            self.iso.open(str(path))
        except FileNotFoundError:
            raise SigningError(f"{path}: disc image not found") from None
        except InputError as exc:
            raise SigningError(str(exc)) from None
        except (OSError, pycdlib.pycdlibexception.PyCdlibException) as exc:
            raise SigningError(f"{path}: not an ISO 9660 image ({_reason(exc)}); give a disc "
                               "image, or the directory of the modules with --dir (a "
                               "cartridge ROM: its module directory)") from None
        self.files = {}
        for dirpath, _dirs, files in self.iso.walk(iso_path="/"):
            for f in files:
                name = f.split(";")[0].rstrip(".").upper()
                self.files.setdefault(name, f"{dirpath.rstrip('/')}/{f}")

    def names(self):
        return self.files

    def size(self, key: str) -> int:
        return self.iso.get_record(iso_path=self.files[key]).get_data_length()

    def _bytes(self, key: str) -> bytes:
        import io

        buf = io.BytesIO()
        self.iso.get_file_from_iso_fp(buf, iso_path=self.files[key])
        return buf.getvalue()

    def digest(self, key: str) -> str:
        return hashlib.sha256(self._bytes(key)).hexdigest()

    def is_module(self, key: str) -> bool:
        if self.size(key) > (64 << 20):
            return False
        from .module import read_module

        try:
            read_module(self._bytes(key), name=key, verify_hash=False)
        except GameVMError:
            return False
        return True

    def where(self, key: str) -> str:
        return f"{self.path}:{self.files[key].split(';')[0]}"

    def close(self):
        self.iso.close()


def verify(signed_path, key_path, *, directory=None, image=None) -> Report:
    """Check the signed manifest at ``signed_path`` with the public key at ``key_path``,
    then every file it lists against ``directory`` or the ISO 9660 ``image`` (default:
    the directory holding the signed manifest).

    Raises
    ------
    SigningError
        Unusable key or signed manifest, directory or image (exit status 2).
    VerificationError
        The signature does not check, or modules are missing, differ or are extra
        (exit status 1); ``problems`` names each.
    """
    signed_path = Path(signed_path)
    public_key = load_public_key(key_path)
    data = read_signed(signed_path)
    doc = check_signature(data, public_key, str(signed_path), str(key_path))
    if image is not None:
        store = _Image(Path(image))
        against = f"image {image}"
    else:
        d = Path(directory) if directory is not None else (signed_path.parent or Path("."))
        store = _Directory(d)
        against = f"directory {d}"
    hint = ("" if image is not None or directory is not None else
            " (the signed manifest's own; name an IMAGE or --dir DIR to check another)")
    problems, checked = [], []
    try:
        names = store.names()
        listed = set()
        for label, f, size, sha in _listed(doc):
            key = f.upper()
            listed.add(key)
            if key not in names:
                problems.append(f"{label}: missing: no file {f} in the {against}")
                continue
            got = store.size(key)
            if got != size:
                problems.append(f"{label}: {store.where(key)} is {got} bytes, the manifest "
                                f"signs {size}")
            elif store.digest(key) != sha:
                problems.append(f"{label}: {store.where(key)} differs from the signed "
                                f"digest (sha256 {sha[:16]}…)")
            elif label not in checked:
                checked.append(label)
        for key in sorted(set(names) - listed):
            if store.is_module(key):
                problems.append(f"extra module: {store.where(key)} is a GameVM module the "
                                "manifest does not list")
    finally:
        store.close()
    if problems:
        raise VerificationError(
            f"{signed_path}: {len(problems)} problem(s) against the {against}{hint}:\n  "
            + "\n  ".join(problems), problems)
    return Report(doc, key_id(public_key), checked, against)
