"""The module linker on real cross-compiled objects: resolution rules and rejections."""

from __future__ import annotations

import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from gamevm_build import elf32
from gamevm_build.errors import InputError, IsaError, LinkError, RelocationError
from gamevm_build.linker import link_module
from gamevm_build.module import read_module
from gamevm_build.prelink import prelink_module


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
    with pytest.raises(RelocationError, match=r"hi\.o: section \.text offset 0x0.*R_MIPS_HI16 has no matching R_MIPS_LO16"):
        link(build, "m", o)


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
    with pytest.raises(InputError, match=rf"fp\.o: uses .* float ABI but target {profile.name}.*{want}"):
        link(build, "m", o)


def test_other_target_object_rejected(build, target, tmp_path):
    from gamevm_build.toolchain import find_toolchain
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
