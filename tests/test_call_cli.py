"""``gamevm call`` on the real example game (built by scons) for both consoles.

The CLI runs in a subprocess (``python -m gamevm_build call``); the modules are
the example's (physics, level1, boss) plus ``crashy`` (tests/example_game.py),
whose functions fault, spin and print on purpose.  The expression parser is
also tested in-process.
"""

from __future__ import annotations

import json

import pytest

from conftest import run_gamevm
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.play.callexpr import CallExprError, format_value, parse_call, signed32


def call(out, target, *args, resident="kernel.elf"):
    return run_gamevm("call", "-t", target, "--resident", out / resident, *args)


def assert_clean(proc):
    assert "Traceback" not in proc.stdout + proc.stderr


# ----------------------------------------------------------------------- parser

def test_parse_call_expressions():
    e = parse_call('physics:fx_mul(0x30000, -0x20000)')
    assert (e.module, e.symbol, e.args) == ("physics", "fx_mul", (0x30000, -0x20000))
    assert e.name == "physics:fx_mul" and e.text == "physics:fx_mul(0x30000, -0x20000)"
    e = parse_call('  gvm_strlen( "h\\u00e9\\n" )')
    assert (e.module, e.args, e.text) == (None, ("hé\n".encode(),), 'gvm_strlen("h\\u00e9\\n")')
    assert parse_call("f()").args == ()
    assert parse_call("my-mod.v2:f(b'\\x00\\xff', +7, 0xffffffff, -2147483648)").args == \
        (b"\x00\xff", 7, 0xFFFFFFFF, -(1 << 31))


@pytest.mark.parametrize("text,why", [
    ("f", "no function name followed by '('"),
    ("f(a)", "argument 'a' is not an integer or a string literal"),
    ("f(1+2)", "argument '1+2' is not an integer"),
    ("f(-'s')", "is not an integer or a string literal"),
    ("f(1.5)", "is not an integer"),
    ("f(True)", "is not an integer"),
    ("f(x=1)", "keyword arguments are not supported"),
    ("f(*a)", "*arguments are not supported"),
    ("f(0x100000000)", "does not fit 32 bits"),
    ("f(-0x80000001)", "does not fit 32 bits"),
    ("f(1)(2)", "not a single call"),
    ("f(1) + 2", "not a single call"),
    ("f(1", "syntax error"),
    ("__import__('os').system('x')", "not a single call"),
])
def test_parse_call_rejects(text, why):
    with pytest.raises(CallExprError, match="expected \\[module:\\]symbol") as info:
        parse_call(text)
    assert why in str(info.value)


def test_value_formatting_is_signed_decimal_and_unsigned_hex():
    assert format_value(0xFFFFFFFF) == "-1 (0xffffffff)"
    assert format_value(5) == "5 (0x00000005)"
    assert signed32(0x80000000) == -(1 << 31) and signed32(-1) == -1


# ----------------------------------------------------------------------- CLI

def test_results_strings_and_module_symbols(example_game, target):
    out = example_game(target)
    p = call(out, target, "--load", "level1", "--load", "boss.elf", "--load", "crashy",
             "level1:gamevm_selftest()", "physics:fx_mul(0x30000, -0x20000)",
             'gvm_strlen("hello")', "boss:boss_spawn()", "boss_hp()",
             "crashy:crashy_sum(1, 2, 3, 4, 5, -6)", 'crashy:crashy_say("hi\\nthere")')
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    lines = p.stdout.splitlines()
    # physics comes first: level1 needs it
    assert [l.split(" at ")[0] for l in lines[:4]] == [
        "loaded physics", "loaded level1", "loaded boss", "loaded crashy"]
    assert lines[4:] == [
        "level1:gamevm_selftest() = 0 (0x00000000)",
        "physics:fx_mul(0x30000, -0x20000) = -393216 (0xfffa0000)",
        'gvm_strlen("hello") = 5 (0x00000005)',
        f"boss:boss_spawn() = {lines[7].split(' = ')[1]}",      # void: whatever v0 holds
        "boss_hp() = 100 (0x00000064)",
        "crashy:crashy_sum(1, 2, 3, 4, 5, -6) = 9 (0x00000009)",
        "print: hi", "print: there",
        'crashy:crashy_say("hi\\nthere") = 8 (0x00000008)',
    ]


def test_resident_uses_the_loader_api(example_game, target):
    out = example_game(target)
    # kernel_selftest LoadModule()s level1, which needs physics loaded
    p = call(out, target, "-q", "--load", "physics", "kernel_selftest()", "kernel_selftest()")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "print: kernel: level1 loaded, self test passed, unloaded",
        "kernel_selftest() = 0 (0x00000000)"] * 2
    # LoadModule loads the modules a module needs first (docs/runtime.md): physics here
    p = call(out, target, "kernel_selftest()", 'gvm_boot_level("nosuch", "x")')
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0:2] == ["print: kernel: level1 loaded, self test passed, unloaded",
                          "kernel_selftest() = 0 (0x00000000)"]
    assert lines[2].startswith('print: [loader] LoadModule("nosuch"): lsFileNotFound: ')
    assert lines[3] == 'gvm_boot_level("nosuch", "x") = -101 (0xffffff9b)'


def test_json(example_game):
    out = example_game("psx")
    p = call(out, "psx", "--json", "--load", str(out / "crashy.elf"),
             'crashy:crashy_say("hey")', "crashy_fx(-0x10000, 0x10000)")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["status"] == "ok" and doc["target"] == "psx"
    assert [m["name"] for m in doc["modules"]] == ["physics", "crashy"]
    assert all(m["base"].startswith("0x800") and m["region"] == "heap" for m in doc["modules"])
    assert doc["output"] == ["hey"]
    assert doc["calls"] == [
        {"call": 'crashy:crashy_say("hey")', "function": "crashy:crashy_say", "args": ["hey"],
         "result": 3, "unsigned": 3, "hex": "0x00000003"},
        {"call": "crashy_fx(-0x10000, 0x10000)", "function": "crashy_fx",
         "args": [-0x10000, 0x10000], "result": -0x10000, "unsigned": 0xFFFF0000,
         "hex": "0xffff0000"}]


def test_fault_prints_symbolized_report_and_exits_1(example_game, target):
    out = example_game(target)
    p = call(out, target, "-q", "--load", "crashy", "crashy_sum(1, 1, 1, 1, 1, 1)",
             "crashy:crashy_store(0x10, 7)", "crashy_sum(0, 0, 0, 0, 0, 0)")
    assert_clean(p)
    assert p.returncode == 1
    assert p.stdout == "crashy_sum(1, 1, 1, 1, 1, 1) = 6 (0x00000006)\n"   # later calls: not run
    assert p.stderr.startswith("gamevm: error: crashy:crashy_store(0x10, 7): emulated CPU fault: "
                               "write of unmapped address 0x00000010 (4 bytes): pc ")
    assert "<crashy:crashy_store+0x" in p.stderr
    assert "in call to 0x" in p.stderr and "<crashy:crashy_store>" in p.stderr
    # --json: the report as fields
    p = call(out, target, "--json", "--load", "crashy", "gvm_strlen(0)")
    assert p.returncode == 1
    err = json.loads(p.stdout)["error"]
    assert err["kind"] == "fault" and err["report"]["access"] == "read"
    assert err["report"]["address"] == "0x00000000"
    assert err["report"]["function_symbol"] == "gvm_strlen"


def test_timeout_exits_1(example_game):
    out = example_game("psx")
    p = call(out, "psx", "--load", "crashy", "--max-instructions", "0x2000",
             "crashy:crashy_spin(1)")
    assert_clean(p)
    assert p.returncode == 1
    assert "did not return within its budget of 8192 instructions" in p.stderr
    assert "<crashy:crashy_spin" in p.stderr and "--max-instructions" in p.stderr


def test_load_failures_exit_1_with_status(example_game, tmp_path):
    out = example_game("psx")
    p = call(out, "psx", "--load", "nosuch", "f()")
    assert_clean(p)
    assert p.returncode == 1
    assert p.stderr.startswith("gamevm: error: cannot load module 'nosuch': lsFileNotFound: "
                               "module 'nosuch' not found in search path")
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"\x7fELF" + bytes(60))
    p = call(out, "psx", "--load", str(junk), "f()")
    assert p.returncode == 1 and ": lsBadFormat: " in p.stderr
    n64 = example_game("n64")
    p = call(out, "psx", "--json", "--load", str(n64 / "physics.elf"), "f()")
    assert p.returncode == 1
    err = json.loads(p.stdout)["error"]
    assert (err["load_status"], err["load_status_value"]) == ("lsIncompatibleTarget", 5)


def test_usage_errors_exit_2(example_game):
    out = example_game("psx")
    for args, message in [
        (["f(a)"], "argument 'a' is not an integer or a string literal"),
        (["nosuch()"], "no symbol 'nosuch' in the resident or any loaded module"),
        (["physics:fx_mul(1, 2)"], "no module 'physics' is loaded"),
        (["--load", "physics", "physics:nosuch()"], "module 'physics' exports no symbol 'nosuch'"),
        ([], "give at least one EXPR"),
        (["--config", str(out / "nosuch.json"), "f()"], "project configuration not found"),
    ]:
        p = call(out, "psx", *args)
        assert_clean(p)
        assert p.returncode == 2, (args, p.stderr)
        assert message in p.stderr, (args, p.stderr)
    p = call(out, "psx", "f()", resident="nosuch.elf")
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_config_memory_map_places_modules(example_game):
    out = example_game("psx")
    config = out.parents[1] / "examples" / "game" / "gamevm.json"
    # LevelB is an overlay: boss, loaded after crashy, evicts it (docs/runtime.md)
    p = call(out, "psx", "--json", "--config", str(config), "--load", "level1",
             "--load", "crashy@LevelB", "--load", "boss",
             "level1:gamevm_selftest()", "boss:gamevm_selftest()")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    placed = {m["name"]: (m["region"], m["base"]) for m in doc["modules"]}
    assert placed["physics"][0] == "Resident"
    assert placed["level1"] == ("LevelA", "0x80080000")
    assert placed["boss"] == ("LevelB", "0x800c0000")
    assert placed["crashy"][0] == "LevelB"
    assert [c["result"] for c in doc["calls"]] == [0, 0]
    # the n64 config does not fit a psx console
    p = call(out, "psx", "--config", str(config.with_name("gamevm-n64.json")), "f()")
    assert p.returncode == 2 and "target is 'n64', but -t psx was given" in p.stderr


def test_modules_from_a_disc_image(example_game, tmp_path):
    import io

    import pycdlib

    out = example_game("psx")
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1)
    for name in ("physics", "level1"):
        data = (out / f"{name}.elf").read_bytes()
        iso.add_fp(io.BytesIO(data), len(data), f"/{name.upper()}.ELF;1")
    image = tmp_path / "game.iso"
    iso.write(str(image))
    iso.close()
    # the resident lives elsewhere: modules come from the disc only
    (tmp_path / "kernel.elf").write_bytes((out / "kernel.elf").read_bytes())
    p = run_gamevm("call", "-t", "psx", "--resident", tmp_path / "kernel.elf", "--disc", image,
                   "--load", "level1", "level1:gamevm_selftest()", "kernel_selftest()")
    assert p.returncode == 0, p.stderr
    assert "loaded level1 at" in p.stdout
    assert p.stdout.splitlines()[-1] == "kernel_selftest() = 0 (0x00000000)"
    p = run_gamevm("call", "-t", "psx", "--resident", tmp_path / "kernel.elf", "--disc", image,
                   "--load", "boss", "f()")
    assert p.returncode == 1 and f"not found in disc image {image}" in p.stderr
