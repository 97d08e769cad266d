"""The module linker on real cross-compiled objects: resolution rules and rejections."""

from __future__ import annotations

import gc
import subprocess
import struct

import pytest
from elftools.elf.elffile import ELFFile

from gamevm_build.link import elf32
from gamevm_build.errors import InputError, IsaError, LinkError, RelocationError
from gamevm_build.link.linker import link_module
from gamevm_build.link.module import read_module
from gamevm_build.link.prelink import prelink_module


def link(build, name, *objs, **kw):
    out = build.tmp / f"{name}.elf"
    link_module(build.tc.profile.name, list(objs), out, **kw)
    return read_module(out)


# --- symbol resolution --------------------------------------------------------------------

def test_weak_definition_loses_to_strong(build):
    a = build.obj("a.c", "__attribute__((weak)) int level(void) { return 1; }\n"
                         "int use(void) { return level(); }\n")
    b = build.obj("b.c", "int level(void) { return 2; }\n")
    mod = link(build, "m", a, b)
    # b's strong level() is the export; a's weak copy is dead code
    assert mod.exports["level"].bind == "global"
    b_text_start = max(e.value for e in mod.exports.values() if e.name in ("use",))
    assert mod.exports["level"].value > b_text_start


def test_weak_undefined_import_is_weak(build):
    a = build.obj("a.c", "extern int hook(int) __attribute__((weak));\n"
                         "int call(int x) { return hook ? hook(x) : -1; }\n")
    mod = link(build, "m", a)
    assert mod.imports["hook"].weak
    # unresolved weak import binds to 0 and the module still places (the call is guarded)
    image = prelink_module(mod, 0x80100000, {})
    assert len(image) == mod.image_size


def test_multiple_strong_definitions_are_an_error(build):
    a = build.obj("a.c", "int score = 1;\n")
    b = build.obj("b.c", "int score = 2;\n")
    with pytest.raises(LinkError, match=r"multiple definition of 'score'.*a\.o.*\.data.*b\.o"):
        link(build, "m", a, b)


def test_common_symbols_merge_to_largest(build):
    a = build.obj("a.c", "int shared[4];\nint geta(void){ return shared[0]; }\n", "-fcommon")
    b = build.obj("b.c", "int shared[16];\nint getb(void){ return shared[15]; }\n", "-fcommon")
    mod = link(build, "m", a, b)
    e = mod.exports["shared"]
    assert (e.section, e.size, e.kind) == (".bss", 64, "object")


def test_common_symbols_keep_the_largest_size_and_alignment_in_any_order(build):
    # each of size and alignment wins whether its declaration comes first or last
    pad = build.obj("pad.s", ".comm pad,4,4\n")
    big = build.obj("big.s", ".comm shared,64,4\n")
    strict = build.obj("strict.s", ".comm shared,16,64\n")
    for order in ((pad, big, strict), (pad, strict, big)):
        mod = link(build, "m", *order)
        shared = mod.exports["shared"]
        assert (shared.section, shared.size, mod.exports["pad"].size) == (".bss", 64, 4)
        assert shared.value % 64 == 0 and shared.value > mod.exports["pad"].value
        assert mod.align >= 64


def test_input_sections_keep_their_alignment(build):
    a = build.obj("a.s", ".data\n.globl first\nfirst: .byte 1\n")
    b = build.obj("b.s", ".data\n.balign 32\n.globl second\nsecond: .word 5\n")
    mod = link(build, "m", a, b)
    assert mod.exports["second"].value % 32 == 0
    assert mod.exports["second"].value > mod.exports["first"].value


def _words(image, offset, count, endian):
    return [int.from_bytes(image[offset + 4 * i:offset + 4 * i + 4], endian)
            for i in range(count)]


def test_hi16_lo16_pairs_carry_and_sign_extend(build):
    # %hi/%lo of an import and of a module symbol, each with a negative addend, at
    # addresses whose low half is >= 0x8000: %hi must carry (+1) and %lo sign-extend
    o = build.obj("hilo.s", ".text\n.globl get_ext\nget_ext:\n"
                            " lui $2, %hi(ext_sym-8)\n addiu $2, $2, %lo(ext_sym-8)\n"
                            " lui $3, %hi(ext_sym-8)\n lw $3, %lo(ext_sym-8)($3)\n"
                            " lui $4, %hi(ext_sym+0x12344)\n addiu $4, $4, %lo(ext_sym+0x12344)\n"
                            " jr $ra\n nop\n"
                            ".globl get_own\nget_own:\n"
                            " lui $2, %hi(table-4)\n addiu $2, $2, %lo(table-4)\n"
                            " jr $ra\n nop\n"
                            ".data\n.globl table\ntable: .word 1, 2, 3, 4\n")
    mod = link(build, "m", o)
    base = 0x80108000
    ext = 0x80128010
    image = prelink_module(mod, base, {"ext_sym": ext})

    def hilo(hi_word, lo_word):
        hi, lo = hi_word & 0xFFFF, lo_word & 0xFFFF
        return ((hi << 16) + (lo - 0x10000 if lo & 0x8000 else lo)) & 0xFFFFFFFF

    w = _words(image, mod.exports["get_ext"].value, 4, mod.endian)
    want = ext - 8                                   # 0x80128008: low half 0x8008
    assert want & 0x8000
    assert [x & 0xFFFF for x in w] == [0x8013, 0x8008, 0x8013, 0x8008]
    assert hilo(w[0], w[1]) == want and hilo(w[2], w[3]) == want
    w = _words(image, mod.exports["get_ext"].value + 16, 2, mod.endian)
    assert hilo(w[0], w[1]) == ext + 0x12344 == 0x8013A354
    w = _words(image, mod.exports["get_own"].value, 2, mod.endian)
    own = base + mod.exports["table"].value - 4
    assert own & 0x8000
    assert w[0] & 0xFFFF == ((own + 0x8000) >> 16) & 0xFFFF and hilo(w[0], w[1]) == own
    # the module records each LO16 with the full addend of its pair, as the HI16
    pairs = {}
    for r in mod.relocations:
        pairs.setdefault((r.symbol, r.type_name), []).append(r.addend)
    assert pairs[("ext_sym", "R_MIPS_HI16")] == pairs[("ext_sym", "R_MIPS_LO16")] == \
        [-8, -8, 0x12344]
    own = [a for (s, n), a in sorted(pairs.items()) if s != "ext_sym"]
    assert len(own) == 2 and own[0] == own[1] and len(own[0]) == 1, pairs
    # the opcodes are untouched (lui, addiu, lui, lw)
    assert [x >> 26 for x in _words(image, mod.exports["get_ext"].value, 4, mod.endian)] == \
        [0x0F, 0x09, 0x0F, 0x23]


def test_static_functions_and_data_of_same_name_stay_separate(build):
    a = build.obj("a.c", "static int k = 3; static int f(void){ return k; }\n"
                         "int fa(void){ return f(); }\n", "-O0")
    b = build.obj("b.c", "static int k = 5; static int f(void){ return k * 2; }\n"
                         "int fb(void){ return f(); }\n", "-O0")
    mod = link(build, "m", a, b)
    assert {"fa", "fb"} <= set(mod.exports)
    assert "k" not in mod.exports and "f" not in mod.exports
    assert sum(1 for s in mod.locals if s.name == "k") == 2


def test_hidden_symbols_are_not_exported(build):
    a = build.obj("a.c", "__attribute__((visibility(\"hidden\"))) int internal(void){ return 7; }\n"
                         "int api(void){ return internal(); }\n")
    mod = link(build, "m", a)
    assert "internal" not in mod.exports and "api" in mod.exports
    assert any(s.name == "internal" for s in mod.locals)


def test_archive_pulls_only_needed_members(build):
    used = build.obj("used.c", "int helper_used(int x){ return x + 1; }\n")
    unused = build.obj("unused.c", "int helper_unused(int x){ return x - 1; }\n")
    chain = build.obj("chain.c", "int chained(int x){ return x * 5; }\n")
    used2 = build.obj("used2.c", "int chained(int); int helper2(int x){ return chained(x); }\n")
    lib = build.archive("libhelp.a", [used, unused, chain, used2])
    main = build.obj("main.c", "int helper_used(int); int helper2(int);\n"
                               "int go(int x){ return helper_used(x) + helper2(x); }\n")
    mod = link(build, "m", main, lib)
    assert {"go", "helper_used", "helper2", "chained"} <= set(mod.exports)
    assert "helper_unused" not in mod.exports
    assert not mod.imports


def test_constructor_tables_are_kept_and_described(build):
    c = build.obj("c.c", "int ready;\n__attribute__((constructor)) void boot(void){ ready = 1; }\n"
                         "__attribute__((destructor)) void bye(void){ ready = 0; }\n")
    legacy = build.obj("legacy.s", ".section .ctors,\"aw\"\n.align 2\n.word old_init\n"
                                   ".text\n.globl old_init\nold_init: jr $ra\nnop\n")
    mod = link(build, "m", c, legacy)
    assert mod.init["init_array"][1] == 1
    assert mod.init["fini_array"][1] == 1
    assert mod.init["ctors"][1] == 1
    # every table entry is relocated against .text
    table_relocs = [r for r in mod.relocations if r.section in (".init_array", ".fini_array", ".ctors")]
    assert len(table_relocs) == 3 and all(r.symbol == ".text" for r in table_relocs)


def test_output_is_deterministic(build, tmp_path):
    a = build.obj("a.c", "const char *names[] = {\"one\", \"two\"};\nint pick(int i){ return names[i][0]; }\n")
    b = build.obj("b.c", "int counter; int bump(void){ return ++counter; }\n", "-fcommon")
    out1, out2 = tmp_path / "x1.elf", tmp_path / "sub" / "x2.elf"
    link_module(build.tc.profile.name, [a, b], out1, name="x")
    link_module(build.tc.profile.name, [a, b], out2, name="x")
    assert out1.read_bytes() == out2.read_bytes()


@pytest.mark.parametrize("enabled", [True, False])
def test_link_leaves_the_garbage_collector_as_it_found_it(build, enabled):
    """The link pauses the cyclic collector (issue 16) and restores it, after a failure too."""
    a = build.obj("a.c", "int score = 1;\nint get(void){ return score; }\n")
    b = build.obj("b.c", "int score = 2;\n")
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        link(build, "ok", a)
        assert gc.isenabled() == enabled
        with pytest.raises(LinkError):
            link(build, "twice", a, b)
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_section_headers_point_at_the_loaded_bytes(build):
    """The metadata is laid out once and the image placed after it on the largest
    alignment: every section header's offset holds that section's bytes."""
    a = build.obj("a.c", "const char *names[] = {\"one\", \"two\"};\n"
                         "int (*hooks[2])(int);\nint counter = 3;\nint zero[8];\n"
                         "__attribute__((constructor)) void init(void){ counter++; }\n"
                         "int pick(int i){ return names[i][0] + counter + zero[i]; }\n")
    out = build.tmp / "layout.elf"
    link_module(build.tc.profile.name, [a], out)
    mod = read_module(out)
    with open(out, "rb") as f:
        elf = ELFFile(f)
        starts = []
        for name, (offset, body) in mod.sections.items():
            sec = elf.get_section_by_name(name)
            if name != ".bss":
                assert sec.data() == body, name
                starts.append(sec["sh_offset"] - offset)
        assert len(set(starts)) == 1 and starts[0] % mod.align == 0
        assert starts[0] >= elf["e_shoff"] + elf["e_shnum"] * elf["e_shentsize"]


def test_metadata_records_needs_and_hash(build):
    a = build.obj("a.c", "int f(void){ return 1; }\n")
    mod = link(build, "lvl", a, needs=["physics"], entry="f")
    assert mod.needs == ["physics"] and mod.entry == "f"
    assert mod.hash.startswith("sha256:") and len(mod.hash) == 71
    b = build.obj("b.c", "int f(void){ return 2; }\n")
    assert link(build, "lvl2", b, needs=["physics"], entry="f").hash != mod.hash


# --- rejections: each names object, section, offset, symbol and the fix ---------------

def test_gp_relative_rejected_with_fix(build):
    o = build.obj("gp.c", "int small_counter = 1;\nint get(void){ return small_counter; }\n", "-G8")
    with pytest.raises(RelocationError) as err:
        link(build, "m", o)
    msg = str(err.value)
    assert "gp.o" in msg and "section .text offset 0x" in msg and "'small_counter'" in msg
    assert "R_MIPS_GPREL16" in msg and "-G0" in msg
    assert err.value.rtype == "R_MIPS_GPREL16" and err.value.symbol == "small_counter"


def test_pic_got_rejected_with_fix(build):
    o = build.obj("pic.c", "extern int ext; int get(void){ return ext; }\n", "-mabicalls", "-fpic")
    with pytest.raises(RelocationError) as err:
        link(build, "m", o)
    msg = str(err.value)
    assert "pic.o" in msg and "section .text offset 0x" in msg
    assert "R_MIPS_GOT16" in msg or "R_MIPS_CALL16" in msg or "R_MIPS_HI16" not in msg
    assert "-mno-abicalls -fno-pic" in msg


def test_tls_rejected(build):
    o = build.obj("tls.c", "__thread int per_thread;\nint get(void){ return per_thread; }\n")
    with pytest.raises(RelocationError) as err:
        link(build, "m", o)
    msg = str(err.value)
    assert "tls.o" in msg and "'per_thread'" in msg and "R_MIPS_TLS" in msg and "__thread" in msg


def test_unknown_relocation_type_rejected(build):
    o = build.obj("rel32.s", ".data\n.globl t\nt: .reloc t, R_MIPS_REL32, target\n.word 0\n")
    with pytest.raises(RelocationError) as err:
        link(build, "m", o)
    msg = str(err.value)
    assert "rel32.o" in msg and "section .data offset 0x0" in msg and "'target'" in msg
    assert "R_MIPS_REL32" in msg and "R_MIPS_32" in msg  # says what is supported


def test_unpaired_hi16_rejected(build):
    o = build.obj("hi.s", ".text\n.globl f\nf: lui $2, %hi(data_sym)\njr $ra\nnop\n"
                          ".data\ndata_sym: .word 1\n")
    with pytest.raises(RelocationError, match=r"hi\.o: section \.text offset 0x0.*R_MIPS_HI16 has no matching R_MIPS_LO16") as err:
        link(build, "m", o)
    assert err.value.rtype == "R_MIPS_HI16"


def test_branch_to_import_rejected(build):
    o = build.obj("br.s", ".set noreorder\n.text\n.globl f\nf: b far_away\nnop\n")
    with pytest.raises(RelocationError, match=r"br\.o.*'far_away'.*R_MIPS_PC16.*jal"):
        link(build, "m", o)


def test_wrong_float_abi_rejected(build, profile):
    # built without the profile's flags: the profile's own float flag would win
    flags = ["-mhard-float", "-mfp32"] if profile.float_abi == "soft" else ["-msoft-float"]
    src = build.source("fp.c", "int f(int x){ return x; }\n")
    o = build.tmp / "fp.o"
    subprocess.run([build.tc.gcc, "-mabi=32", "-march=mips1" if profile.isa_max == 1 else "-march=vr4300",
                    "-G0", "-mno-abicalls", "-fno-pic", *flags, "-c", str(src), "-o", str(o)], check=True)
    want = "-msoft-float" if profile.float_abi == "soft" else "-mhard-float"
    used = "hard \\(double\\)" if profile.float_abi == "soft" else "soft"
    with pytest.raises(InputError, match=rf"fp\.o: uses {used} float ABI but target {profile.name} "
                                         rf"is {profile.float_abi}-float; compile with {want}$"):
        link(build, "m", o)


def test_other_target_object_rejected(build, target, tmp_path):
    from gamevm_build.link.toolchain import find_toolchain
    other = find_toolchain("n64" if target == "psx" else "psx")
    src = tmp_path / "other.c"
    src.write_text("int f(void){ return 1; }\n")
    obj = tmp_path / "other.o"
    other.compile(src, obj)
    with pytest.raises(InputError, match=r"other\.o: is (big|little)-endian but target"):
        link(build, "m", obj)


def test_host_object_rejected(build, tmp_path):
    src = tmp_path / "host.c"
    src.write_text("int f(void){ return 1; }\n")
    obj = tmp_path / "host.o"
    subprocess.run(["gcc", "-m32" if False else "-c", str(src), "-o", str(obj)], check=True)
    with pytest.raises(InputError, match=r"host\.o: "):
        link(build, "m", obj)


def test_isa_too_new_rejected(build, profile):
    o = build.obj("isa.c", "int f(int a, int b){ return a * b; }\n", "-march=mips32r2")
    # a build failure (exit status 1), like every refusal of code the CPU cannot run
    with pytest.raises(IsaError, match=r"isa\.o: built for mips32r2.*-march="):
        link(build, "m", o)


def test_abicalls_without_got_rejected_by_flags(build):
    o = build.obj("cpic.c", "int f(int a){ return a + 1; }\n", "-mabicalls", "-mno-shared")
    with pytest.raises((InputError, RelocationError), match=r"cpic\.o.*-mno-abicalls -fno-pic"):
        link(build, "m", o)


def test_truncated_object_is_input_error(build, tmp_path):
    o = build.obj("t.c", "int f(void){ return 1; }\n")
    bad = tmp_path / "trunc.o"
    bad.write_bytes(o.read_bytes()[:300])
    with pytest.raises(InputError, match=r"trunc\.o: not a valid ELF file"):
        link(build, "m", bad)


def with_reloc_past_end(obj, tmp_path, back: int, entry: int = 0):
    """A copy of ``obj`` whose .rel.text entry number ``entry`` points ``back`` bytes before
    the end of .text; returns it and that offset."""
    import io
    from elftools.elf.elffile import ELFFile

    data = bytearray(obj.read_bytes())
    elf = ELFFile(io.BytesIO(bytes(data)))
    rel = elf.get_section_by_name(".rel.text")
    offset = elf.get_section_by_name(".text")["sh_size"] - back
    order = "little" if elf.little_endian else "big"
    at = rel["sh_offset"] + 8 * (entry % rel.num_relocations())
    data[at:at + 4] = offset.to_bytes(4, order)
    out = tmp_path / f"past-{obj.name}"
    out.write_bytes(bytes(data))
    return out, offset


def test_relocation_site_past_the_section_end_rejected(build, tmp_path):
    o = build.obj("s.c", "extern int v;\nint f(void){ return v; }\n")     # HI16/LO16 pair
    bad, offset = with_reloc_past_end(o, tmp_path, 2)
    with pytest.raises(RelocationError, match=rf"/past-s\.o: section \.text offset 0x{offset:x}: "
                                              "relocation site runs past the end of the section$"):
        link(build, "m", bad)



# --- the module's metadata rules and symbolization ---------------------------------------

def _meta(**keys):
    import json
    from gamevm_build.link.module import _Pairs

    base = {"format": 1, "target": "psx", "name": "m", "image_size": 64}
    base.update(keys)
    return json.loads(json.dumps({k: v for k, v in base.items() if v is not None}),
                      object_pairs_hook=_Pairs)


@pytest.mark.parametrize("keys, error", [
    ({"image_size": -1}, "metadata key 'image_size' has an invalid value"),
    ({"image_size": 0x100000000}, "metadata key 'image_size' has an invalid value"),
    ({"image_size": 64.0}, "metadata key 'image_size' has an invalid value"),
    ({"align": True}, "metadata key 'align' has an invalid value"),
    ({"align": 0}, "metadata align 0 is not a power of two up to 65536"),
    ({"align": 12}, "metadata align 12 is not a power of two up to 65536"),
    ({"align": 0x20000}, "metadata align 131072 is not a power of two up to 65536"),
    ({"format": 3}, r"format version 3; this gamevm_build reads versions 1 \(plain\) and 2 \(packed\)"),
    ({"name": ""}, "metadata name is empty"),
    ({"name": None}, "metadata has no 'name'"),
    ({"target": 5}, "metadata key 'target' has an invalid value"),
    ({"needs": ["a"] * 17}, "metadata key 'needs' has an invalid value"),
    ({"init": {"init_array": [62, 0]}}, r"metadata init table init_array \[62, 0\] lies outside"),
    ({"init": {"init_array": [68, 0]}}, r"metadata init table init_array \[68, 0\] lies outside"),
    ({"init": {"fini_array": [56, 3]}}, r"metadata init table fini_array \[56, 3\] lies outside"),
    ({"init": {"ctors": [0, 0x40000000]}}, "metadata init table ctors"),
    ({"init": {"nope": [0, 1]}}, "metadata key 'init' has an invalid value"),
    ({"x": ["a\0b"]}, r"\.note\.gamevm metadata has a NUL character in a string"),
])
def test_metadata_rules(keys, error):
    from gamevm_build.errors import ModuleFormatError
    from gamevm_build.link.module import check_metadata

    with pytest.raises(ModuleFormatError, match=f"^m.elf: not a valid GameVM module: {error}"):
        check_metadata(_meta(**keys), "m.elf")


def test_metadata_limits_are_inclusive():
    from gamevm_build.link.module import META_MAX_NESTING, check_metadata

    deep = 0
    for _ in range(META_MAX_NESTING - 1):
        deep = [deep]
    meta = check_metadata(_meta(image_size=0xFFFFFFFF, align=0x10000, needs=["a"] * 16,
                                init={"init_array": [0xFFFFFFF0, 3], "dtors": [0xFFFFFFFC, 0]},
                                extra=deep), "m.elf")
    assert (meta["image_size"], meta["align"], len(meta["needs"])) == (0xFFFFFFFF, 0x10000, 16)
    assert meta["init"] == {"init_array": [0xFFFFFFF0, 3], "dtors": [0xFFFFFFFC, 0]}
    assert check_metadata(_meta(image_size=0, align=1), "m.elf")["image_size"] == 0
    from gamevm_build.errors import ModuleFormatError
    with pytest.raises(ModuleFormatError, match="metadata key 'extra' has an invalid value"):
        check_metadata(_meta(extra=[deep]), "m.elf")


def test_symbolize_prefers_the_innermost_symbol(build):
    from dataclasses import replace

    from gamevm_build.link.module import Export

    mod = link(build, "m", build.obj("a.c", "int f(void){ return 1; }\n"))
    syms = [Export("f", 0x11, 8, "func", "global", ".text"),          # a Thumb function
            Export("big", 0x40, 0x10, "object", "global", ".data"),
            Export("small", 0x44, 4, "object", "global", ".data"),
            Export("label", 0x60, 0, "notype", "global", ".data"),
            Export("one", 0x80, 1, "object", "global", ".data"),
            Export("absolute", 0, 4, "object", "global", None)]
    mod = replace(mod, exports={s.name: s for s in syms[:3]}, locals=syms[3:])
    assert [mod.symbolize(o) for o in (0x0, 0x10, 0x14, 0x46, 0x4C, 0x64, 0x80, 0x81)] == \
        [None, "f", "f+0x4", "small+0x2", "big+0xc", "label+0x4", "one", "label+0x21"]


def test_map_file_lists_every_input_section(build, tmp_path):
    a = build.obj("a.c", "int x = 1;\nint f(void){ return x; }\n")
    b = build.obj("b.c", "const char s[] = \"hi\";\nint g(void){ return s[0]; }\n")
    link_module(build.tc.profile.name, [a, b], tmp_path / "m.elf", map_file=tmp_path / "m.map")
    lines = (tmp_path / "m.map").read_text().splitlines()
    mod = read_module(tmp_path / "m.elf")
    rows = [line.split() for line in lines]
    assert {(r[0], r[3].rsplit("/", 1)[-1]) for r in rows} >= {
        (".text", "a.o(.text)"), (".text", "b.o(.text)"), (".data", "a.o(.data)"),
        (".rodata", "b.o(.rodata)")}
    assert all(len(r) == 4 and r[1].startswith("0x") and len(r[1]) == 10 for r in rows)
    g = int(next(r[1] for r in rows if r[3].endswith("b.o(.text)")), 16)
    assert g == mod.exports["g"].value
    assert (tmp_path / "m.map").read_text().endswith(")\n")


# --- the fast reader agrees with pyelftools ----------------------------------------------

def test_elf32_reader_matches_pyelftools(build):
    o = build.obj("r.c", "static int t[3000] = {1}; const char *s = \"x\";\n"
                         "int g(int i){ switch(i){case 0: return 3; case 1: return 4; case 2: return 8;"
                         " case 3: return 9; case 4: return 1; default: return t[i];} }\n")
    data = o.read_bytes()
    ours = elf32.parse(data, str(o))
    with open(o, "rb") as f:
        ref = ELFFile(f)
        assert [s.name for s in ours.sections] == [s.name for s in ref.iter_sections()]
        refsyms = list(ref.get_section_by_name(".symtab").iter_symbols())
        assert [(s.name, s.value, s.size) for s in ours.symbols] == \
               [(s.name, s["st_value"], s["st_size"]) for s in refsyms]
        for sec in ours.sections:
            if sec.type == elf32.SHT_REL:
                mine = [(r.offset, r.type, r.sym) for r in ours.relocations(sec)]
                theirs = [(r["r_offset"], r["r_info_type"], r["r_info_sym"])
                          for r in ref.get_section(sec.index).iter_relocations()]
                assert mine == theirs


# Mutation survivors (issue 20): rare input errors name the file and what is wrong.

def _note_section(desc: bytes) -> elf32.Section:
    from gamevm_build.link.modformat import NOTE_NAME, NT_GAMEVM_MODULE
    import struct
    desc += b"\0" * ((-len(desc)) % 4)
    data = (struct.pack("<III", len(NOTE_NAME), len(desc), NT_GAMEVM_MODULE) + NOTE_NAME
            + b"\0" * ((-len(NOTE_NAME)) % 4) + desc)
    return elf32.Section(1, ".note.gamevm", 7, 0, 0, 0, len(data), 0, 0, 4, 0, data)


@pytest.mark.parametrize("desc, why", [(b'{"image_size": NaN}', "NaN is not JSON"),
                                       (b'{"image_size": Infinity}', "Infinity is not JSON"),
                                       (b"{not json", "Expecting property name")])
def test_module_note_that_is_not_strict_json_is_refused_naming_the_file(desc, why):
    from gamevm_build.link.module import parse_note
    with pytest.raises(InputError) as exc:
        parse_note(_note_section(desc), "little", "mods/bad.gvm")
    assert str(exc.value).startswith("mods/bad.gvm")
    assert "metadata is not JSON" in str(exc.value) and why in str(exc.value)


def test_elf_with_unknown_data_encoding_is_refused_saying_so():
    data = bytearray(b"\x7fELF" + bytes(48))
    data[4], data[5], data[6] = 1, 3, 1
    with pytest.raises(InputError, match=r"bad\.o.*unknown data encoding 3"):
        elf32.parse(bytes(data), "bad.o")


@pytest.mark.parametrize("version", [0, 2])
def test_elf_of_another_elf_version_is_refused_saying_so(version):
    """Only EV_CURRENT (1) exists; BFD refuses any other EI_VERSION ("file format not
    recognized"), and so do the linker, gamevm inspect and both loaders."""
    data = bytearray(b"\x7fELF" + bytes(48))
    data[4], data[5], data[6] = 1, 1, version
    with pytest.raises(InputError, match=rf"bad\.o.*ELF version {version} in "
                                         r"e_ident\[EI_VERSION\] \(the only one is 1"):
        elf32.parse(bytes(data), "bad.o")


@pytest.mark.parametrize("value", [b"1.0", b"true", b'"1"', b"-1"])
def test_a_format_that_is_not_a_whole_number_is_refused_as_such(value):
    """``format`` is an unsigned integer like ``image_size`` and ``align``: 1.0 and true
    compare equal to 1 in Python but are not the version number a console's parser reads."""
    from gamevm_build.link.module import parse_note
    desc = b'{"format": ' + value + b', "target": "psx", "name": "m", "image_size": 4}'
    with pytest.raises(InputError) as exc:
        parse_note(_note_section(desc), "little", "mods/m.gvm")
    assert str(exc.value) == ("mods/m.gvm: not a valid GameVM module: metadata key 'format' "
                              "has an invalid value")


def test_section_name_table_index_past_the_headers_is_refused():
    """e_shstrndx must name one of the e_shnum headers: equal to e_shnum is one past them."""
    data = bytearray(52 + 40)
    data[:7] = b"\x7fELF\x01\x01\x01"
    struct.pack_into("<HHIIIIIHHHHHH", data, 16, 1, 8, 1, 0, 0, 52, 0, 52, 0, 0, 40, 1, 1)
    with pytest.raises(InputError, match=r"^bad\.o: .*e_shstrndx 1 >= e_shnum 1$"):
        elf32.parse(bytes(data), "bad.o")


def test_metadata_limits_hold_for_objects_and_the_largest_table():
    """Objects nest as deep as lists; a table of 0x3FFFFFFF words fits a 4 GiB image."""
    from gamevm_build.link.module import META_MAX_NESTING, check_metadata

    deep = 0
    for _ in range(META_MAX_NESTING - 1):
        deep = {"k": deep}
    meta = check_metadata(_meta(image_size=0xFFFFFFFF, init={"ctors": [0, 0x3FFFFFFF]},
                                extra=deep), "m.elf")
    assert meta["init"] == {"ctors": [0, 0x3FFFFFFF]}


@pytest.mark.parametrize("table, offset, error", [
    ("", 1, "name offset 0x1 is outside the string table"),
    ("a\0", 5, "name offset 0x5 is outside the string table"),
    ("\0ab", 1, "name at 0x1 is not NUL-terminated"),
])
def test_string_table_names_past_the_end_are_told_from_unterminated_ones(table, offset, error):
    with pytest.raises(InputError, match=f"^x.o: .*symbol {error}"):
        elf32._cstr(table, offset, "x.o", "symbol")
