"""Validation on the emulated console: :func:`gamevm_build.play.validate.validate` and GameVMValidate.

``validate()`` runs in-process on the real example game (built by scons,
tests/example_game.py); the JUnit XML it writes is read back with
``xml.etree``.  The SCons builder runs end to end in a subprocess on a small
project whose resident uses gamevm.h (``GAMEVM_INCLUDE``) and keeps a
host-only function (``GAMEVM_KEEP``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from example_game import REPO, example_game, scons  # noqa: F401  (fixture)
from gamevm_build.errors import ConfigError
from gamevm_build.play.validate import parse_tests, validate

EXAMPLE_TESTS = [("kernel_selftest()", 0), ("physics:fx_isqrt(144)", 12),
                 {"call": "boss:boss_spawn()", "expect": None},
                 {"call": "boss_hp()", "expect": "0x64"}, 'gvm_strlen("")']


def cases(xml_path: Path):
    root = ET.parse(xml_path).getroot()
    suite = root.find("testsuite")
    return root, suite, suite.findall("testcase")


def build_module(out: Path, target: str, name: str, source: str, needs=()) -> Path:
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.toolchain import find_toolchain

    src = out / f"{name}.c"
    src.write_text(source)
    obj = find_toolchain(target).compile(src, out / f"{name}.o",
                                         include_dirs=[REPO / "gamevm_build" / "include"])
    link_module(target, [obj], out / f"{name}.elf", needs=list(needs))
    return out / f"{name}.elf"


def test_validate_passes_on_the_example(example_game, target, tmp_path):
    out = example_game(target)
    # given in reverse: needs are loaded first anyway
    modules = [out / "boss.elf", out / "level1.elf", out / "physics.elf"]
    report = tmp_path / "report" / "validate.xml"
    result = validate(target, out / "kernel.elf", modules, EXAMPLE_TESTS, report)
    assert result.ok, result.failure_lines()
    assert [lm.name for lm in result.modules] == ["physics", "boss", "level1"]
    assert result.summary_line() == f"validate: 8 passed, 0 failed ({target})"
    assert result.output == ["kernel: level1 loaded, self test passed, unloaded"]

    root, suite, tcs = cases(report)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("8", "0", "0")
    assert suite.get("name") == f"gamevm.validate.{target}"
    assert [(tc.get("classname"), tc.get("name")) for tc in tcs] == [
        (f"{target}.physics", "gamevm_selftest()"),
        (f"{target}.boss", "gamevm_selftest()"),
        (f"{target}.level1", "gamevm_selftest()"),
        (f"{target}.tests", "kernel_selftest() == 0"),
        (f"{target}.tests", "physics:fx_isqrt(144) == 12"),
        (f"{target}.tests", "boss:boss_spawn()"),
        (f"{target}.tests", "boss_hp() == 100"),
        (f"{target}.tests", 'gvm_strlen("") == 0'),
    ]
    assert all(tc.find("failure") is None and tc.find("error") is None for tc in tcs)
    assert tcs[3].find("system-out").text == "kernel: level1 loaded, self test passed, unloaded\n"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["target"] == target and props["module.level1"].startswith(str(out / "level1.elf"))
    # deterministic: the same inputs give the same bytes (no timestamps, no times)
    first = report.read_bytes()
    assert b"timestamp" not in first and b"time=" not in first
    validate(target, out / "kernel.elf", modules, EXAMPLE_TESTS, report)
    assert report.read_bytes() == first


def test_validate_reports_every_kind_of_failure(example_game, tmp_path):
    out = example_game("psx")
    failing = build_module(tmp_path, "psx", "failing",
                           "int gamevm_selftest(void) { return 3; }\n"
                           "int spin(void) { for (;;) ; }\n")
    (tmp_path / "junk.elf").write_bytes(b"\x7fELF" + bytes(60))
    report = tmp_path / "v.xml"
    result = validate("psx", out / "kernel.elf",
                      [out / "crashy.elf", failing, tmp_path / "junk.elf"],
                      [("boss_hp()", 7),                       # boss is not loaded
                       ("physics:fx_isqrt(144)", -12),
                       ("crashy:crashy_store(0x10, 1)", 0),
                       ("failing:spin()", 0),
                       ('crashy:crashy_say("said")', 4)],
                      report, max_instructions=50_000)
    assert not result.ok
    assert result.summary_line() == "validate: 3 passed, 6 failed (psx)"
    root, suite, tcs = cases(report)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("9", "2", "4")
    by_name = {(tc.get("classname"), tc.get("name")): tc for tc in tcs}

    def outcome(classname, name):
        tc = by_name[(classname, name)]
        el = tc.find("failure") if tc.find("failure") is not None else tc.find("error")
        return None if el is None else (el.tag, el.get("type"), el.get("message"), el.text)

    tag, kind, message, _ = outcome("psx.junk", "load")
    assert (tag, kind) == ("error", "load") and message.startswith("lsBadFormat: ")
    assert outcome("psx.physics", "gamevm_selftest()") is None
    assert outcome("psx.crashy", "gamevm_selftest()") is None
    assert outcome("psx.failing", "gamevm_selftest()")[:3] == (
        "failure", "mismatch", "failing:gamevm_selftest() returned 3 (0x00000003), "
                               "expected 0 (0x00000000)")
    assert outcome("psx.tests", "boss_hp() == 7")[:3] == (
        "error", "error", "boss_hp(): no symbol 'boss_hp' in the resident or any loaded module")
    assert outcome("psx.tests", "physics:fx_isqrt(144) == -12")[2] == (
        "physics:fx_isqrt(144) returned 12 (0x0000000c), expected -12 (0xfffffff4)")
    tag, kind, message, _ = outcome("psx.tests", "crashy:crashy_store(0x10, 1) == 0")
    assert (tag, kind) == ("error", "fault")
    assert message.startswith("crashy:crashy_store(0x10, 1) faulted: write of unmapped address "
                              "0x00000010 (4 bytes): pc ")
    assert "<crashy:crashy_store+0x" in message
    tag, kind, message, _ = outcome("psx.tests", "failing:spin() == 0")
    assert (tag, kind) == ("error", "timeout")
    assert "budget of 50000 instructions" in message and "<failing:spin" in message
    assert outcome('psx.tests', 'crashy:crashy_say("said") == 4') is None
    assert by_name[("psx.tests", 'crashy:crashy_say("said") == 4')].find("system-out").text \
        == "said\n"
    lines = result.failure_lines(limit=2)
    assert lines[0].startswith("  psx.junk load: lsBadFormat: ")
    assert lines[-1] == "  ... and 4 more in " + str(report)


def test_missing_needs_are_read_from_the_search_path(example_game, tmp_path):
    out = example_game("n64")
    result = validate("n64", out / "kernel.elf", [out / "level1.elf"])
    assert result.ok and [lm.name for lm in result.modules] == ["physics", "level1"]
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "level1.elf").write_bytes((out / "level1.elf").read_bytes())
    result = validate("n64", out / "kernel.elf", [alone / "level1.elf"])
    assert result.summary_line() == "validate: 0 passed, 1 failed (n64)"
    assert (result.cases[0].classname, result.cases[0].name) == ("n64.level1", "load")
    assert result.cases[0].message.startswith("lsFileNotFound: module 'physics' not found in "
                                              f"search path {alone}")
    result = validate("n64", out / "kernel.elf", [alone / "level1.elf"], search_paths=[out])
    assert result.ok and result.modules[0].path == str(out / "physics.elf")


def test_declared_tests_are_checked_before_running():
    checks = parse_tests([("f(1)", -1), {"call": "m:g()", "expect": None}, "h()"])
    assert [(c.expr.text, c.expect) for c in checks] == [("f(1)", -1), ("m:g()", None),
                                                         ("h()", 0)]
    for bad, message in [([("f(a)", 0)], "GAMEVM_TESTS[0]: call expression 'f(a)'"),
                         ([("f()", "x")], "GAMEVM_TESTS[0]: expect must be an integer"),
                         ([("f()", 1 << 32)], "does not fit 32 bits"),
                         ([{"call": "f()", "exp": 1}], "unknown keys: exp"),
                         ([42], "expected (EXPR, expect)")]:
        with pytest.raises(ConfigError) as info:
            parse_tests(bad)
        assert message in str(info.value)


# --------------------------------------------------------------------------- SCons

SCONSTRUCT = """\
import gamevm_build.scons

env = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH],
                  GAMEVM_TARGET=ARGUMENTS.get('target', 'psx'))
env.Append(CPPDEFINES=[('SELFTEST_RESULT', ARGUMENTS.get('result', '0'))])
mod = env.GameVMModule('build/mod', ['mod.c'])
kernel = env.GameVMResident('build/kernel', ['kernel.c'], GAMEVM_MODULES=[mod],
                            GAMEVM_KEEP=['kernel_boot'])
env.GameVMValidate('build/validate.xml', kernel + mod,
                   GAMEVM_TESTS=[('kernel_boot("mod")', ARGUMENTS.get('expect', '42')),
                                 {'call': 'mod:mod_twice(-4)', 'expect': -8}])
"""

KERNEL = """\
#include "gamevm.h"
int k_base(void) { return 40; }
int kernel_boot(const char *name)
{
    TLoadStatus st;
    TModuleHandle h = LoadModuleEx(name, &st);
    int (*f)(void);
    int r;
    if (!h)
        return -100 - (int)st;
    f = (int (*)(void))GetModuleProc(h, "mod_answer");
    GameVMPrint("kernel_boot: loaded");
    r = f ? f() : -2;
    UnloadModule(h);
    return r;
}
void _start(void) { for (;;) ; }
"""

MOD = """\
int k_base(void);
int mod_answer(void) { return k_base() + 2; }
int mod_twice(int x) { return 2 * x; }
int gamevm_selftest(void) { return SELFTEST_RESULT; }
"""


def test_scons_validates_and_fails_the_build(tmp_path):
    (tmp_path / "SConstruct").write_text(SCONSTRUCT)
    (tmp_path / "kernel.c").write_text(KERNEL)
    (tmp_path / "mod.c").write_text(MOD)
    p = scons(tmp_path, "target=n64")
    assert p.returncode == 0, p.stdout
    assert "gamevm: validate: 3 passed, 0 failed (n64)" in p.stdout
    _, _, tcs = cases(tmp_path / "build" / "validate.xml")
    assert [tc.get("name") for tc in tcs] == ["gamevm_selftest()", 'kernel_boot("mod") == 42',
                                              "mod:mod_twice(-4) == -8"]
    assert "is up to date" in scons(tmp_path, "target=n64", "build/validate.xml").stdout
    # a changed expectation re-runs the validation
    p = scons(tmp_path, "target=n64", "expect=43")
    assert p.returncode != 0 and "Traceback" not in p.stdout
    assert "returned 42 (0x0000002a), expected 43 (0x0000002b)" in p.stdout

    # a failing self test fails the build: scons: *** [target] summary, no traceback
    p = scons(tmp_path, "target=n64", "result=5")
    assert p.returncode != 0
    assert "Traceback" not in p.stdout
    assert ("scons: *** [build/validate.xml] validate: 2 passed, 1 failed (n64) "
            "(report: build/validate.xml)\n  n64.mod gamevm_selftest(): "
            "mod:gamevm_selftest() returned 5 (0x00000005), expected 0 (0x00000000)") in p.stdout
    _, _, tcs = cases(tmp_path / "build" / "validate.xml")      # the report is still written
    assert tcs[0].find("failure").get("type") == "mismatch"

    # a malformed GAMEVM_TESTS entry is reported when the SConstruct is read
    p = scons(tmp_path, "target=n64", "expect=lots")
    assert p.returncode != 0 and "Traceback" not in p.stdout
    assert "scons: *** gamevm: GAMEVM_TESTS[0]: expect must be an integer, not 'lots'" in p.stdout
