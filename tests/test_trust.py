"""GameVMTrust (issue #14, signing on the console): both loaders check each module's
SHA-256 against the manifest the game trusts, and refuse a changed, missing or resized
module with lsBadSignature, loading nothing (nothing decoded or relocated first).

The oracle: the Python reference loader and the console-side C runtime give the same
status and the same RAM for the same table and files, on every console's CPU.
"""

from __future__ import annotations

import hashlib

import pytest
from elftools.elf.elffile import ELFFile

from example_game import example_game  # noqa: F401  (fixture)
from test_target_runtime import (ALL_TARGETS, MODULES, host_load, pair, same_modules,
                                 target_resident)
from gamevm_build.link.shipform import convert
from gamevm_build.runtime import trust
from gamevm_build.runtime.reference import LoadError, TLoadStatus

FORMS = ("plain", "packed", "lz4", "zx0")      # zx0 stays packed where the runtime lacks it


@pytest.fixture(scope="module", params=ALL_TARGETS)
def built(request, example_game):
    """The example, and its kernel with GameVMTrust (a kernel that never calls it links
    none of the check)."""
    target = request.param
    out = example_game(target)
    kernel = target_resident(out, target, [out / f"{m}.elf" for m in MODULES],
                             keep=("GameVMTrust",))
    return target, out, kernel


def shipped(out, d, form: str) -> dict[str, bytes]:
    """The example's modules in ``form`` in directory ``d`` (what LZ4 cannot shrink stays
    packed); their bytes by module name."""
    d.mkdir(exist_ok=True)
    files = {}
    for m in MODULES:
        data = convert((out / f"{m}.elf").read_bytes(), "plain")
        try:
            data = convert(data, form, path=m)
        except ValueError:
            data = convert(data, "packed", path=m)
        (d / f"{m}.elf").write_bytes(data)
        files[m] = data
    return files


def table_of(files: dict[str, bytes]) -> bytes:
    return trust.encode({m: trust.TrustEntry(len(b), hashlib.sha256(b).digest())
                         for m, b in files.items()})


def trusted_pair(target, kernel, d, table):
    host, tl = pair(target, kernel, d)
    host.trust(table)
    assert tl.trust(table) == TLoadStatus.lsSuccess
    return host, tl


def both(host, tl, name: str) -> TLoadStatus:
    """Load ``name`` on both loaders: the same status and RAM; returns the status."""
    lm, status = host_load(host, name)
    handle, t_status = tl.load_module(name)
    assert status == t_status, f"{name}: host {status.name}, target {t_status.name}"
    same_modules(host, tl)
    return status


def image_offset(data: bytes) -> int:
    """A file offset inside the loadable bytes as stored (the LZ4 block in an lz4 module)."""
    import io
    elf = ELFFile(io.BytesIO(data))
    for sec in elf.iter_sections():
        if sec.name in (".text", ".gvm.image") and sec["sh_type"] != "SHT_NOBITS":
            return sec["sh_offset"] + sec["sh_size"] // 2
    raise AssertionError("no .text or .gvm.image")


def gap(data: bytes) -> tuple[int, int]:
    """The bytes between the section headers and the first stored section after them."""
    import io
    elf = ELFFile(io.BytesIO(data))
    end = elf["e_shoff"] + elf["e_shnum"] * elf["e_shentsize"]
    starts = [s["sh_offset"] for s in elf.iter_sections()
              if s["sh_type"] != "SHT_NOBITS" and s["sh_offset"] >= end and s["sh_size"]]
    return end, min(starts)


@pytest.mark.parametrize("form", FORMS)
def test_trusted_modules_load_as_without_the_check(built, tmp_path, form):
    target, out, kernel = built
    files = shipped(out, tmp_path / form, form)
    host, tl = trusted_pair(target, kernel, tmp_path / form, table_of(files))
    plain_host, plain_tl = pair(target, kernel, tmp_path / form)
    for name in ("level1", "boss"):
        assert both(host, tl, name) == TLoadStatus.lsSuccess
        host_load(plain_host, name)
        plain_tl.load_module(name)
    same_modules(plain_host, tl)
    for m in tl.loaded.values():
        if "gamevm_selftest" in m.symbols:
            assert tl.machine.call(m.symbols["gamevm_selftest"]) == 0, m.name


@pytest.mark.parametrize("form", FORMS)
def test_a_changed_byte_is_refused_before_anything_is_loaded(built, tmp_path, form):
    """A byte of the stored image (for lz4: of the compressed block) and the file's last
    byte: lsBadSignature on both loaders, no module loaded, not even the needs that were
    fine (the chain rolls back)."""
    target, out, kernel = built
    files = shipped(out, tmp_path / form, form)
    table = table_of(files)
    for where in ("image", "last"):
        data = bytearray(files["level1"])
        at = image_offset(data) if where == "image" else len(data) - 1
        data[at] ^= 0x5A
        (tmp_path / form / "level1.elf").write_bytes(data)
        host, tl = trusted_pair(target, kernel, tmp_path / form, table)
        assert both(host, tl, "level1") == TLoadStatus.lsBadSignature, where
        assert not tl.loaded and not host.loaded
        with pytest.raises(LoadError, match="does not match the trusted manifest"):
            host.load("level1", needs=True)
        assert "does not match the trusted manifest" in tl.explain("level1",
                                                                   TLoadStatus.lsBadSignature)
    (tmp_path / form / "level1.elf").write_bytes(files["level1"])


def test_the_padding_nothing_else_reads_is_checked_too(built, tmp_path):
    """The bytes between the section headers and the image: the loader reads them only
    for the digest."""
    target, out, kernel = built
    files = shipped(out, tmp_path / "p", "plain")
    lo, hi = gap(files["boss"])
    if lo == hi:
        pytest.skip(f"{target}: boss.elf has no padding after its section headers")
    data = bytearray(files["boss"])
    data[lo] ^= 1
    (tmp_path / "p" / "boss.elf").write_bytes(data)
    host, tl = trusted_pair(target, kernel, tmp_path / "p", table_of(files))
    assert both(host, tl, "boss") == TLoadStatus.lsBadSignature


@pytest.mark.parametrize("built", ["psx", "segacd"], indirect=True)
def test_files_of_every_length_around_the_digests_padding_are_trusted(built, tmp_path):
    """SHA-256 pads a message with 0x80, zeros and its length in the last 8 bytes of a
    64-byte block: a file whose length leaves 55 bytes in the last block takes the 0x80 and
    the length in that block, one of 56 takes a block more.  physics with 0 to 63 bytes
    appended (which nothing else reads) loads on both loaders at each length mod 64 around
    those two and a block's end.
    Written for the survivors gvm_sha256.c:sha256_final:const_4 and const_6 (one byte too
    many padded, padding stopped at 57), which only those two lengths tell."""
    target, out, kernel = built
    files = shipped(out, tmp_path / "p", "plain")
    plain = files["physics"]
    for last in (0, 1, 54, 55, 56, 57, 63):
        data = plain + bytes(range((last - len(plain)) % 64))
        (tmp_path / "p" / "physics.elf").write_bytes(data)
        host, tl = trusted_pair(target, kernel, tmp_path / "p", table_of({"physics": data}))
        assert both(host, tl, "physics") == TLoadStatus.lsSuccess, last


#: the runtime's SHA-256 on the host: a message fed to sha256_update in pieces of the
#: sizes given, each the first bytes of bytes(range(256)) repeated; prints the digest in hex
SHA_DRIVER = r"""
typedef unsigned int u32;
typedef unsigned char u8;
#include "gvm_sha256.c"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    u32 most = 0, i, n;
    u8 *piece, out[32];
    gvm_sha256 s;
    int a;
    for (a = 1; a < argc; a++)
        if ((n = (u32)strtoul(argv[a], 0, 0)) > most)
            most = n;
    if (!(piece = malloc(most + 1)))
        return 2;
    for (i = 0; i < most; i++)
        piece[i] = (u8)i;
    sha256_init(&s);
    for (a = 1; a < argc; a++)
        sha256_update(&s, piece, (u32)strtoul(argv[a], 0, 0));
    sha256_final(&s, out);
    for (i = 0; i < 32; i++)
        printf("%02x", out[i]);
    return 0;
}
"""


@pytest.mark.any_console
def test_the_digest_of_a_file_of_512_mib_and_more(tmp_path):
    """A file of 2^29 bytes or more has a length of 2^32 bits or more: the high word of the
    64-bit length SHA-256 hashes last is not 0.  No emulated console reads that much in a
    test's time, so the runtime's gvm_sha256.c is compiled for the host (the same C) and
    checked against hashlib at 2^29 + 3 bytes, given in 64 KiB pieces (the length's low
    word carries into the high one) and in one piece after an empty one; and pieces of 63
    to 65 bytes at a block's start.  Written for the survivors of gvm_sha256.c's length
    arithmetic, which only such a length tells."""
    import subprocess

    from conftest import REPO
    (tmp_path / "drv.c").write_text(SHA_DRIVER)
    exe = tmp_path / "drv"
    subprocess.run(["gcc", "-O2", "-w", "-I", str(REPO / "gamevm_build/runtime/loader"),
                    "-o", str(exe), str(tmp_path / "drv.c")], check=True)
    size = (1 << 29) + 3
    block = bytes(range(256)) * 256

    def digest(pieces) -> str:
        h = hashlib.sha256()
        for n in pieces:
            for at in range(0, n, len(block)):
                h.update(block[:min(len(block), n - at)])
        return h.hexdigest()

    # 64 KiB pieces restart the 256-byte pattern where it restarts anyway: one message
    whole = digest([size])
    for pieces, want in (([1 << 16] * (size >> 16) + [size & 0xFFFF], whole), ([0, size], whole),
                         ([64, 63, 65, 1], digest([64, 63, 65, 1]))):
        got = subprocess.run([str(exe), *map(str, pieces)], check=True, capture_output=True,
                             text=True).stdout
        assert got == want, pieces[:2]


def test_a_need_that_fails_its_digest_fails_the_load(built, tmp_path):
    target, out, kernel = built
    files = shipped(out, tmp_path / "n", "packed")
    needs = [m for m in MODULES if m != "level1" and
             m in __import__("gamevm_build.link.module", fromlist=["read_module"])
             .read_module(files["level1"]).needs]
    if not needs:
        pytest.skip("level1 needs nothing")
    data = bytearray(files[needs[0]])
    data[image_offset(data)] ^= 0xFF
    (tmp_path / "n" / f"{needs[0]}.elf").write_bytes(data)
    host, tl = trusted_pair(target, kernel, tmp_path / "n", table_of(files))
    assert both(host, tl, "level1") == TLoadStatus.lsBadSignature
    assert not tl.loaded


def test_unlisted_and_resized_modules_are_refused(built, tmp_path):
    target, out, kernel = built
    files = shipped(out, tmp_path / "u", "plain")
    table = trust.decode(table_of(files))
    del table["boss"]
    table["crashy"] = trust.TrustEntry(table["crashy"].size + 4, table["crashy"].sha256)
    host, tl = trusted_pair(target, kernel, tmp_path / "u", trust.encode(table))
    assert both(host, tl, "boss") == TLoadStatus.lsBadSignature
    assert both(host, tl, "crashy") == TLoadStatus.lsBadSignature
    assert both(host, tl, "physics") == TLoadStatus.lsSuccess
    host.trust(None)
    assert tl.trust(None) == TLoadStatus.lsSuccess
    assert both(host, tl, "boss") == TLoadStatus.lsSuccess


def test_a_malformed_table_is_refused_and_checks_nothing(built, tmp_path):
    """Each byte of the magic ("GVMT") and the two version bytes changed, a table cut short
    (by a byte, or inside its header), entries out of order, listed twice, nameless or
    with a name that fills its 32 bytes: refused by both (the magic's first byte alone was
    not tested: the survivor gvm_trust.c:GameVMTrust:lcr_1,
    ``size < HEADER || t[0] != 'G'`` made ``&&``; nor a name listed twice:
    GameVMTrust:const_29, ``strcmp(prev, e) >= 0`` made ``>= 1``)."""
    target, out, kernel = built
    files = shipped(out, tmp_path / "m", "plain")
    good = table_of(files)
    entry = trust.HEADER + trust.ENTRY
    swapped = good[:trust.HEADER] + good[entry:entry + trust.ENTRY] + \
        good[trust.HEADER:entry] + good[entry + trust.ENTRY:]
    twice = good[:entry] + good[trust.HEADER:entry] + good[entry + trust.ENTRY:]
    # a name of 32 bytes, no NUL, before a size of 16 MiB or more (its first byte not 0:
    # GameVMTrust:ror_10, the name's scan let one byte further, read it as the name's)
    unended = good[:6] + b"\0\1" + b"a" * 32 + (1 << 24).to_bytes(4, "big") + bytes(32)
    for bad in (*(good[:i] + b"X" + good[i + 1:] for i in range(4)), good[:-1], unended,
                good[:4] + b"\x02" + good[5:], good[:5] + b"\x02" + good[6:],
                good[:trust.HEADER - 1], swapped, twice,
                good[:trust.HEADER] + b"\0" * trust.ENTRY + good[entry:]):
        host, tl = pair(target, kernel, tmp_path / "m")
        with pytest.raises(LoadError) as exc:
            host.trust(bad)
        assert exc.value.status == TLoadStatus.lsBadFormat
        assert tl.trust(bad) == TLoadStatus.lsBadFormat
        assert both(host, tl, "boss") == TLoadStatus.lsSuccess     # no check then


def test_the_table_reads_back_and_rejects_what_the_runtime_rejects():
    entries = {"level1": trust.TrustEntry(5680, bytes(range(32))),
               "boss": trust.TrustEntry(3584, bytes(32))}
    data = trust.encode(entries)
    assert len(data) == trust.HEADER + 2 * trust.ENTRY
    assert data[trust.HEADER:trust.HEADER + 4] == b"boss"      # name order
    assert trust.decode(data) == entries
    with pytest.raises(trust.TrustTableError, match="1 to 31 bytes"):
        trust.encode({"x" * 32: trust.TrustEntry(1, bytes(32))})


def test_gamevm_sign_writes_the_table_the_loaders_trust(built, tmp_path):
    """`gamevm sign --table` gives the table of the signed modules, as bytes or as a C
    source that compiles; a table the loaders then accept."""
    from conftest import run_gamevm
    target, out, kernel = built
    files = shipped(out, tmp_path / "s", "lz4")
    key = tmp_path / "k.pem"
    assert run_gamevm("sign", "--new-key", key).returncode == 0
    for name in ("table.bin", "table.c"):
        proc = run_gamevm("sign", "--key", key, tmp_path / "s", "-o", tmp_path / "s.gvmsig",
                          "--table", tmp_path / name, "-q")
        assert proc.returncode == 0, proc.stderr
    raw = (tmp_path / "table.bin").read_bytes()
    assert raw == table_of(files)
    c = (tmp_path / "table.c").read_text()
    assert f"gvm_trust_table[{len(raw)}]" in c and f"gvm_trust_table_size = {len(raw)};" in c
    assert bytes(int(x, 16) for x in __import__("re").findall(r"0x([0-9a-f]{2})", c)) == raw
    host, tl = trusted_pair(target, kernel, tmp_path / "s", raw)
    assert both(host, tl, "level1") == TLoadStatus.lsSuccess


@pytest.fixture(scope="module")
def trusting(built, tmp_path_factory):
    """The example's modules (lz4 form) signed, and a kernel that links their trust table
    (`gamevm sign --table trust.c`): what a signed game ships."""
    from conftest import run_gamevm
    from test_target_runtime import EXAMPLE
    target, out, _kernel = built
    d = tmp_path_factory.mktemp(f"trusting-{target}")
    files = shipped(out, d / "mods", "lz4")
    key = d / "k.pem"
    assert run_gamevm("sign", "--new-key", key).returncode == 0
    proc = run_gamevm("sign", "--key", key, d / "mods", "-o", d / "game.gvmsig",
                      "--table", d / "trust.c", "-q")
    assert proc.returncode == 0, proc.stderr
    kernel = d / "kernel.elf"
    sources = sorted((EXAMPLE / "kernel").glob("*.c")) + [EXAMPLE / "kernel" / "start.S"]
    proc = run_gamevm("resident", "-t", target, "-o", kernel, "--runtime", "target",
                      *(a for k in ("GameVMTrust", trust.TABLE_SYMBOL,
                                    trust.TABLE_SYMBOL + "_size") for a in ("--keep", k)),
                      "-I", EXAMPLE / "include", "--modules", *(out / f"{m}.elf" for m in MODULES),
                      *sources, d / "trust.c", shipping=True)   # its digest's cost measured
    assert proc.returncode == 0, proc.stderr
    return target, d / "mods", kernel, files


def test_a_resident_with_a_trust_table_checks_every_load(trusting, tmp_path):
    """The emulated console hands the resident's table to GameVMTrust as the kernel does at
    boot: signed modules load, a changed one is refused."""
    from gamevm_build.play.console import Console
    target, mods, kernel, files = trusting
    c = Console(target, kernel, search_paths=[mods], loader="target")
    assert c.reference.trusted is not None
    _h, status = c.loader.load_module("level1")
    assert status == TLoadStatus.lsSuccess
    bad = tmp_path / "bad"
    bad.mkdir()
    for m, data in files.items():
        (bad / f"{m}.elf").write_bytes(data if m != "boss" else data[:-1] + bytes([data[-1] ^ 1]))
    c = Console(target, kernel, search_paths=[bad], loader="target")
    _h, status = c.loader.load_module("boss")
    assert status == TLoadStatus.lsBadSignature


def test_the_model_charges_the_digest(trusting):
    """A resident that checks digests: the analyzer's CPU charge covers the SHA-256 the
    runtime computes (and is not far above)."""
    from gamevm_build.runtime.target import measure_load
    target, mods, kernel, _files = trusting
    for name in ("physics", "level1", "boss"):
        measured, model, _mod = measure_load(target, kernel, mods, name)
        assert measured <= model, f"{target} {name}: measured {measured} > model {model:.0f}"
        assert model <= 1.5 * measured, f"{target} {name}: model {model:.0f} loose"
