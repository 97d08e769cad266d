"""Signed module manifests (docs/signing.md): ``gamevm sign`` / ``gamevm verify`` with real
Ed25519 keys on real modules and a real ISO image, the failures each named with its exit
status, determinism, ``GameVMDisc(GAMEVM_SIGN_KEY=...)`` in a real SCons build, and the
commands docs/signing.md shows, run as shown.

Three small psx modules are compiled and linked once per module (the real cross
compiler), laid out by the real ``gamevm layout`` (xorriso), so the whole file runs in a
few seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import run_gamevm
from gamevm_build.cli import main
from gamevm_build.link import signing
from gamevm_build.link.module import read_module

NAMES = ("alpha", "beta", "gamma")
CONFIG = {
    "version": 1, "target": "psx",
    "memoryMap": {"regions": [{"name": "Main", "start": "0x80010000", "size": "1MB"}]},
    "modules": {n: {"file": f"../build/psx/{n}.elf", "region": "Main"} for n in NAMES},
    "scenes": {"title": {"modules": ["alpha"]}, "level": {"modules": ["alpha", "beta"]},
               "boss": {"modules": ["gamma"]}},
    "start": "title",
    "transitions": [{"from": "title", "to": "level", "budget_ms": 1500},
                    {"from": "level", "to": "boss", "budget_ms": 1500}],
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A checkout-like tree: proj/game.json, build/psx/{alpha,beta,gamma}.elf, the disc
    (build/psx/game.iso) and its layout file (build/psx/layout.json)."""
    from gamevm_build.link.linker import link_module
    from gamevm_build.link.toolchain import find_toolchain

    root = tmp_path_factory.mktemp("signing")
    out = root / "build" / "psx"
    out.mkdir(parents=True)
    tc = find_toolchain("psx")
    for n in NAMES:
        src = out / f"{n}.c"
        # const data of a real level's kind: a table, not zeros
        table = ", ".join(str(i * 37 % 101) for i in range(64))
        src.write_text(f"const int {n}_table[64] = {{{table}}};\n"
                       f"int {n}(int x) {{ return {n}_table[x & 63] + x; }}\n")
        link_module("psx", [tc.compile(src, out / f"{n}.o")], out / f"{n}.elf")
        (out / f"{n}.c").unlink()
        (out / f"{n}.o").unlink()
    (root / "proj").mkdir()
    (root / "proj" / "game.json").write_text(json.dumps(CONFIG))
    proc = run_gamevm("layout", "-c", "proj/game.json", "-o", "build/psx/game.iso",
                      "--manifest", "build/psx/layout.json", "--time-limit", "0", "-q", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture(scope="module")
def keys(project):
    """(private, public) key files of a fresh Ed25519 key pair; and another pair."""
    d = project / "keys"
    pairs = []
    for name in ("dev.pem", "other.pem"):
        private, public, _kid = signing.new_key(d / name)
        pairs.append((private, public))
    return pairs


def gamevm(capsys, *args, cwd: Path) -> tuple[int, str]:
    """``gamevm ARGS`` in this process (fast); exit status and stdout + stderr."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:
            rc = exc.code
    finally:
        os.chdir(old)
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


@pytest.fixture
def signed(project, keys, tmp_path, capsys):
    """A copy of the module directory and disc, and a signed manifest of the layout."""
    work = tmp_path / "disc"
    shutil.copytree(project / "build" / "psx", work)
    out = work / "game.gvmsig"
    rc, text = gamevm(capsys, "sign", "--key", keys[0][0], work / "layout.json", "-o", out,
                      cwd=project)
    assert rc == 0, text
    return work, out


def test_new_key_writes_a_pair_and_never_replaces_it(tmp_path, capsys):
    rc, text = gamevm(capsys, "sign", "--new-key", "k/dev.pem", cwd=tmp_path)
    assert rc == 0, text
    private, public = tmp_path / "k" / "dev.pem", tmp_path / "k" / "dev.pub.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    kid = signing.key_id(signing.load_public_key(public))
    assert kid in text and kid == signing.key_id(signing.load_private_key(private).public_key())
    before = private.read_bytes()
    rc, text = gamevm(capsys, "sign", "--new-key", "k/dev.pem", cwd=tmp_path)
    assert rc == 2 and "k/dev.pem: private key exists; gamevm never replaces a key" in text
    assert private.read_bytes() == before
    rc, text = gamevm(capsys, "sign", "--new-key", "k/dev.pem", "--force", cwd=tmp_path)
    assert rc == 0 and private.read_bytes() != before
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["dev.pem", "dev.pub.pem"]


def test_sign_then_verify_the_image_and_the_directory(project, keys, signed, capsys):
    work, out = signed
    data = out.read_bytes()
    assert data[:8] == signing.MAGIC
    length = int.from_bytes(data[8:12], "little")
    assert len(data) == 12 + length + 64
    doc = json.loads(data[12:12 + length])
    assert data[12:12 + length] == signing.canonical_json(doc)
    assert doc["target"] == "psx" and doc["format"] == "gamevm-signed-manifest"
    assert sorted(doc["modules"]) == list(NAMES)
    for n in NAMES:
        m = doc["modules"][n]
        raw = (work / f"{n}.elf").read_bytes()
        assert (m["file"], m["size"], m["sha256"]) == (f"{n.upper()}.ELF", len(raw),
                                                       hashlib.sha256(raw).hexdigest())
    for where in ([work / "game.iso"], ["--dir", work]):
        rc, text = gamevm(capsys, "verify", "--key", keys[0][1], out, *where, cwd=project)
        assert rc == 0, text
        assert "signature OK" in text and "3 file(s) match" in text
    # with no image and no --dir: the signed manifest's own directory
    rc, text = gamevm(capsys, "verify", "--key", keys[0][1], out, cwd=project)
    assert rc == 0 and f"directory {work}" in text, text


def test_signing_is_deterministic(project, keys, tmp_path, capsys):
    outs = []
    for i in range(2):
        out = tmp_path / f"s{i}.gvmsig"
        rc, text = gamevm(capsys, "sign", "-q", "--key", keys[0][0], "build/psx/layout.json",
                          "-o", out, cwd=project)
        assert rc == 0 and text == "", text
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    # a directory and the module files sign the same modules under their own file names
    a, _ = signing.sign_manifest([project / "build" / "psx"], keys[0][0])
    b, _ = signing.sign_manifest([project / "build" / "psx" / f"{n}.elf" for n in NAMES],
                                 keys[0][0])
    assert a == b
    assert sorted(signing.check_signature(a, signing.load_public_key(keys[0][1]), "a",
                                          "k")["modules"]["beta"]) == ["file", "sha256", "size"]


def test_a_flipped_byte_in_a_module_is_named(project, keys, signed, capsys):
    work, out = signed
    elf = work / "beta.elf"
    data = bytearray(elf.read_bytes())
    data[len(data) // 2] ^= 0x01
    elf.write_bytes(bytes(data))
    rc, text = gamevm(capsys, "verify", "--key", keys[0][1], out, "--dir", work, cwd=project)
    assert rc == 1 and "Traceback" not in text
    assert f"module 'beta': {elf} differs from the signed digest" in text, text
    assert "alpha" not in text.split("problem(s)")[1]
    # a module that grew is named by its size (and not read past it)
    elf.write_bytes(bytes(data) + b"\0")
    rc, text = gamevm(capsys, "verify", "--key", keys[0][1], out, "--dir", work, cwd=project)
    assert rc == 1 and f"{elf} is {len(data) + 1} bytes, the manifest signs {len(data)}" in text


def test_a_missing_and_an_extra_module_are_named(project, keys, signed, capsys):
    work, out = signed
    (work / "gamma.elf").rename(work / "delta.elf")      # gone under its name, and unlisted
    rc, text = gamevm(capsys, "verify", "--key", keys[0][1], out, "--dir", work, cwd=project)
    assert rc == 1, text
    assert f"module 'gamma': missing: no file GAMMA.ELF in the directory {work}" in text
    assert f"extra module: {work / 'delta.elf'} is a GameVM module the manifest does not " \
           "list" in text
    assert "2 problem(s)" in text


def test_an_image_with_an_extra_or_changed_module_fails(project, keys, signed, capsys):
    from gamevm_build.layout.iso import master_iso

    work, out = signed
    bad = work / "bad.iso"
    changed = work / "changed.elf"
    changed.write_bytes((work / "alpha.elf").read_bytes()[:-1] + b"\x55")
    master_iso([("ALPHA.ELF", changed, 0), ("BETA.ELF", work / "beta.elf", 0),
                ("GAMMA.ELF", work / "gamma.elf", 0), ("EXTRA.ELF", work / "beta.elf", 0)], bad)
    rc, text = gamevm(capsys, "verify", "--key", keys[0][1], out, bad, cwd=project)
    assert rc == 1, text
    assert f"module 'alpha': {bad}:/ALPHA.ELF differs from the signed digest" in text
    assert f"extra module: {bad}:/EXTRA.ELF is a GameVM module" in text


def test_a_tampered_manifest_fails(project, keys, signed, capsys):
    work, out = signed
    data = out.read_bytes()
    # one digest changed to the digest of other bytes: the signature no longer matches
    i = data.index(b'"sha256":"') + 10
    tampered = data[:i] + (b"0" if data[i:i + 1] != b"0" else b"1") + data[i + 1:]
    out.write_bytes(tampered)
    rc, text = gamevm(capsys, "verify", "--key", keys[0][1], out, "--dir", work, cwd=project)
    assert rc == 1 and "the signature does not match the manifest: it was changed after " \
                       "signing" in text, text
    # truncated: damaged, exit 1; no manifest at all: exit 2 naming what it is
    out.write_bytes(data[:-10])
    rc, text = gamevm(capsys, "verify", "--key", keys[0][1], out, cwd=project)
    assert rc == 1 and "damaged signed manifest" in text, text
    rc, text = gamevm(capsys, "verify", "--key", keys[0][1], work / "layout.json", cwd=project)
    assert rc == 2 and "not a GameVM signed manifest" in text and "a layout file?" in text


def test_a_wrong_key_fails(project, keys, signed, capsys):
    work, out = signed
    kid = signing.key_id(signing.load_private_key(keys[0][0]).public_key())
    rc, text = gamevm(capsys, "verify", "--key", keys[1][1], out, cwd=project)
    assert rc == 1, text
    assert f"signed with key {kid}, not with {keys[1][1]}" in text
    # verifying with the private key (its public half) works
    rc, text = gamevm(capsys, "verify", "--key", keys[0][0], out, cwd=project)
    assert rc == 0, text


def test_key_and_input_errors_exit_2_and_write_nothing(project, keys, tmp_path, capsys):
    out = tmp_path / "s.gvmsig"
    layout = project / "build" / "psx" / "layout.json"
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n")
    cases = [
        (["sign", "--key", tmp_path / "none.pem", layout, "-o", out],
         f"{tmp_path / 'none.pem'}: private key not found (create a key pair with"),
        (["sign", "--key", junk, layout, "-o", out], f"{junk}: not a PEM private key"),
        (["sign", "--key", keys[0][1], layout, "-o", out], "this is a public key; signing "
                                                           "needs the private key"),
        (["sign", "--key", keys[0][0], tmp_path / "nothing.json", "-o", out],
         "nothing.json: disc layout file not found"),
        (["sign", "--key", keys[0][0], project / "proj" / "game.json", "-o", out],
         "not a disc layout file"),
        (["sign", "--key", keys[0][0], layout], "sign needs --key KEY.pem"),
        (["verify", "--key", junk, tmp_path / "x.gvmsig"], f"{junk}: not a PEM public key"),
        (["verify", "--key", keys[0][1], tmp_path / "x.gvmsig"],
         "x.gvmsig: signed manifest not found"),
    ]
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.pem"
        os.mkfifo(fifo)
        cases.append((["sign", "--key", fifo, layout, "-o", out],
                      "private key is a FIFO (named pipe), not a regular file"))
    for args, message in cases:
        rc, text = gamevm(capsys, *args, cwd=project)
        assert rc == 2, (args, text)
        assert message in text and "Traceback" not in text, (args, text)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporaries


def test_the_real_command_line(project, keys, signed):
    """The installed entry point: exit status and messages, no traceback."""
    work, out = signed
    proc = run_gamevm("verify", "--key", keys[0][1], out, work / "game.iso", cwd=project)
    assert proc.returncode == 0 and "signature OK" in proc.stdout, proc.stderr
    proc = run_gamevm("verify", "--key", keys[1][1], out, work / "game.iso", cwd=project)
    assert proc.returncode == 1 and "gamevm: error:" in proc.stderr
    assert "Traceback" not in proc.stderr


def sconstruct(root: Path, keys, body: str) -> None:
    """An SConstruct in ``root`` with the gamevm tool and ``body``; the first private key
    as ``dev.pem`` beside it."""
    shutil.copy(keys[0][0], root / "dev.pem")
    (root / "SConstruct").write_text(
        "import gamevm_build.scons\n"
        "env = Environment(tools=['default', 'gamevm'], toolpath=[gamevm_build.scons.TOOLPATH])\n"
        + body)


def test_gamevmdisc_signs_the_disc(project, keys):
    """GameVMDisc(GAMEVM_SIGN_KEY=...) writes <stem>.gvmsig next to the image; a missing key
    is a user error before anything is written."""
    from example_game import scons

    root = project / "sc"
    shutil.copytree(project / "proj", root / "proj")
    shutil.copytree(project / "build" / "psx", root / "build" / "psx",
                    ignore=shutil.ignore_patterns("game.*", "layout.*"))
    sconstruct(root, keys,
               "env.GameVMDisc('out/disc.iso', ['proj/game.json'], GAMEVM_SIGN_KEY='dev.pem',\n"
               "               GAMEVM_DISC_REPORT='', GAMEVM_DISC_HEADER='', GAMEVM_DISC_MKPSXISO='',\n"
               "               GAMEVM_DISC_TIME_LIMIT='0')\n"
               "env.GameVMDisc('out/nokey.iso', ['proj/game.json'], GAMEVM_SIGN_KEY='missing.pem')\n")
    proc = scons(root, "out/disc.iso")
    assert proc.returncode == 0, proc.stdout
    assert sorted(p.name for p in (root / "out").iterdir()) == ["disc.gvmsig", "disc.iso",
                                                                "disc.json"]
    report = signing.verify(root / "out" / "disc.gvmsig", keys[0][1],
                            image=root / "out" / "disc.iso")
    assert len(report.checked) == 3
    first = (root / "out" / "disc.gvmsig").read_bytes()
    proc = scons(root, "out/disc.iso")
    assert proc.returncode == 0 and "is up to date" in proc.stdout, proc.stdout
    proc = scons(root, "out/nokey.iso")
    assert proc.returncode == 2 and "Traceback" not in proc.stdout
    assert "scons: *** [out/nokey.iso] GAMEVM_SIGN_KEY: missing.pem: private key not found " \
        "(create a key pair with `gamevm sign --new-key KEY.pem`)" in proc.stdout, proc.stdout
    assert not (root / "out" / "nokey.iso").exists()
    assert (root / "out" / "disc.gvmsig").read_bytes() == first


def test_gamevmsign_writes_the_trust_table_a_resident_links(project, keys):
    """GameVMSign('trust.c', modules, GAMEVM_SIGN_KEY=...) writes the console's trust table
    (a C source) and the signed manifest; it is up to date the second time; a missing key
    is a user error and writes nothing."""
    from example_game import scons
    from gamevm_build.runtime import trust

    root = project / "sign-builder"
    shutil.copytree(project / "build" / "psx", root / "mods",
                    ignore=shutil.ignore_patterns("game.*", "layout.*", "kernel*"))
    sconstruct(root, keys,
               "mods = sorted(Glob('mods/*.elf'), key=str)\n"
               "env.GameVMSign('out/trust.c', mods, GAMEVM_SIGN_KEY='dev.pem')\n"
               "env.GameVMSign('out/nokey.c', mods, GAMEVM_SIGN_KEY='missing.pem')\n")
    proc = scons(root, "out/trust.c")
    assert proc.returncode == 0, proc.stdout
    assert sorted(p.name for p in (root / "out").iterdir()) == ["trust.c", "trust.gvmsig"]
    text = (root / "out" / "trust.c").read_text()
    table = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", text))
    entries = trust.decode(table)
    mods = sorted((root / "mods").glob("*.elf"))
    assert sorted(entries) == sorted(read_module(m).name for m in mods)
    for m in mods:
        e = entries[read_module(m).name]
        assert (e.size, e.sha256) == (m.stat().st_size, hashlib.sha256(m.read_bytes()).digest())
    report = signing.verify(root / "out" / "trust.gvmsig", keys[0][1], directory=root / "mods")
    assert len(report.checked) == len(mods)
    proc = scons(root, "out/trust.c")
    assert proc.returncode == 0 and "is up to date" in proc.stdout, proc.stdout
    proc = scons(root, "out/nokey.c")
    assert proc.returncode == 2 and "Traceback" not in proc.stdout
    assert "GAMEVM_SIGN_KEY: missing.pem: private key not found" in proc.stdout, proc.stdout
    assert not (root / "out" / "nokey.c").exists()
