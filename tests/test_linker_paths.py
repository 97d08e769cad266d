"""The linker's paths no other test took, each checked as a user meets it (issue 20).

A line of ``gamevm_build/link/linker.py`` that no test executes survives every mutant
of it; each test here takes one such path on objects the real cross toolchains build
(the psx's, little-endian MIPS, unless a test needs another console), and checks what
a user would notice: for a refusal, the exception's type and its whole message -- the
file, symbol, section, offset and the fix -- so that a changed word or number fails;
for a link that goes through, the written module (its sections' bytes, symbols and
relocations) or the in-memory image, against GNU ld where it links the same input.

Objects are built by the toolchain, or taken one step further with the toolchain's own
tools (``ld -r``, ``objcopy``, ``ar``) to get what gcc writes only in larger programs
(a relocation against a local absolute symbol); only the malformed COMDAT group, which
no tool writes, is patched in Python.  Two objects several tests link are built once
(the ``shared`` fixture).  Five of these tests found bugs, fixed as GNU ld behaves: an
undefined hidden symbol imported, an archive member of the wrong byte order linked, a
text file in an archive failing the link, a relocation against symbol 0 refused, an
unreferenced global in a dropped section refused.
"""

from __future__ import annotations

import re
import struct
import subprocess
from types import SimpleNamespace

import pytest

from conftest import Builder
from gamevm_build.errors import ConfigError, InputError, LinkError, RelocationError
from gamevm_build.link import elf32
from gamevm_build.link.linker import link, link_module
from gamevm_build.link.modformat import serialize
from gamevm_build.link.module import read_module
from gamevm_build.link.toolchain import find_toolchain

#: a caller of ``helper``, and ``helper`` (``li $2, 5`` in its delay slot)
MAIN_S = ".set noreorder\n.text\n.globl use\nuse: jal helper\nnop\n"
HELPER_S = ".set noreorder\n.text\n.globl helper\nhelper: jr $ra\nli $2, 5\n"


@pytest.fixture
def psx(tmp_path) -> Builder:
    return Builder(tmp_path, find_toolchain("psx"))


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> SimpleNamespace:
    """``main.o`` (calls ``helper``) and ``helper.o``, built once for the file."""
    b = Builder(tmp_path_factory.mktemp("shared"), find_toolchain("psx"))
    return SimpleNamespace(main=b.obj("main.s", MAIN_S), helper=b.obj("helper.s", HELPER_S))


def _link(b: Builder, name: str, *objs, **kw):
    out = b.tmp / f"{name}.gvm"
    link_module("psx", list(objs), out, **kw)
    return read_module(out)


def _path(p) -> str:
    """A path as a message names it, as a regular expression."""
    return re.escape(str(p))


def _run(*args) -> None:
    subprocess.run(list(map(str, args)), check=True, capture_output=True)


# --- reading inputs -------------------------------------------------------------------------

def test_no_inputs_are_refused_saying_what_to_give(psx):
    with pytest.raises(InputError, match=r"^no input files: give at least one \.c/\.s/\.o/\.a "
                                         r"file$"):
        _link(psx, "m")
    assert not (psx.tmp / "m.gvm").exists()


def test_an_input_that_cannot_be_opened_is_refused_with_the_systems_reason(psx):
    missing = psx.tmp / "gone.o"
    with pytest.raises(InputError, match=rf"^{_path(missing)}: cannot read input: No such file "
                                         r"or directory$"):
        _link(psx, "m", missing)


def test_a_linked_executable_is_refused_as_not_relocatable(psx, shared):
    """An ``ld`` output (ELF type 2, EXEC) is no object: the message says which to pass."""
    exe = psx.tmp / "helper.elf"
    _run(psx.tc.ld, "-EL", "-e", "helper", "-o", exe, shared.helper)
    with pytest.raises(InputError, match=rf"^{_path(exe)}: is not a relocatable object \(ELF "
                                         r"type 2\); pass \.o files or \.a archives$"):
        _link(psx, "m", exe)


# --- thread-local data ----------------------------------------------------------------------

def test_a_thread_local_variable_is_refused_naming_its_symbol(psx):
    """``__thread int counter = 1;`` unused: no TLS relocation names it, its symbol does."""
    o = psx.obj("tls.c", "__thread int counter = 1;\n")
    with pytest.raises(LinkError, match=rf"^{_path(o)}: symbol 'counter' is thread-local; GameVM "
                                        r"consoles have no TLS: remove __thread/_Thread_local$"):
        _link(psx, "m", o)


def test_a_thread_local_section_without_symbols_is_refused_naming_the_section(psx):
    o = psx.obj("tdata.s", '.section .tdata,"awT",@progbits\n.align 2\n.word 7\n')
    with pytest.raises(LinkError, match=rf"^{_path(o)}: section \.tdata holds thread-local data; "
                                        r"GameVM consoles have no TLS: remove "
                                        r"__thread/_Thread_local$"):
        _link(psx, "m", o)


@pytest.mark.parametrize("target", ["gba", "3do"])
def test_an_indirect_function_is_refused_naming_its_symbol(target, tmp_path):
    """An ifunc's address is its resolver's result, which a dynamic linker computes at load
    time; no GameVM loader runs resolvers, so a caller would jump to the resolver itself.
    The linker refuses the symbol (it kept its type and wrote it as an export).  ARM's
    assembler makes such symbols (MIPS's and the 68000's refuse the type)."""
    b = Builder(tmp_path, find_toolchain(target))
    o = b.obj("ifunc.s", ".text\n.globl pick\n.type pick, %gnu_indirect_function\npick:\n"
                         ".word 0\n")
    with pytest.raises(LinkError, match=rf"^{_path(o)}: symbol 'pick' is an indirect function "
                                        r"\(gnu_indirect_function\); no GameVM loader runs its "
                                        r"resolver: make it a plain function and choose the "
                                        r"implementation at run time$"):
        link_module(target, [o], tmp_path / "m.gvm")
    assert not (tmp_path / "m.gvm").exists()


# --- symbol resolution and archives ---------------------------------------------------------

@pytest.mark.parametrize("first", ["globl", "weak"])
def test_a_weak_definition_after_another_definition_keeps_the_first(psx, first):
    """A weak definition never replaces an earlier one, strong or weak (as GNU ld): the
    export is the first object's ``val`` (``li $2, 1``), with its binding; the second
    copy is dead code in the module."""
    a = psx.obj("a.s", f".set noreorder\n.text\n.{first} val\nval: jr $ra\nli $2, 1\n")
    b = psx.obj("b.s", ".set noreorder\n.text\n.weak val\nval: jr $ra\nli $2, 2\n")
    mod = _link(psx, "m", a, b)
    val = mod.exports["val"]
    text = mod.sections[".text"][1]
    assert (val.value, val.bind) == (0, {"globl": "global", "weak": "weak"}[first])
    assert int.from_bytes(text[val.value + 4:val.value + 8], "little") == 0x24020001  # li $2, 1
    assert (0x24020002).to_bytes(4, "little") in text[val.value + 8:]                # b's copy


def test_archive_members_after_the_last_one_needed_are_never_read(psx, shared):
    """Once nothing is wanted, the members left are not even parsed: a text file after
    ``helper.o`` in the archive does not stop the link."""
    notes = psx.source("notes.txt", "not an object\n")
    lib = psx.archive("libh.a", [shared.helper, notes])
    assert [m.name for m in elf32.read_archive(lib.read_bytes(), str(lib))] == \
        ["helper.o", "notes.txt"]
    mod = _link(psx, "m", shared.main, lib)
    assert set(mod.exports) == {"use", "helper"} and not mod.imports
    helper = mod.exports["helper"].value
    assert int.from_bytes(mod.sections[".text"][1][helper + 4:helper + 8], "little") == \
        0x24020005                                                          # li $2, 5


def _arm_object(b: Builder):
    return Builder(b.tmp / "arm", find_toolchain("gba")).obj("helper.c",
                                                             "int helper(void){ return 5; }\n")


def _executable(b: Builder, helper):
    exe = b.tmp / "exe" / "helper.o"                    # an ld output, named as an object
    exe.parent.mkdir()
    _run(b.tc.ld, "-EL", "-e", "helper", "-o", exe, helper)
    return exe


def test_an_archive_member_for_another_cpu_is_refused_as_an_input_would_be(psx, shared):
    """A member pulled into the link is checked as an object given on the command line:
    the message names the member in its archive, the machine and the toolchain to use."""
    lib = psx.archive("libx.a", [_arm_object(psx)])
    with pytest.raises(InputError, match=rf"^{_path(lib)}\(helper\.o\): built for ELF machine "
                                         r"40, but target psx needs EM_MIPS; use the "
                                         r"mipsel-linux-gnu-gcc toolchain$"):
        _link(psx, "m", shared.main, lib)


def test_an_executable_in_an_archive_is_refused_as_not_relocatable(psx, shared):
    lib = psx.archive("libx.a", [_executable(psx, shared.helper)])
    with pytest.raises(InputError, match=rf"^{_path(lib)}\(helper\.o\): is not a relocatable "
                                         r"object \(ELF type 2\); pass \.o files or \.a "
                                         r"archives$"):
        _link(psx, "m", shared.main, lib)


def test_a_big_endian_archive_member_is_refused_for_a_little_endian_console(psx, shared):
    """GNU ld refuses it ("endianness incompatible"); linked, the module's code would be
    byte-swapped.  The member is checked as a direct input is."""
    lib = psx.archive("libbe.a", [psx.obj("helper_be.s", HELPER_S, "-EB")])
    with pytest.raises(InputError, match=rf"^{_path(lib)}\(helper_be\.o\): is big-endian but "
                                         r"target psx is little-endian; use the "
                                         r"mipsel-linux-gnu- toolchain$"):
        _link(psx, "m", shared.main, lib)
    assert not (psx.tmp / "m.gvm").exists()


def test_a_member_that_is_no_elf_file_before_the_one_needed_is_skipped(psx, shared):
    """As GNU ld, which finds members through the archive's symbol index: a text file
    in the archive defines nothing and is passed over, wherever it stands."""
    notes = psx.source("notes.txt", "not an object\n")
    lib = psx.archive("libh.a", [notes, shared.helper])
    mod = _link(psx, "m", shared.main, lib)
    assert set(mod.exports) == {"use", "helper"} and not mod.imports


def test_archives_alone_are_refused_as_pulling_nothing(psx, shared):
    lib = psx.archive("libh.a", [shared.helper])
    with pytest.raises(InputError, match=r"^no objects to link: the archives given define "
                                         r"nothing the module needs \(a module made only of "
                                         r"archives pulls no members\)$"):
        _link(psx, "m", lib)


def _tag(psx, section: str, flags: str):
    """An object defining the global ``tag`` in ``section`` (``flags``: its ``.section``
    flags)."""
    return psx.obj("tag.s", f'.section {section},"{flags}",@progbits\n.globl tag\ntag: .word 1\n')


def _ref(psx):
    """An object whose ``use`` takes ``tag``'s address (a %hi/%lo pair)."""
    return psx.obj("ref.s", ".text\n.globl use\nuse: lui $2, %hi(tag)\naddiu $2, $2, %lo(tag)\n")


@pytest.mark.parametrize("section,flags", [(".mynote", ""), (".note.tag", "a")],
                         ids=["not-allocated", "dropped-by-name"])
def test_a_symbol_defined_in_a_section_not_loaded_is_refused_when_referenced(psx, section,
                                                                              flags):
    """``tag`` lives in a section the module does not load (not allocated, or a note the
    linker drops): ``use`` takes its address, which the module cannot give."""
    tag = _tag(psx, section, flags)
    ref = _ref(psx)
    with pytest.raises(LinkError, match=rf"^{_path(tag)}: symbol 'tag' is defined in section "
                                        rf"{re.escape(section)}, which is not loaded "
                                        r"\(debug/discarded\); it cannot be referenced by a "
                                        r"module$"):
        _link(psx, "m", ref, tag)


@pytest.mark.parametrize("section,flags", [(".mynote", ""), (".note.tag", "a")],
                         ids=["not-allocated", "dropped-by-name"])
def test_a_symbol_in_a_section_not_loaded_that_nothing_refers_to_is_left_out(psx, shared,
                                                                              section, flags):
    """GNU ld links it; the module neither exports nor imports it."""
    tag = _tag(psx, section, flags)
    mod = _link(psx, "m", shared.main, shared.helper, tag)
    assert set(mod.exports) == {"use", "helper"} and not mod.imports


def test_an_undefined_hidden_symbol_is_refused_not_imported(psx):
    """``visibility("hidden")`` on a declaration promises the module defines it: GNU ld
    refuses the link ("hidden symbol isn't defined"); binding it to another module's
    symbol would break the promise."""
    o = psx.obj("use.c", 'extern int ext __attribute__((visibility("hidden")));\n'
                         "int use(void) { return ext; }\n")
    with pytest.raises(LinkError, match=rf"^{_path(o)}: symbol 'ext' has hidden visibility but "
                                        r"is not defined in this module; define it in one of "
                                        r"the module's objects, or declare it without "
                                        r'visibility\("hidden"\) to import it$'):
        _link(psx, "m", o)


# --- the in-memory link ---------------------------------------------------------------------

def test_link_returns_the_image_link_module_writes(psx, shared):
    """:func:`link` writes nothing and gives back the image (whose serialization is the
    plain module file, byte for byte), the section map and no warnings."""
    image, section_map, warnings = link("psx", [shared.main, shared.helper], name="m")
    assert list(psx.tmp.iterdir()) == []
    assert warnings == []
    assert (image.target, image.name) == ("psx", "m")
    assert {s.name: (s.value, s.section) for s in image.exports} == \
        {"use": (0, ".text"), "helper": (16, ".text")}
    assert [(e.obj, e.section, e.out_section, e.offset, e.size) for e in section_map
            if e.section == ".text"] == [(str(shared.main), ".text", ".text", 0, 16),
                                         (str(shared.helper), ".text", ".text", 16, 16)]
    written = psx.tmp / "m.gvm"
    link_module("psx", [shared.main, shared.helper], written)
    assert serialize(image) == written.read_bytes()


# --- relocations ----------------------------------------------------------------------------

def test_hint_relocations_leave_the_code_as_it_is_and_record_nothing(psx):
    """R_MIPS_NONE and R_MIPS_JALR carry no work: the site keeps its word and the module
    has no relocation for it."""
    o = psx.obj("hint.s", ".set noreorder\n.text\n.globl use\nuse: jr $ra\nnop\n"
                          ".reloc use, R_MIPS_NONE, use\n.reloc use+4, R_MIPS_JALR, use\n")
    elf = elf32.parse(o.read_bytes(), str(o))
    assert [(r.offset, r.type) for r in elf.relocations(elf.section_by_name(".rel.text"))] == \
        [(0, 0), (4, 37)]
    mod = _link(psx, "m", o)
    assert mod.sections[".text"] == (0, elf.section_by_name(".text").data)
    assert mod.relocations == []


def _localized(b: Builder, name: str, code: str):
    """An object whose relocations name GABS (0x1230), an absolute symbol local to it: the
    code and GABS's definition merged by ``ld -r`` (which keeps the relocation against the
    symbol), then GABS made local by ``objcopy``.  (gas resolves a reference to a local
    absolute symbol itself, or relocates against no symbol.)"""
    code_o = b.obj(f"{name}.s", code)
    abs_o = b.obj(f"{name}-abs.s", ".globl GABS\n.set GABS, 0x1230\n")
    merged, out = b.tmp / f"{name}-r.o", b.tmp / f"{name}-local.o"
    _run(b.tc.ld, "-EL", "-r", "-o", merged, code_o, abs_o)
    _run(b.tc.tool("objcopy"), "--localize-symbol=GABS", merged, out)
    elf = elf32.parse(out.read_bytes(), str(out))
    gabs = next(s for s in elf.symbols if s.name == "GABS")
    assert (gabs.bind, gabs.shndx, gabs.value) == (elf32.STB_LOCAL, elf32.SHN_ABS, 0x1230)
    return out, code_o, abs_o


def test_a_word_against_a_local_absolute_symbol_is_final_in_the_module(psx):
    """``.word GABS+4`` with GABS local and absolute: the linker writes 0x1234 and records
    no relocation (an absolute value does not move with the module); GNU ld writes the
    same word."""
    o, _, _ = _localized(psx, "w", ".data\n.align 2\n.word 0x10\n.word GABS+4\n"
                                   ".text\n.globl use\nuse: jr $ra\nnop\n")
    mod = _link(psx, "m", o)
    assert mod.sections[".data"][1][:8] == (0x10).to_bytes(4, "little") + \
        (0x1234).to_bytes(4, "little")
    assert mod.relocations == []
    elf = psx.tmp / "ld.elf"
    _run(psx.tc.ld, "-EL", "-e", "use", "-o", elf, o)
    data = elf32.parse(elf.read_bytes(), str(elf)).section_by_name(".data").data
    assert data[:8] == mod.sections[".data"][1][:8]


@pytest.mark.parametrize("scope", ["global", "local"])
def test_a_branch_to_an_absolute_symbol_is_refused_at_its_site(psx, scope):
    """``b GABS`` (R_MIPS_PC16) to an absolute address: the distance changes with the
    module's load address, so no branch can be written; the site is named.  GABS is
    global in another object, or local to the branch's object."""
    code = ".set noreorder\n.text\n.globl use\nuse: nop\nb GABS\nnop\n"
    local, code_o, abs_o = _localized(psx, "br", code)
    objs = [local] if scope == "local" else [code_o, abs_o]
    with pytest.raises(RelocationError, match=rf"^{_path(objs[0])}: section \.text offset 0x4: "
                                              r"R_MIPS_PC16 against an absolute symbol cannot "
                                              r"be relocated$") as err:
        _link(psx, "m", *objs)
    assert (err.value.obj, err.value.section, err.value.offset) == (str(objs[0]), ".text", 4)


@pytest.mark.parametrize("section", [".mynote", ".debug_x"])
def test_a_reference_to_a_section_not_loaded_is_refused_at_its_site(psx, section):
    """``.word L`` where L is in a section the module does not load: the relocation is
    against that section's symbol, and the message names the site and the section."""
    o = psx.obj("ref.s", f'.section {section},"",@progbits\n.word 0\nL: .word 1\n'
                         ".data\n.align 2\n.word 0\n.word L\n")
    with pytest.raises(RelocationError, match=rf"^{_path(o)}: section \.data offset 0x4: refers "
                                              rf"to section {re.escape(section)}, which is "
                                              r"discarded; only loadable sections can be "
                                              r"referenced$") as err:
        _link(psx, "m", o)
    assert (err.value.obj, err.value.section, err.value.offset) == (str(o), ".data", 4)


# --- sections -------------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["init_array", "fini_array"])
def test_a_section_typed_as_a_table_under_another_name_is_that_table(psx, table):
    """``.section .mine,"aw",@init_array``: GNU as types it INIT_ARRAY (FINI_ARRAY), and
    the linker places it in the module's table by its type -- not in .data, where its
    writable flag alone would put it; the metadata describes the table and the word is
    relocated to ``hook`` (after a pad function, so its offset is not 0)."""
    o = psx.obj("t.s", f'.section .mine,"aw",@{table}\n.align 2\n.word hook\n'
                       ".set noreorder\n.text\npad: jr $ra\nnop\n.globl hook\nhook: jr $ra\nnop\n")
    elf = elf32.parse(o.read_bytes(), str(o))
    assert elf.section_by_name(".mine").type == \
        {"init_array": elf32.SHT_INIT_ARRAY, "fini_array": elf32.SHT_FINI_ARRAY}[table]
    mod = _link(psx, "m", o)
    at = mod.sections[f".{table}"][0]
    assert mod.init == {table: [at, 1]}
    assert mod.section_size(".data") == 0 and mod.exports["hook"].value == 8
    (r,) = mod.relocations
    assert (r.offset, r.section, r.symbol, r.type_name, r.addend) == \
        (at, f".{table}", ".text", "R_MIPS_32", 8)


# --- the module's entry, needed modules, shipping form --------------------------------------

def test_an_entry_symbol_the_module_does_not_define_is_refused(psx, shared):
    with pytest.raises(LinkError, match=r"^entry symbol 'start' is not defined in the module$"):
        _link(psx, "m", shared.main, shared.helper, entry="start")
    assert not (psx.tmp / "m.gvm").exists()


@pytest.mark.parametrize("need", ["core.gvm", "libs/core"])
def test_a_needed_module_file_that_does_not_exist_is_refused(psx, shared, need):
    """A name with a suffix or a directory is a file to read, and must exist."""
    with pytest.raises(InputError, match=rf"^needed module '{re.escape(need)}' not found: give "
                                         r"a built module file or a plain module name$"):
        _link(psx, "m", shared.main, needs=[need])


def test_a_needed_module_built_for_another_console_is_refused_naming_both(psx):
    n64 = Builder(psx.tmp / "n64", find_toolchain("n64"))
    core = psx.tmp / "core.gvm"
    link_module("n64", [n64.obj("core.s", HELPER_S)], core)
    with pytest.raises(InputError, match=rf"^{_path(core)}: needed module is for target n64, "
                                         r"not psx$"):
        _link(psx, "m", psx.obj("main.s", MAIN_S), needs=[core])


def test_an_unknown_shipping_form_is_refused_listing_the_forms(psx, shared):
    with pytest.raises(ConfigError, match=r"^form 'gzip': one of plain, packed, lz4, zx0 or "
                                          r"auto$"):
        _link(psx, "m", shared.main, shared.helper, form="gzip")
    assert not (psx.tmp / "m.gvm").exists()


# --- relocations against symbol 0 and malformed groups --------------------------------------

def test_a_relocation_against_symbol_0_takes_the_value_0_as_gnu_ld_does(psx):
    """gas writes a ``.reloc`` against a local absolute symbol as one against symbol 0
    (STN_UNDEF), whose value the ELF spec makes 0: the word is its addend, 0x1230, final in
    the module (GNU ld writes the same)."""
    o = psx.obj("w.s", ".set L, 0x1230\n.data\n.globl w\nw: .word 0\n.reloc w, R_MIPS_32, L\n"
                       ".text\n.globl use\nuse: jr $ra\nnop\n")
    assert any(r[2] == 0 for sec in elf32.parse(o.read_bytes(), str(o)).sections
               if sec.type == elf32.SHT_REL
               for r in elf32.parse(o.read_bytes(), str(o)).reloc_rows(sec))
    mod = _link(psx, "m", o)
    assert mod.sections[".data"][1][:4] == (0x1230).to_bytes(4, "little")
    assert mod.relocations == []
    elf = psx.tmp / "ld.elf"
    _run(psx.tc.ld, "-EL", "-e", "use", "-o", elf, o)
    data = elf32.parse(elf.read_bytes(), str(elf)).section_by_name(".data").data
    assert data[:4] == mod.sections[".data"][1][:4]


def test_a_branch_against_symbol_0_is_refused_as_one_to_an_absolute_address(psx):
    o = psx.obj("b.s", ".set noreorder\n.globl LIMIT\n.set LIMIT, 0x100\n.text\n.globl use\n"
                       "use: b LIMIT\nnop\n")
    with pytest.raises(RelocationError, match=rf"^{_path(o)}: section \.text offset 0x0: "
                                              r"R_MIPS_PC16 against an absolute symbol cannot "
                                              r"be relocated$"):
        _link(psx, "m", o)


def test_a_comdat_group_holding_relocations_without_their_section_is_refused(psx):
    """GNU ld refuses such an object; dropping the group as a duplicate would drop the
    relocations of a section that stays.  The object is made by pointing the group's
    member that names ``.text.f`` at ``.rel.text.f`` too."""
    src = (".section .text.f,\"axG\",@progbits,f,comdat\n.globl f\nf: jal helper\nnop\n")
    o = psx.obj("g.s", src)
    data = bytearray(o.read_bytes())
    elf = elf32.parse(bytes(data), str(o))
    group = next(s for s in elf.sections if s.type == elf32.SHT_GROUP)
    rel = next(s for s in elf.sections if s.type == elf32.SHT_REL and
               elf.sections[s.info].name == ".text.f")
    words = [int.from_bytes(group.data[i:i + 4], "little") for i in range(0, group.size, 4)]
    assert words[1:] == [rel.info, rel.index]
    data[group.offset + 4:group.offset + 8] = rel.index.to_bytes(4, "little")
    o.write_bytes(bytes(data))
    with pytest.raises(InputError, match=rf"^{_path(o)}: COMDAT group 'f' holds relocation "
                                         r"section \.rel\.text\.f but not \.text\.f, the section it "
                                         r"relocates; the object is malformed: build it again$"):
        _link(psx, "m", o)


def test_a_local_symbol_in_a_section_not_loaded_is_refused_naming_it(psx):
    """``tag`` made local after it was referenced (``ld -r``, then ``objcopy
    --localize-symbol``): the relocation names it rather than its section, and the
    refusal names the site and the symbol."""
    tag, ref = _tag(psx, ".mynote", ""), _ref(psx)
    both = psx.tmp / "both.o"
    _run(psx.tc.ld, "-EL", "-r", "-o", both, ref, tag)
    _run(psx.tc.tool("objcopy"), "--localize-symbol=tag", both)
    with pytest.raises(RelocationError, match=rf"^{_path(both)}: section \.text offset 0x0 "
                                              r"\(symbol 'tag'\): refers to section \.mynote, "
                                              r"which is discarded; only loadable sections can "
                                              r"be referenced$"):
        _link(psx, "m", both)


def test_the_written_null_symbol_and_unloaded_sections_are_all_zero_where_elf_says(psx, shared):
    """The ELF spec's null symbol (index 0) is sixteen zero bytes, and a section that is
    not loaded (relocations, symbols, strings, the note) has address 0, as readelf and
    GNU ld write them."""
    from elftools.elf.elffile import ELFFile
    out = psx.tmp / "m.gvm"
    link_module("psx", [shared.main, shared.helper, psx.obj("d.c", "int d = 3;\n")], out)
    with open(out, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        assert symtab.data()[:16] == bytes(16)
        unloaded = [s for s in elf.iter_sections()
                    if s.name and not s["sh_flags"] & 2]                   # SHF_ALLOC
        assert {s.name for s in unloaded} >= {".rela.text", ".symtab", ".strtab", ".shstrtab"}
        assert {s.name: s["sh_addr"] for s in unloaded} == {s.name: 0 for s in unloaded}


# --- survivors of a mutation run (elf32 and the linker) -------------------------------------

def test_a_string_table_name_at_offset_0_after_a_leading_nul_is_the_empty_name(psx, shared):
    """Written for the survivor elf32.x__cstr__mutmut_8 (``if end < 0:`` made ``if end <=
    0:``): a name at offset 0 of a string table whose first byte is NUL is the empty name
    (the ELF spec's null symbol and null section are named so), not an unterminated one.
    ``parse`` finds such names by one split of the table (``_names_at``) and asks
    :func:`elf32._cstr` only for the others, so the empty name at 0 is checked here on
    ``_cstr`` itself, on the real object's own tables; the split agrees with it."""
    elf = elf32.parse(shared.helper.read_bytes(), str(shared.helper))
    shstrndx, = struct.unpack_from("<H", shared.helper.read_bytes(), 50)
    for index in (elf.sections[elf.symtab_index].link, shstrndx):
        table = elf.sections[index].data.decode("latin-1")
        assert table[0] == "\0"
        assert elf32._cstr(table, 0, str(shared.helper), "symbol [0]") == ""
        assert elf32._names_at(table)[0] == ""
    assert (elf.symbols[0].name, elf.sections[0].name) == ("", "")
    assert elf32._cstr("\0", 0, "x.o", "section [0]") == ""


def test_an_archive_member_whose_section_headers_run_past_its_end_is_refused(psx, shared):
    """Written for the survivor elf32.x_parse__mutmut_74 (``e_shoff + e_shnum * SHDR_SIZE >
    size`` made ``e_shoff - e_shnum * SHDR_SIZE > size``).  ``helper.o`` cut in the middle
    of its section header table, in an archive: a file given on the command line is
    refused by ``fileutil.read_input`` before the ELF reader sees it (so the tests that
    truncate one never reach this check), and the existing header tests move ``e_shoff``
    far past the file (still past it less the table); an archive member reaches the
    reader's own check, which names the member, the table and the member's size."""
    data = shared.helper.read_bytes()
    e_shoff, = struct.unpack_from("<I", data, 32)
    e_shnum, = struct.unpack_from("<H", data, 48)
    assert e_shnum > 2 and e_shoff + e_shnum * elf32.SHDR_SIZE == len(data)
    cut = e_shoff + elf32.SHDR_SIZE * (e_shnum // 2) + 4
    short = psx.tmp / "helper.o"
    short.write_bytes(data[:cut])
    lib = psx.tmp / "libcut.a"
    _run(psx.tc.ar, "rc", lib, short)
    with pytest.raises(InputError) as err:
        _link(psx, "m", shared.main, lib)
    assert str(err.value) == (f"{lib}(helper.o): not a valid ELF file: section headers at "
                              f"0x{e_shoff:x} ({e_shnum} entries) run past the end of the file "
                              f"({cut} bytes)")
    assert not (psx.tmp / "m.gvm").exists()


def test_archive_members_with_long_names_are_named_from_the_name_table(psx, shared):
    """Written for the survivor elf32.x_read_archive__mutmut_63 (``raw_name[1:].isdigit()``
    made ``raw_name[2:].isdigit()``).  GNU ar stores a member name longer than 15
    characters in the ``//`` table and the header says ``/<offset>``: the first such name
    is ``/0`` (one digit), the second here ``/27``.  Both come out as the file names, and
    the link map names the pulled member by its own name."""
    long_helper = psx.tmp / "helper_with_a_long_name.o"
    long_helper.write_bytes(shared.helper.read_bytes())
    other = psx.obj("another_long_member_name.s", ".text\n.globl other\nother: jr $ra\nnop\n")
    lib = psx.archive("liblong.a", [long_helper, other])
    raw, pos, headers = lib.read_bytes(), 8, []
    while pos < len(raw):                            # the members' name fields, as ar wrote
        headers.append(raw[pos:pos + 16].rstrip())
        size = int(raw[pos + 48:pos + 58])
        pos += 60 + size + (size & 1)
    assert headers == [b"/", b"//", b"/0", b"/27"]   # symbol index, name table, members
    assert [m.name for m in elf32.read_archive(raw, str(lib))] == \
        ["helper_with_a_long_name.o", "another_long_member_name.o"]
    _image, section_map, _warnings = link("psx", [shared.main, lib], name="m")
    assert [(e.obj, e.section, e.offset) for e in section_map if e.section == ".text"] == \
        [(str(shared.main), ".text", 0), (f"{lib}(helper_with_a_long_name.o)", ".text", 16)]


#: constructors and destructors with priorities 200 and none (a.c), 101 and none (b.c), and
#: two functions in sections named like priorities (.text.100 before .text.5)
_PRIORITY_A = ("int seen;\n"
               "__attribute__((constructor)) void boot_a(void) { seen = 1; }\n"
               "__attribute__((constructor(200))) void boot_200(void) { seen = 2; }\n"
               "__attribute__((destructor)) void bye_a(void) { seen = 3; }\n"
               "__attribute__((destructor(200))) void bye_200(void) { seen = 4; }\n"
               '__attribute__((section(".text.100"))) int f100(void) { return 100; }\n'
               '__attribute__((section(".text.5"))) int f5(void) { return 5; }\n')
_PRIORITY_B = ("extern int seen;\n"
               "__attribute__((constructor(101))) void boot_101(void) { seen = 5; }\n"
               "__attribute__((constructor)) void boot_b(void) { seen = 6; }\n"
               "__attribute__((destructor(101))) void bye_101(void) { seen = 7; }\n"
               "__attribute__((destructor)) void bye_b(void) { seen = 8; }\n")


def test_constructor_and_destructor_tables_are_in_priority_order_as_gnu_ld_lays_them(psx):
    """Written for the survivors linker.x__sort_key__mutmut_1 (``if out in (".init_array",
    ...)`` made ``not in``: the tables keep input order) and linker.x__sort_key__mutmut_4
    (".fini_array" made "XX.fini_arrayXX": the destructors keep input order).  gcc puts
    ``constructor(N)``/``destructor(N)`` in ``.init_array.000NN``/``.fini_array.000NN``;
    a.o holds the unnumbered table before the 200 one, b.o the 101 one before the
    unnumbered.  GNU ld (SORT_BY_INIT_PRIORITY) gives 101, 200, then the unnumbered ones in
    link order, in both tables; so does the module.  Code sections named like priorities
    (.text.100, .text.5) are not sorted by the number: f100 stays before f5 in both."""
    a, b = psx.obj("a.c", _PRIORITY_A), psx.obj("b.c", _PRIORITY_B)
    names = [elf32.parse(o.read_bytes(), str(o)).sections for o in (a, b)]
    assert [s.name for s in names[0] if "_array" in s.name and s.type != elf32.SHT_REL] == \
        [".init_array", ".init_array.00200", ".fini_array", ".fini_array.00200"]
    assert [s.name for s in names[1] if "_array" in s.name and s.type != elf32.SHT_REL] == \
        [".init_array.00101", ".init_array", ".fini_array.00101", ".fini_array"]

    def table(data: bytes, at) -> list[str]:
        words = [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]
        return [at[w] for w in words]

    exe = psx.tmp / "ld.elf"
    _run(psx.tc.ld, "-EL", "-e", "boot_a", "-o", exe, a, b)
    ld = elf32.parse(exe.read_bytes(), str(exe))
    ld_at = {s.value: s.name for s in ld.symbols if s.type == elf32.STT_FUNC}
    ld_addr = {name: value for value, name in ld_at.items()}
    mod = _link(psx, "m", a, b)
    mod_at = {s.value: name for name, s in mod.exports.items() if s.kind == "func"}
    assert mod.sections[".text"][0] == 0
    expected = {".init_array": ["boot_101", "boot_200", "boot_a", "boot_b"],
                ".fini_array": ["bye_101", "bye_200", "bye_a", "bye_b"]}
    for name, order in expected.items():
        assert table(ld.section_by_name(name).data, ld_at) == order
        assert table(mod.sections[name][1], mod_at) == order
    assert mod.init == {"init_array": [mod.sections[".init_array"][0], 4],
                        "fini_array": [mod.sections[".fini_array"][0], 4]}
    assert ld_addr["f100"] < ld_addr["f5"]
    assert mod.exports["f100"].value + 8 == mod.exports["f5"].value


def test_a_call_in_a_dtc_thread_is_refused_naming_its_relocation_type(psx):
    """Written for the survivor linker.x__link__mutmut_43 (``check_object(inp.elf,
    profile.arch, fmt, arch.type_name)`` given None for the relocation type namer): a
    ``jal`` in a DTC thread section is an R_MIPS_26 (a call), which a DTC thread may not
    carry; the refusal names the site, the symbol and the type by name."""
    o = psx.obj("t.s", '.section .gvm.thread,"a"\n.4byte gvm_p_add\njal gvm_p_sub\n')
    with pytest.raises(RelocationError) as err:
        _link(psx, "m", o, emission="dtc")
    assert str(err.value) == (f"{o}: section .gvm.thread offset 0x4 (symbol 'gvm_p_sub'): "
                              "R_MIPS_26 in a DTC module; DTC threads hold only word "
                              "relocations (code addresses in a list), not calls or "
                              "instruction fields")
    assert (err.value.obj, err.value.section, err.value.offset, err.value.symbol,
            err.value.rtype) == (str(o), ".gvm.thread", 4, "gvm_p_sub", "R_MIPS_26")
    assert not (psx.tmp / "m.gvm").exists()


def test_a_branch_to_an_imported_symbol_is_refused_at_its_site(psx):
    """Written for the survivor linker.x__link__mutmut_570 (``offset=roff`` dropped from
    the RelocationError of a PC-relative reference to an import): ``b far_away`` at offset
    4 of .text is an R_MIPS_PC16 to a symbol no object defines; the message and every
    field of the error name the site."""
    o = psx.obj("br.s", ".set noreorder\n.text\n.globl f\nf: nop\nb far_away\nnop\n")
    with pytest.raises(RelocationError) as err:
        _link(psx, "m", o)
    assert str(err.value) == (f"{o}: section .text offset 0x4 (symbol 'far_away'): R_MIPS_PC16 "
                              "to imported symbol 'far_away' cannot reach another module; call "
                              "it with jal (no b/bal to external symbols)")
    assert (err.value.obj, err.value.section, err.value.offset, err.value.symbol,
            err.value.rtype) == (str(o), ".text", 4, "far_away", "R_MIPS_PC16")
    assert not (psx.tmp / "m.gvm").exists()
