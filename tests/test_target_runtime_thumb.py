"""The Thumb build of the console-side runtime (``gamevm resident --runtime-isa thumb``, a
profile's ``runtime_isa = "thumb"``) against the reference loader on the GBA's CPU.

The GBA runs code from 16-bit EWRAM and ROM, where Thumb code is smaller and faster; the
runtime is compiled with -mthumb and interworks with the ARM kernel and ARM modules that
call it (and that it calls: constructors, readers, the game's sync_code).  The oracle
tests of tests/test_target_runtime.py, test_target_runtime_gaps.py and
test_target_runtime_reload.py run here unchanged on a resident whose runtime is Thumb code:
the same bases, RAM, stubs and statuses as the reference loader, safe mode included (its
stack scan starts from ARM-mode API entries, the frames it was written for).
"""

from __future__ import annotations

import pytest

import test_target_runtime as ttr
import test_target_runtime_gaps as gaps
import test_target_runtime_reload as reload_tests
from conftest import run_gamevm
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.errors import ConfigError

TARGET = "gba"


def thumb_cli(*args, **kw):
    """``run_gamevm`` with every resident's runtime built as Thumb code."""
    args = list(args)
    if args and args[0] == "resident" and "--runtime-isa" not in args and \
            any(str(a) == "target" for a in args):
        args += ["--runtime-isa", "thumb"]
    return run_gamevm(*args, **kw)


def is_thumb(kernel) -> bool:
    """Whether ``kernel``'s runtime is Thumb code (GetModuleProc's symbol has bit 0 set)."""
    from gamevm_build.link.resident import read_resident
    return bool(read_resident(kernel, TARGET).symbols["GetModuleProc"] & 1)


@pytest.fixture(autouse=True)
def thumb(monkeypatch, tmp_path):
    for mod in (ttr, gaps, reload_tests):
        monkeypatch.setattr(mod, "run_gamevm", thumb_cli, raising=False)
    yield
    # the small-module tests ran on Thumb runtimes (their residents are in tmp_path)
    kernels = [k for k in tmp_path.glob("kernel*.elf") if "host" not in k.name]
    assert all(is_thumb(k) for k in kernels), kernels


@pytest.fixture(scope="module")
def built_thumb(example_game):  # noqa: F811
    out = example_game(TARGET)
    kernel = out / "kernel-thumb.elf"
    if not kernel.exists():
        sources = sorted((ttr.EXAMPLE / "kernel").glob("*.c")) + [ttr.EXAMPLE / "kernel" / "start.S"]
        proc = run_gamevm("resident", "-t", TARGET, "-o", kernel, "--runtime", "target",
                          "--runtime-isa", "thumb", "-I", ttr.EXAMPLE / "include", "--modules",
                          *[out / f"{m}.elf" for m in ttr.MODULES], *sources)
        assert proc.returncode == 0, proc.stderr
    return TARGET, out, kernel


def test_the_runtime_is_thumb_code(built_thumb):
    """Its functions are Thumb (bit 0 of their symbols' values), except the stub entry and
    the API entries that take the caller's frame (ARM), and the kernel stays ARM."""
    from elftools.elf.elffile import ELFFile
    _t, _out, kernel = built_thumb
    with open(kernel, "rb") as f:
        syms = {s.name: s["st_value"] for s in ELFFile(f).get_section_by_name(".symtab")
                .iter_symbols() if s["st_info"]["type"] == "STT_FUNC"}
    assert is_thumb(kernel)
    assert syms["GetModuleProc"] & 1 and syms["GameVMInit"] & 1 and syms["LoadModule"] & 1
    assert not syms["gvm_stub_entry"] & 1 and not syms["LoadModuleEx"] & 1
    assert not syms["UnloadModule"] & 1 and not syms["_start"] & 1


def test_runtime_isa_is_checked(tmp_path):
    """Thumb needs an ARM CPU with Thumb: the psx's MIPS and the 3DO's ARMv3 refuse it by
    name, on the command line and in a profile."""
    from gamevm_build.project.profile import runtime_isa
    assert runtime_isa("thumb", "arm", "x", "armv4t") == "thumb"
    with pytest.raises(ConfigError) as err:
        runtime_isa("thumb", "mips", "gamevm_build/profiles/psx.toml", "mips1")
    assert "runtime_isa: 'thumb'" in str(err.value) and "psx.toml" in str(err.value)
    with pytest.raises(ConfigError) as err:
        runtime_isa("thumb", "arm", "3do.toml", "armv3")
    assert "arm (armv3)" in str(err.value) and 'choose "arm"' in str(err.value)
    (tmp_path / "k.c").write_text("void _start(void) {}\n")
    proc = run_gamevm("resident", "-t", "psx", "-o", tmp_path / "k.elf", "--runtime", "target",
                      "--runtime-isa", "thumb", tmp_path / "k.c")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "--runtime-isa" in proc.stderr and "runtime_isa" in proc.stderr
    proc = run_gamevm("resident", "-t", "3do", "-o", tmp_path / "k.elf", "--runtime", "target",
                      "--runtime-isa", "thumb", tmp_path / "k.c")
    assert proc.returncode == 2 and "armv3" in proc.stderr, proc.stderr
    proc = run_gamevm("resident", "-t", "gba", "-o", tmp_path / "k.elf",
                      "--runtime-isa", "thumb", tmp_path / "k.c")
    assert proc.returncode == 2 and "give --runtime target too" in proc.stderr, proc.stderr


# --- the example's modules (tests/test_target_runtime.py) ------------------------------------

def test_global_symbol_table(built_thumb):
    ttr.test_global_symbol_table_is_the_residents_symbols_sorted(built_thumb)


@pytest.mark.parametrize("name", ttr.MODULES)
def test_same_ram_and_bindings(built_thumb, name):
    ttr.test_same_ram_and_bindings_as_the_host_loader(built_thumb, name)


def test_loads_and_unloads(built_thumb):
    ttr.test_loads_and_unloads_follow_references_like_the_host(built_thumb)


def test_missing_and_foreign(built_thumb, tmp_path):
    ttr.test_missing_and_foreign_modules(built_thumb, tmp_path)


@pytest.fixture(scope="module")
def fuzz_pair_thumb(built_thumb, tmp_path_factory):
    target, out, kernel = built_thumb
    d = tmp_path_factory.mktemp("fuzz-thumb")
    (d / "physics.elf").write_bytes((out / "physics.elf").read_bytes())
    return target, out, d, ttr.Consoles(target, kernel, d)


@pytest.mark.parametrize("what", ["e_flags", "ei_version", "pt_load_past_eof",
                                  "pt_load_filesz", "pt_load_outside"])
def test_header_checks(fuzz_pair_thumb, what):
    ttr.test_header_checks_give_the_host_status(fuzz_pair_thumb, what)


def test_corrupted_modules_get_the_same_status(fuzz_pair_thumb):
    """The corruptions test_target_runtime.py draws with hypothesis, a fixed sample here."""
    import random
    rng = random.Random(11)
    _t, out, d, consoles = fuzz_pair_thumb
    for i in range(40):
        victim = rng.choice(["level1", "boss", "physics_copy"])
        kind = rng.choice(["byte", "word", "cut"])
        change = (kind, rng.randrange(1 << 20),
                  rng.randrange(256) if kind == "byte" else rng.randrange(1 << 32))
        source = out / ("physics.elf" if victim == "physics_copy" else f"{victim}.elf")
        (d / "victim.elf").write_bytes(ttr.mutate(source.read_bytes(), *change))
        ttr.same_status_on_both(consoles, f"{i}: {victim} {change}")


@pytest.mark.parametrize("name", ["level1", "boss"])
def test_async_load(built_thumb, name):
    ttr.test_an_async_load_places_what_the_host_loader_places(built_thumb, name)


def test_async_failures(built_thumb, tmp_path):
    ttr.test_async_failures_report_the_host_status_and_leave_nothing(built_thumb, tmp_path)


def test_requests_queue(built_thumb):
    ttr.test_requests_queue_and_sync_loads_go_on_meanwhile(built_thumb)


def test_module_being_written(built_thumb, tmp_path):
    ttr.test_a_module_being_written_is_pending_for_a_sync_load(built_thumb, tmp_path)


def test_import_by_another_spelling(built_thumb, tmp_path):
    ttr.test_gamevm_import_finds_the_module_by_another_spelling(built_thumb, tmp_path)


@pytest.mark.parametrize("name", ["level1", "boss"])
def test_lazy_flag_binds_at_load(built_thumb, name):
    ttr.test_lazy_loads_leave_the_same_ram_before_and_after_the_first_calls(built_thumb, name)


# --- safe mode, overlays, stubs (small modules; every resident built with Thumb) ---------------

def test_safe_mode_refuses_to_unload_a_running_module(tmp_path):
    ttr.test_safe_mode_refuses_to_unload_a_running_module(tmp_path, TARGET)


def test_double_buffering(tmp_path):
    ttr.test_double_buffering_like_the_host(tmp_path, TARGET)


def test_project_needs_first(tmp_path):
    ttr.test_the_projects_needs_are_loaded_first_like_the_host(tmp_path, TARGET)


def test_stale_stubs(tmp_path):
    ttr.test_an_evicted_providers_bindings_go_to_stale_stubs_alike(tmp_path, TARGET)


def test_eviction_without_stubs_enough(tmp_path):
    gaps.test_an_eviction_without_stubs_enough_fails_out_of_memory_and_changes_nothing(
        tmp_path, TARGET, gaps.FILL_FIRST)


def test_eviction_frees_the_chain(tmp_path):
    gaps.test_an_eviction_frees_the_whole_chain_its_occupant_held_in_both_loaders(
        tmp_path, TARGET)


def test_stale_call_reloads(tmp_path):
    reload_tests.test_a_stale_call_reloads_its_module_alike(tmp_path, TARGET)


def test_failed_reload(tmp_path):
    reload_tests.test_a_reload_that_fails_is_reported_alike(tmp_path, TARGET)
