"""End-to-end tests of the ``gamevm`` SCons tool.

Each test writes a small project into a temporary directory and runs the real
``scons`` in a subprocess (``python -m SCons``), with the repository on
``PYTHONPATH``: build, no-op rebuild, rebuild after a header edit, user
errors, both ways of loading the tool, CacheDir, and the repository's own
example game for both consoles.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import real_tool

REPO = Path(__file__).resolve().parents[1]

SCONS_TIMEOUT = 300

# A small project: a resident kernel ("kernel") and three modules: "mathx"
# (includes include/mathx.h), "game" (imports from mathx and the kernel) and
# "other" (imports from the kernel only).  Lines marked @NEEDS/@NAME/@EXTRA
# are rewritten by some tests.
SCONSTRUCT = """\
import gamevm_build.scons

env = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH],
                  GAMEVM_TARGET=ARGUMENTS.get('target', 'psx'),
                  CPPPATH=['include'],
                  CCCOMSTR='CC $SOURCE', ASCOMSTR='AS $SOURCE', ASPPCOMSTR='AS $SOURCE',
                  GAMEVMMODULECOMSTR='Module $TARGET',
                  GAMEVMRESIDENTCOMSTR='Resident $TARGET')
if ARGUMENTS.get('cache'):
    CacheDir(ARGUMENTS['cache'])

mathx = env.GameVMModule('build/mathx', ['mathx/mathx.c'])
other = env.GameVMModule('build/other', ['other/other.c'])
game = env.GameVMModule('build/game', ['game/game.c', 'game/util.s'],
                        GAMEVM_NEEDS=[mathx],  # @NEEDS
                        GAMEVM_NAME='game',  # @NAME
                        )
kernel = env.GameVMResident('build/kernel', ['kernel/start.S', 'kernel/kernel.c'],
                            GAMEVM_MODULES=[mathx, game, other],
                            GAMEVM_BASE=ARGUMENTS.get('base'))
# @EXTRA
"""

FILES = {
    "include/api.h": """\
#ifndef API_H
#define API_H
int k_add(int a, int b);
void k_print(const char *s);
extern int k_counter;
#endif
""",
    "include/mathx.h": """\
#ifndef MATHX_H
#define MATHX_H
#define MATHX_SCALE 3
int mathx_scale(int x);
#endif
""",
    "mathx/mathx.c": """\
#include "api.h"
#include "mathx.h"
int mathx_scale(int x) { k_counter++; return k_add(x * MATHX_SCALE, 0); }
int gamevm_selftest(void) { return mathx_scale(2) == 2 * MATHX_SCALE ? 0 : 1; }
""",
    "game/game.c": """\
#include "api.h"
int mathx_scale(int x);
int game_twice(int x);
static const char *names[] = { "one", "two" };
int game_run(int i) { k_print(names[i & 1]); return game_twice(mathx_scale(i)); }
""",
    "game/util.s": """\
        .text
        .globl  game_twice
        .type   game_twice, @function
game_twice:
        .set    noreorder
        jr      $ra
        addu    $v0, $a0, $a0
        .set    reorder
        .size   game_twice, . - game_twice
""",
    "other/other.c": """\
#include "api.h"
int other_value(void) { return k_add(20, 22); }
""",
    "kernel/start.S": """\
#define STACK_SIZE 1024
        .text
        .globl  _start
        .type   _start, @function
        .set    noreorder
_start:
        la      $sp, stack + STACK_SIZE - 16
        jal     kernel_main
        nop
1:      b       1b
        nop
        .set    reorder
        .comm   stack, STACK_SIZE, 8
""",
    "kernel/kernel.c": """\
#include "api.h"
int k_counter;
static char ring[64];
static unsigned head;
int k_add(int a, int b) { return a + b; }
void k_print(const char *s) { while (*s) ring[head++ % sizeof ring] = *s++; }
int kernel_main(void) { k_print("up"); return 0; }
""",
}


# --------------------------------------------------------------------------- helpers

def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SCONSFLAGS", None)
    env.update(extra or {})
    return env


def scons(cwd: Path, *args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real scons in ``cwd``; stdout and stderr are combined in ``.stdout``."""
    proc = subprocess.run([sys.executable, "-m", "SCons", "-j2", *args], cwd=cwd,
                          env=_env(extra_env), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=SCONS_TIMEOUT)
    return proc


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout
    assert "Traceback" not in proc.stdout, proc.stdout
    return proc.stdout


def failed(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "scons: ***" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout, proc.stdout
    return proc.stdout


def lines_starting(out: str, word: str) -> set[str]:
    """The targets/sources of the COMSTR lines ``word <path>`` in scons output."""
    return {line.split(None, 1)[1] for line in out.splitlines()
            if line.startswith(word + " ")}


def write_project(root: Path, sconstruct: str = SCONSTRUCT) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "SConstruct").write_text(sconstruct)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def elf(path: Path) -> ELFFile:
    """Parse an output with pyelftools (from memory: the file may be rebuilt later)."""
    return ELFFile(io.BytesIO(path.read_bytes()))


@pytest.fixture
def project(tmp_path) -> Path:
    return write_project(tmp_path / "proj")


@pytest.fixture
def built(project) -> Path:
    out = ok(scons(project))
    assert lines_starting(out, "Module") == {"build/mathx.elf", "build/game.elf",
                                             "build/other.elf"}
    return project


OUTPUTS = ["build/mathx.elf", "build/game.elf", "build/other.elf", "build/kernel.elf"]


# --------------------------------------------------------------------------- (a) (b)

def test_build_outputs_are_elf(built):
    for rel in OUTPUTS:
        f = elf(built / rel)
        assert f["e_machine"] == "EM_MIPS"
        assert f.little_endian
    kernel = elf(built / "build/kernel.elf")
    assert kernel["e_type"] == "ET_EXEC"
    symbols = {s.name for s in kernel.get_section_by_name(".symtab").iter_symbols()}
    # every kernel symbol a module imports was forced into the resident link
    assert {"_start", "k_add", "k_print", "k_counter"} <= symbols

    from gamevm_build.link.module import read_module
    game = read_module(built / "build/game.elf")
    assert game.name == "game" and game.target == "psx"
    assert game.needs == ["mathx"]
    assert {"game_run", "game_twice"} <= set(game.exports)
    assert {"mathx_scale", "k_print"} <= set(game.imports)


def test_second_run_is_a_no_op(built):
    assert scons(built, "-q").returncode == 0          # -q: exit 0 when up to date
    out = ok(scons(built))
    for word in ("CC", "AS", "Module", "Resident"):
        assert not lines_starting(out, word), out
    assert "is up to date" in out


# --------------------------------------------------------------------------- (c)

def test_header_edit_rebuilds_only_its_includers(built):
    edit(built / "include/mathx.h", "#define MATHX_SCALE 3", "#define MATHX_SCALE 5")
    out = ok(scons(built))
    assert lines_starting(out, "CC") == {"mathx/mathx.c"}, out
    modules = lines_starting(out, "Module")
    assert "build/mathx.elf" in modules
    assert "build/other.elf" not in modules            # does not include mathx.h
    # game needs mathx, so it is relinked (its imports are re-checked) but not
    # recompiled; the resident lists mathx in GAMEVM_MODULES likewise.
    assert modules <= {"build/mathx.elf", "build/game.elf"}
    assert scons(built, "-q").returncode == 0

    # A header every C file includes: everything is recompiled, the assembly
    # source (which includes nothing) is not.
    edit(built / "include/api.h", "extern int k_counter;", "extern int k_counter;\n/* v2 */")
    out = ok(scons(built))
    assert lines_starting(out, "CC") == {"mathx/mathx.c", "game/game.c", "other/other.c",
                                         "kernel/kernel.c"}
    assert not lines_starting(out, "AS")


def test_assembly_include_is_scanned(built):
    (built / "kernel/stack.h").write_text("#define STACK_SIZE 2048\n")
    edit(built / "kernel/start.S", "#define STACK_SIZE 1024", '#include "stack.h"')
    out = ok(scons(built))
    assert lines_starting(out, "AS") == {"kernel/start.S"}
    edit(built / "kernel/stack.h", "2048", "4096")
    out = ok(scons(built))
    assert lines_starting(out, "AS") == {"kernel/start.S"}
    assert lines_starting(out, "Resident") == {"build/kernel.elf"}


# --------------------------------------------------------------------------- (h)

def test_needs_and_name_changes_relink(built):
    sconstruct = built / "SConstruct"
    edit(sconstruct, "GAMEVM_NEEDS=[mathx],  # @NEEDS", "GAMEVM_NEEDS=[mathx, 'build/other'],")
    out = ok(scons(built))
    assert lines_starting(out, "Module") == {"build/game.elf"}, out
    assert not lines_starting(out, "CC")
    from gamevm_build.link.module import read_module
    assert read_module(built / "build/game.elf").needs == ["mathx", "other"]

    # GAMEVM_NAME is not a file: only the action's varlist sees it.
    edit(sconstruct, "GAMEVM_NAME='game',  # @NAME", "GAMEVM_NAME='game2',")
    out = ok(scons(built))
    assert lines_starting(out, "Module") == {"build/game.elf"}, out
    assert read_module(built / "build/game.elf").name == "game2"


def test_base_change_relinks_resident_only(built):
    out = ok(scons(built, "base=0x80020000"))
    assert lines_starting(out, "Resident") == {"build/kernel.elf"}
    assert not lines_starting(out, "Module") and not lines_starting(out, "CC")
    assert elf(built / "build/kernel.elf")["e_entry"] == 0x80020000
    out = failed(scons(built, "base=banana"))
    assert "GAMEVM_BASE" in out and "banana" in out


def test_needed_module_is_built_first(project):
    # Build only game: mathx (a GAMEVM_NEEDS dependency) must be built before it.
    out = ok(scons(project, "-j1", "build/game.elf"))
    order = [line.split()[1] for line in out.splitlines() if line.startswith("Module ")]
    assert order == ["build/mathx.elf", "build/game.elf"]


# --------------------------------------------------------------------------- (d)

def test_unknown_target_is_a_user_error(project):
    out = failed(scons(project, "target=nes"))
    assert "unknown target 'nes'" in out
    assert "psx" in out and "n64" in out               # lists the known targets


def test_missing_toolchain_names_debian_package(project):
    out = failed(scons(project, extra_env={"GAMEVM_PSX_PREFIX": "no-such-cross-"}))
    assert "no-such-cross-gcc" in out
    assert "gcc-mipsel-linux-gnu" in out


def test_unresolved_import_is_a_user_error(built):
    edit(built / "other/other.c", "return k_add(20, 22);", "return k_add(20, k_missing());")
    edit(built / "other/other.c", '#include "api.h"', '#include "api.h"\nint k_missing(void);')
    out = failed(scons(built))
    assert "k_missing" in out
    assert re.search(r"scons: \*\*\* \[build/kernel\.elf\]", out), out


def test_link_error_in_module_is_a_user_error(built):
    # Two definitions of one symbol inside a module.
    edit(built / "game/game.c", "int game_twice(int x);",
         "int game_twice(int x) { return x; }")
    out = failed(scons(built))
    assert "game_twice" in out
    assert re.search(r"scons: \*\*\* \[build/game\.elf\]", out), out


def test_freestanding_headers_and_hosted_header_message(built):
    """limits.h & co. compile (Debian's *-linux-gnu gcc would read /usr/include); stdio.h
    fails, and the compile's error is followed by what to do instead."""
    edit(built / "kernel/kernel.c", '#include "api.h"',
         '#include <limits.h>\n#include <stdint.h>\n#include <stdarg.h>\n#include "api.h"')
    edit(built / "kernel/kernel.c", "int k_add(int a, int b) { return a + b; }",
         "int k_add(int a, int b) { return a + b + (INT_MAX - INT32_MAX); }")
    ok(scons(built))
    edit(built / "other/other.c", '#include "api.h"', '#include "api.h"\n#include <stdio.h>')
    out = failed(scons(built))
    assert "gamevm: error: other/other.c:2: #include <stdio.h>: stdio.h belongs to the hosted " \
           "C library" in out, out
    assert "target psx has only the compiler's own headers" in out and "GameVMPrint()" in out
    assert re.search(r"scons: \*\*\* \[other/other\.o\] Error 1", out), out


def test_isa_refusal_names_the_source_line(project):
    """The object is a real file here, but messages name its source, at the line (SCons
    compiles it again with -g for that, into a temporary file)."""
    (project / "hw").mkdir()
    (project / "hw/hw.c").write_text("int keep(int x) { return x; }\n\n"
                                     "short pick(short *p, int i) { return p[i]; }\n")
    edit(project / "SConstruct", "# @EXTRA",
         "env3 = env.Clone(GAMEVM_TARGET='3do')\n"
         "env3.GameVMModule('build/3do/hw', ['hw/hw.c'], OBJPREFIX='3do-')\n")
    out = failed(scons(project, "build/3do/hw.elf"))
    assert re.search(r"scons: \*\*\* \[build/3do/hw\.elf\] hw/hw\.c: code the ARM60", out), out
    assert re.search(r"hw/hw\.c:3: \.text\+0x[0-9a-f]+ <pick\+0x[0-9a-f]+>: ldrsh", out), out
    assert not (project / "build/3do/hw.elf").exists()


# --------------------------------------------------------------------------- (e)

def test_loads_from_site_scons(tmp_path):
    root = write_project(tmp_path / "proj", SCONSTRUCT.replace(
        "import gamevm_build.scons\n", "").replace(
        ", toolpath=[gamevm_build.scons.TOOLPATH]", ""))
    shutil.copytree(REPO / "site_scons", root / "site_scons",
                    ignore=shutil.ignore_patterns("__pycache__"))
    ok(scons(root))
    for rel in OUTPUTS:
        assert (root / rel).is_file()


def test_loads_from_toolpath_without_site_scons(built):
    assert not (built / "site_scons").exists()
    assert (built / "build/kernel.elf").is_file()


def test_user_flags_add_to_profile_flags(project):
    edit(project / "SConstruct", "# @EXTRA",
         "env2 = env.Clone(GAMEVM_TARGET='n64', CCCOMSTR='', GAMEVM_OPTFLAGS='-Os')\n"
         "env2.Append(CCFLAGS=['-DFROM_USER=1'])\n"
         "env2.GameVMModule('build/n64/other', ['other/other.c'], OBJPREFIX='n64-')\n")
    out = ok(scons(project, "build/n64/other.elf"))
    cc = [line for line in out.splitlines() if "other/other.c" in line and " -c " in line]
    assert len(cc) == 1, out
    words = cc[0].split()
    assert words[0] == "mips-linux-gnu-gcc" or words[0].endswith("mips64-elf-gcc")
    # profile flags first, then the user's (which therefore win)
    assert words.index("-march=vr4300") < words.index("-Os") < words.index("-DFROM_USER=1")
    assert "-O2" not in words
    # never the build machine's headers: the compiler's freestanding ones (as the CLI)
    assert words.index("-nostdinc") < words.index("-isystem") < words.index("-Os")
    f = elf(project / "build/n64/other.elf")
    assert not f.little_endian


def test_link_map_is_a_declared_target(project):
    edit(project / "SConstruct", "# @EXTRA",
         "env.GameVMModule('build/mapped', ['other/other.c'], GAMEVM_MAP=True,"
         " OBJPREFIX='m-')\n")
    ok(scons(project, "build/mapped.elf"))
    assert (project / "build/mapped.map").is_file()
    out = ok(scons(project, "-c", "build/mapped.elf"))
    assert "Removed build/mapped.map" in out


# --------------------------------------------------------------------------- (f)

def test_cachedir_retrieves_outputs(tmp_path):
    cache = tmp_path / "cache"
    first = write_project(tmp_path / "first")
    ok(scons(first, f"cache={cache}"))
    originals = {rel: (first / rel).read_bytes() for rel in OUTPUTS}

    ok(scons(first, "-c", f"cache={cache}"))
    assert not (first / "build/game.elf").exists()
    out = ok(scons(first, f"cache={cache}"))
    for rel in OUTPUTS:
        assert f"Retrieved `{rel}' from cache" in out, out
        assert (first / rel).read_bytes() == originals[rel]
    assert not lines_starting(out, "Module")

    # Outputs do not depend on where the project lives: a second checkout in
    # another directory gets everything from the cache.
    second = write_project(tmp_path / "elsewhere" / "second")
    out = ok(scons(second, f"cache={cache}"))
    assert not lines_starting(out, "CC") and not lines_starting(out, "Module"), out
    for rel in OUTPUTS:
        assert (second / rel).read_bytes() == originals[rel]


# --------------------------------------------------------------------------- (g)

@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    shutil.copy(REPO / "SConstruct", root / "SConstruct")
    for sub in ("site_scons", "examples"):
        shutil.copytree(REPO / sub, root / sub, ignore=shutil.ignore_patterns("__pycache__"))
    return root


EXAMPLE_MODULES = ["physics", "level1", "boss"]


@pytest.mark.parametrize("target", ["psx", "n64", "segacd", "gba", "3do"])
def test_repo_example_builds(repo_copy, target):
    """The default build end to end: link, lay out, validate on the CPU, check budgets."""
    args = () if target == "psx" else (f"target={target}",)
    out = ok(scons(repo_copy, *args))
    assert f"GameVM {target}:" in out                     # the summary line
    assert f"validate: 12 passed, 0 failed ({target})" in out
    assert "budgets hold" in out
    build = repo_copy / "build" / target
    from gamevm_build.link.module import read_module
    from gamevm_build.project.profile import load_profile

    profile = load_profile(target)
    kernel = elf(build / "kernel.elf")
    assert kernel.little_endian == (not profile.big_endian)
    assert kernel["e_entry"] == profile.resident_base
    mods = {name: read_module(build / f"{name}.elf") for name in EXAMPLE_MODULES}
    for name, mod in mods.items():
        assert mod.target == target
        assert "gamevm_selftest" in mod.exports
    assert mods["physics"].needs == []
    assert mods["level1"].needs == ["physics"]
    assert mods["boss"].needs == ["physics"]
    assert {"fx_mul", "fx_sin", "phys_step"} <= set(mods["physics"].exports)
    assert {"phys_step", "gvm_print", "gvm_frame_count"} <= set(mods["level1"].imports)
    assert mods["level1"].init                        # the constructor
    # no-op rebuild
    assert scons(repo_copy, "-q", *args).returncode == 0


#: runs scons in this process and says which heavy packages it imported
_SCONS_IMPORTS = """\
import sys
sys.argv = ['scons'] + sys.argv[1:]
import SCons.Script
try:
    SCons.Script.main()
except SystemExit as exc:
    status = exc.code
heavy = {'networkx', 'unicorn', 'jsonschema', 'fastjsonschema', 'elftools', 'pycdlib',
         'capstone'}
print('heavy imports:', sorted({m.split('.')[0] for m in sys.modules} & heavy))
sys.exit(status)
"""


def test_repo_example_no_op_imports_nothing_heavy(repo_copy):
    """The SCons tool is thin wiring (issue 16): reading the example's SConstruct and
    SConscript and finding everything up to date imports no emulator, ELF reader, graph
    library or schema validator (the emitters read only the files a config names); the
    builders import them when they run."""
    if not (repo_copy / "build" / "psx" / "validate.xml").exists():
        ok(scons(repo_copy))
    for args in (["-Q"], ["-Q", "-n", "--clean"]):
        proc = subprocess.run([sys.executable, "-c", _SCONS_IMPORTS, *args], cwd=repo_copy,
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=SCONS_TIMEOUT)
        assert proc.returncode == 0, proc.stdout
        assert "heavy imports: []" in proc.stdout, (args, proc.stdout)
    assert "is up to date" in ok(scons(repo_copy, "game", "budget", "validate"))


def _run_selftests(build: Path, target: str) -> dict[str, int]:
    """Load the example's kernel and modules into unicorn and call their self tests.

    A stand-in for the planned GameVMValidate builder: the resident's PT_LOAD
    segments are copied to RAM, each module is prelinked right after it (needed
    modules first), its constructors are run, then its ``gamevm_selftest``.
    """
    import unicorn
    from unicorn import mips_const

    from gamevm_build.link.module import read_module
    from gamevm_build.link.prelink import module_symbols, prelink_file
    from gamevm_build.project.profile import load_profile
    from gamevm_build.link.resident import read_resident

    profile = load_profile(target)
    ram = profile.main_ram
    mode = 0
    for flag in profile.unicorn_mode:
        mode |= getattr(unicorn, flag)
    uc = unicorn.Uc(getattr(unicorn, profile.unicorn_arch), mode)
    uc.ctl_set_cpu_model(getattr(mips_const, profile.unicorn_cpu))
    uc.mem_map(ram.physical, ram.size)            # kseg0 is translated to physical

    def phys(addr: int) -> int:
        return addr - ram.start + ram.physical

    end = 0
    with open(build / "kernel.elf", "rb") as f:
        for seg in ELFFile(f).iter_segments():
            if seg["p_type"] == "PT_LOAD":
                uc.mem_write(phys(seg["p_vaddr"]), seg.data())
                end = max(end, seg["p_vaddr"] + seg["p_memsz"])
    stop = ram.start + 0x100                      # return address: ends the emulation

    def call(addr: int) -> int:
        uc.reg_write(mips_const.UC_MIPS_REG_SP, profile.stack_top)
        uc.reg_write(mips_const.UC_MIPS_REG_RA, stop)
        uc.emu_start(addr, stop, count=5_000_000)
        value = uc.reg_read(mips_const.UC_MIPS_REG_V0)
        return value - (1 << 32) if value & 0x80000000 else value

    resident = read_resident(build / "kernel.elf", profile)
    results = {"kernel": call(resident.symbols["gvm_kernel_main"])}
    addr = (end + 0xFFF) & ~0xFFF
    placed: dict[str, int] = {}
    for name in EXAMPLE_MODULES:
        path = build / f"{name}.elf"
        module = read_module(path)
        image = prelink_file(path, addr, build / "kernel.elf",
                             needs=[(build / f"{n}.elf", placed[n]) for n in module.needs])
        uc.mem_write(phys(addr), bytes(image))
        placed[name] = addr
        for offset, count in module.init.values():
            for i in range(count):
                ctor = int.from_bytes(uc.mem_read(phys(addr + offset + 4 * i), 4), profile.endian)
                call(ctor)
        results[name] = call(module_symbols(module, addr)["gamevm_selftest"])
        addr = (addr + module.image_size + 0xFFF) & ~0xFFF
    return results


@pytest.mark.parametrize("target", ["psx", "n64"])
def test_repo_example_selftests_pass_in_emulator(repo_copy, target):
    if not (repo_copy / "build" / target / "kernel.elf").exists():
        ok(scons(repo_copy, f"target={target}"))
    results = _run_selftests(repo_copy / "build" / target, target)
    assert results == {"kernel": 0, "physics": 0, "level1": 0, "boss": 0}


# --------------------------------------------------------------------------- more wiring

def test_user_values_win(project):
    edit(project / "SConstruct", "# @EXTRA", """\
user = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH],
                   GAMEVM_TARGET='n64', GAMEVM_OPTFLAGS='-O1', GAMEVMMODULESUFFIX='.mod')
print('OPT', user['GAMEVM_OPTFLAGS'], 'CC', user.subst('$CC'), 'PREFIX', user.subst('$GAMEVM_PREFIX'))
print('CFLAGS', user.subst('$GAMEVM_CFLAGS'))
print('NODE', user.GameVMModule('build/user', ['other/other.c'], OBJPREFIX='u-')[0])
import gamevm_build.scons.gamevm as tool
print('EXISTS', tool.exists(user), tool.exists(Environment(tools=[], GAMEVM_TARGET='nes')))
""")
    out = ok(scons(project, "-n", "build/user.mod"))
    assert "OPT -O1 " in out
    assert re.search(r"CC \S*mips(64)?-(linux-gnu|elf)-gcc PREFIX", out), out
    assert "-march=vr4300" in out
    assert "NODE build/user.mod" in out
    assert "EXISTS True False" in out


def test_archives_are_link_inputs(project):
    (project / "libuser").mkdir()
    (project / "libuser/use.c").write_text(
        "int other_value(void);\nint use_other(void) { return other_value() + 1; }\n")
    edit(project / "SConstruct", "# @EXTRA", """\
lib = env.StaticLibrary('build/libother', ['other/other.c'], OBJPREFIX='lib-',
                        ARCOMSTR='AR $TARGET', RANLIBCOMSTR='RANLIB $TARGET')
env.GameVMModule('build/fromlib', ['libuser/use.c', lib])
""")
    out = ok(scons(project, "build/fromlib.elf"))
    assert lines_starting(out, "AR") == {"build/libother.a"}
    from gamevm_build.link.module import read_module
    mod = read_module(project / "build/fromlib.elf")
    assert {"use_other", "other_value"} <= set(mod.exports)   # member pulled from the .a
    assert "k_add" in mod.imports


def test_resident_warnings_and_strict(project):
    (project / "dup").mkdir()
    (project / "dup/dup.c").write_text(
        "int k_add(int a, int b) { return a - b; }\nint dup_f(void) { return k_add(1, 2); }\n")
    edit(project / "SConstruct", "# @EXTRA", """\
dup = env.GameVMModule('build/dup', ['dup/dup.c'])
env.GameVMResident('build/kernel2', ['kernel/start.S', 'kernel/kernel.c'],
                   GAMEVM_MODULES=[dup], GAMEVM_STRICT=ARGUMENTS.get('strict', 0))
""")
    out = ok(scons(project, "build/kernel.elf", "build/kernel2.elf"))
    # the kernel objects are shared by both residents: no "two environments" warning
    assert "Two different environments" not in out
    assert re.search(r"scons: warning: \[build/kernel2\.elf\] .*k_add", out), out
    # GAMEVM_STRICT is in the resident's varlist: changing it relinks, and fails
    out = failed(scons(project, "build/kernel2.elf", "strict=1"))
    assert re.search(r"scons: \*\*\* \[build/kernel2\.elf\] .*k_add", out), out


def test_toolchain_outside_scons_path(project, tmp_path):
    # A toolchain found on the user's PATH but not on the PATH SCons gives its
    # commands still works: the tool then uses its full path.
    bindir = tmp_path / "cross-bin"
    bindir.mkdir()
    for tool in ("gcc", "ar", "ranlib"):
        (bindir / f"mycross-{tool}").symlink_to(real_tool(f"mipsel-linux-gnu-{tool}"))
    extra = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
             "GAMEVM_PSX_PREFIX": "mycross-"}
    edit(project / "SConstruct", "# @EXTRA", "print('PREFIX', env.subst('$GAMEVM_PREFIX'))")
    out = ok(scons(project, extra_env=extra))
    assert f"PREFIX {bindir}/mycross-" in out
    assert (project / "build/kernel.elf").is_file()
    assert scons(project, "-q", extra_env=extra).returncode == 0


def test_module_checked_against_resident(project):
    (project / "late").mkdir()
    (project / "late/late.c").write_text(
        '#include "api.h"\nint late_f(void) { return k_add(1, 2); }\n')
    edit(project / "SConstruct", "# @EXTRA",
         "env.GameVMModule('build/late', ['late/late.c'], GAMEVM_RESIDENT=kernel)\n")
    out = ok(scons(project, "-j1", "build/late.elf"))
    linked = [line.split()[1] for line in out.splitlines()
              if line.startswith(("Module ", "Resident "))]
    assert linked[-2:] == ["build/kernel.elf", "build/late.elf"]   # resident first
    edit(project / "late/late.c", "return k_add(1, 2);", "return k_nope();")
    edit(project / "late/late.c", "int late_f", "int k_nope(void);\nint late_f")
    out = failed(scons(project, "build/late.elf"))
    assert "k_nope" in out
    assert re.search(r"scons: \*\*\* \[build/late\.elf\]", out), out


def test_missing_needs_names_the_providing_module(project):
    """A module importing from another module it does not list in GAMEVM_NEEDS: the
    resident's error names the module that exports the symbol and the fix (issue 19)."""
    edit(project / "SConstruct", "GAMEVM_NEEDS=[mathx],  # @NEEDS", "")
    out = failed(scons(project))
    assert re.search(r"scons: \*\*\* \[build/kernel\.elf\]", out), out
    assert "module 'game' (build/game.elf) imports: mathx_scale" in out
    assert "exported by module 'mathx' (build/mathx.elf)" in out
    assert "GAMEVM_NEEDS=['#build/mathx.elf']" in out


# A project config for the small project, written where SCons does not build: its
# module files say out/*.elf (or nothing), the build writes build/*.elf (issue 19).
DECOUPLED_CONFIG = """\
{
  "version": 1,
  "target": "psx",
  "memoryMap": {"regions": [
    {"name": "Main", "start": "0x80010000", "size": "1MB"}]},
  "resident": {"file": "out/kernel.elf"},
  "modules": {
    "mathx": {"file": "out/mathx.elf", "region": "Main"},
    "game": {"region": "Main", "needs": ["mathx"]},
    "other": {"region": "Main"}
  },
  "scenes": {"title": {"modules": []}, "play": {"modules": ["game", "other"]}},
  "start": "title",
  "transitions": [{"from": "title", "to": "play", "budget_ms": 5000}]
}
"""

DECOUPLED_BUILDERS = """\
env.GameVMBudget('build/budget', ['gamevm.json', mathx, game, other], GAMEVM_RESIDENT=kernel)
env.GameVMDisc('build/disc.iso', ['gamevm.json', mathx, game, other], GAMEVM_RESIDENT=kernel)
env.GameVMValidate('build/validate', [mathx, game, other], GAMEVM_RESIDENT=kernel,
                   GAMEVM_CONFIG='gamevm.json')
"""


#: every module's file named where the build does not write it (the original failure:
#: "Explicit dependency 'out/mathx.elf' not found"), or some files left out
DECOUPLED_VARIANTS = {
    "elsewhere": DECOUPLED_CONFIG.replace('"game": {"region"', '"game": {"file": "out/game.elf", '
                                          '"region"').replace(
        '"other": {"region"', '"other": {"file": "out/other.elf", "region"'),
    "omitted": DECOUPLED_CONFIG,
}


@pytest.mark.parametrize("variant", sorted(DECOUPLED_VARIANTS))
def test_builders_supply_modules_the_config_names_elsewhere_or_not_at_all(project, variant):
    """Budget, disc and validation take the modules the build made, whatever (or whether)
    the config's ``file`` says: a config path is only the CLI's default."""
    (project / "gamevm.json").write_text(DECOUPLED_VARIANTS[variant])
    edit(project / "SConstruct", "# @EXTRA", DECOUPLED_BUILDERS)
    out = ok(scons(project))
    assert "Explicit dependency" not in out
    assert (project / "build/budget.txt").is_file()
    assert (project / "build/disc.iso").is_file()
    assert (project / "build/validate.xml").is_file()
    assert not (project / "out").exists()
    assert "up to date" in ok(scons(project, "build"))


def test_cli_budget_names_the_module_without_a_file(built):
    """Outside a build, a module with neither ``file`` nor ``estimate`` is an error naming
    the module and the key, with the two ways to give its file (exit 2)."""
    (built / "gamevm.json").write_text(DECOUPLED_CONFIG)
    proc = subprocess.run([sys.executable, "-m", "gamevm_build", "budget", "-c", "gamevm.json",
                           "--module", "mathx=build/mathx.elf", "--resident",
                           "build/kernel.elf"], cwd=built, env=_env(),
                          capture_output=True, text=True, timeout=SCONS_TIMEOUT)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "modules.game.file" in proc.stderr
    assert "--module game=" in proc.stderr
