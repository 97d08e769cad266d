"""The repository keeps its promises: CI runs the README's test command."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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
