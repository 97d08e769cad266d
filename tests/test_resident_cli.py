"""The resident builder and the gamevm CLI, run as users run them (subprocess)."""

from __future__ import annotations

import json

import pytest

from conftest import run_gamevm
from gamevm_build.link.module import read_module
from gamevm_build.link.resident import read_resident

KERNEL = """
int kernel_counter;
int kernel_add(int a, int b) { return a + b; }
int only_modules_use_me(int x) { return x * 7; }
int nobody_uses_me(int x) { return x - 7; }
void _start(void) { for (;;) ; }
"""

LEVEL = """
extern int kernel_add(int, int);
extern int only_modules_use_me(int);
extern int kernel_counter;
int level_run(int x) { kernel_counter++; return kernel_add(x, only_modules_use_me(x)); }
"""


@pytest.fixture
def game(build, target):
    """A module and the kernel source, with the module built by the CLI."""
    kernel = build.source("kernel.c", KERNEL)
    level_c = build.source("level.c", LEVEL)
    level = build.tmp / "level.elf"
    proc = run_gamevm("module", "-t", target, "-o", level, level_c)
    assert proc.returncode == 0, proc.stderr
    return kernel, level


def test_resident_keeps_what_modules_import_and_gcs_the_rest(build, target, game):
    kernel, level = game
    out = build.tmp / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, "--modules", level, kernel)
    assert proc.returncode == 0, proc.stderr
    syms = read_resident(out, target).symbols
    assert {"kernel_add", "only_modules_use_me", "kernel_counter", "_start"} <= set(syms)
    assert "nobody_uses_me" not in syms          # --gc-sections still works
    assert "warning" not in proc.stderr           # libgcc ABI noise is filtered


def test_resident_default_base_is_profile_base(build, target, profile, game):
    kernel, level = game
    out = build.tmp / "kernel.elf"
    assert run_gamevm("resident", "-t", target, "-o", out, kernel).returncode == 0
    res = read_resident(out, target)
    assert min(v for v, *_ in res.segments) == profile.resident_base
    out2 = build.tmp / "kernel2.elf"
    base = profile.resident_base + 0x10000
    assert run_gamevm("resident", "-t", target, "-o", out2, "--base", hex(base), kernel).returncode == 0
    assert read_resident(out2, target).symbols["_start"] >= base


def test_import_nobody_provides_names_module_and_symbol(build, target):
    kernel = build.source("kernel.c", "void _start(void){ for(;;); }\n")
    lvl = build.source("lvl.c", "extern int missing_fn(int); extern int missing_data;\n"
                                "int run(int x){ return missing_fn(x) + missing_data; }\n")
    mod = build.tmp / "lvl.elf"
    assert run_gamevm("module", "-t", target, "-o", mod, lvl).returncode == 0
    out = build.tmp / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, "--modules", mod, kernel)
    assert proc.returncode == 1
    assert "module 'lvl'" in proc.stderr and "missing_data, missing_fn" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()                      # no half-written output


def test_import_from_needed_module_is_not_forced_into_resident(build, target):
    kernel = build.source("kernel.c", "void _start(void){ for(;;); }\n")
    phys = build.tmp / "physics.elf"
    assert run_gamevm("module", "-t", target, "-o", phys,
                      build.source("physics.c", "int gravity(int v){ return v - 10; }\n")).returncode == 0
    lvl = build.tmp / "lvl.elf"
    proc = run_gamevm("module", "-t", target, "-o", lvl, "--needs", phys,
                      build.source("lvl.c", "int gravity(int); int fall(int v){ return gravity(v); }\n"))
    assert proc.returncode == 0, proc.stderr
    assert read_module(lvl).needs == ["physics"]
    out = build.tmp / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, "--modules", phys, lvl, kernel)
    assert proc.returncode == 0, proc.stderr


def test_repeated_list_options_add_up(build, target):
    """``--needs a --needs b`` records both needs, as ``--needs a b`` does (a repeated
    option once kept only its last list: a module built so loaded without its first need
    and failed on its imports), and ``--modules`` repeated keeps every module's imports."""
    kernel = build.source("kernel.c", "int k(int v){ return v; }\nvoid _start(void){ for(;;); }\n")
    made = {}
    for name, body in (("pa", "int pa_f(int v){ return v + 1; }\n"),
                       ("pb", "int pb_f(int v){ return v + 2; }\n")):
        made[name] = build.tmp / f"{name}.elf"
        assert run_gamevm("module", "-t", target, "-o", made[name],
                          build.source(f"{name}.c", body)).returncode == 0
    use = build.source("use.c", "int pa_f(int), pb_f(int), k(int);\n"
                                "int use(int v){ return k(pa_f(v) + pb_f(v)); }\n")
    for args in (["--needs", made["pa"], "--needs", made["pb"]],
                 ["--needs", made["pa"], made["pb"]]):
        out = build.tmp / "use.elf"
        proc = run_gamevm("module", "-t", target, "-o", out, *args, use)
        assert proc.returncode == 0, proc.stderr
        assert read_module(out).needs == ["pa", "pb"]
    res = build.tmp / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", res, "--modules", made["pa"],
                      made["pb"], "--modules", out, kernel)
    assert proc.returncode == 0, proc.stderr
    assert "k" in read_resident(res, target).symbols


def test_module_redefining_resident_global_warns_and_strict_fails(build, target):
    kernel = build.source("kernel.c", "__attribute__((noinline)) void *memcpy(void *d, const void *s, unsigned n)"
                                      "{ char *a = d; const char *b = s; while (n--) *a++ = *b++; return d; }\n"
                                      "char buf[8];\n"
                                      "void _start(void){ memcpy(buf, \"abc\", 4); for(;;); }\n")
    lvl = build.source("lvl.c", "void *memcpy(void *d, const void *s, unsigned n){ return d; }\n")
    mod = build.tmp / "lvl.elf"
    assert run_gamevm("module", "-t", target, "-o", mod, lvl).returncode == 0
    out = build.tmp / "kernel.elf"
    proc = run_gamevm("resident", "-t", target, "-o", out, "--modules", mod, kernel)
    assert proc.returncode == 0
    assert "warning: module 'lvl' defines 'memcpy', which the resident" in proc.stderr
    proc = run_gamevm("resident", "-t", target, "-o", build.tmp / "k2.elf", "--strict",
                      "--modules", mod, kernel)
    assert proc.returncode == 1 and "--strict" in proc.stderr and "memcpy" in proc.stderr


def test_prelink_binds_and_checks_jump_range(build, target, profile, game):
    kernel, level = game
    res = build.tmp / "kernel.elf"
    assert run_gamevm("resident", "-t", target, "-o", res, "--modules", level, kernel).returncode == 0
    img = build.tmp / "level.bin"
    base = profile.resident_base + 0x20000
    proc = run_gamevm("prelink", level, "--base", hex(base), "--resident", res, "-o", img)
    assert proc.returncode == 0, proc.stderr
    assert len(img.read_bytes()) == read_module(level).image_size
    # a jal from another 256 MB segment cannot reach the resident
    far = build.tmp / "far.bin"
    proc = run_gamevm("prelink", level, "--base", "0x90000000", "--resident", res, "-o", far)
    assert proc.returncode == 1
    assert "R_MIPS_26" in proc.stderr and "256 MB segment" in proc.stderr
    assert ("kernel_add" in proc.stderr or "only_modules_use_me" in proc.stderr)
    assert not far.exists()


def test_prelink_misaligned_base_is_usage_error(build, target, game):
    kernel, level = game
    res = build.tmp / "kernel.elf"
    assert run_gamevm("resident", "-t", target, "-o", res, kernel, "--modules", level).returncode == 0
    proc = run_gamevm("prelink", level, "--base", "0x80100002", "--resident", res, "-o",
                      build.tmp / "x.bin")
    assert proc.returncode == 2 and "alignment" in proc.stderr


def test_inspect_json(build, target, game):
    _, level = game
    proc = run_gamevm("inspect", level, "--json")
    assert proc.returncode == 0
    info = json.loads(proc.stdout)
    assert info["name"] == "level" and info["target"] == target
    assert [e["name"] for e in info["exports"]] == ["level_run"]
    assert {i["name"]: i["refs"] for i in info["imports"]} == {
        "kernel_add": 1, "kernel_counter": 3, "only_modules_use_me": 1}  # lui + lw + sw
    assert info["relocations"]["by_type"]["R_MIPS_26"] == 2
    assert info["sizes"]["image"] == read_module(level).image_size
    text = run_gamevm("inspect", level)
    assert "level_run" in text.stdout and "R_MIPS_HI16" in text.stdout


def test_usage_errors_exit_2_without_traceback(build):
    for args in (["module", "-t", "nes", "-o", "x.elf", "a.c"],
                 ["module", "-t", "psx", "-o", "x.elf"],
                 ["module", "-t", "psx", "-o", "x.elf", "missing.c"],
                 ["inspect", "no-such.elf"],
                 ["prelink", "m.elf", "--base", "zz", "--resident", "r", "-o", "o"]):
        proc = run_gamevm(*args, cwd=build.tmp)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "gamevm: error:" in proc.stderr and "Traceback" not in proc.stderr
    assert "choose one of" in run_gamevm("module", "-t", "nes", "-o", "x", "a.c").stderr


def test_python_m_and_console_script_agree():
    proc = run_gamevm("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("gamevm ")


def test_warning_names_the_output_not_a_temporary_file(build, target):
    from gamevm_build.link.resident import build_resident
    kernel = build.obj("kernel.c", "__attribute__((noinline)) int k_add(int a, int b){ return a + b; }\n"
                                   "int r; void _start(void){ r = k_add(1, 2); for(;;); }\n")
    mod = build.tmp / "m.elf"
    assert run_gamevm("module", "-t", target, "-o", mod,
                      build.source("m.c", "int k_add(int a, int b){ return a - b; }\n")).returncode == 0
    out = build.tmp / "out" / "kernel.elf"
    result = build_resident(target, [kernel], out, modules=[mod])
    assert result.warnings == [f"module 'm' defines 'k_add', which the resident ({out}) also "
                               "defines: the module will use its own copy (a second copy of the runtime?)"]


def test_missing_needed_module_file_is_an_error(build, target):
    src = build.source("m.c", "int f(void){ return 1; }\n")
    proc = run_gamevm("module", "-t", target, "-o", build.tmp / "m.elf", "--needs",
                      build.tmp / "physic.elf", src)
    assert proc.returncode == 2 and "needed module" in proc.stderr and "physic.elf" in proc.stderr


@pytest.mark.parametrize("command", ["module", "resident"])
def test_isa_refusal_names_the_source_and_exits_1(build, target, profile, command):
    """Code the CPU cannot run is a build failure (exit 1) for every command, and the message
    names the C file, not the temporary object it was compiled to."""
    build.source("mul.c", "int mul(int a, int b) { return a * b; }\nvoid _start(void) {}\n")
    keep = ["--keep=mul"] if command == "resident" else []
    proc = run_gamevm(command, "-t", target, "-o", "out.elf", "mul.c", "--cflags=-march=mips32r2",
                      *keep, cwd=build.tmp)
    assert proc.returncode == 1, proc.stderr
    assert f"mul.c: built for mips32r2, which the {profile.cpu_name} of target {target} cannot run" \
        in proc.stderr
    assert "-march=" in proc.stderr and "gamevm-" not in proc.stderr and ".o" not in proc.stderr
    assert not (build.tmp / "out.elf").exists()


def test_messages_name_sources_not_temporary_objects(build, target):
    build.source("a.c", "int twice(int x) { return 2 * x; }\n")
    build.source("b.c", "int twice(int x) { return x + x; }\n")
    proc = run_gamevm("module", "-t", target, "-o", "m.elf", "a.c", "b.c", "--map", "m.map",
                      cwd=build.tmp)
    assert proc.returncode == 1
    assert "multiple definition of 'twice': first defined in a.c (.text), again in b.c" in proc.stderr
    build.source("b.c", "int thrice(int x) { return 3 * x; }\n")
    proc = run_gamevm("module", "-t", target, "-o", "m.elf", "a.c", "b.c", "--map", "m.map",
                      cwd=build.tmp)
    assert proc.returncode == 0, proc.stderr
    assert "a.c(.text)" in (build.tmp / "m.map").read_text()
