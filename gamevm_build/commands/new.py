"""``gamevm new``: start a game project in a new directory (docs/cli.md, docs/install.md).

Writes a minimal project that builds with the installed SCons tool: an
SConstruct using every builder, one ``gamevm.json`` per console (memory map,
two scenes), a resident kernel with the start-up code of each console's CPU,
one module with a self test, and a README of the commands.  The files come
from the templates in ``gamevm_build/templates/new/``; the same inputs give
the same bytes.

Exit status: 0 written; 2 usage errors (unknown console, a directory that
exists and is not empty, a missing parent directory).  Nothing is written
outside the project directory, and a failed write leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

#: The templates, shipped as package data.
TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "new"

#: Per CPU family (a profile's ``arch``): the macro the compiler defines, for start.S.
ARCH_MACROS = {"mips": "__mips__", "m68k": "__m68k__", "arm": "__arm__"}

#: Template file -> path in the project (rendered with the project's values).
FILES = {
    "SConstruct": "SConstruct",
    "README.md": "README.md",
    "gitignore": ".gitignore",
    "kernel.h": "src/kernel/kernel.h",
    "kernel.c": "src/kernel/kernel.c",
    "game.c": "src/game/game.c",
}

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def _render(text: str, values: dict[str, str]) -> str:
    """``{{name}}`` replaced by ``values[name]``; a name without a value is a template bug."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


#: written as it is packaged: what ``gamevm schema`` prints
SCHEMA_FILE = "gamevm.schema.json"


def config_name(target: str, targets: list[str]) -> str:
    """The project configuration of ``target``: ``gamevm.json`` for the first console."""
    return "gamevm.json" if target == targets[0] else f"gamevm-{target}.json"


def _config(target: str, title: str) -> str:
    consoles = json.loads(_template("consoles.json"))
    # values go in JSON-escaped: a directory name may hold quotes or backslashes
    escaped = {"target": target, "title": json.dumps(title)[1:-1]}
    # the schema beside the project, so editors check keys without the package's path
    config = {"$schema": f"./{SCHEMA_FILE}", **json.loads(_render(_template("gamevm.json"), escaped))}
    config["media"] = consoles[target]["media"]
    config["memoryMap"] = {"regions": consoles[target]["regions"]}
    return json.dumps(config, indent=2) + "\n"


def _start(targets: list[str]) -> str:
    """start.S with an entry for the CPU family of each console, in a fixed order."""
    from ..project.profile import load_profile

    families: dict[str, list[str]] = {}
    for target in targets:
        families.setdefault(load_profile(target).arch, []).append(target)
    entries = []
    for arch in ARCH_MACROS:                       # fixed order: output independent of argv
        if arch in families:
            keyword = "#if" if not entries else "#elif"
            condition = f"{keyword} defined({ARCH_MACROS[arch]})"
            entries.append(f"{condition:<40}/* {', '.join(families[arch])} */\n"
                           + _template(f"start-{arch}.S"))
    return _render(_template("start.S"), {"consoles": ", ".join(targets),
                                          "entries": "".join(entries).rstrip("\n")})


def project_files(title: str, targets: list[str]) -> dict[str, str]:
    """Relative path -> text of every file of a new project for ``targets`` (first: default)."""
    readme_targets = "\n".join(
        f"{f'scons target={t}':<24}# {config_name(t, targets)}, build/{t}/"
        for t in targets[1:])
    values = {
        "title": title,
        "targets": repr(targets),
        "default": targets[0],
        "consoles": ", ".join(targets),
        "more_targets": readme_targets + "\n" if readme_targets else "",
        "other_configs": "".join(f"; `{config_name(t, targets)}` for {t}" for t in targets[1:]),
    }
    files = {path: _render(_template(name), values) for name, path in FILES.items()}
    files["src/kernel/start.S"] = _start(targets)
    files[SCHEMA_FILE] = (Path(__file__).resolve().parents[1] / "schemas" / SCHEMA_FILE).read_text()
    for target in targets:
        files[config_name(target, targets)] = _config(target, title)
    return dict(sorted(files.items()))


def write_project(directory: str, targets: list[str]) -> list[str]:
    """Write a new project into ``directory`` (absent or empty); return the paths written."""
    from ..errors import ConfigError

    root = Path(directory)
    try:
        if root.is_symlink():
            raise ConfigError(f"{directory}: is a symbolic link; give a new directory for "
                              "the project (gamevm new writes only inside it)")
        if root.exists() and not root.is_dir():
            raise ConfigError(f"{directory}: exists and is not a directory; "
                              "give a new directory for the project")
        if root.is_dir() and any(root.iterdir()):
            raise ConfigError(f"{directory}: directory exists and is not empty; give a new "
                              "or empty directory (gamevm new never overwrites files)")
    except OSError as exc:
        raise ConfigError(f"{directory}: {exc.strerror}") from None
    absolute = Path(os.path.abspath(directory))     # '..' resolved, symlinks kept
    if not absolute.parent.is_dir():
        raise ConfigError(f"{directory}: parent directory {absolute.parent} does not exist; "
                          "create it first (gamevm new writes only inside the project "
                          "directory)")
    files = project_files(absolute.name or "game", targets)   # all rendered before any write
    created = not root.exists()
    try:
        root.mkdir(exist_ok=True)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "x", encoding="utf-8", newline="\n") as f:
                f.write(text)
    except BaseException as exc:
        _remove_written(root, created)
        if isinstance(exc, OSError):
            raise ConfigError(f"{exc.filename or directory}: cannot write the project: "
                              f"{exc.strerror}") from None
        raise
    return list(files)


def _remove_written(root: Path, created: bool) -> None:
    """Nothing half-written: remove what this call wrote, keep an empty directory it was given."""
    if created:
        shutil.rmtree(root, ignore_errors=True)
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def run(args) -> int:
    targets = list(dict.fromkeys(args.targets or ["psx"]))
    written = write_project(args.directory, targets)
    if not args.quiet:
        print(f"gamevm: wrote {len(written)} files to {args.directory} for "
              f"{', '.join(targets)}; next: cd {shlex.quote(args.directory)} && scons")
    return 0


def register(sub, cli) -> None:
    p = sub.add_parser(
        "new", help="start a game project: SConstruct, gamevm.json, kernel, one module",
        description="Write a minimal, working game project into DIR (new, or empty): an "
                    "SConstruct that uses the installed SCons tool and every builder, a "
                    "gamevm.json per console (memory map, two scenes), a resident kernel with "
                    "the start-up code of each console's CPU, one module with a self test and "
                    "a README of the commands. Then: cd DIR && scons. docs/install.md.")
    p.add_argument("-t", "--target", dest="targets", action="append", type=cli.target_type,
                   metavar="TARGET",
                   help=f"a console to build for: {cli.targets_help()}; repeat for more (the "
                        "first is the default; default psx)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.add_argument("directory", metavar="DIR", help="project directory to create (or an empty one)")
    p.set_defaults(func=run)
