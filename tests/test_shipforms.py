"""Shipping forms (issue #14): packed relocations and LZ4- or ZX0-compressed images, format 2.

The oracle is the plain module: a module in every form reads back with the same image
and the same relocations (packrel.canonical), loads to the same bytes, and the console
side C runtime loads each form to the bytes the Python reference loader places, on every
console's CPU.  Corrupt packed files get the same TLoadStatus from both loaders.
"""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import examples, section_header
from example_game import example_game  # noqa: F401  (fixture)
from test_target_runtime import (MODULES, built, host_load, mutate, mutations,  # noqa: F401
                                 Consoles, pair, same_modules, same_status_on_both,
                                 target_resident)
from gamevm_build.errors import ModuleFormatError
from gamevm_build.link import packrel
from gamevm_build.link.module import read_module
from gamevm_build.link.shipform import CODECS, FORMS, convert
from gamevm_build.runtime.reference import TLoadStatus

PACKED_FORMS = ("packed", "lz4", "zx0")


def offsets(module) -> dict:
    return {n: off for n, (off, _b) in module.sections.items()}


def shipped(out, tmp_path, form: str):
    """The example's modules in ``form`` (a module LZ4 cannot shrink stays packed)."""
    d = tmp_path / form
    d.mkdir()
    for m in MODULES:
        data = (out / f"{m}.elf").read_bytes()
        try:
            packed = convert(data, form, path=m)
        except ValueError:
            packed = convert(data, "packed", path=m)
        (d / f"{m}.elf").write_bytes(packed)
    return d


def test_every_form_reads_back_the_same_module(built):
    """Image and relocations survive every form and the way back to plain; converting is
    deterministic; the files are smaller; binutils read them without a warning."""
    target, out, _kernel = built
    for m in MODULES:
        data = convert((out / f"{m}.elf").read_bytes(), "plain")    # the example ships auto
        plain = read_module(data)
        for form in FORMS:
            try:
                packed = convert(data, form, path=m)
            except ValueError as exc:
                assert form in CODECS and ("do not compress" in str(exc) or
                                           form not in plain.profile.codecs)
                continue
            assert convert(data, form, path=m) == packed                  # deterministic
            back = read_module(packed, name=f"{m}.{form}")
            assert back.form == form
            assert back.unrelocated_image() == plain.unrelocated_image()
            assert packrel.canonical(back.relocations, offsets(back)) == \
                packrel.canonical(plain.relocations, offsets(plain))
            if form != "plain":
                assert len(packed) <= len(data), (m, form)
                again = read_module(convert(packed, "plain", path=m))
                assert again.unrelocated_image() == plain.unrelocated_image()
                assert packrel.canonical(again.relocations, offsets(again)) == \
                    packrel.canonical(plain.relocations, offsets(plain))


@pytest.mark.parametrize("form", PACKED_FORMS)
def test_readelf_reads_a_packed_module_without_warnings(built, tmp_path, form):
    target, out, _kernel = built
    from gamevm_build.project.profile import load_profile
    if form in CODECS and form not in load_profile(target).codecs:
        pytest.skip(f"{target}'s runtime does not decode {form}")
    f = tmp_path / "level1.elf"
    f.write_bytes(convert((out / "level1.elf").read_bytes(), form))
    proc = subprocess.run(["readelf", "-a", "-W", str(f)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "warning" not in (proc.stdout + proc.stderr).lower()
    assert ".gvm.relpack" in proc.stdout
    assert (".gvm.image" in proc.stdout) == (form in CODECS)


@pytest.mark.parametrize("form", PACKED_FORMS)
def test_the_c_runtime_loads_every_form_like_the_reference(built, tmp_path, form):
    """Same status, base and RAM on both loaders; the self tests pass; a packed (not
    compressed) module takes the place and bytes its plain module takes."""
    target, out, kernel = built
    d = shipped(out, tmp_path, form)
    plain_dir = shipped(out, tmp_path, "plain")
    for name in MODULES:
        host, tl = pair(target, kernel, d)
        lm, status = host_load(host, name)
        handle, t_status = tl.load_module(name)
        assert status == t_status == TLoadStatus.lsSuccess, name
        same_modules(host, tl)
        for sym, addr in lm.symbols.items():
            assert tl.get_proc(handle, sym) == addr
        for m in tl.loaded.values():
            if "gamevm_selftest" in m.symbols:
                assert tl.machine.call(m.symbols["gamevm_selftest"]) == 0, m.name
        if form == "packed":
            plain_host, _ = pair(target, kernel, plain_dir)
            host_load(plain_host, name)
            for p in plain_host.loaded.values():
                q = host.by_name(p.name)
                assert (q.base, q.module.load_size) == (p.base, p.module.image_size)
                assert host.machine.read(q.base, q.module.load_size) == \
                    plain_host.machine.read(p.base, p.module.image_size), p.name
        assert tl.unload_module(handle) == TLoadStatus.lsSuccess
        host.unload(lm.handle)
        same_modules(host, tl)


@pytest.mark.parametrize("form", CODECS)
def test_an_async_load_of_compressed_modules_places_what_the_reference_places(built, tmp_path,
                                                                              form):
    from test_target_runtime import frames_until_done
    target, out, kernel = built
    d = shipped(out, tmp_path, form)
    host, tl = pair(target, kernel, d)
    rec = tl.load_async("level1")
    frames_until_done(tl, rec)
    assert rec["status"] == "lsSuccess"
    host_load(host, "level1")
    same_modules(host, tl)


def _convert_or_packed(data: bytes, form: str) -> bytes:
    """``form``, or packed where the console's runtime lacks the codec."""
    try:
        return convert(data, form)
    except ValueError as exc:
        assert "does not decode" in str(exc)
        return convert(data, "packed")


@pytest.fixture(scope="module")
def packed_fuzz(built, tmp_path_factory):
    target, out, kernel = built
    d = tmp_path_factory.mktemp(f"shipfuzz-{target}")
    (d / "physics.elf").write_bytes(convert((out / "physics.elf").read_bytes(), "packed"))
    consoles = Consoles(target, kernel, d)
    sources = {f"{m}.{form}": _convert_or_packed((out / f"{m}.elf").read_bytes(), form)
               for m in ("level1", "boss") for form in PACKED_FORMS}
    return d, consoles, sources


@settings(max_examples=examples(25), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(victim=st.sampled_from([f"{m}.{f}" for m in ("level1", "boss") for f in PACKED_FORMS]),
       change=mutations())
def test_corrupted_packed_modules_get_the_same_status(packed_fuzz, victim, change):
    d, consoles, sources = packed_fuzz
    (d / "victim.elf").write_bytes(mutate(sources[victim], *change))
    same_status_on_both(consoles, f"{victim} {change}")


def bad_format_on_both(consoles, d, data: bytes, match: str | None = None) -> None:
    """``data``, a module the reader refuses (its message matching ``match``), is
    lsBadFormat on both loaders, and leaves them as they were."""
    with pytest.raises(ModuleFormatError, match=match):
        read_module(data, verify_hash=False)
    (d / "victim.elf").write_bytes(data)
    _lm, status = host_load(consoles.host, "victim")
    assert status == TLoadStatus.lsBadFormat
    assert consoles.tl.load_module("victim") == (0, TLoadStatus.lsBadFormat)
    same_modules(consoles.host, consoles.tl)


@pytest.mark.parametrize("form", CODECS)
def test_a_block_that_decodes_padding_other_than_zeros_is_bad_format_on_both_loaders(
        packed_fuzz, built, monkeypatch, form):
    """Padding between sections is zeros as linked; the hash covers sections, not padding.
    A compressed image whose block decodes a byte there is refused by both loaders
    (lsBadFormat), rather than left in RAM by the runtime and zeroed by the reference:
    found by the corrupted-modules property on a 3DO boss.lz4."""
    from gamevm_build.link import shipform
    from gamevm_build.project.profile import load_profile
    d, consoles, _sources = packed_fuzz
    target, out, _kernel = built
    if form not in load_profile(target).codecs:
        pytest.skip(f"{target}'s runtime does not decode {form}")
    for name in ("level1", "boss"):            # the first with padding between sections
        data = (out / f"{name}.elf").read_bytes()
        module = read_module(data)
        spans = sorted((off, off + module.section_size(n)) for n, (off, _b) in
                       module.sections.items() if n != ".bss")
        gap = next((end for (_s, end), (start, _e) in zip(spans, spans[1:]) if end < start),
                   None)
        if gap is not None:
            break
    assert gap is not None, f"neither {target}'s level1 nor its boss has padding"
    compressed = shipform._compressed

    def with_a_byte_in_the_padding(image, *args):
        return compressed(image[:gap] + b"\x5a" + image[gap + 1:], *args)
    monkeypatch.setattr(shipform, "_compressed", with_a_byte_in_the_padding)
    bad_format_on_both(consoles, d, convert(data, form),
                       f"decodes byte 0x5a at image offset 0x{gap:x}, outside every section")


@pytest.mark.parametrize("what", ["relpack_trailing", "relpack_cut", "block_corrupt",
                                  "chdr_type", "relpack_in_format_1", "zx0_block_corrupt",
                                  "zx0_margin_past_image",
                                  "lz4_with_a_margin", "zx0_without_one"])
def test_bad_packed_files_are_bad_format_on_both_loaders(packed_fuzz, built, what):
    """Each is refused by both loaders with lsBadFormat (a ZX0 margin too small for its
    block: tests/test_codec_zx0.py, the example's modules leave no room to provoke it)."""
    d, consoles, sources = packed_fuzz
    target, out, _kernel = built
    source = "level1.lz4" if what in ("block_corrupt", "chdr_type", "lz4_with_a_margin") \
        else "level1.zx0" if what.startswith("zx0") else "level1.packed"
    if read_module(sources[source], verify_hash=False).form != source.split(".")[1]:
        pytest.skip(f"{target}'s runtime does not decode {source}")
    data = bytearray(sources[source])
    order = "big" if data[5] == 2 else "little"
    h, relpack = section_header(bytes(data), ".gvm.relpack")
    off, size = relpack[4], relpack[5]
    if what == "relpack_trailing":
        data[off + size - 1] = 0xFF        # a group's end turns into "no groups" + a byte
    elif what == "relpack_cut":
        data[h + 20:h + 24] = (size - 2).to_bytes(4, order)
    elif what == "block_corrupt":
        zoff, zsize = section_header(bytes(data), ".gvm.image")[1][4:6]
        data[zoff + 12] ^= 0xF0            # the first token: lengths past the block
    elif what == "chdr_type":
        zoff = section_header(bytes(data), ".gvm.image")[1][4]
        data[zoff] ^= 1
    elif what == "zx0_block_corrupt":
        zoff, zsize = section_header(bytes(data), ".gvm.image")[1][4:6]
        data[zoff + zsize - 1] ^= 0xFF      # the end marker's bits
    elif what.startswith(("zx0_margin", "lz4_with", "zx0_without")):
        h = section_header(bytes(data), ".gvm.image")[0]
        margin = int.from_bytes(data[h + 36:h + 40], order)
        assert (margin > 0) == source.endswith("zx0")
        image_size = read_module(sources[source], verify_hash=False).image_size
        value = {"zx0_margin_past_image": image_size + 1,
                 "lz4_with_a_margin": 64, "zx0_without_one": 0}[what]
        data[h + 36:h + 40] = value.to_bytes(4, order)
    else:                                   # a plain module's note with packed relocations
        plain = read_module(bytes(data))
        assert plain.form == "packed"
        data = bytearray(bytes(data).replace(b'"format":2', b'"format":1'))
    bad_format_on_both(consoles, d, bytes(data))


@pytest.mark.parametrize("form", PACKED_FORMS)
def test_the_model_covers_loads_of_every_form(built, tmp_path, form):
    """The analyzer's CPU charge for a packed or compressed module (its decoder's tokens,
    literals and matches, its packed relocations) is at least what the runtime executes,
    and not far above."""
    from gamevm_build.runtime.target import measure_load
    target, out, _kernel = built
    kernel = target_resident(out, target, [out / f"{m}.elf" for m in MODULES], shipping=True)
    d = shipped(out, tmp_path, form)
    for name in ("physics", "level1", "boss"):
        measured, model, mod = measure_load(target, kernel, d, name)
        assert mod.form in (form, "packed")
        assert measured <= model, f"{target} {name}: measured {measured} > model {model:.0f}"
        assert model <= 2.0 * measured, f"{target} {name}: model {model:.0f} loose"


@settings(max_examples=examples(60), deadline=None)
@given(data=st.lists(st.sampled_from([b"a", b"ab", b"\0" * 7, b"tile", b"\xff\x01"]),
                     max_size=400).map(b"".join) | st.binary(max_size=2000))
def test_the_reference_decoder_decodes_what_lz4_encodes(data):
    """The host's LZ4 decoder (the console's, step for step) gives back what LZ4's encoder
    took, as LZ4's own decoder does."""
    import lz4.block
    from gamevm_build.link.compress import lz4_compress, lz4_decode
    if not data:
        return
    block = lz4_compress(data)
    assert lz4_decode(block, len(data)) == data == lz4.block.decompress(
        block, uncompressed_size=len(data))
    assert lz4_decode(block, len(data) - 1) is None          # no room: refused


def test_the_budget_report_says_what_each_form_saves_and_costs(example_game):
    """The example ships GAMEVM_FORM='auto': on the PlayStation level1 goes LZ4 (a sector
    less to read, for a decode the model charges), the others stay plain; the report says
    so per module, with each form's read and CPU time."""
    from gamevm_build.analysis import check_project
    from test_scenario import config_of
    out = example_game("psx")
    rep = check_project(config_of(out, "psx"), layout_file=str(out / "layout.json")).to_dict()
    forms = {f["module"]: f for f in rep["forms"]}
    assert forms["level1"]["form"] == "lz4" and forms["physics"]["form"] == "plain"
    lz4 = forms["level1"]
    assert lz4["plain_bytes"] == len(convert((out / "level1.elf").read_bytes(), "plain"))
    assert lz4["bytes"] < lz4["plain_bytes"] and lz4["read_ms_saved"] > 0 < lz4["decode_ms"]
    assert forms["physics"]["read_ms_saved"] == forms["physics"]["decode_ms"] == 0
    assert lz4["why"].startswith("plain ") and ", lz4 " in lz4["why"]


def test_a_trusting_resident_makes_each_form_pay_for_hashing_its_bytes(built):
    """With ``trusted`` (the resident checks every module's SHA-256), each form is charged
    the digest of its own file: a smaller file saves its hashing too."""
    from gamevm_build.link.shipform import form_costs
    from gamevm_build.runtime.loadcost import cpu_costs
    target, out, _kernel = built
    costs = cpu_costs(target, trusted=True)
    data = (out / "level1.elf").read_bytes()
    plain = {r["form"]: r for r in form_costs(data, path="level1")}
    for r in form_costs(data, path="level1", trusted=True):
        extra = r["cpu_s"] - plain[r["form"]]["cpu_s"]
        assert extra == pytest.approx(costs.seconds(costs.digest_cycles(r["bytes"])))
        assert extra > 0


def test_a_runtime_without_a_codec_refuses_its_modules(packed_fuzz, built):
    """A console whose profile leaves a codec out (the Sega CD: LZ4 only) builds no
    such module, and both loaders refuse one made elsewhere with lsBadFormat."""
    from gamevm_build.project.profile import load_profile
    d, consoles, _sources = packed_fuzz
    target, out, _kernel = built
    profile = load_profile(target)
    missing = [c for c in CODECS if c not in profile.codecs]
    if not missing:
        pytest.skip(f"{target}'s runtime decodes every codec")
    data = (out / "level1.elf").read_bytes()
    with pytest.raises(ValueError, match="does not decode"):
        convert(data, missing[0])
    kept = profile.codecs
    object.__setattr__(profile, "codecs", CODECS)      # as a build for another runtime
    try:
        foreign = convert(data, missing[0])
    finally:
        object.__setattr__(profile, "codecs", kept)
    bad_format_on_both(consoles, d, foreign, "does not decode")
