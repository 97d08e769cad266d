"""The manifest a console trusts: each module's name, file size and SHA-256, as a table.

``GameVMTrust(table, size)`` hands it to the console-side runtime, :meth:`Loader.trust
<gamevm_build.runtime.reference.Loader.trust>` to the reference loader; both then refuse a
module the table does not list, whose file has another size or whose bytes do not hash to
the listed digest (``lsBadSignature``).  ``gamevm sign --table`` writes it from a signed
manifest (docs/signing.md, "On the console").

The table, byte by byte (sizes big-endian whatever the console, so one file serves all)::

    0   4  magic "GVMT"
    4   1  version 1
    5   1  digest: 1 = SHA-256
    6   2  N, the number of entries
    8      N entries of 68 bytes, in strictly ascending name order (bytes):
           32 the module's name, NUL-padded (1..31 bytes of name)
            4 the size of its file
           32 the SHA-256 of its file, exactly as shipped
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAGIC = b"GVMT"
VERSION = 1
SHA256 = 1
HEADER = 8
NAME = 32
ENTRY = NAME + 4 + 32
MAX_ENTRIES = 0xFFFF
#: the resident's table (``gamevm sign --table NAME.c``): a resident that links it checks
#: every module (its kernel calls GameVMTrust with it; the emulated console's harness does
#: the same, and the load-time model charges the digest)
TABLE_SYMBOL = "gvm_trust_table"


class TrustTableError(ValueError):
    """A table GameVMTrust would refuse (lsBadFormat), or entries that cannot make one."""


@dataclass(frozen=True)
class TrustEntry:
    size: int
    sha256: bytes


def encode(entries: dict[str, TrustEntry]) -> bytes:
    """The table of ``entries`` (module name -> size and digest), deterministic."""
    if len(entries) > MAX_ENTRIES:
        raise TrustTableError(f"{len(entries)} modules: a table holds at most {MAX_ENTRIES}")
    out = bytearray(MAGIC + bytes((VERSION, SHA256)) + len(entries).to_bytes(2, "big"))
    for name in sorted(entries, key=lambda n: n.encode()):
        raw = name.encode()
        e = entries[name]
        if not 0 < len(raw) < NAME or b"\0" in raw:
            raise TrustTableError(f"module name '{name}': the console's table holds names of "
                                  f"1 to {NAME - 1} bytes")
        if not 0 <= e.size <= 0xFFFFFFFF or len(e.sha256) != 32:
            raise TrustTableError(f"module '{name}': size {e.size} or digest not a SHA-256")
        out += raw.ljust(NAME, b"\0") + e.size.to_bytes(4, "big") + e.sha256
    return bytes(out)


def decode(data: bytes) -> dict[str, TrustEntry]:
    """The entries of a table, checked as GameVMTrust checks it."""
    if len(data) < HEADER or data[:4] != MAGIC:
        raise TrustTableError("not a GameVM trust table (no GVMT magic)")
    if data[4] != VERSION or data[5] != SHA256:
        raise TrustTableError(f"trust table version {data[4]} digest {data[5]}; this "
                              f"gamevm_build reads version {VERSION} with SHA-256 ({SHA256})")
    n = int.from_bytes(data[6:8], "big")
    if len(data) != HEADER + n * ENTRY:
        raise TrustTableError(f"the table says {n} entries ({HEADER + n * ENTRY} bytes) but "
                              f"has {len(data)} bytes")
    out: dict[str, TrustEntry] = {}
    previous = None
    for i in range(n):
        e = data[HEADER + i * ENTRY:HEADER + (i + 1) * ENTRY]
        raw = e[:NAME].split(b"\0", 1)[0]
        if not raw or len(raw) == NAME or any(e[len(raw):NAME]):
            raise TrustTableError(f"entry {i}: a name of 1 to {NAME - 1} bytes, NUL-padded")
        if previous is not None and raw <= previous:
            raise TrustTableError(f"entry {i}: names are not in strictly ascending order")
        previous = raw
        out[raw.decode("latin-1")] = TrustEntry(int.from_bytes(e[NAME:NAME + 4], "big"),
                                                bytes(e[NAME + 4:]))
    return out


def from_manifest(doc: dict) -> bytes:
    """The table of a signed manifest's modules (``signing.read_signed`` gives ``doc``)."""
    return encode({name: TrustEntry(int(m["size"]), bytes.fromhex(m["sha256"]))
                   for name, m in doc["modules"].items()})


def c_source(table: bytes, symbol: str = TABLE_SYMBOL) -> str:
    """``table`` as a C source to link into the resident: ``const unsigned char
    SYMBOL[]`` and ``const unsigned long SYMBOL_size``, for ``GameVMTrust(SYMBOL,
    SYMBOL_size)``."""
    rows = [", ".join(f"0x{b:02x}" for b in table[i:i + 12]) for i in range(0, len(table), 12)]
    body = ",\n    ".join(rows)
    return (f"/* The manifest this resident trusts (gamevm sign --table): {len(decode(table))} "
            "module(s).  Generated; do not edit. */\n"
            f"const unsigned char {symbol}[{len(table)}] __attribute__((aligned(4))) = {{\n"
            f"    {body}\n}};\n"
            f"const unsigned long {symbol}_size = {len(table)};\n")


def resident_table(machine, symbols) -> bytes | None:
    """The trust table a resident loaded in ``machine`` links (:data:`TABLE_SYMBOL` and
    its ``_size``), or None.  Bounded: a size over 1 MiB is not a table."""
    addr, size_at = symbols.get(TABLE_SYMBOL), symbols.get(TABLE_SYMBOL + "_size")
    if addr is None or size_at is None:
        return None
    size = machine.read_u32(size_at)
    if size > 1 << 20:
        raise TrustTableError(f"{TABLE_SYMBOL}_size is {size}: not a trust table's size")
    return machine.read(addr, size)


def untrusted(table: dict[str, TrustEntry], name: str, data: bytes, path: str) -> str | None:
    """Why module ``name`` (file ``path``, bytes ``data``) is refused, or None."""
    e = table.get(name)
    if e is None:
        return (f"{path}: module '{name}' is not in the trusted manifest (sign the disc's "
                "modules again with gamevm sign, and give the console the new table)")
    if e.size != len(data):
        return (f"{path}: module '{name}' is {len(data)} bytes; the trusted manifest says "
                f"{e.size}")
    got = hashlib.sha256(data).digest()
    if got != e.sha256:
        return (f"{path}: module '{name}' does not match the trusted manifest (sha256 "
                f"{got.hex()[:16]}…, signed {e.sha256.hex()[:16]}…): it changed after signing")
    return None
