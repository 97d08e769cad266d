"""``modules.NAME.form``: the project configuration forces a module's shipping form (issue #14).

Precedence, in ``gamevm module`` and the SCons tool alike: an explicit choice for the
module (``--form``, a ``GameVMModule`` call's ``GAMEVM_FORM``) beats the config, the config
beats the default (``plain``, or the environment's ``GAMEVM_FORM``).  A bad value is a
config error naming the key and the allowed values (exit 2), and the budget report says
which forms the config forced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_gamevm
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.errors import ConfigError
from gamevm_build.link.module import read_module
from gamevm_build.project.config import config_from_dict, forced_form

EXAMPLE = REPO / "examples" / "game"
PHYSICS = [EXAMPLE / "physics" / "fixed.c", EXAMPLE / "physics" / "body.c"]
ALLOWED = '"plain", "packed", "lz4", "zx0" or "auto"'


def _config(tmp_path: Path, forms: dict, name: str = "gamevm.json") -> Path:
    """The example's PS1 configuration with ``forms`` (module -> form) forced."""
    data = json.loads((EXAMPLE / "gamevm.json").read_text())
    for module, form in forms.items():
        data["modules"][module]["form"] = form
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_the_config_reads_the_form_and_names_the_key_of_a_bad_one(tmp_path):
    cfg = config_from_dict(json.loads(_config(tmp_path, {"level1": "lz4"}).read_text()),
                           base_dir=EXAMPLE)
    assert cfg.modules["level1"].form == "lz4" and cfg.modules["physics"].form is None
    assert cfg.modules["level1"].form_key == "modules.level1.form"
    bad = json.loads(_config(tmp_path, {"level1": "zip"}).read_text())
    with pytest.raises(ConfigError, match=rf"modules\.level1\.form: expected a shipping "
                                          rf"form: {ALLOWED}"):
        config_from_dict(bad, base_dir=EXAMPLE)
    with pytest.raises(ConfigError, match=rf"x\.json: modules\.level1\.form: .*{ALLOWED}, "
                                          r'not "zip"'):
        forced_form(bad, "level1", where="x.json")
    assert forced_form(bad, "physics") is None


@pytest.mark.parametrize("value", ["zip", 3, None])
def test_gamevm_budget_refuses_a_bad_form_with_exit_2(tmp_path, value):
    proc = run_gamevm("budget", "-c", _config(tmp_path, {"boss": value}))
    assert proc.returncode == 2, proc.stderr
    assert "modules.boss.form: expected a shipping form" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_gamevm_module_takes_the_forced_form_unless_form_is_given(tmp_path):
    cfg = _config(tmp_path, {"physics": "packed"})
    out = tmp_path / "physics.elf"
    common = ("module", "-t", "psx", "-o", out, "-I", EXAMPLE / "include", *PHYSICS)
    proc = run_gamevm(*common, "--config", cfg, "--why")
    assert proc.returncode == 0, proc.stderr
    assert "shipped packed (forced by modules.physics.form)" in proc.stdout
    assert "  form: forced by modules.physics.form" in proc.stdout
    assert read_module(out.read_bytes()).form == "packed"
    proc = run_gamevm(*common, "--config", cfg, "--form", "plain")       # --form wins
    assert proc.returncode == 0 and "forced" not in proc.stdout, proc.stdout
    assert read_module(out.read_bytes()).form == "plain"
    # --name picks the module the config speaks of; one it does not list stays plain
    proc = run_gamevm(*common[:4], tmp_path / "x.elf", *common[5:], "--config", cfg,
                      "--name", "physics")
    assert read_module((tmp_path / "x.elf").read_bytes()).form == "packed", proc.stderr
    proc = run_gamevm(*common[:4], tmp_path / "y.elf", *common[5:], "--config", cfg)
    assert read_module((tmp_path / "y.elf").read_bytes()).form == "plain", proc.stderr


def test_a_config_auto_is_the_model_s_choice(tmp_path):
    out = tmp_path / "physics.elf"
    proc = run_gamevm("module", "-t", "psx", "-o", out, "-I", EXAMPLE / "include", *PHYSICS,
                      "--config", _config(tmp_path, {"physics": "auto"}), "--why")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].endswith(", shipped plain (modules.physics.form: auto)"), lines
    assert lines[1].startswith("  form: modules.physics.form: auto; plain ") and "lz4" in lines[1]


def test_trusted_auto_charges_each_form_hashing_its_file(tmp_path):
    """``--trusted`` (a resident that checks digests): each form's CPU time grows by the
    SHA-256 of its own bytes, so the smaller forms gain; the why says so."""
    import re
    from gamevm_build.runtime.loadcost import cpu_costs
    costs = cpu_costs("psx", trusted=True)
    rows = {}
    for trusted in (False, True):
        out = tmp_path / f"physics{int(trusted)}.elf"
        proc = run_gamevm("module", "-t", "psx", "-o", out, "-I", EXAMPLE / "include", *PHYSICS,
                          "--name", "physics", "--form", "auto", "--why",
                          *(["--trusted"] if trusted else []))
        assert proc.returncode == 0, proc.stderr
        why = proc.stdout.splitlines()[1]
        assert why.startswith("  form: digests checked: ") == trusted, why
        rows[trusted] = {f: (int(b), float(cpu)) for f, b, cpu in re.findall(
            r"(\w+) (\d+) B: read [\d.]+ ms \+ CPU ([\d.]+) ms", why)}
    assert set(rows[True]) == set(rows[False]) >= {"plain", "packed", "lz4", "zx0"}
    for form, (size, cpu) in rows[True].items():
        extra = costs.seconds(costs.digest_cycles(size)) * 1e3
        assert cpu - rows[False][form][1] == pytest.approx(extra, abs=0.011), form


def test_gamevm_module_refuses_a_bad_form_and_writes_nothing(tmp_path):
    out = tmp_path / "physics.elf"
    proc = run_gamevm("module", "-t", "psx", "-o", out, "-I", EXAMPLE / "include", *PHYSICS,
                      "--config", _config(tmp_path, {"physics": "fast"}))
    assert proc.returncode == 2 and not out.exists()
    assert proc.stderr.strip().splitlines() == [
        f"gamevm: error: {tmp_path / 'gamevm.json'}: modules.physics.form: expected a "
        f'shipping form: {ALLOWED}, not "fast"']


SCONSTRUCT = """\
import gamevm_build.scons
env = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH],
                  GAMEVM_TARGET='psx', CPPPATH=[{include!r}], GAMEVM_FORM='auto',
                  GAMEVM_CONFIG='gamevm.json')
env.GameVMModule('build/physics', {physics!r})
env.GameVMModule('build/level1', {physics!r}, GAMEVM_FORM='plain')
env.GameVMModule('build/other', {physics!r}, GAMEVM_NAME='boss')
"""


def _scons(root: Path, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "SCons", "-Q", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_scons_forms_follow_call_then_config_then_environment(tmp_path):
    """physics: forced by the config; level1: the call's GAMEVM_FORM beats the config's
    lz4; boss (GAMEVM_NAME): the config's plain beats the environment's auto.  Changing
    the config's form relinks the module; a bad one stops scons with exit 2."""
    (tmp_path / "SConstruct").write_text(SCONSTRUCT.format(
        include=str(EXAMPLE / "include"), physics=[str(p) for p in PHYSICS]))
    _config(tmp_path, {"physics": "packed", "level1": "lz4", "boss": "plain"})
    proc = _scons(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    def form(name):
        return read_module((tmp_path / "build" / f"{name}.elf").read_bytes()).form
    assert (form("physics"), form("level1"), form("other")) == ("packed", "plain", "plain")
    _config(tmp_path, {"physics": "plain", "level1": "lz4", "boss": "plain"})
    proc = _scons(tmp_path)
    assert proc.returncode == 0 and form("physics") == "plain", proc.stdout + proc.stderr
    assert "build/level1.elf" not in proc.stdout          # nothing else relinked
    _config(tmp_path, {"physics": "tiny"})
    proc = _scons(tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert (f"scons: *** {tmp_path / 'gamevm.json'}: modules.physics.form: expected a "
            f'shipping form: {ALLOWED}, not "tiny"') in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_budget_report_says_which_form_the_config_forced(example_game):
    """The example's PS1 configuration keeps the streamed boss plain (modules.boss.form);
    level1 is the model's choice."""
    out = example_game("psx")
    report = (out / "budget.txt").read_text()
    rows = {line.split()[0]: line for line in report.split("Shipping forms")[1].splitlines()[3:6]}
    assert rows["boss"].split()[1] == "plain"
    assert rows["boss"].endswith("forced by modules.boss.form")
    assert "forced" not in rows["level1"] and "lz4" in rows["level1"]


def test_the_report_says_when_an_explicit_form_beat_the_config(example_game, tmp_path):
    """A config read by the budget check that forces another form than the file's (an
    explicit --form or GAMEVM_FORM beat it) does not claim it forced it."""
    from gamevm_build.analysis import check_project
    out = example_game("psx")
    files = {m: str(out / f"{m}.elf") for m in ("physics", "level1", "boss")}
    rep = check_project(str(_config(tmp_path, {"level1": "packed", "physics": "plain"})),
                        module_files=files, resident_file=str(out / "kernel.elf"),
                        layout_file=str(out / "layout.json")).to_dict()
    forms = {f["module"]: f for f in rep["forms"]}
    assert forms["level1"]["form"] == "lz4" and forms["level1"]["forced_by"] is None
    assert forms["level1"]["why"].startswith(
        "not the packed modules.level1.form forces: built so explicitly; plain ")
    assert forms["physics"]["forced_by"] == "modules.physics.form"
    assert forms["boss"]["why"] == "forced by modules.boss.form"


def test_scons_gamevm_trusted_weighs_hashing_and_is_in_the_link_signature(tmp_path):
    """GAMEVM_TRUSTED (a resident that checks digests): 'auto' picks what
    ``choose(trusted=True)`` picks, and turning it on relinks the module."""
    from gamevm_build.link.shipform import choose, convert
    (tmp_path / "SConstruct").write_text(f"""\
import gamevm_build.scons
env = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH],
                  GAMEVM_TARGET='psx', CPPPATH=[{str(EXAMPLE / 'include')!r}],
                  GAMEVM_FORM='auto', GAMEVM_TRUSTED=bool(int(ARGUMENTS.get('trusted', 0))))
env.GameVMModule('build/level1', {[str(p) for p in EXAMPLE.glob('level1/*.c')]!r})
""")
    out = tmp_path / "build" / "level1.elf"
    for trusted in (0, 1):
        proc = _scons(tmp_path, f"trusted={trusted}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "build/level1.elf" in proc.stdout          # relinked when it changed
        data = out.read_bytes()
        form, body, why = choose(convert(data, "plain"), path=str(out), trusted=bool(trusted))
        assert read_module(data).form == form and data == body
        assert why.startswith("digests checked: ") == bool(trusted)
    proc = _scons(tmp_path, "trusted=1")
    assert "build/level1.elf" not in proc.stdout, proc.stdout   # up to date
