"""The repository keeps its promises: CI runs the README's test command."""

from conftest import REPO, shell_env


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    test_cmd = "bash tools/bootstrap && .venv/bin/python -m pytest"
    assert f"```sh\n{test_cmd}\n```" in readme
    assert test_cmd in ci.splitlines()


def test_readme_has_exactly_two_setup_commands():
    readme = (REPO / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    blocks = setup.split("```sh\n")[1:]
    assert [b.split("\n```")[0] for b in blocks] == [
        "bash tools/bootstrap && .venv/bin/scons",
        "bash tools/bootstrap && .venv/bin/python -m pytest",
    ]


def test_readme_by_hand_example_runs(tmp_path):
    """The "A first module by hand" commands work as written (gamevm on PATH)."""
    import shutil
    import subprocess

    readme = (REPO / "README.md").read_text()
    block = readme.split("## A first module by hand", 1)[1].split("```sh\n", 1)[1].split("\n```")[0]
    commands = block.replace("\\\n", " ").splitlines()
    assert commands[0].startswith(". .venv/bin/activate")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    (tmp_path / "build").mkdir()
    env = shell_env(tmp_path)
    for cmd in commands[1:]:
        proc = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, (cmd, proc.stderr)
    assert (tmp_path / "build" / "boss.bin").stat().st_size > 0
