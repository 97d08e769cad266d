"""The console-side C runtime at edges a fresh mutation sample (bench/mutation_c.py
``--seed 2026120601``, docs/testing.md "The C runtime") showed no test reaching: the
metadata reader (gvm_meta.c), the packed relocations and compressed images
(gvm_relpack.c), the trust table (gvm_trust.c) and the ZX0 decoder (codec/gvm_zx0.c).
Each test fails on the mutant its docstring names, a bug of that shape that would have
gone unnoticed.  Same oracle as tests/test_target_runtime.py and
tests/test_runtime_c_mutants.py: the reference loader (or the codec's Python mirror) on
the same console, the same status and the same bytes in RAM."""

from __future__ import annotations

import struct

import pytest

from conftest import section_header
from gamevm_build.runtime.reference import Loader, TLoadStatus
from gamevm_build.runtime.target import MASK32, SYS_MEDIA_READ, TargetLoader
from test_runtime_c_mutants import _metadata_edited, load_odd_compressed
from test_target_runtime import build_modules, host_load, pair, same_modules

#: a function whose second R_MIPS_HI16 (at +16) pairs with the R_MIPS_LO16 before it (at
#: +8, nearer than its own at +28): packrel stores that partner as a negative distance.
#: The word at +0 (low half 0x7FFF) is where a distance scaled twice over would land.
PAIRS_ASM = r"""
int pair_v[4] = {1, 2, 3, 4};
int pair_get(void);
__asm__(".text\n.globl pair_get\n.ent pair_get\n.set noreorder\npair_get:\n"
        "ori $zero, $zero, 0x7fff\n"
        "lui $v1, %hi(pair_v + 0x8000)\n"
        "addiu $v0, $v1, %lo(pair_v + 0x8000)\n"
        "nop\n"
        "lui $a0, %hi(pair_v + 0x8000)\n"
        "nop\nnop\n"
        "addiu $a0, $a0, %lo(pair_v + 0x8000)\n"
        "jr $ra\n"
        "subu $v0, $a0, $v0\n"
        ".set reorder\n.end pair_get\n");
int pair_far(void) { return pair_get(); }
"""


@pytest.fixture(scope="module", params=["psx"])
def edges(request, tmp_path_factory):
    """A PS1 resident with the runtime and GameVMTrust, the modules ``fpmod``, ``pairs``
    (PAIRS_ASM) and ``bigmod`` (6 KiB: more than the runtime's first read); the console
    is a parameter so that bench/mutation_c.py's ``-k psx`` selects these tests."""
    d = tmp_path_factory.mktemp("psx-edges")
    kernel = build_modules(d, request.param,
                           {"fpmod": "int fp_twice(int x) { return 2 * x; }\n",
                            "pairs": PAIRS_ASM,
                            "bigmod": 'const char big_tab[6000] = "abc";\n'
                                      "int big_get(int i) { return big_tab[i]; }\n"},
                           keep=["GameVMTrust"])
    return d, kernel


def both(host, tl, name: str, want: TLoadStatus) -> None:
    assert host_load(host, name)[1] == want
    assert tl.load_module(name)[1] == want
    same_modules(host, tl)


# --- gvm_meta.c ----------------------------------------------------------------------------

@pytest.mark.parametrize("key", [b"xyz", b"init_arrays", b"ctor", b"Dtors"])
def test_an_init_table_of_an_unknown_kind_is_refused(edges, tmp_path, key):
    """An ``init`` member other than init_array, fini_array, ctors and dtors (here an empty
    table) is bad metadata to both loaders.  Written for the survivor
    gvm_meta.c:table_index:const_4 (``return -1`` made ``return -0``: an unknown kind was
    taken as init_array)."""
    d, kernel = edges
    data = (d / "fpmod.elf").read_bytes()
    (tmp_path / "fpmod.elf").write_bytes(
        _metadata_edited(data, b'"init":{}', b'"init":{"' + key + b'":[0,0]}'))
    host, tl = pair("psx", kernel, tmp_path)
    both(host, tl, "fpmod", TLoadStatus.lsBadFormat)


@pytest.mark.parametrize("escape,char", [
    (b"\\u0080", "\u0080"), (b"\\u00e9", "\u00e9"), (b"\\u00FF", "\u00ff"),
    (b"\\u0100", "\u0100"), (b"\\u07ff", "\u07ff"),       # the two-byte forms' ends
    (b"\\u007f", "\u007f"), (b"\\u0800", "\u0800"), (b"\\u20ac", "\u20ac"),
    (b"\\uffff", "\uffff"),                             # every bit of a three-byte form
])
def test_a_module_name_with_a_unicode_escape_is_its_utf8(edges, tmp_path, escape, char):
    """``\\uXXXX`` in the module's name is written as its UTF-8 form (one, two or three
    bytes): both loaders list the module under the same name.  Written for the survivor
    gvm_meta.c:put_utf8:const_7 (a two-byte form's lead byte ``0xC0 | cp >> 6`` made
    ``cp >> 7``: only the escapes of U+0080 to U+07FF reach it, and none was tested) and
    :const_26 (a three-byte form's last byte masked with 0x3E: no three-byte escape tested
    had an odd code point)."""
    d, kernel = edges
    data = (d / "fpmod.elf").read_bytes()
    (tmp_path / "fpmod.elf").write_bytes(
        _metadata_edited(data, b'"name":"fpmod"', b'"name":"f' + escape + b'od"'))
    host, tl = pair("psx", kernel, tmp_path)
    both(host, tl, "fpmod", TLoadStatus.lsSuccess)
    assert [m.name for m in tl.loaded.values()] == [f"f{char}od"]


def test_an_init_table_may_end_at_the_image_end(edges, tmp_path):
    """An init table ending exactly at ``image_size`` (an empty one there, or one entry in
    the last word, which holds 0 and so runs nothing) is inside the image; one word further
    is not.  Written for the survivor gvm_meta.c:gvm_meta_parse:ror_13 (``(n << 2) >
    image_size - off`` made ``>=``: a table reaching the image's last byte was refused)."""
    from gamevm_build.link.module import read_module
    d, kernel = edges
    data = (d / "fpmod.elf").read_bytes()
    size = read_module(data, verify_hash=False).image_size
    assert size % 4 == 0
    for table, want in ((f"[{size},0]", TLoadStatus.lsSuccess),
                        (f"[{size - 4},1]", TLoadStatus.lsSuccess),
                        (f"[{size + 4},0]", TLoadStatus.lsBadFormat),
                        (f"[{size},1]", TLoadStatus.lsBadFormat)):
        (tmp_path / "fpmod.elf").write_bytes(_metadata_edited(
            data, b'"init":{}', b'"init":{"dtors":' + table.encode() + b"}"))
        host, tl = pair("psx", kernel, tmp_path)
        both(host, tl, "fpmod", want)


# --- gvm_relpack.c -------------------------------------------------------------------------

@pytest.mark.parametrize("type_byte", [0x03, 0x00, 0x7F, 0x82])
def test_a_packed_relocation_type_the_runtime_lacks_is_bad_format(edges, tmp_path, type_byte):
    """The type table of ``.gvm.relpack`` naming a relocation type that is not this
    console's (R_MIPS_REL32, R_MIPS_NONE, 127, or a number of two bytes: 258 or more) is a
    corrupt module, lsBadFormat to both loaders (not lsRelocationError: nothing was
    relocated).  Written for the survivor gvm_relpack.c:relpack_walk:status_2 (that
    return made lsRelocationError)."""
    from gamevm_build.link.shipform import convert
    d, kernel = edges
    data = convert((d / "pairs.elf").read_bytes(), "packed")
    at = section_header(data, ".gvm.relpack")[1][4]
    assert 1 <= data[at] <= 7 and data[at + 1] < 0x80      # the count, the first type
    data = data[:at + 1] + bytes([type_byte]) + data[at + 2:]
    (tmp_path / "pairs.elf").write_bytes(data)
    host, tl = pair("psx", kernel, tmp_path)
    both(host, tl, "pairs", TLoadStatus.lsBadFormat)


def test_a_high_half_paired_with_an_earlier_low_half_is_relocated_alike(edges, tmp_path):
    """A packed module whose R_MIPS_HI16 takes its addend's low half from an R_MIPS_LO16
    8 bytes before it (PAIRS_ASM): the runtime finds that partner as the reference loader
    does, the same bytes and the same address computed by both halves.  Written for the
    survivor gvm_relpack.c:relpack_walk:const_44 (a backward partner's distance doubled
    twice, ``<< 2`` for ``<< 1``: the word at +0, low half 0x7FFF, read as the LO16)."""
    from gamevm_build.link.shipform import convert
    d, kernel = edges
    data = convert((d / "pairs.elf").read_bytes(), "packed")
    (tmp_path / "pairs.elf").write_bytes(data)
    host, tl = pair("psx", kernel, tmp_path)
    lm = host.load("pairs")
    assert tl.load_module("pairs")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    fn, v = lm.symbols["pair_get"], lm.symbols["pair_v"]
    # the mutant's addend is 0xFFFF - (v - base) larger: it changes the high half unless
    # v's low half is at most v - base (a base on or just below a 64 KiB boundary)
    assert v - lm.base < 0x8000 and (v & 0xFFFF) > v - lm.base, (hex(lm.base), hex(v))
    assert host.machine.call(fn) == tl.machine.call(fn) == 0


@pytest.mark.parametrize("form", ["lz4", "zx0"])
@pytest.mark.parametrize("rodata", [4089, 4090, 4091])
def test_a_compressed_image_of_8n_plus_1_to_3_bytes_is_zeroed_alike(edges, tmp_path, form,
                                                                     rodata):
    """As test_a_compressed_image_of_any_size_is_decoded_and_zeroed_alike, with stored
    images of 8n+1 to 8n+3 bytes (4121 to 4123: .rodata 4089 to 4091 bytes after 32 of
    code), whose next word boundary is also the next 8-byte one.  Written for the survivor
    gvm_relpack.c:zimage_load:const_14 (``k & 3`` made ``k & 4``: for these sizes the byte
    loop stopped at once and the word fill began at an odd address; the sizes 8n+5 to 8n+7
    the other test takes end the byte loop where the original does)."""
    _d, kernel = edges
    assert (32 + rodata) & 7 in (1, 2, 3)
    load_odd_compressed(kernel, tmp_path, form, tail=4089, rodata=rodata, data_at=4116)


@pytest.mark.parametrize("keep", [0, 1, 24])
def test_an_lz4_block_too_short_for_its_image_is_bad_format_alike(edges, tmp_path, keep):
    """An LZ4 image whose block (its first ``keep`` bytes) cannot decode to the module's
    stored image of 6 KiB, LZ4 expanding a byte to at most 255 (at most 255 * 24 + 16
    bytes from 24): both loaders refuse it as lsBadFormat before reading it.  Written for
    the survivor gvm_relpack.c:zimage_check:status_4 (that refusal said
    lsRelocationError)."""
    from gamevm_build.link.shipform import CHDR_SIZE, convert
    from test_runtime_c_streams import section_replaced
    d, kernel = edges
    data = convert((d / "bigmod.elf").read_bytes(), "lz4")
    _at, head = section_header(data, ".gvm.image")
    image = data[head[4]:head[4] + head[5]]
    (tmp_path / "bigmod.elf").write_bytes(
        section_replaced(data, ".gvm.image", image[:CHDR_SIZE + keep]))
    host, tl = pair("psx", kernel, tmp_path)
    both(host, tl, "bigmod", TLoadStatus.lsBadFormat)


# --- gvm_trust.c ---------------------------------------------------------------------------

def test_an_empty_trust_table_is_taken_and_trusts_nothing(edges, tmp_path):
    """A trust table of its header alone (no entries) is well formed: both loaders take it
    (lsSuccess) and then refuse every module as unlisted (lsBadSignature), loading
    nothing.  Written for the survivor gvm_trust.c:GameVMTrust:ror_1 (``size <
    TRUST_HEADER_SIZE`` made ``<=``: the empty table was lsBadFormat, and no check on)."""
    from gamevm_build.runtime import trust
    d, kernel = edges
    table = trust.encode({})
    assert len(table) == trust.HEADER
    host, tl = pair("psx", kernel, d)
    host.trust(table)
    assert tl.trust(table) == TLoadStatus.lsSuccess
    both(host, tl, "fpmod", TLoadStatus.lsBadSignature)
    assert not tl.loaded


@pytest.mark.parametrize("form", ["plain", "packed"])
@pytest.mark.parametrize("tail", [0, 1, 100])
def test_a_trusted_module_is_hashed_to_the_end_of_its_file(edges, tmp_path, form, tail):
    """A module of 6 KiB (its image not in the first read) with ``tail`` bytes after its
    image, which nothing but the digest reads: listed with that file's size and SHA-256,
    it loads on both loaders alike; one byte of the tail changed, both refuse it
    (lsBadSignature).  Written for a survivor of gvm_trust.c:digest_to (its test of the
    first read made always true: once the digest had passed the first read, the bytes
    still to hash were taken from it, a length below zero)."""
    import hashlib
    from gamevm_build.link.shipform import convert
    from gamevm_build.runtime import trust
    d, kernel = edges
    data = convert((d / "bigmod.elf").read_bytes(), form) + bytes(range(7, 7 + tail))
    assert len(data) > 4096
    (tmp_path / "bigmod.elf").write_bytes(data)
    table = trust.encode({"bigmod": trust.TrustEntry(len(data), hashlib.sha256(data).digest())})
    host, tl = pair("psx", kernel, tmp_path)
    host.trust(table)
    assert tl.trust(table) == TLoadStatus.lsSuccess
    both(host, tl, "bigmod", TLoadStatus.lsSuccess)
    if tail:
        (tmp_path / "bigmod.elf").write_bytes(data[:-1] + b"\0")
        host, tl = pair("psx", kernel, tmp_path)
        host.trust(table)
        assert tl.trust(table) == TLoadStatus.lsSuccess
        both(host, tl, "bigmod", TLoadStatus.lsBadSignature)


def test_the_digest_is_sha256_for_a_file_of_every_length_mod_64(edges, tmp_path):
    """SHA-256 pads each message to a whole 64-byte block, differently for every length
    mod 64 (a message of 55 bytes mod 64 takes its length in the same block, one of 56 a
    block more): a module file with 0 to 63 bytes after it, listed with hashlib's digest,
    loads on the runtime for each of the 64.  Written for the survivor
    gvm_sha256.c:sha256_final:const_4 (the 0x80 end mark hashed with the byte after it:
    a file of 55 bytes mod 64 was refused)."""
    import hashlib
    from gamevm_build.runtime import trust
    d, kernel = edges
    module = (d / "fpmod.elf").read_bytes()
    _host, tl = pair("psx", kernel, tmp_path)
    for tail in range(64):
        data = module + bytes(range(1, tail + 1))
        (tmp_path / f"t{tail}").mkdir()
        (tmp_path / f"t{tail}" / "fpmod.elf").write_bytes(data)
        table = trust.encode({"fpmod": trust.TrustEntry(len(data),
                                                        hashlib.sha256(data).digest())})
        assert tl.trust(table) == TLoadStatus.lsSuccess
        handle, status = tl.load_module(f"t{tail}/fpmod.elf")
        assert status == TLoadStatus.lsSuccess, len(data) % 64
        assert tl.unload_module(handle) == TLoadStatus.lsSuccess


# --- codec/gvm_zx0.c -----------------------------------------------------------------------

@pytest.mark.parametrize("target", ["psx"])
def test_the_zx0_decoder_agrees_with_its_mirror_on_every_room_and_cut(target,
                                                                      tmp_path_factory):
    """gvm_zx0.c and its Python mirror (gamevm_build.link.compress.zx0_decode) on a block
    decoded into every room from 0 bytes to the data's size, cut at every length, and on a
    block whose new offset reaches before the output: the same verdict (-1 for None, never
    0 for a corrupt block) and the same bytes.  Written for the survivors
    gvm_zx0.c:gvm_zx0_decode:const_10 (a copy from the last offset too long for the room:
    ``return -1`` made ``return -0``) and :const_22 (the same for a new offset past the
    output's start)."""
    from gamevm_build.link.compress import zx0_compress
    from test_codec_zx0 import GUARD, decode, machine, mirror
    m, buf = machine(target, tmp_path_factory)
    data = b"".join(bytes([65 + i % 7]) * (3 + i % 5) + b"xyz"[: i % 4] for i in range(60))
    block = zx0_compress(data)
    cases = [(block, room) for room in range(len(data) + 1)]
    cases += [(block[:cut], len(data)) for cut in range(len(block))]
    cases.append((bytes([0b11100101, ord("a"), 0x00, 0x00]), 100))
    for blk, room in cases:
        r, out, guard = decode(m, buf, blk, room)
        assert guard == GUARD * 2, (len(blk), room)
        assert (r, out) == mirror(blk, room), (len(blk), room)


def test_a_trust_table_of_more_than_255_entries_is_counted_whole(edges, tmp_path):
    """A table of 300 entries (its count's high byte 1): both loaders take it and load the
    module it lists among them.  Written for the survivor gvm_trust.c:GameVMTrust:const_23
    (``t[6] << 8`` made ``<< 7``: the count's high byte worth half, the table's size then
    wrong: lsBadFormat)."""
    import hashlib
    from gamevm_build.runtime import trust
    d, kernel = edges
    data = (d / "fpmod.elf").read_bytes()
    entries = {f"pad{i:03d}": trust.TrustEntry(i, bytes(32)) for i in range(299)}
    entries["fpmod"] = trust.TrustEntry(len(data), hashlib.sha256(data).digest())
    table = trust.encode(entries)
    assert table[6:8] == (300).to_bytes(2, "big")
    host, tl = pair("psx", kernel, d)
    host.trust(table)
    assert tl.trust(table) == TLoadStatus.lsSuccess
    both(host, tl, "fpmod", TLoadStatus.lsSuccess)


# --- the reader ----------------------------------------------------------------------------

class FailingReads(TargetLoader):
    """The runtime over a media device whose read number ``fail_at`` (counting from 0)
    fails, as a scratched disc's would; ``reads`` counts them."""

    fail_at: int | None = None
    reads = 0

    def _service(self, machine, kind: str, code: int):
        if code == SYS_MEDIA_READ:
            self.reads += 1
            if self.reads - 1 == self.fail_at:
                machine.set_result(MASK32)
                return None
        return super()._service(machine, kind, code)


@pytest.mark.parametrize("form", ["plain", "packed", "lz4"])
def test_a_read_that_fails_anywhere_fails_the_load_and_leaves_nothing(edges, tmp_path, form):
    """Each read of a 6 KiB module (its first read, then its image) failing in turn, as a
    scratched disc's would: the load is lsFileNotFound (docs/runtime-c.md, the reader's
    ``read``), every file it opened is closed, nothing stays loaded, and the same load then
    succeeds as the reference's.  No other test makes a read fail."""
    from gamevm_build.link.shipform import convert
    d, kernel = edges
    (tmp_path / "bigmod.elf").write_bytes(convert((d / "bigmod.elf").read_bytes(), form))
    host, tl = pair("psx", kernel, tmp_path, loaders=(Loader, FailingReads))
    handle, status = tl.load_module("bigmod")
    assert status == TLoadStatus.lsSuccess and tl.reads >= 1
    tl.unload_module(handle)
    for k in range(tl.reads):
        tl.fail_at, tl.reads = k, 0
        assert tl.load_module("bigmod") == (0, TLoadStatus.lsFileNotFound), k
        assert not tl.loaded and not tl.files, k
    tl.fail_at = None
    assert host_load(host, "bigmod")[1] == tl.load_module("bigmod")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)


@pytest.mark.parametrize("target", ["psx"])
def test_a_failed_read_of_a_table_read_on_its_own_is_file_not_found(tmp_path, target):
    """A module of 80 functions whose tables (4.2 KiB) do not fit a 4 KiB work area in one
    piece: the runtime reads each table on its own, then runs out of room (lsOutOfMemory);
    each of those reads failing in turn fails the load at that read, lsFileNotFound, with
    every file closed.  Written for the survivor gvm_loader.c:fetch:status_5 (a failed
    read of a table taken as a success: the load went on with the work area's stale
    bytes)."""
    src = "int tab[80];\n" + "".join(f"int f{i}(void) {{ return tab[{i}]; }}\n" for i in range(80))
    kernel = build_modules(tmp_path, target, {"many": src})
    _host, tl = pair(target, kernel, tmp_path, loaders=(Loader, FailingReads), work_size=4096)
    assert tl.load_module("many") == (0, TLoadStatus.lsOutOfMemory) and tl.reads > 2
    for k in range(tl.reads):
        tl.fail_at, tl.reads = k, 0
        assert tl.load_module("many") == (0, TLoadStatus.lsFileNotFound), k
        assert not tl.loaded and not tl.files, k


@pytest.mark.parametrize("target", ["psx"])
def test_a_packed_module_of_imports_almost_only_binds_each_alike(tmp_path, target):
    """A packed module whose symbols are nearly all imports (24 of 30: its table of
    imports in rank order takes 4 bytes a symbol, more than 3 per symbol of the module):
    both loaders bind every import alike, the same bytes in RAM and the same sum from its
    function.  Written for the survivor gvm_relpack.c:relpack_read:const_3 (that table
    given 3 bytes a symbol: the relocations read after it overwrote its last entries)."""
    from gamevm_build.link.shipform import convert
    count = 24
    src = "".join(f"extern int k{i}(void);\n" for i in range(count)) + \
        "int imps_sum(void) { return " + " + ".join(f"k{i}()" for i in range(count)) + "; }\n"
    kernel_c = "".join(f"int k{i}(void) {{ return {1 << i}; }}\n" for i in range(count))
    kernel = build_modules(tmp_path, target, {"imps": src}, kernel_c,
                           keep=[f"k{i}" for i in range(count)])
    (tmp_path / "imps.elf").write_bytes(convert((tmp_path / "imps.elf").read_bytes(), "packed"))
    host, tl = pair(target, kernel, tmp_path)
    lm = host.load("imps")
    assert tl.load_module("imps")[1] == TLoadStatus.lsSuccess
    same_modules(host, tl)
    fn = lm.symbols["imps_sum"]
    assert host.machine.call(fn) == tl.machine.call(fn) == (1 << count) - 1


@pytest.mark.parametrize("cut", [0, 1, 39, 40])
def test_section_headers_ending_past_the_file_are_bad_format_alike(edges, tmp_path, cut):
    """A module whose section header table was moved to the end of the file, then the
    file cut by ``cut`` bytes (0: whole, it loads; 1 to 40: the table runs past the end):
    both loaders give the same status, lsBadFormat for a cut table (checked before any
    read, not a read that fails).  Written for the survivor
    gvm_loader.c:read_elf_header:aor_10 (the bound ``fsize - shoff`` made ``fsize +
    shoff``: a table past the end was read, lsFileNotFound)."""
    d, kernel = edges
    data = bytearray((d / "fpmod.elf").read_bytes())
    shoff, = struct.unpack_from("<I", data, 32)
    shnum, = struct.unpack_from("<H", data, 48)
    table = data[shoff:shoff + 40 * shnum]
    data += bytes(-len(data) % 4)
    struct.pack_into("<I", data, 32, len(data))
    data = bytes(data + table)
    (tmp_path / "fpmod.elf").write_bytes(data[:len(data) - cut])
    host, tl = pair("psx", kernel, tmp_path)
    both(host, tl, "fpmod", TLoadStatus.lsBadFormat if cut else TLoadStatus.lsSuccess)


@pytest.mark.parametrize("target", ["psx"])
def test_gamevminit_refuses_a_config_without_reader_work_or_pool(tmp_path, target):
    """GameVMInit answers lsBadFormat, as docs/runtime-c.md says, for no config, no reader, a
    reader without open or read, no work area or one under 64 bytes, and no pool, without
    reading through a null pointer (the PS1's RAM at address 0 holds the BIOS's data, not
    zeros: here words that point at more such words). A config with all of them is taken.
    Written for the survivor gvm_loader.c:GameVMInit:lcr_1 (``!config || !config->reader``
    made ``&&``: a missing reader was read through)."""
    kernel = build_modules(tmp_path, target, {})
    _host, tl = pair(target, kernel, tmp_path)
    m, order = tl.machine, tl.machine.profile.byteorder
    ram0 = m.profile.main_ram.start
    m.write(ram0, (ram0 + 16).to_bytes(4, order) * 64)          # BIOS data at address 0
    emu = m.read(tl.symbols["GameVMEmulatorReader"], 24)          # open, read, close, ctx, ...

    def init(reader=emu, work=tl.work, work_size=0x3000, pool=tl.pool, config=True) -> int:
        r = m.alloc(24, align=4)
        if reader is not None:
            m.write(r, reader)
        c = m.alloc(32, align=4)
        m.write(c, b"".join((v & MASK32).to_bytes(4, order) for v in (
            r if reader is not None else 0, work, work_size, pool, 0x1000, 0, 0, 0)))
        return TLoadStatus(m.call("GameVMInit", c if config else 0))

    assert init() == TLoadStatus.lsSuccess
    refused = {"no config": init(config=False), "no reader": init(reader=None),
               "no open": init(reader=bytes(4) + emu[4:]),
               "no read": init(reader=emu[:4] + bytes(4) + emu[8:]),
               "no work area": init(work=0), "63 bytes of work area": init(work_size=63),
               "no pool": init(pool=0)}
    assert refused == dict.fromkeys(refused, TLoadStatus.lsBadFormat)
    assert init(work_size=64) == TLoadStatus.lsSuccess
