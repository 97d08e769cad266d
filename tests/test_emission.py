"""The emission formats STC, DTC, ITC and TTC (issue 18, docs/formats.md).

The example's physics step (examples/emission/step.gvm) is written once in the thread
source form, built in all four formats with the real cross toolchains, loaded by the
host's reference loader on each emulated console (``gamevm call``) and must give the
results of the same logic in C (step_c.c).  The linker refuses, naming the site, a
relocation a declared format does not allow; the format is recorded in the metadata
(stc: no key, so native modules keep their bytes) and shown by ``gamevm inspect``.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from conftest import ALL_TARGETS, REPO, module_base, run_gamevm
from example_game import scons

sys.path.insert(0, str(REPO / "bench"))
import bench_emission  # noqa: E402
from bench_emission import build_example  # noqa: E402
from gamevm_build.link import emission
from gamevm_build.link.emission import EmissionError
from gamevm_build.link.linker import link_module
from gamevm_build.link.module import read_module
from gamevm_build.link.threadc import ThreadSourceError, compile_source, parse
from gamevm_build.link.toolchain import find_toolchain
from gamevm_build.project.profile import load_profile

EXAMPLE = REPO / "examples" / "emission"
INTERPRETER = REPO / "gamevm_build" / "runtime" / "gvm_thread.c"
FORMATS = ("stc", "dtc", "itc", "ttc")
#: (bodies, steps) given to simulate: one body, a few bounces, all eight bodies
RUNS = [(1, 1), (3, 40), (8, 50), (8, 200)]


# --------------------------------------------------------------------------- helpers

def asm_object(tmp: Path, target: str, text: str, name: str = "t.s") -> Path:
    src = tmp / name
    src.write_text(text)
    return find_toolchain(target).compile(src, src.with_suffix(".o"))


# --------------------------------------------------------------------------- the formats

def test_one_definition_of_the_formats():
    assert emission.NAMES == FORMATS and emission.DEFAULT == "stc"
    stc, dtc, itc, ttc = (emission.FORMATS[f] for f in FORMATS)
    assert stc.native_thread and stc.thread_relocs is None
    assert dtc.thread_relocs == itc.thread_relocs == {"word"} and not dtc.native_thread
    assert ttc.thread_relocs == frozenset() and ttc.table and ttc.token_bytes == 1
    assert ttc.token_widths == (1, 2)
    assert emission.section_kind(".gvm.thread") == ("thread", None)
    assert emission.section_kind(".gvm.thread.dtc") == ("thread", "dtc")
    assert emission.section_kind(".gvm.ttc_table") == ("table", None)
    assert emission.section_kind(".gvm.threads") is None
    assert emission.section_kind(".text.gvm.thread") is None
    assert emission.reloc_classes("mips", 2) == {"word"}
    assert emission.reloc_classes("mips", 4) == {"call"}
    assert emission.reloc_classes("mips", 5) == {"other"}
    assert emission.reloc_classes("m68k", 1) == {"word", "call"}    # jsr abs.l and .long
    assert emission.reloc_classes("arm", 28) == {"call"}


# --------------------------------------------------------------------------- thread source

def test_thread_source_compiles_to_portable_lists():
    src = (EXAMPLE / "step.gvm").read_text()
    for fmt in ("dtc", "itc", "ttc"):       # the same text for every CPU family
        texts = {compile_source(src, fmt, fam) for fam in ("mips", "m68k", "arm")}
        assert len(texts) == 1, fmt
    ttc = compile_source(src, "ttc", "mips")
    thread = ttc.split(".section .gvm.ttc_table")[0].split(".section .gvm.thread.ttc")[1]
    assert not re.search(r"\.4byte|gvm_p_|bodies|bounce", thread)   # tokens only
    assert "jal gvm_p_add" in compile_source(src, "stc", "mips")
    assert "jsr gvm_p_add" in compile_source(src, "stc", "m68k")
    assert "bl gvm_p_add" in compile_source(src, "stc", "arm")


def test_thread_source_comments_and_control_flow_parse():
    prog = parse(": f ( a \\ b ) 1 if 2 else 3 then \\ end ( here\n"
                 "  begin dup while 1 - repeat ;\nexport f 1\n", "t.gvm")
    assert prog.exports == {"f": 1}
    kinds = [op[0] for op in prog.words["f"].ops]
    assert kinds == ["lit", "zbranch", "lit", "branch", "label", "lit", "label",
                     "label", "prim", "zbranch", "lit", "prim", "branch", "label"]


@pytest.mark.parametrize("text, message", [
    (": f 1 frob ;\nexport f 0", r"t\.gvm:1: unknown word 'frob'"),
    (": f 1 if 2 ;\nexport f 0", r"t\.gvm:1: 'if' in word 'f' is not closed"),
    (": f then ;\nexport f 0", r"t\.gvm:1: 'then' without a matching 'if'"),
    (": f 1\n", r"t\.gvm:1: expected ';' ending word 'f'"),
    (": f 1 ;\nexport g 0", r"t\.gvm:2: export of 'g', which no ':' defines"),
    (": f 1 ;\n", r"t\.gvm: exports nothing"),
    ("extern c 4\n", r"t\.gvm:1: an extern's arity must be a number from 0 to 3"),
    (": f 1 ;\n: f 2 ;\nexport f 0", r"t\.gvm:2: 'f' is defined twice"),
    ("1 2 +", r"t\.gvm:1: '1' outside a definition"),
    (": f 99999999999 ;\nexport f 0", r"literal 99999999999 does not fit 32 bits"),
])
def test_thread_source_errors_name_the_line(text, message):
    with pytest.raises(ThreadSourceError, match=message):
        parse(text, "t.gvm")


def test_thread_source_limits_are_errors():
    long_branch = ": f 1 if " + "1 + " * 7000 + "then ;\nexport f 0\n"
    with pytest.raises(ThreadSourceError, match=r"big\.gvm:1: word 'f': a branch spans 42002 "
                                                r"bytes, more than a TTC offset's 16 bits"):
        compile_source(long_branch, "ttc", "mips", "big.gvm")
    compile_source(long_branch, "dtc", "mips", "big.gvm")          # cells: 32-bit offsets
    many = (": f " + " ".join(f"w{i}" for i in range(300)) + " ;\n"
            + "".join(f"extern w{i} 0\n" for i in range(300)) + "export f 0\n")
    with pytest.raises(ThreadSourceError, match="302 table entries; a 1-byte token names at "
                                                "most 256: use --token-width 2"):
        compile_source(many, "ttc", "mips", "many.gvm", token_width=1)
    # without a width asked, such a program gets 2-byte tokens (tests/test_emission_tokens.py)
    assert "2-byte tokens" in compile_source(many, "ttc", "mips", "many.gvm")


def test_thread_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.gvm"
    bad.write_text(": f 1 frob ;\nexport f 0\n")
    proc = run_gamevm("thread", "-t", "psx", "--format", "dtc", bad, "-o", tmp_path / "b.o")
    assert proc.returncode == 1 and "bad.gvm:1: unknown word 'frob'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "b.o").exists()
    proc = run_gamevm("thread", "-t", "psx", "--format", "xtc", EXAMPLE / "step.gvm",
                      "-o", tmp_path / "x.o")
    assert proc.returncode == 2 and "invalid choice: 'xtc'" in proc.stderr
    proc = run_gamevm("thread", "-t", "psx", EXAMPLE / "step.gvm")
    assert proc.returncode == 2 and "needs --format, -o/--output" in proc.stderr
    proc = run_gamevm("thread", "-t", "psx", "--format", "dtc", tmp_path / "none.gvm",
                      "-o", tmp_path / "n.o")
    assert proc.returncode == 2 and "cannot read the thread source" in proc.stderr
    proc = run_gamevm("thread", "--interpreter")
    assert proc.returncode == 0 and Path(proc.stdout.strip()) == INTERPRETER
    proc = run_gamevm("thread", "-t", "gba", "--format", "ttc", EXAMPLE / "step.gvm",
                      "-o", tmp_path / "s.o")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "s.o").read_bytes()[:4] == b"\x7fELF"


@pytest.mark.parametrize("kind", ["fifo", "device", "latin1", "output_dir"])
def test_thread_cli_refuses_what_is_not_a_source_file(tmp_path, kind):
    """A FIFO or a device as the source is refused, not read (a FIFO would hang the read,
    /dev/zero never end it); a source that is not UTF-8 names the byte; an output naming a
    directory is refused before anything is compiled.  Nothing is written."""
    import os
    out = tmp_path / "t.o"
    source = tmp_path / "src.gvm"
    if kind == "fifo":
        os.mkfifo(source)
    elif kind == "device":
        source = Path("/dev/zero")
    elif kind == "latin1":
        source.write_bytes(b": f 1 ;\n\\ caf\xe9\nexport f 0\n")
    else:
        source.write_text(": f 1 ;\nexport f 0\n")
        out = tmp_path / "outdir"
        out.mkdir()
    proc = run_gamevm("thread", "-t", "psx", "--format", "dtc", source, "-o", out)
    assert "Traceback" not in proc.stderr, proc.stderr
    expected = {"fifo": (2, "thread source is a FIFO (named pipe), not a regular file"),
                "device": (2, "thread source is a device, not a regular file"),
                "latin1": (2, "the thread source is not UTF-8 text (byte 13: 0xe9)"),
                "output_dir": (2, "--output names a directory")}[kind]
    assert (proc.returncode, expected[1] in proc.stderr) == (expected[0], True), proc.stderr
    assert kind == "output_dir" or not out.exists()


# --------------------------------------------------------------------------- linker refusals

REFUSALS = [
    # (format, assembly, section, symbol, type, words of the message)
    ("ttc", '.section .gvm.thread,"a"\nt: .4byte 1\n.4byte gvm_p_add\n',
     ".gvm.thread", "gvm_p_add", "R_MIPS_32", "TTC threads have no relocations"),
    ("dtc", '.section .gvm.thread,"a"\n.4byte gvm_p_add\njal gvm_p_sub\n',
     ".gvm.thread", "gvm_p_sub", "R_MIPS_26", "DTC threads hold only word relocations"),
    ("itc", '.section .gvm.thread.itc,"a"\n.4byte 0\nlui $2, %hi(gvm_cf_add)\n',
     ".gvm.thread.itc", "gvm_cf_add", "R_MIPS_HI16", "ITC threads hold only word"),
    ("ttc", '.section .gvm.ttc_table,"a"\n.4byte gvm_p_add\njal gvm_p_sub\n',
     ".gvm.ttc_table", "gvm_p_sub", "R_MIPS_26", "a TTC token table holds only word"),
]


@pytest.mark.parametrize("fmt, asm, section, symbol, rtype, why", REFUSALS,
                         ids=[r[0] + "-" + r[4] for r in REFUSALS])
def test_linker_refuses_a_relocation_the_format_does_not_allow(tmp_path, fmt, asm, section,
                                                               symbol, rtype, why):
    obj = asm_object(tmp_path, "psx", asm)
    with pytest.raises(EmissionError) as info:
        link_module("psx", [obj], tmp_path / "m.elf", emission=fmt)
    exc = info.value
    assert (exc.section, exc.symbol, exc.rtype, exc.offset) == (section, symbol, rtype, 4)
    assert str(exc).startswith(f"{obj}: section {section} offset 0x4 (symbol '{symbol}'): "
                               f"{rtype} in a {fmt.upper()} module; ")
    assert why in str(exc)
    assert not (tmp_path / "m.elf").exists()


@pytest.mark.parametrize("target, asm, rtype", [
    ("gba", '.section .gvm.thread.dtc,"a"\n.4byte gvm_p_add\nbl gvm_p_sub\n', "R_ARM_CALL"),
    ("segacd", '.section .gvm.thread.dtc,"a"\n.4byte gvm_p_add\nbsr.w gvm_p_sub\n',
     "R_68K_PC16"),
])
def test_other_families_calls_in_a_dtc_thread_are_refused(tmp_path, target, asm, rtype):
    obj = asm_object(tmp_path, target, asm)
    with pytest.raises(EmissionError) as info:
        link_module(target, [obj], tmp_path / "m.elf", emission="dtc")
    assert (info.value.rtype, info.value.symbol) == (rtype, "gvm_p_sub")
    assert info.value.offset in (4, 6)       # the 68000's bsr.w field follows its opcode
    assert "in a DTC module; DTC threads hold only word relocations" in str(info.value)


def test_primitive_code_keeps_its_native_relocations(tmp_path):
    """Outside thread sections a DTC/ITC/TTC module is native: calls and %hi/%lo link."""
    obj = asm_object(tmp_path, "psx", '.text\n.globl prim\nprim: jal gvm_p_add\n'
                     'lui $2, %hi(data)\naddiu $2, $2, %lo(data)\njr $31\n'
                     '.data\ndata: .4byte prim\n'
                     '.section .gvm.thread,"a"\n.4byte prim\n')
    for fmt in ("dtc", "itc"):
        assert link_module("psx", [obj], tmp_path / f"{fmt}.elf", emission=fmt).output


@pytest.mark.parametrize("fmt, asm, words", [
    ("itc", '.section .gvm.thread.dtc,"a"\n.4byte 0\n',
     "a DTC thread section in a module declared ITC; link it with --emission dtc"),
    ("dtc", '.section .gvm.ttc_table,"a"\n.4byte 0\n',
     "a TTC token table in a module declared DTC"),
    ("stc", '.section .gvm.thread,"a"\n.4byte 0\n',
     "STC threads are native code (an executable section"),
    ("dtc", '.section .gvm.thread,"ax"\nnop\n',
     "DTC threads are data (a non-executable section"),
])
def test_linker_refuses_a_thread_section_of_another_format(tmp_path, fmt, asm, words):
    obj = asm_object(tmp_path, "psx", asm)
    with pytest.raises(EmissionError, match=re.escape(words)) as info:
        link_module("psx", [obj], tmp_path / "m.elf", emission=fmt)
    assert str(info.value).startswith(f"{obj}: section .gvm.")


def test_module_cli_refusal_and_usage_exit_codes(tmp_path):
    src = tmp_path / "t.s"
    src.write_text('.section .gvm.thread,"a"\n.4byte 7\n.4byte gvm_p_add\n')
    proc = run_gamevm("module", "-t", "psx", "--emission", "ttc", "-o", tmp_path / "m.elf", src)
    assert proc.returncode == 1, proc.stderr
    assert re.search(r"gamevm: error: .*section \.gvm\.thread offset 0x4 \(symbol "
                     r"'gvm_p_add'\): R_MIPS_32 in a TTC module", proc.stderr)
    assert "Traceback" not in proc.stderr
    proc = run_gamevm("module", "-t", "psx", "--emission", "xtc", "-o", tmp_path / "m.elf", src)
    assert proc.returncode == 2 and "invalid choice: 'xtc'" in proc.stderr


# --------------------------------------------------------------------------- metadata

def test_stc_modules_keep_their_bytes_and_formats_round_trip(tmp_path):
    obj = find_toolchain("psx").compile(EXAMPLE / "step_c.c", tmp_path / "c.o")
    before = link_module("psx", [obj], tmp_path / "a.elf", name="m")   # no emission given
    stc = link_module("psx", [obj], tmp_path / "b.elf", name="m", emission="stc")
    assert before.output.read_bytes() == stc.output.read_bytes()
    assert b'"emission"' not in stc.output.read_bytes()
    assert read_module(stc.output).emission == "stc"
    asm = tmp_path / "t.s"
    asm.write_text(compile_source((EXAMPLE / "step.gvm").read_text(), "ttc", "mips"))
    tobj = find_toolchain("psx").compile(asm, tmp_path / "t.o")
    ttc = link_module("psx", [tobj, obj], tmp_path / "t.elf", emission="ttc")
    mod = read_module(ttc.output)
    assert mod.emission == "ttc" and mod.metadata["emission"] == "ttc"
    # a shipping form keeps the format
    packed = tmp_path / "t.lz4.elf"
    assert run_gamevm("pack", ttc.output, "--form", "lz4", "-o", packed).returncode == 0
    assert read_module(packed).emission == "ttc"
    # inspect shows it, in text and JSON
    text = run_gamevm("inspect", packed).stdout
    assert "emission TTC (token threaded): relocates the token table's entries" in text
    info = json.loads(run_gamevm("inspect", "--json", ttc.output).stdout)
    assert info["emission"] == "ttc"
    assert json.loads(run_gamevm("inspect", "--json", stc.output).stdout)["emission"] == "stc"
    assert "emission STC (subroutine threaded)" in run_gamevm("inspect", stc.output).stdout


# --------------------------------------------------------------------------- on the consoles

@pytest.fixture(scope="module", params=ALL_TARGETS)
def built(request, tmp_path_factory):
    target = request.param
    return target, build_example(tmp_path_factory.mktemp(f"emission-{target}"), target)


def test_all_formats_give_the_native_results_on_every_console(built):
    """The same logic as STC, DTC, ITC and TTC threads and as C: the same results."""
    target, files = built
    # threads on the Sega CD's 12.5 MHz 68000 take longer than the default budget
    args = ["call", "-t", target, "--resident", files["kernel"], "--json", "-q",
            "--max-seconds", "60"]
    for fmt in (*FORMATS, "native"):
        args += ["--load", files[fmt]]
    exprs = []
    for n, steps in RUNS:
        exprs += [f"step_native:simulate_c({n}, {steps})"]
        exprs += [f"step_{fmt}:run_simulate({n}, {steps})" for fmt in FORMATS]
        exprs += [f"step_native:checksum_c({n})"]
        exprs += [f"step_{fmt}:run_checksum({n})" for fmt in FORMATS]
    proc = run_gamevm(*args, *exprs)
    assert proc.returncode == 0, proc.stderr
    results = [c["result"] for c in json.loads(proc.stdout)["calls"]]
    groups = [results[i:i + 5] for i in range(0, len(results), 5)]
    assert all(len(set(g)) == 1 for g in groups), list(zip(exprs[::5], groups))
    assert len({g[0] for g in groups}) > 2          # the runs differ from one another


def test_formats_relocate_what_they_define(built):
    """TTC relocates its table, not its threads; DTC/ITC their lists."""
    target, files = built
    mods = {f: read_module(files[f]) for f in FORMATS}
    assert {f: m.emission for f, m in mods.items()} == {f: f for f in FORMATS}
    assert len(mods["ttc"].relocations) < len(mods["dtc"].relocations)
    if load_profile(target).arch != "arm":
        # ARM's STC calls reach imports through veneers: one literal (relocation) per
        # import, not per call, so there STC relocates no more than TTC
        assert len(mods["ttc"].relocations) < len(mods["stc"].relocations)
    assert mods["ttc"].image_size < mods["dtc"].image_size
    # the budget analyzer costs the relocations each module really has
    from gamevm_build.runtime.loadcost import cpu_costs
    from gamevm_build.runtime.loadtime import cpu_steps
    costs = cpu_costs(target)
    relocate = {f: cpu_steps(costs, m, symbols=64, eager_imports=len(m.imports))["relocate"]
                for f, m in mods.items()}
    assert relocate["ttc"] < relocate["dtc"] <= relocate["itc"]


@pytest.mark.parametrize("target", ["psx", "gba"])
def test_bench_measures_every_format(target):
    rows = {r["format"]: r for r in bench_emission.measure(target)}
    assert len({r["result"] for r in rows.values()}) == 1
    assert rows["ttc"]["thread"] < rows["dtc"]["thread"] < rows["stc"]["thread"]
    assert rows["ttc"]["relocs"] < rows["dtc"]["relocs"] < rows["itc"]["relocs"]
    assert rows["native"]["per_primitive"] < rows["stc"]["per_primitive"] \
        < rows["dtc"]["per_primitive"] < rows["itc"]["per_primitive"]
    assert rows["dtc"]["primitives"] > 1000
    # 2-byte tokens: a longer stream, the same table and relocations
    assert rows["ttc"]["thread"] < rows["ttc2"]["thread"] < rows["dtc"]["thread"]
    assert rows["ttc2"]["relocs"] == rows["ttc"]["relocs"]


# --------------------------------------------------------------------------- SCons

def test_scons_builds_the_example_and_relinks_when_the_format_changes(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root / "examples" / "emission")
    (root / "gamevm_build").symlink_to(REPO / "gamevm_build")
    work = root / "examples" / "emission"
    proc = scons(work, "target=psx")
    assert proc.returncode == 0, proc.stdout
    assert "gamevm: validate: 15 passed, 0 failed (psx)" in proc.stdout
    for fmt in FORMATS:
        assert read_module(work / "build" / "psx" / f"step_{fmt}.elf").emission == fmt
    assert "is up to date" in scons(work, "target=psx").stdout
    # GAMEVM_EMISSION is part of the link's signature: a DTC thread in an ITC module relinks,
    # and is refused naming the section
    sc = work / "SConstruct"
    sc.write_text(sc.read_text().replace(
        "GAMEVM_EMISSION=fmt))", "GAMEVM_EMISSION='itc' if fmt == 'dtc' else fmt))"))
    proc = scons(work, "target=psx")
    assert proc.returncode == 2, proc.stdout
    assert "section .gvm.thread.dtc: a DTC thread section in a module declared ITC" in proc.stdout
    sc.write_text(sc.read_text().replace("'itc' if fmt == 'dtc'", "'xtc' if fmt == 'dtc'"))
    proc = scons(work, "target=psx")
    assert proc.returncode == 2, proc.stdout
    assert "emission format 'xtc': one of stc, dtc, itc, ttc" in proc.stdout


# --------------------------------------------------------------------------- docs

def test_formats_doc_commands_run_as_shown(tmp_path):
    """Every gamevm command docs/formats.md shows, as tests/test_docs_commands.py runs it
    (that test runs them too, in a checkout with the example game built; these need only
    examples/emission)."""

    from conftest import shell_env
    from test_docs_commands import doc_commands, run_as_shown

    commands = [c for c in doc_commands() if c[0] == "docs/formats.md"]
    assert len(commands) >= 5
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "emission")
    env = shell_env(tmp_path)
    for doc, line, cmd, expected in commands:
        run_as_shown(doc, line, cmd, expected, tmp_path, env)


def test_the_console_side_runtime_loads_threaded_modules(tmp_path):
    """The C loader (gvm_meta.c) takes the emission key as any other: the target runtime
    loads DTC and TTC modules and their words run."""
    files = build_example(tmp_path, "psx")
    from gamevm_build.link.resident import build_resident
    tc = find_toolchain("psx")
    objs = [tmp_path / "kernel.o", tmp_path / "gvm_thread.o"]
    build_resident("psx", objs, tmp_path / "k_target.elf", runtime="target",
                   modules=[files["dtc"], files["ttc"], files["native"]], toolchain=tc)
    proc = run_gamevm("call", "-t", "psx", "--resident", tmp_path / "k_target.elf",
                      "--loader", "target", "--json", "-q", "--load", files["dtc"],
                      "--load", files["ttc"], "--load", files["native"],
                      "step_dtc:run_simulate(8, 50)", "step_ttc:run_simulate(8, 50)",
                      "step_native:simulate_c(8, 50)")
    assert proc.returncode == 0, proc.stderr
    assert len({c["result"] for c in json.loads(proc.stdout)["calls"]}) == 1


# --------------------------------------------------------------------------- every primitive

PRIMITIVES_SOURCE = r"""
\ one word per primitive and control form, each checked against PRIMITIVE_CASES
extern c0 0
extern c3 3
buffer cell 8
: t_add + ;          : t_sub - ;          : t_mul * ;
: t_and and ;        : t_or or ;          : t_xor xor ;
: t_lt < ;           : t_eq = ;           : t_dup dup * ;
: t_drop drop ;      : t_swap swap - ;    : t_over over - - ;
: t_rot rot - - ;    : t_lit -5 0x7fffffff + + ;
: t_mem cell 4 + ! cell 4 + @ cell @ + ;
: t_if 0 < if 1 else 2 then ;
: t_while 0 swap begin dup while dup rot + swap 1 - repeat drop ;
: t_until 1 swap begin swap 3 * swap 1 - dup 0 = until drop ;
: t_call t_sub t_dup ;
: t_c0 c0 + ;        : t_c3 c3 ;
export t_add 2  export t_sub 2  export t_mul 2  export t_and 2  export t_or 2
export t_xor 2  export t_lt 2   export t_eq 2   export t_dup 1  export t_drop 2
export t_swap 2 export t_over 2 export t_rot 3  export t_lit 1  export t_mem 1
export t_if 1   export t_while 1 export t_until 1 export t_call 2 export t_c0 1
export t_c3 3
"""
PRIMITIVES_C = ("int c0(void) { return 42; }\n"
                "int c3(int a, int b, int c) { return a * 100 + b * 10 + c; }\n")


def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


#: word -> its value for arguments (a, b, c) (a pushed first)
PRIMITIVE_CASES = {
    "t_add": lambda a, b, c: a + b, "t_sub": lambda a, b, c: a - b,
    "t_mul": lambda a, b, c: a * b, "t_and": lambda a, b, c: a & b,
    "t_or": lambda a, b, c: a | b, "t_xor": lambda a, b, c: a ^ b,
    "t_lt": lambda a, b, c: -1 if a < b else 0, "t_eq": lambda a, b, c: -1 if a == b else 0,
    "t_dup": lambda a, b, c: a * a, "t_drop": lambda a, b, c: a,
    "t_swap": lambda a, b, c: b - a, "t_over": lambda a, b, c: a - (b - a),
    "t_rot": lambda a, b, c: b - (c - a), "t_lit": lambda a, b, c: a - 5 + 0x7FFFFFFF,
    "t_mem": lambda a, b, c: a,                 # the cell's second word, plus its first (0)
    "t_if": lambda a, b, c: 1 if a < 0 else 2,
    "t_while": lambda a, b, c: sum(range(1, a + 1)) if a > 0 else 0,
    "t_until": lambda a, b, c: 3 ** a, "t_call": lambda a, b, c: (a - b) * (a - b),
    "t_c0": lambda a, b, c: a + 42, "t_c3": lambda a, b, c: a * 100 + b * 10 + c,
}
ARGS = [(7, 3, 2), (-9, 4, 5), (0, 0, 0), (3, 3, -1), (-2147483648, 1, 2), (5, -6, 7)]


def run_words(tmp_path: Path, target: str, sources: dict, cases: dict) -> list[str]:
    """Build each ``name -> (source, format, TTC token width)`` as a module with PRIMITIVES_C,
    load it after a resident with the interpreter, and call every ``word -> [(args,
    expected)]`` it exports through gvm_thread_call: the wrong answers."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.module import read_module
    from gamevm_build.link.prelink import chain_resolver, module_symbols, relocate
    from gamevm_build.link.resident import build_resident, read_resident
    from gamevm_build.link.toolchain import find_toolchain
    from gamevm_build.project.profile import load_profile

    profile = load_profile(target)
    tc = find_toolchain(target)
    (tmp_path / "c.c").write_text(PRIMITIVES_C)
    cobj = tc.compile(tmp_path / "c.c", tmp_path / "c.o")
    mods = {}
    for name, (text, fmt, width) in sources.items():
        asm = tmp_path / f"{name}.s"
        asm.write_text(compile_source(text, fmt, profile.arch, f"{name}.gvm", width))
        mods[name] = link_module(target, [tc.compile(asm, tmp_path / f"{name}.o"), cobj],
                                 tmp_path / f"{name}.elf", emission=fmt).output
    kobjs = [tc.compile(EXAMPLE / "kernel.c", tmp_path / "kernel.o"),
             tc.compile(INTERPRETER, tmp_path / "gvm_thread.o", include_dirs=[str(REPO / "gamevm_build" / "include")])]
    build_resident(target, kobjs, tmp_path / "k.elf", modules=list(mods.values()),
                   keep=["gvm_thread_call"])
    res = read_resident(tmp_path / "k.elf", profile)
    wrong = []
    for name, path in mods.items():
        m = Machine(target)
        m.load_elf(tmp_path / "k.elf")
        mod = read_module(path)
        base = module_base(profile, res.end, 16)
        m.write(base, bytes(relocate(mod, base, chain_resolver(res.symbols))))
        syms = module_symbols(mod, base)
        for word, runs in cases[name].items():
            for args, want in runs:
                got = _s32(m.call(res.symbols["gvm_thread_call"], syms[word], *args))
                if got != _s32(want):
                    wrong.append(f"{name} {word}{args} = {got}, not {_s32(want)}")
    return wrong


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_every_primitive_in_every_format_gives_the_reference_value(tmp_path, target):
    cases = {word: [((a, b, c), ref(a, b, c)) for a, b, c in ARGS
                    if word not in ("t_while", "t_until") or 0 < a < 12]
             for word, ref in PRIMITIVE_CASES.items()}
    wrong = run_words(tmp_path, target, {fmt: (PRIMITIVES_SOURCE, fmt, None) for fmt in FORMATS},
                      {fmt: cases for fmt in FORMATS})
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.parametrize("target", [t for t in ALL_TARGETS if t != "psx"])
def test_scons_validation_runs_every_format_on_the_console(tmp_path, target):
    """The example's GameVMValidate: all four formats and C give the same results."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root / "examples" / "emission")
    (root / "gamevm_build").symlink_to(REPO / "gamevm_build")
    proc = scons(root / "examples" / "emission", f"target={target}")
    assert proc.returncode == 0, proc.stdout
    assert f"gamevm: validate: 15 passed, 0 failed ({target})" in proc.stdout
