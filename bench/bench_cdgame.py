"""The CD game (examples/cdgame) shipped plain and in the forms the build chose.

Builds ``scons target=T cdgame`` in a scratch copy of the repository (each module in the
form ``--form auto`` picks: packed relocations, an LZ4 image, or plain), then lays the
same modules out again converted to the plain form, and prints per console:

- the bytes of module data on the disc (ROM), plain and as shipped;
- the worst-case transition, plain and as shipped (the load-budget analyzer on each
  layout), and the sum of every transition's worst case;
- the layout's plan against the alphabetical order of the files (the optimiser's goal
  "3x better than alphabetical" is measured here, on a game of 33 files).

``--signed`` builds the game as CI ships it (``sign_key=``, a key made for the run): the
kernel checks every module's SHA-256, ``auto`` weighs each form's hashing too
(``GAMEVM_TRUSTED``), and both layouts are analyzed with that kernel.

Usage: python bench/bench_cdgame.py [--target psx] [--target n64] [--signed]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build(root: Path, target: str, signed: bool = False) -> Path:
    for name in ("SConstruct", "site_scons", "examples"):
        src = REPO / name
        if not (root / name).exists():
            (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    key = []
    if signed:
        key_file = root / "bench.pem"
        if not key_file.exists():
            subprocess.run([sys.executable, "-m", "gamevm_build", "sign", "--new-key",
                            str(key_file)], env=env, check=True, capture_output=True)
        key = [f"sign_key={key_file}"]
    proc = subprocess.run([sys.executable, "-m", "SCons", "-Q", f"target={target}", "cdgame",
                           *key], cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"bench: scons target={target} cdgame failed:\n{proc.stdout}{proc.stderr}")
    return root / "build" / target / "cdgame"


def measure(root: Path, target: str, signed: bool = False) -> dict:
    from gamevm_build.analysis import check_project
    from gamevm_build.layout.disc import build_disc
    from gamevm_build.link.module import read_module
    from gamevm_build.link.shipform import convert

    out = build(root, target, signed)
    kernel = out / "signed" / "kernel.elf" if signed else out / "kernel.elf"
    config = root / "examples" / "cdgame" / ("cdgame.json" if target == "psx" else
                                              "cdgame-n64.json")
    shipped = {p.stem: p for p in sorted(out.glob("*.elf")) if p.stem != "kernel"}
    plain_dir = out / "plain"
    plain_dir.mkdir(exist_ok=True)
    plain = {}
    for name, path in shipped.items():
        plain[name] = plain_dir / path.name
        plain[name].write_bytes(convert(path.read_bytes(), "plain", path=str(path)))
    image = "plain.iso" if target == "psx" else "plain.rom"
    disc = build_disc(str(config), plain_dir / image, module_files={k: str(v) for k, v in
                                                                     plain.items()},
                      resident_file=str(kernel), manifest=plain_dir / "layout.json")
    shipped_disc = check_project(str(config), module_files={k: str(v) for k, v in
                                                            shipped.items()},
                                 resident_file=str(kernel), layout_file=str(out / "layout.json"))
    plain_disc = check_project(str(config), module_files={k: str(v) for k, v in plain.items()},
                               resident_file=str(kernel),
                               layout_file=str(plain_dir / "layout.json"))
    forms: dict = {}
    for path in shipped.values():
        forms[read_module(path).form] = forms.get(read_module(path).form, 0) + 1
    worst = lambda r: max(t.worst_ms for t in r.transitions)           # noqa: E731
    total = lambda r: sum(t.worst_ms for t in r.transitions)           # noqa: E731
    return {
        "plain_bytes": sum(p.stat().st_size for p in plain.values()),
        "shipped_bytes": sum(p.stat().st_size for p in shipped.values()),
        "forms": forms,
        "plain_worst": worst(plain_disc), "shipped_worst": worst(shipped_disc),
        "plain_total": total(plain_disc), "shipped_total": total(shipped_disc),
        "ok": plain_disc.ok and shipped_disc.ok,
        "alphabetical_over_plan": disc.summary["alphabetical_over_plan"],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", action="append", choices=("psx", "n64"))
    p.add_argument("--signed", action="store_true",
                   help="build and analyze the game signed, as CI ships it")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-cdgame-") as tmp:
        for t in args.target or ["psx", "n64"]:
            r = measure(Path(tmp), t, args.signed)
            t += " (signed)" if args.signed else ""
            forms = ", ".join(f"{n} {f}" for f, n in sorted(r["forms"].items()))
            print(f"{t}: module data {r['plain_bytes']} bytes plain, {r['shipped_bytes']} as "
                  f"shipped ({r['shipped_bytes'] / r['plain_bytes']:.3f}x; {forms})")
            print(f"{t}: worst transition {r['plain_worst']:.1f} ms plain, "
                  f"{r['shipped_worst']:.1f} ms as shipped "
                  f"({r['shipped_worst'] / r['plain_worst']:.3f}x); all transitions "
                  f"{r['plain_total']:.0f} ms -> {r['shipped_total']:.0f} ms "
                  f"({r['shipped_total'] / r['plain_total']:.3f}x); budgets "
                  f"{'hold' if r['ok'] else 'FAIL'}")
            print(f"{t}: layout plan vs alphabetical order: alphabetical is "
                  f"{r['alphabetical_over_plan']:.2f}x the plan (plain modules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
