"""Corrupted modules and objects, as the two readers refuse them (issue 20).

A mutation sample found lines of the module validator (:func:`read_module`) and of the
fast ELF reader (:mod:`gamevm_build.link.elf32`) that no test executed: each is a
rejection a corrupted or hand-made file meets, and a mutant of an unexecuted line always
survives.  Here each rejection is met on a real file: one small C object built by the
psx's cross toolchain (little-endian MIPS), linked once into each shipping form (plain,
packed, LZ4, ZX0) -- or the object itself, or an ``ar`` archive of it and another --
with one field changed by hand, as a bad copy, a buggy tool or a hostile file would change it.  Each
test checks the class of the error and its whole message: the file, the field, the
section, symbol or offset, and the numbers, so a mutant that changes a word, a number
or the check's bound fails it.

The numbers quoted below are those of that object's module (each test first checks the
layout it relies on): ``.text`` 0x80 bytes, ``.rodata`` 0x10, ``.data`` 0x190 at 0x90,
``.bss`` 0x40 at 0x220, an image of 0x260 bytes, two imports (``alpha_in``,
``beta_in``).
"""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import Builder
from gamevm_build.errors import ImageDecodeError, InputError, ModuleFormatError
from gamevm_build.link import elf32
from gamevm_build.link.linker import link_module
from gamevm_build.link.module import read_module
from gamevm_build.link.shipform import SHT_GVM_RELPACK
from gamevm_build.link.toolchain import find_toolchain
from test_linker_mutants import _section_header_field

SOURCE = """\
extern int alpha_in(int);
extern int beta_in[];
static const char msg[] = "gamevm";
int table[96] = {1, 2, 3};
int zeros[16];
int *self_ref = &table[1];
int use(int i) { return alpha_in(i) + beta_in[i] + table[i] + zeros[i] + msg[i]; }
"""

IMAGE_SIZE = 0x260              #: .text + .rodata + .data + .bss
FILE_IMAGE = 0x220              #: the loadable bytes a file stores (all but .bss)

#: the section header (Elf32_Shdr) words the tests change
SH_TYPE, SH_FLAGS, SH_OFFSET, SH_SIZE, SH_LINK, SH_ENTSIZE = 1, 2, 4, 5, 6, 9


class Files:
    """The object (and a second one, for archives), its module in each shipping form
    (bytes), and two LZ4 modules of a bound's size."""

    def __init__(self, tmp: Path):
        self.builder = Builder(tmp, find_toolchain("psx"))
        self.obj = self.builder.obj("a.c", SOURCE)
        self.other = self.builder.obj("b.c", "int other(void) { return 7; }\n")
        self.forms = {}
        for form in ("plain", "packed", "lz4", "zx0"):
            path = tmp / f"{form}.gvm"
            link_module("psx", [self.obj], path, form=form)
            self.forms[form] = path.read_bytes()
        #: LZ4 modules of nothing but a .rodata of 526 or 527 bytes (GNU as pads .text
        #: to 16 bytes, so the assembler's other sections are removed)
        self.rodata_lz4 = {}
        for n in (526, 527):
            o = self.builder.obj(f"k{n}.s", f'.section .rodata,"a"\n.globl k\nk: .fill {n}, 1, 7\n')
            subprocess.run([self.builder.tc.tool("objcopy"), "-R", ".text", "-R", ".data",
                            "-R", ".bss", str(o)], check=True)
            link_module("psx", [o], tmp / f"k{n}.gvm", form="lz4")
            self.rodata_lz4[n] = (tmp / f"k{n}.gvm").read_bytes()

    def module(self, form: str = "plain") -> bytearray:
        return bytearray(self.forms[form])


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    return Files(tmp_path_factory.mktemp("reader"))


# --- byte surgery on little-endian ELF32 files ----------------------------------------------

def _elf(data) -> elf32.ElfFile:
    return elf32.parse(bytes(data), "probe")


def _section(data, name: str) -> elf32.Section:
    sec = _elf(data).section_by_name(name)
    assert sec is not None, name
    return sec


def _set_section_field(data: bytearray, name: str, field: int, value: int) -> None:
    """Set word ``field`` of section ``name``'s header."""
    struct.pack_into("<I", data, _section_header_field(data, _section(data, name).index, field), value)


def _symbol_at(data, index: int) -> int:
    """Offset in ``data`` of symbol ``index`` of ``.symtab``."""
    return _section(data, ".symtab").offset + index * elf32.SYM_SIZE


def _symbol_index(data, name: str) -> int:
    (sym,) = [s for s in _elf(data).symbols if s.name == name]
    return sym.index


def _section_symbol(data, section: str) -> int:
    """Index of the STT_SECTION symbol of ``section``."""
    elf = _elf(data)
    shndx = elf.section_by_name(section).index
    (sym,) = [s for s in elf.symbols if s.type == elf32.STT_SECTION and s.shndx == shndx]
    return sym.index


def _note_descriptor(data) -> tuple[int, int]:
    """``(file offset, size)`` of the metadata note's descriptor (its JSON)."""
    note = _section(data, ".note.gamevm")
    namesz, descsz = struct.unpack_from("<II", data, note.offset)
    return note.offset + 12 + (namesz + 3) // 4 * 4, descsz


def _replace_json(data: bytearray, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (as long) in the metadata's JSON, once."""
    at, size = _note_descriptor(data)
    desc = bytes(data[at:at + size])
    assert len(old) == len(new) and desc.count(old) == 1, old
    data[at:at + size] = desc.replace(old, new)


def _refused(data, name: str, what: str, error=ModuleFormatError):
    """The read of ``data`` is refused with exactly ``name: not a valid GameVM module: what``."""
    with pytest.raises(error, match="^" + re.escape(f"{name}: not a valid GameVM module: {what}")
                       + "$") as err:
        read_module(bytes(data), name=name)
    return err.value


def test_the_object_links_to_the_layout_the_tests_rely_on(files):
    plain = read_module(files.forms["plain"])
    assert plain.image_size == IMAGE_SIZE
    assert {n: (off, plain.section_size(n)) for n, (off, _b) in plain.sections.items()} == {
        ".text": (0, 0x80), ".rodata": (0x80, 0x10), ".data": (0x90, 0x190),
        ".bss": (0x220, 0x40)}
    assert sorted(plain.imports) == ["alpha_in", "beta_in"]
    for form in ("packed", "lz4", "zx0"):
        mod = read_module(files.forms[form])
        assert mod.form == form and mod.sections == plain.sections
        assert mod.load_size == IMAGE_SIZE          # the in-place margin fits in the image


# --- properties of a module read back --------------------------------------------------------

def test_a_relocation_is_internal_exactly_when_it_targets_no_import(files):
    mod = read_module(files.forms["plain"])
    internal = {(r.offset, r.symbol) for r in mod.relocations if r.internal}
    external = {(r.offset, r.symbol) for r in mod.relocations if not r.internal}
    assert internal == {(32, ".data"), (40, ".data"), (52, ".bss"), (60, ".bss"),
                        (68, ".rodata"), (72, ".rodata"), (0x90, ".data")}
    assert external == {(12, "alpha_in"), (20, "beta_in"), (28, "beta_in")}


def test_code_size_counts_text_and_rodata_only(files):
    mod = read_module(files.forms["plain"])
    assert mod.code_size == 0x80 + 0x10
    # the read-execute segment holds exactly the code bytes
    assert _elf(files.forms["plain"]).segments[0].memsz == mod.code_size
    assert (mod.data_size, mod.bss_size) == (0x190, 0x40)


# --- the metadata note ------------------------------------------------------------------------

def _truncated_note(data):
    _set_section_field(data, ".note.gamevm", SH_SIZE, 11)


def _note_of_another_type(data):
    struct.pack_into("<I", data, _section(data, ".note.gamevm").offset + 8, 2)


def _note_of_another_owner(data):
    at = _section(data, ".note.gamevm").offset + 12
    assert data[at:at + 7] == b"GameVM\0"
    data[at:at + 6] = b"GameVX"


def _descriptor_past_the_section(data):
    note = _section(data, ".note.gamevm")
    at, size = _note_descriptor(data)
    assert at + size == note.offset + note.size             # the descriptor ends the note
    struct.pack_into("<I", data, note.offset + 4, size + 1)


def _metadata_not_an_object(data):
    at, size = _note_descriptor(data)
    data[at:at + size] = b"[1, 2]".ljust(size, b" ")


@pytest.mark.parametrize("corrupt,what", [
    (_truncated_note, ".note.gamevm is truncated"),
    (_note_of_another_type, ".note.gamevm does not hold a GameVM module note"),
    (_note_of_another_owner, ".note.gamevm does not hold a GameVM module note"),
    (_descriptor_past_the_section, ".note.gamevm descriptor runs past the section"),
    (_metadata_not_an_object, ".note.gamevm metadata is not an object"),
])
def test_a_broken_metadata_note_is_refused_saying_what_is_wrong(files, corrupt, what):
    data = files.module()
    corrupt(data)
    _refused(data, "note.gvm", what)


def test_a_note_of_twelve_bytes_is_read_past_its_header(files):
    """The truncation bound: 12 bytes hold the note's header, so the reader goes on (and
    finds no GameVM name in them) rather than calling it truncated."""
    data = files.module()
    _set_section_field(data, ".note.gamevm", SH_SIZE, 12)
    _refused(data, "note.gvm", ".note.gamevm does not hold a GameVM module note")


def test_a_module_without_the_note_is_refused_saying_how_to_build_one(files):
    data = files.module()
    shstrtab = _section(data, ".shstrtab")
    at = data.index(b".note.gamevm\0", shstrtab.offset)
    data[at + 11:at + 12] = b"x"                              # renamed .note.gamevx
    _refused(data, "nonote.gvm", "no .note.gamevm section (build it with 'gamevm module')")


def test_a_module_with_no_section_headers_is_refused_as_having_no_note(files):
    """e_shnum 0: the fast reader reads no sections and no symbols (it does not look for
    the header table at all), so the first thing missing is the metadata note."""
    data = files.module()
    struct.pack_into("<H", data, 48, 0)                       # e_shnum
    elf = _elf(data)
    assert (elf.sections, elf.symbols) == ([], [])
    assert len(elf.segments) == 3
    _refused(data, "headless.gvm", "no .note.gamevm section (build it with 'gamevm module')")


def test_a_module_for_an_unknown_target_is_refused_naming_it(files):
    data = files.module()
    _replace_json(data, b'"target":"psx"', b'"target":"ps9"')
    _refused(data, "ps9.gvm", "unknown target 'ps9' in metadata")


def test_a_module_for_another_target_than_expected_is_refused_naming_both(files):
    path = files.builder.tmp / "plain.gvm"
    with pytest.raises(InputError, match="^" + re.escape(f"{path}: module is built for target "
                                                         "psx, not n64") + "$") as err:
        read_module(path, expect_target="n64")
    assert type(err.value) is InputError                      # a well-formed module
    assert read_module(files.forms["plain"], expect_target="psx").target == "psx"


# --- segments and sections ---------------------------------------------------------------------

def test_a_segment_with_more_file_than_memory_bytes_is_refused(files):
    data = files.module()
    shoff = struct.unpack_from("<I", data, 28)[0]             # e_phoff
    seg = _elf(data).segments[1]
    assert (seg.vaddr, seg.filesz, seg.memsz) == (0x90, 0x190, 0x1d0)
    struct.pack_into("<I", data, shoff + elf32.PHDR_SIZE + 20, 0x18c)   # p_memsz
    _refused(data, "seg.gvm", "program header [1] (PT_LOAD) p_filesz 0x190 is larger than "
                              "p_memsz 0x18c")


def test_a_segment_whose_file_and_memory_sizes_are_equal_is_accepted(files):
    data = files.module()
    shoff = struct.unpack_from("<I", data, 28)[0]
    struct.pack_into("<I", data, shoff + elf32.PHDR_SIZE + 20, 0x190)   # no bss in it
    assert read_module(bytes(data)).image_size == IMAGE_SIZE


def test_a_section_reaching_past_the_image_is_refused_naming_its_bounds(files):
    data = files.module()
    _set_section_field(data, ".bss", SH_SIZE, 0x41)          # one byte past the image
    _refused(data, "bss.gvm", "section .bss [0x220, +0x41) lies outside the image "
                              "(size 0x260)")


def test_a_loadable_section_of_type_null_is_refused(files):
    data = files.module()
    _set_section_field(data, ".rodata", SH_TYPE, elf32.SHT_NULL)
    _refused(data, "null.gvm", "section .rodata has type SHT_NULL (0): a module's loadable "
                               "section is SHT_PROGBITS or SHT_NOBITS")


# --- symbols -------------------------------------------------------------------------------------

def test_a_module_without_a_symbol_table_is_refused(files):
    data = files.module()
    _set_section_field(data, ".symtab", SH_TYPE, elf32.SHT_PROGBITS)
    assert _elf(data).symbols == []
    _refused(data, "nosym.gvm", "no .symtab")


def test_a_section_symbol_of_a_section_that_is_not_loadable_is_refused(files):
    data = files.module()
    index = _section_symbol(data, ".rodata")
    symtab = _section(data, ".symtab").index
    struct.pack_into("<H", data, _symbol_at(data, index) + 14, symtab)
    _refused(data, "secsym.gvm", f"section symbol [{index}] refers to section index {symtab}, "
                                 "which is not a loadable section")


def test_an_undefined_local_symbol_is_refused_naming_it(files):
    data = files.module()
    index = _symbol_index(data, "alpha_in")
    data[_symbol_at(data, index) + 12] = elf32.STB_LOCAL << 4 | elf32.STT_NOTYPE
    _refused(data, "local.gvm", f"undefined local symbol [{index}] 'alpha_in'")


def test_a_symbol_in_a_section_that_is_not_loadable_is_refused(files):
    data = files.module()
    shstrtab = _section(data, ".shstrtab").index
    struct.pack_into("<H", data, _symbol_at(data, _symbol_index(data, "table")) + 14, shstrtab)
    _refused(data, "sym.gvm", f"symbol 'table' refers to section index {shstrtab}, which is "
                              "not a loadable section")


def test_a_symbol_in_a_reserved_section_index_is_not_a_loadable_one(files):
    """SHN_LORESERVE (0xff00) and up are no section of the file: the ELF reader lets them
    through, and the module reader refuses all but SHN_ABS."""
    data = files.module()
    struct.pack_into("<H", data, _symbol_at(data, _symbol_index(data, "table")) + 14,
                     elf32.SHN_LORESERVE)
    _refused(data, "sym.gvm", "symbol 'table' refers to section index 65280, which is not a "
                              "loadable section")


def test_a_symbol_past_the_image_is_refused_but_one_at_its_end_is_kept(files):
    data = files.module()
    value_at = _symbol_at(data, _symbol_index(data, "zeros")) + 4
    struct.pack_into("<I", data, value_at, IMAGE_SIZE + 1)
    _refused(data, "far.gvm", "symbol 'zeros' value 0x261 is outside the image")
    struct.pack_into("<I", data, value_at, IMAGE_SIZE)        # the end of the image
    assert read_module(bytes(data), verify_hash=False).exports["zeros"].value == IMAGE_SIZE


def test_a_symbol_naming_a_section_the_file_lacks_is_refused_by_the_elf_reader(files):
    """A section index from the number of sections up to SHN_LORESERVE names no section:
    the ELF reader refuses the file (the module reader passes its message on as a module
    format error).  Here the first index past the last section."""
    data = files.module()
    nsec = len(_elf(data).sections)
    index = _symbol_index(data, "zeros")
    struct.pack_into("<H", data, _symbol_at(data, index) + 14, nsec)
    with pytest.raises(ModuleFormatError, match="^" + re.escape(
            f"shndx.gvm: not a valid ELF file: .symtab: symbol [{index}] has section index "
            f"{nsec} but the file has {nsec} sections") + "$"):
        read_module(bytes(data), name="shndx.gvm")


# --- relocations ----------------------------------------------------------------------------

def _rela(data, name: str, entry: int) -> int:
    """Offset in ``data`` of entry ``entry`` of relocation section ``name``."""
    return _section(data, name).offset + entry * elf32.RELA_SIZE


def _retarget(data, entry: int, symbol: int) -> None:
    at = _rela(data, ".rela.text", entry) + 4
    info = struct.unpack_from("<I", data, at)[0]
    struct.pack_into("<I", data, at, symbol << 8 | info & 0xFF)


def _retype(data, entry: int, rtype: int) -> None:
    data[_rela(data, ".rela.text", entry) + 4] = rtype


def test_the_relocations_the_tests_change_are_the_modules_first(files):
    data = files.module()
    elf = _elf(data)
    first, second = elf.relocations(elf.section_by_name(".rela.text"))[:2]
    assert (first.offset, first.type, elf.symbols[first.sym].name) == (12, 4, "alpha_in")
    assert (second.offset, second.type, elf.symbols[second.sym].name) == (20, 5, "beta_in")


def test_packed_relocations_in_a_plain_module_are_refused(files):
    data = files.module()
    _set_section_field(data, ".rela.data", SH_TYPE, SHT_GVM_RELPACK)
    _refused(data, "relpack.gvm", ".rela.data: packed relocations in a format 1 module "
                                  "(packed modules are format 2)")


def test_rel_relocations_in_a_module_are_refused(files):
    data = files.module()
    _set_section_field(data, ".rela.text", SH_TYPE, elf32.SHT_REL)
    _refused(data, "rel.gvm", ".rela.text: modules carry RELA relocations only")


def test_a_relocation_table_linked_to_another_table_than_the_symbols_is_refused(files):
    data = files.module()
    strtab = _section(data, ".strtab").index
    _set_section_field(data, ".rela.text", SH_LINK, strtab)
    _refused(data, "link.gvm", f".rela.text: sh_link {strtab} is not the symbol table")


def test_a_relocation_table_of_a_size_no_entry_divides_is_refused(files):
    data = files.module()
    rela = _section(data, ".rela.text")
    assert rela.size == 9 * elf32.RELA_SIZE
    _set_section_field(data, ".rela.text", SH_SIZE, rela.size - 4)
    with pytest.raises(ModuleFormatError, match=r"^size\.gvm: not a valid ELF file: \.rela\.text: "
                                                r"size 0x68 is not a multiple of 12$"):
        read_module(bytes(data), name="size.gvm")


@pytest.mark.parametrize("entry,rtype,shown", [
    (0, 10, "R_MIPS_PC16"),        # PC-relative: resolved when linking, never by a loader
    (0, 7, "R_MIPS_GPREL16"),      # known to the family, not supported
    (1, 200, "200"),               # no type of the family
])
def test_a_relocation_of_a_type_no_loader_applies_is_refused_at_its_entry(
        files, entry, rtype, shown):
    data = files.module()
    _retype(data, entry, rtype)
    _refused(data, "type.gvm", f".rela.text[{entry}]: relocation type {shown} is not one a "
                               "loader applies")


def test_a_relocation_against_the_null_symbol_is_refused(files):
    data = files.module()
    _retarget(data, 1, 0)
    _refused(data, "sym0.gvm", ".rela.text[1]: relocation against symbol 0")


def test_a_relocation_against_a_defined_symbol_is_refused_naming_it(files):
    data = files.module()
    _retarget(data, 0, _symbol_index(data, "use"))
    _refused(data, "defined.gvm", ".rela.text[0]: relocation against defined symbol 'use' "
                                  "(modules use section symbols for internal targets)")


# --- packed modules ---------------------------------------------------------------------------

def test_a_packed_module_without_its_packed_relocations_is_refused(files):
    data = files.module("packed")
    _set_section_field(data, ".gvm.relpack", SH_TYPE, elf32.SHT_PROGBITS)
    _refused(data, "packed.gvm", "a packed module has one .gvm.relpack section, not 0")


def test_a_packed_module_with_two_packed_relocation_sections_is_refused(files):
    data = files.module("packed")
    _set_section_field(data, ".shstrtab", SH_TYPE, SHT_GVM_RELPACK)
    _refused(data, "packed.gvm", "a packed module has one .gvm.relpack section, not 2")


def test_packed_relocations_linked_to_another_table_than_the_symbols_are_refused(files):
    data = files.module("packed")
    strtab = _section(data, ".strtab").index
    _set_section_field(data, ".gvm.relpack", SH_LINK, strtab)
    _refused(data, "packed.gvm", f".gvm.relpack: sh_link {strtab} is not the symbol table")


@pytest.mark.parametrize("order", ["swapped", "twice"])
def test_packed_imports_out_of_name_order_are_refused(files, order):
    """Packed relocations name an import by its rank in name order, so the symbol table's
    imports must be sorted and distinct."""
    data = files.module("packed")
    alpha, beta = _symbol_index(data, "alpha_in"), _symbol_index(data, "beta_in")
    assert beta == alpha + 1
    name_a, name_b = (struct.unpack_from("<I", data, _symbol_at(data, i))[0] for i in (alpha, beta))
    struct.pack_into("<I", data, _symbol_at(data, alpha), name_b)
    struct.pack_into("<I", data, _symbol_at(data, beta), name_a if order == "swapped" else name_b)
    _refused(data, "order.gvm", ".gvm.relpack: the imports are not in strictly ascending name "
                                "order (packed relocations name them by rank)")


def test_packed_imports_are_in_order_from_the_first_symbol(files):
    """The order is checked from symbol 1 on: an import moved to the table's first entry
    (before the locals, which nothing requires to come first) is one of them."""
    data = files.module("packed")
    beta = _symbol_index(data, "beta_in")
    first, moved = _symbol_at(data, 1), _symbol_at(data, beta)
    size = elf32.SYM_SIZE
    data[first:first + size], data[moved:moved + size] = \
        data[moved:moved + size], data[first:first + size]
    _refused(data, "order.gvm", ".gvm.relpack: the imports are not in strictly ascending name "
                                "order (packed relocations name them by rank)")


def test_corrupt_packed_relocations_are_refused_naming_the_section(files):
    data = files.module("packed")
    relpack = _section(data, ".gvm.relpack")
    assert data[relpack.offset] == 4                          # R_MIPS_26, HI16, LO16, 32
    data[relpack.offset] = 8
    _refused(data, "packed.gvm", ".gvm.relpack: packed relocations: 8 relocation types "
                                 "(at most 7)")


def test_a_packed_module_carrying_rela_relocations_too_is_refused(files):
    data = files.module("packed")
    _set_section_field(data, ".strtab", SH_TYPE, elf32.SHT_RELA)
    _refused(data, "packed.gvm", ".strtab: a packed (format 2) module carries its relocations "
                                 "in .gvm.relpack only")


# --- compressed images ------------------------------------------------------------------------

IMAGE_RULE = (".gvm.image: one SHT_PROGBITS section flagged SHF_COMPRESSED, not SHF_ALLOC, is "
              "what a packed module stores its image in")
#: what the refusal of an unknown compression type says this reader decodes
CODECS = "0x60474d01 (LZ4), 0x60474d02 (ZX0); sh_entsize is 0 for LZ4 and ZX0's in-place margin"


@pytest.mark.parametrize("form", ["lz4", "zx0"])
@pytest.mark.parametrize("field,value", [
    (SH_FLAGS, 0),                                              # not SHF_COMPRESSED
    (SH_FLAGS, 0x800 | elf32.SHF_ALLOC),                        # loaded as it is
    (SH_TYPE, elf32.SHT_NOTE),
])
def test_an_image_section_of_the_wrong_kind_is_refused(files, form, field, value):
    data = files.module(form)
    assert _section(data, ".gvm.image").flags == 0x800
    _set_section_field(data, ".gvm.image", field, value)
    _refused(data, f"{form}.gvm", IMAGE_RULE)


def test_an_image_shorter_than_its_compression_header_is_refused(files):
    data = files.module("lz4")
    _set_section_field(data, ".gvm.image", SH_SIZE, 11)
    _refused(data, "short.gvm", ".gvm.image: shorter than its 12-byte compression header")


def test_an_in_place_margin_larger_than_the_image_is_refused(files):
    data = files.module("zx0")
    assert 0 < _section(data, ".gvm.image").entsize < IMAGE_SIZE
    _set_section_field(data, ".gvm.image", SH_ENTSIZE, IMAGE_SIZE + 1)
    _refused(data, "margin.gvm", ".gvm.image: an in-place margin (sh_entsize) of 609 bytes, "
                                 "more than the module's 608")
    # a margin of the whole image is allowed: the loader allocates the loadable bytes and
    # the margin past them, rounded up to words (the margin is not hashed: only the
    # footprint changes)
    _set_section_field(data, ".gvm.image", SH_ENTSIZE, IMAGE_SIZE)
    mod = read_module(bytes(data), name="margin.gvm")
    assert mod.load_size == (FILE_IMAGE + IMAGE_SIZE + 3 + 3) & ~3 == 1156


def test_an_image_larger_than_the_modules_footprint_is_refused(files):
    """The image section moved to the start of the file and grown: 609 bytes, where the
    module takes 608 (the LZ4 margin for them, 2 + 32 bytes past the 544 loadable ones,
    fits in .bss), are refused; 608 fit."""
    data = files.module("lz4")
    _set_section_field(data, ".gvm.image", SH_OFFSET, 0)
    _set_section_field(data, ".gvm.image", SH_SIZE, IMAGE_SIZE + 1)
    _refused(data, "big.gvm", ".gvm.image: 609 bytes do not fit the module's 608")
    # 608 bytes fit: the reader goes on to the compression header (here the ELF header's
    # first word)
    _set_section_field(data, ".gvm.image", SH_SIZE, IMAGE_SIZE)
    _refused(data, "big.gvm", ".gvm.image: compression type 0x464c457f with sh_entsize 0 "
                              f"(this gamevm_build decodes {CODECS})", error=ImageDecodeError)


def test_an_lz4_image_too_short_to_decode_to_the_sections_is_refused(files):
    """LZ4 expands a byte to at most 255: two bytes of block (plus 16) cannot make the
    module's 544 loadable bytes."""
    data = files.module("lz4")
    _set_section_field(data, ".gvm.image", SH_SIZE, 12 + 2)
    _refused(data, "tiny.gvm", ".gvm.image: 2 bytes cannot decode to 544")
    # three bytes might (255 * 3 + 16 >= 544): they are decoded, and found corrupt
    _set_section_field(data, ".gvm.image", SH_SIZE, 12 + 3)
    _refused(data, "tiny.gvm", ".gvm.image: the LZ4 block is corrupt (it does not decode in "
                               "place to the 544 bytes its header says); build the module "
                               "again", error=ImageDecodeError)


@pytest.mark.parametrize("loadable", [526, 527])
def test_two_bytes_of_lz4_block_may_make_at_most_526_loadable_bytes(files, loadable):
    """The bound is exact: 255 * 2 + 16 = 526 bytes may come of a 2-byte block (the reader
    decodes it, and finds this one corrupt), 527 cannot (refused before decoding)."""
    data = bytearray(files.rodata_lz4[loadable])
    assert read_module(bytes(data)).sections == {".rodata": (0, bytes([7]) * loadable)}
    _set_section_field(data, ".gvm.image", SH_SIZE, 12 + 2)
    if loadable == 527:
        _refused(data, "k.gvm", ".gvm.image: 2 bytes cannot decode to 527")
    else:
        _refused(data, "k.gvm", ".gvm.image: the LZ4 block is corrupt (it does not decode in "
                                "place to the 526 bytes its header says); build the module "
                                "again", error=ImageDecodeError)


@pytest.mark.parametrize("form,ch_type,entsize,shown", [
    ("lz4", 0x60474D03, None, "compression type 0x60474d03 with sh_entsize 0"),
    ("lz4", 0x60474D02, None, "compression type 0x60474d02 with sh_entsize 0"),
    ("zx0", 0x60474D01, None, "compression type 0x60474d01 with sh_entsize 3"),
    ("zx0", None, 0, "compression type 0x60474d02 with sh_entsize 0"),
])
def test_an_image_of_an_unknown_codec_or_margin_is_refused(files, form, ch_type, entsize, shown):
    data = files.module(form)
    image = _section(data, ".gvm.image")
    if ch_type is not None:
        struct.pack_into("<I", data, image.offset, ch_type)
    if entsize is not None:
        _set_section_field(data, ".gvm.image", SH_ENTSIZE, entsize)
    err = _refused(data, f"{form}.gvm", f".gvm.image: {shown} (this gamevm_build decodes "
                                        f"{CODECS})", error=ImageDecodeError)
    assert err.module_name == form                            # the metadata's name


@pytest.mark.parametrize("form", ["lz4", "zx0"])
def test_a_corrupt_compressed_block_is_refused_naming_the_module(files, form):
    data = files.module(form)
    image = _section(data, ".gvm.image")
    data[image.offset + 12:image.offset + image.size] = bytes(image.size - 12)
    err = _refused(data, f"{form}.gvm", f".gvm.image: the {form.upper()} block is corrupt (it "
                                        "does not decode in place to the 544 bytes its header "
                                        "says); build the module again", error=ImageDecodeError)
    assert err.module_name == form


# --- the ELF reader's own checks ----------------------------------------------------------------

@pytest.mark.parametrize("shentsize", [39, 41, 64])
def test_a_section_header_size_other_than_40_is_refused(files, shentsize):
    data = files.module()
    struct.pack_into("<H", data, 46, shentsize)               # e_shentsize
    with pytest.raises(ModuleFormatError, match=rf"^shent\.gvm: not a valid ELF file: section "
                                                rf"header size {shentsize} \(expected 40\)$"):
        read_module(bytes(data), name="shent.gvm")


def test_a_section_name_table_past_the_end_of_the_file_is_refused(files):
    data = files.module()
    shstrtab = _section(data, ".shstrtab")
    size_at = _section_header_field(data, shstrtab.index, SH_SIZE)
    struct.pack_into("<I", data, size_at, len(data) - shstrtab.offset + 1)
    with pytest.raises(ModuleFormatError, match=r"^names\.gvm: not a valid ELF file: section "
                                                r"name string table runs past the end of the "
                                                r"file$"):
        read_module(bytes(data), name="names.gvm")
    # up to the file's last byte is fine
    struct.pack_into("<I", data, size_at, len(data) - shstrtab.offset)
    assert read_module(bytes(data)).image_size == IMAGE_SIZE


def _object_copy(files, name: str, data) -> Path:
    out = files.builder.tmp / name
    out.write_bytes(bytes(data))
    return out


def test_an_object_whose_rel_table_no_entry_divides_is_refused_naming_it(files, tmp_path):
    data = bytearray(files.obj.read_bytes())
    rel = _section(data, ".rel.text")
    assert rel.type == elf32.SHT_REL and rel.size % elf32.REL_SIZE == 0
    _set_section_field(data, ".rel.text", SH_SIZE, rel.size - 4)
    bad = _object_copy(files, "relsize.o", data)
    with pytest.raises(InputError, match="^" + re.escape(
            f"{bad}: not a valid ELF file: .rel.text: size 0x{rel.size - 4:x} is not a "
            "multiple of 8") + "$"):
        link_module("psx", [bad], tmp_path / "m.gvm")


def test_an_object_with_symbols_in_missing_sections_is_refused_naming_the_first(
        files, tmp_path):
    """The last index below SHN_LORESERVE (0xfeff) names no section either; of two such
    symbols the message names the first, not an earlier one in the reserved range
    (SHN_LORESERVE itself: here the MIPS SHN_MIPS_ACOMMON)."""
    data = bytearray(files.obj.read_bytes())
    elf = _elf(data)
    nsec = len(elf.sections)
    reserved, first, second = sorted(_symbol_index(data, n) for n in ("table", "use", "zeros"))
    at = {i: _symbol_at(data, i) + 14 for i in (reserved, first, second)}
    struct.pack_into("<H", data, at[reserved], elf32.SHN_LORESERVE)
    struct.pack_into("<H", data, at[first], 0xFEFF)
    struct.pack_into("<H", data, at[second], nsec)
    bad = _object_copy(files, "shndx.o", data)
    with pytest.raises(InputError, match="^" + re.escape(
            f"{bad}: not a valid ELF file: .symtab: symbol [{first}] has section index 65279 "
            f"but the file has {nsec} sections") + "$"):
        link_module("psx", [bad], tmp_path / "m.gvm")


# --- archives ------------------------------------------------------------------------------------

def _archive(files, tmp_path) -> tuple[bytearray, int]:
    """An archive of the two objects (no symbol index) and the offset of its second
    member's header, found by the member sizes the first header records."""
    lib = tmp_path / "lib.a"
    subprocess.run([files.builder.tc.ar, "rcS", str(lib), str(files.obj), str(files.other)],
                   check=True)
    data = bytearray(lib.read_bytes())
    assert data[:8] == b"!<arch>\n" and data[8:12] == b"a.o/"
    size = int(data[8 + 48:8 + 58])
    return data, 8 + 60 + size + (size & 1)


def _link_archive(files, tmp_path, data, message: str) -> None:
    """Linking with ``data`` as the archive ``bad.a`` is refused: ``bad.a: message``."""
    lib = tmp_path / "bad.a"
    lib.write_bytes(bytes(data))
    with pytest.raises(InputError, match="^" + re.escape(f"{lib}: {message}") + "$"):
        link_module("psx", [files.other, lib], tmp_path / "m.gvm")


def test_a_good_archive_of_the_objects_links(files, tmp_path):
    data, second = _archive(files, tmp_path)
    assert data[second:second + 4] == b"b.o/"
    members = elf32.read_archive(bytes(data), "lib.a")
    assert [m.name for m in members] == ["a.o", "b.o"]
    assert members[1].data == files.other.read_bytes()


@pytest.mark.parametrize("at,byte", [(58, b"'"), (59, b" ")])
def test_an_archive_member_header_without_its_end_mark_is_refused_at_its_offset(
        files, tmp_path, at, byte):
    """A member header ends in the two bytes "`\\n": either one changed is refused."""
    data, second = _archive(files, tmp_path)
    assert data[second + 58:second + 60] == b"`\n"
    data[second + at:second + at + 1] = byte
    _link_archive(files, tmp_path, data, f"corrupt archive member header at offset 0x{second:x}")


def test_an_archive_member_size_that_is_no_number_is_refused_at_its_offset(files, tmp_path):
    data, second = _archive(files, tmp_path)
    data[second + 48:second + 58] = b"12x4      "
    _link_archive(files, tmp_path, data, f"corrupt archive member size at offset 0x{second:x}")


def test_an_archive_missing_a_members_last_byte_is_refused_at_its_offset(files, tmp_path):
    data, second = _archive(files, tmp_path)
    end = second + 60 + int(data[second + 48:second + 58])
    assert len(data) - end in (0, 1)                          # then at most a pad byte
    _link_archive(files, tmp_path, data[:end - 1],
                  f"archive member at offset 0x{second:x} is truncated")


# --- what the package's other test files left (bench/coverage.py -p linker) -----------------

def test_a_module_path_that_does_not_exist_or_is_a_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="^" + re.escape(f"{tmp_path / 'gone.gvm'}: module file "
                                                         "not found") + "$"):
        read_module(tmp_path / "gone.gvm")
    with pytest.raises(InputError, match="^" + re.escape(f"{tmp_path}: module is a directory, not "
                                                         "a regular file; name the file itself")
                       + "$"):
        read_module(tmp_path)


def test_an_object_read_as_a_module_is_refused_saying_how_to_build_one(files):
    _refused(files.obj.read_bytes(), "a.o", "ELF type 1 (modules are ET_DYN; build it with "
                                            "'gamevm module')")


def test_a_segment_past_the_end_of_the_file_is_refused(files):
    data = files.module()
    phoff = struct.unpack_from("<I", data, 28)[0]
    seg = _elf(data).segments[1]
    struct.pack_into("<I", data, phoff + elf32.PHDR_SIZE + 4, len(data) - seg.filesz + 1)
    _refused(data, "past.gvm", f"program header [1] (PT_LOAD) p_offset "
                               f"0x{len(data) - seg.filesz + 1:x} + p_filesz 0x{seg.filesz:x} "
                               f"runs past the end of the file ({len(data)} bytes)")


def test_a_module_whose_header_flags_its_console_refuses_is_refused_naming_them(files):
    data = files.module()
    flags = struct.unpack_from("<I", data, 36)[0] | 0x2               # EF_MIPS_PIC
    struct.pack_into("<I", data, 36, flags)
    _refused(data, "pic.gvm", f"ELF header: compiled as position-independent/abicalls "
                              f"code (e_flags 0x{flags:08x}); modules need -mno-abicalls -fno-pic")


def test_a_relocation_outside_its_section_is_refused_naming_the_bounds(files):
    data = files.module()
    text = _section(data, ".text")
    struct.pack_into("<I", data, _rela(data, ".rela.text", 0), text.addr + text.size - 2)
    _refused(data, "off.gvm", f".rela.text[0]: offset 0x{text.addr + text.size - 2:x} is outside "
                              f"section .text [0x{text.addr:x}, 0x{text.addr + text.size:x})")


@pytest.mark.parametrize("field,value,what", [
    (32, 0x7FFFFF00, "section headers at 0x7fffff00 ({n} entries) run past the end of the "
                     "file ({size} bytes)"),
    (50, 0x7F, "e_shstrndx 127 >= e_shnum {n}"),
    (28, 0x7FFFFF00, "program headers at 0x7fffff00 (3 entries) are invalid")],
    ids=["e_shoff", "e_shstrndx", "e_phoff"])
def test_elf_headers_pointing_past_the_file_are_refused(files, field, value, what):
    data = files.module()
    n = struct.unpack_from("<H", data, 48)[0]
    assert struct.unpack_from("<H", data, 44)[0] == 3                 # e_phnum
    struct.pack_into("<I" if field != 50 else "<H", data, field, value)
    _not_elf(data, "hdr.gvm", what.format(n=n, size=len(data)))


def _not_elf(data, name: str, what: str) -> None:
    """The read of ``data`` is refused by the ELF reader with exactly ``what``."""
    with pytest.raises(ModuleFormatError, match="^" + re.escape(f"{name}: not a valid ELF file: "
                                                                f"{what}") + "$"):
        read_module(bytes(data), name=name)


def test_a_section_past_the_end_of_the_file_is_refused_naming_it(files):
    data = files.module()
    sec = _section(data, ".rodata")
    _set_section_field(data, ".rodata", SH_OFFSET, len(data) - sec.size + 1)
    _not_elf(data, "sec.gvm", f"section .rodata [{sec.index}] at "
                              f"0x{len(data) - sec.size + 1:x}+0x{sec.size:x} runs past the end "
                              f"of the file ({len(data)} bytes)")


def test_a_relocation_naming_a_symbol_past_the_table_is_refused(files):
    data = files.module()
    nsyms = len(_elf(data).symbols)
    _retarget(data, 0, nsyms)
    offset = struct.unpack_from("<I", data, _rela(data, ".rela.text", 0))[0]
    _not_elf(data, "sym.gvm", f".rela.text: relocation [0] at offset 0x{offset:x} names "
                              f"symbol index {nsyms} but the symbol table has {nsyms} entries")


@pytest.mark.parametrize("container", ['{"k":%s}', "[%s]", '{"k":[%s]}'])
def test_metadata_values_nested_past_32_deep_are_refused_objects_and_lists_alike(container):
    """An unknown metadata key may hold any JSON, nested at most 32 deep counting the note's
    own object (what the console-side runtime's parser keeps on its stack): 31 containers
    inside a key pass, 32 are refused, whether objects, lists or both.  Written for the
    survivor module.x__nested_ok__mutmut_8 (an object's members counted one level
    shallower, so objects of any depth passed)."""
    import json

    from gamevm_build.link import module as M

    def meta(depth: int):
        value = "0"
        for _ in range(depth):
            value = container % value
        text = '{"format":1,"target":"psx","name":"m","image_size":16,"x":%s}' % value
        return json.loads(text, object_pairs_hook=M._Pairs)

    shallow = 31 if container != '{"k":[%s]}' else 15        # two containers a step
    assert M.check_metadata(meta(shallow), "m.gvm")["name"] == "m"
    with pytest.raises(ModuleFormatError) as err:
        M.check_metadata(meta(shallow + 1), "m.gvm")
    assert str(err.value) == ("m.gvm: not a valid GameVM module: metadata key 'x' has an "
                              "invalid value")
