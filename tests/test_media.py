"""Media timing models: hand-computed values for every model and branch (media-timing.md)."""

from __future__ import annotations

import doctest
import math

import pytest
from conftest import examples
from hypothesis import given, settings, strategies as st

from gamevm_build.project import media
from gamevm_build.errors import ConfigError
from gamevm_build.project.media import (CD_CAPACITY_SECTORS, PS1_CLOCK_HZ, DuckStationCD, GBACartridge,
                                GenesisPlusGXCD, HeadState, MednafenCD, N64PIDMA, ThreeDOSpecCD,
                                available_models, default_model_for, get_model, models_for,
                                worst_of)

MS = 1e-3
ACK = 25_000 / PS1_CLOCK_HZ          # 0.738 ms, both PS1 models


def approx(x):
    return pytest.approx(x, rel=1e-9, abs=1e-12)


def test_doctests():
    assert doctest.testmod(media).failed == 0


# --------------------------------------------------------------------------- PS1 common

@pytest.mark.parametrize("name,rate", [("ps1-duckstation-1x", 75), ("ps1-duckstation-2x", 150),
                                       ("ps1-mednafen-1x", 75), ("ps1-mednafen-2x", 150),
                                       ("ps1-worst-1x", 75), ("ps1-worst-2x", 150)])
def test_ps1_rates_and_overheads(name, rate):
    m = get_model(name)
    assert m.sector_size == 2048
    assert m.sectors_per_s == rate
    assert m.bytes_per_s == rate * 2048                 # 153,600 / 307,200 B/s (psx-spx)
    assert m.command_s == approx(ACK)
    assert m.first_sector_s == approx(1 / rate)         # first sector: seek + one sector time
    assert m.read_s(10) == approx(10 / rate)
    assert m.sectors_for(2048) == 1 and m.sectors_for(2049) == 2 and m.sectors_for(0) == 0
    assert m.transfer_s(3812) == approx(2 / rate)
    assert m.targets == ("psx",)


# --------------------------------------------------------------------------- DuckStation

def test_duckstation_sectors_per_track_table():
    spt = DuckStationCD.sectors_per_track
    assert [spt(mm * 4500) for mm in (0, 1, 4, 5, 7, 8, 11, 12, 16, 17, 23, 24, 27, 28, 32, 33,
                                      39, 40, 44, 45, 52, 53, 60, 61, 67, 68, 74, 75, 80)] == \
        [8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17, 18, 18, 19,
         19, 20, 20, 21, 21, 22, 22]


def test_duckstation_branches_2x():
    m = DuckStationCD(speed=2)
    sec, j = 1 / 150, 0.001
    # ahead within one track (8 sectors at minute 0): reads up to it, at least 2 sectors
    assert m.seek_s(1000, 1005) == approx(5 * sec + j)
    assert m.seek_s(1000, 1001) == approx(2 * sec + j)
    assert m.seek_s(1000, 1008) == approx(8 * sec + j)
    # at most one track behind (or the same sector): from one track back
    assert m.seek_s(1000, 995) == approx(3 * sec + j)
    assert m.seek_s(1000, 1000) == approx(8 * sec + j)
    # short seeks: switch point 330 at minute <= 1, 330 - 63.1333 ln 30 = 115 at minute 30
    assert m.seek_s(1000, 1100) == approx(0.05 + j)
    assert m.seek_s(1000, 1330) == approx(0.1 + j)
    assert m.seek_s(135_000, 135_100) == approx(0.05 + j)
    assert m.seek_s(135_000, 135_200) == approx(0.1 + j)
    assert m.seek_s(135_000, 135_000 - 7199) == approx(0.1 + j)
    # sled: 0.05 + 0.34 ln d / ln 324000 + 0.51 d / 324000
    assert m.seek_s(0, 324_000) == approx(0.9 + j)
    d = 7200
    assert m.seek_s(10_000, 10_000 + d) == approx(
        0.05 + 0.34 * math.log(d) / math.log(324_000) + 0.51 * d / 324_000 + j)
    assert m.seek_s(0, 7200) == pytest.approx(0.300 + j, abs=0.001)   # ~0.30 s (media-timing.md)
    # motor off: 1 s spin-up, seek starts at LBA 0
    assert m.seek_s(200_000, 5, head_state="stopped") == approx(1.0 + 5 * sec + j)
    # paused and reading are timed alike
    assert m.seek_s(1000, 1100, head_state="paused") == m.seek_s(1000, 1100, head_state="reading")


def test_duckstation_1x_sector_times():
    m = DuckStationCD(speed=1)
    assert m.seek_s(1000, 1005) == approx(5 / 75 + 0.001)
    assert m.max_seek_s() == approx(DuckStationCD(speed=2).max_seek_s())   # sled is speed-free


# --------------------------------------------------------------------------- Mednafen

def test_mednafen_branches():
    m2, m1 = MednafenCD(speed=2), MednafenCD(speed=1)
    c = PS1_CLOCK_HZ
    jit = 25_000
    # floor of 20,000 cycles, jitter bound 25,000
    assert m2.seek_s(1000, 1100, head_state="reading") == approx((20_000 + jit) / c)
    # resuming from pause: + 1,237,952 cycles at 2x, twice that at 1x
    assert m2.seek_s(1000, 1100, head_state="paused") == approx((20_000 + 1_237_952 + jit) / c)
    assert m1.seek_s(1000, 1100, head_state="paused") == approx((20_000 + 2 * 1_237_952 + jit) / c)
    # 3 <= d < 12 while reading: + 4 sector times
    assert m2.seek_s(1000, 1005, head_state="reading") == approx(
        (20_000 + 4 * (c // 150) + jit) / c)
    assert m1.seek_s(1000, 1011, head_state="reading") == approx(
        (20_000 + 4 * (c // 75) + jit) / c)
    assert m2.seek_s(1000, 1012, head_state="reading") == approx((20_000 + jit) / c)
    # d >= 2250: distance term + 300 ms, whatever the state
    dist = 2250 * c // 324_000
    assert m2.seek_s(0, 2250, head_state="reading") == approx((dist + c * 300 // 1000 + jit) / c)
    assert m2.seek_s(0, 2250, head_state="paused") == m2.seek_s(0, 2250, head_state="reading")
    # motor off: +1 s, from LBA 0
    assert m2.seek_s(99_999, 4500, head_state="stopped") == approx(
        (c + 4500 * c // 324_000 + c * 300 // 1000 + jit) / c)
    # full stroke ~1.33 s (media-timing.md: ~1.3 s)
    assert m2.max_seek_s(head_state="reading") == approx(
        ((CD_CAPACITY_SECTORS - 1) * c // 324_000 + c * 300 // 1000 + jit) / c)
    assert 1.3 < m2.max_seek_s() < 1.35


def test_models_disagree_on_short_seeks_and_worst_of_takes_the_max():
    d, m = DuckStationCD(speed=2), MednafenCD(speed=2)
    w = get_model("ps1-worst-2x")
    assert w.models == (get_model("ps1-duckstation-2x"), get_model("ps1-mednafen-2x"))
    # media-timing.md: DuckStation 50 ms vs Mednafen 0.6 ms at d = 100
    assert d.seek_s(0, 100, head_state="reading") > 0.05
    assert m.seek_s(0, 100, head_state="reading") < 0.002
    for a, b, s in [(0, 100, "reading"), (0, 100, "paused"), (0, 300_000, "paused"),
                    (5, 9, "reading"), (7000, 5, "stopped")]:
        assert w.seek_s(a, b, head_state=s) == max(d.seek_s(a, b, head_state=s),
                                                  m.seek_s(a, b, head_state=s))
    assert w.max_seek_s() == m.max_seek_s()


# --------------------------------------------------------------------------- other discs

def test_genesis_plus_gx():
    m = GenesisPlusGXCD()
    assert m.sectors_per_s == 75 and m.sector_size == 2048 and m.command_s == 0
    assert m.seek_s(0, 0) == approx(12 / 75)                   # (2 + 10 L) ticks, L = 1
    assert m.seek_s(0, 2250) == approx(13 / 75)                # + d*120/270000 (integer)
    assert m.seek_s(270_000, 0) == approx(132 / 75)            # 1.76 s
    assert m.targets == ("segacd",)


def test_3do_spec():
    m = ThreeDOSpecCD()
    third = (m.capacity - 1) / 3
    assert m.bytes_per_s == 307_200                            # 300 KB/s
    assert m.seek_s(0, 1) == pytest.approx(0.1, abs=1e-5)      # every seek >= 100 ms
    assert m.seek_s(0, 0) == approx(0.1)
    assert m.seek_s(0, round(third)) == pytest.approx(0.5, abs=1e-5)
    assert m.seek_s(0, round(third / 2)) == pytest.approx(0.3, abs=1e-5)
    assert m.seek_s(m.capacity - 1, 0) == approx(0.8)
    assert m.max_seek_s() == approx(0.8)


# --------------------------------------------------------------------------- cartridges

def test_n64_pi_dma():
    m = N64PIDMA()
    # retail header timings: 84 RCP cycles per 512-byte page + 23 per halfword at 62.5 MHz
    assert m.sector_size == 512
    assert m.transfer_s(65536) == approx((128 * 84 + 32768 * 23) / 62.5e6)    # 12.23 ms
    assert m.transfer_s(1) == approx((84 + 23) / 62.5e6)
    assert m.transfer_s(513) == approx((2 * 84 + 257 * 23) / 62.5e6)
    assert m.transfer_s(0) == 0
    assert round(m.bytes_per_s / 1e6, 2) == 5.36
    assert m.seek_s(0, 10**6) == 0 and m.max_seek_s() == 0
    assert m.access_s(None, None) == 0
    assert m.load_s(None, 5, 65536) == m.transfer_s(65536)
    assert not m.continues(5, 5, head_state="reading")
    # other header timings
    slow = N64PIDMA(lat=0xFF, pwd=0xFF, rls=3, name="n64-pi-slow")
    assert slow.transfer_s(512) == approx((0xFF + 20 + 256 * (0xFF + 5)) / 62.5e6)


def test_gba_rom():
    slow, fast = GBACartridge(4, 2), GBACartridge(3, 1)
    hz = 1 << 24
    assert slow.transfer_s(4) == approx(7 / hz) and fast.transfer_s(4) == approx(5 / hz)
    assert slow.transfer_s(6) == approx(14 / hz)
    assert slow.access_s(None, 0) == approx(4 / hz)      # DMA start-up 2 + (N - S) = 2
    assert round(slow.bytes_per_s / 1e6, 1) == 9.6 and round(fast.bytes_per_s / 1e6, 1) == 13.4


# --------------------------------------------------------------------------- API

def test_access_and_load_compose():
    m = get_model("ps1-mednafen-2x")
    a = m.access_s(1000, 1100, head_state="paused")
    assert a == approx(m.command_s + m.seek_s(1000, 1100) + m.first_sector_s)
    assert m.load_s(1000, 1100, 4096, head_state="paused") == approx(a + 2 / 150)
    # a read that directly follows the head while the drive reads on is free
    assert m.continues(1100, 1100, head_state="reading")
    assert m.access_s(1100, 1100, head_state="reading") == 0
    assert not m.continues(1100, 1100, head_state="paused")
    assert m.access_s(1100, 1100, head_state="paused") > 0
    # unknown positions: the worst seek
    assert m.seek_s(None, 5) == m.max_seek_s() == m.seek_s(5, None)
    assert m.seek_s(None, 5, head_state="stopped") == m.max_seek_s(head_state="stopped")


def test_registry():
    assert available_models() == sorted(available_models())
    assert {"ps1-duckstation-1x", "ps1-duckstation-2x", "ps1-mednafen-1x", "ps1-mednafen-2x",
            "ps1-worst-1x", "ps1-worst-2x", "segacd-gpgx", "3do-spec", "n64-pi",
            "gba-rom-4-2", "gba-rom-3-1"} <= set(available_models())
    assert [m.name for m in models_for("psx")] == [
        "ps1-duckstation-1x", "ps1-duckstation-2x", "ps1-mednafen-1x", "ps1-mednafen-2x",
        "ps1-worst-1x", "ps1-worst-2x"]
    from gamevm_build.project.profile import load_profile
    assert [m.name for m in models_for(load_profile("n64"))] == ["n64-pi"]
    assert default_model_for("psx").name == "ps1-worst-2x"
    assert default_model_for("n64").name == "n64-pi"
    with pytest.raises(ConfigError, match="unknown media model 'ps2'.*ps1-worst-2x"):
        get_model("ps2")
    with pytest.raises(ConfigError, match="no media timing model"):
        default_model_for("saturn")
    with pytest.raises(ConfigError, match="head state 'spinning'"):
        get_model("ps1-worst-2x").seek_s(0, 1, head_state="spinning")
    with pytest.raises(ValueError):
        worst_of(get_model("n64-pi"), get_model("ps1-worst-2x"))
    with pytest.raises(ValueError):
        worst_of()
    for name in available_models():
        d = get_model(name).describe()
        assert d["name"] == name and d["sources"], name


def test_every_model_cites_sources():
    for name in available_models():
        m = get_model(name)
        assert m.sources and all(isinstance(s, str) and s for s in m.sources), name
        assert m.title


DISC_MODELS = [n for n in available_models() if get_model(n).kind == "disc"]


@settings(max_examples=examples(300), deadline=None)
@given(st.sampled_from(DISC_MODELS), st.integers(0, CD_CAPACITY_SECTORS - 1),
       st.integers(0, CD_CAPACITY_SECTORS - 1), st.sampled_from(list(HeadState)))
def test_seeks_are_bounded_by_the_worst_seek(name, a, b, state):
    m = get_model(name)
    s = m.seek_s(a, b, head_state=state)
    assert 0 <= s <= m.max_seek_s(head_state=state) + 1e-12
    assert m.access_s(a, b, head_state=state) <= m.access_s(None, b, head_state=state) + 1e-12
    w = get_model("ps1-worst-2x")
    if name.endswith("2x") and name.startswith("ps1"):
        assert w.seek_s(a, b, head_state=state) >= s


def _access_by_definition(m, a, b, state):
    """MediaModel.access_s as documented: 0 when it continues, else command + seek + first sector."""
    if m.continues(a, b, head_state=state):
        return 0.0
    return m.command_s + m.seek_s(a, b, head_state=state) + m.first_sector_s


@settings(max_examples=examples(300), deadline=None)
@given(st.sampled_from(DISC_MODELS), st.one_of(st.none(), st.integers(0, CD_CAPACITY_SECTORS - 1)),
       st.one_of(st.none(), st.integers(0, CD_CAPACITY_SECTORS - 1)),
       st.sampled_from([*HeadState, "reading", "paused", "stopped"]), st.booleans())
def test_the_inlined_access_is_the_definition(name, a, b, state, same):
    # DiscModel and WorstOf compute access_s in one call (the layout search's hot path):
    # the same value as the definition, for every model, position and state, for a head
    # already at the target too, and the worst of the components for a WorstOf
    m = get_model(name)
    if same:
        b = a
    assert m.access_s(a, b, head_state=state) == _access_by_definition(m, a, b, state)
    if isinstance(m, media.WorstOf):
        assert m.access_s(a, b, head_state=state) == max(
            c.access_s(a, b, head_state=state) for c in m.models)


def test_access_memo_is_shared_per_model_and_bounded(monkeypatch):
    m = get_model("ps1-worst-2x")
    memo = m.access_memo()
    assert m.access_memo() is memo and get_model("n64-pi").access_memo() is not memo
    monkeypatch.setattr(type(m), "MEMO_LIMIT", 3)
    memo.clear()
    memo.update({k: 0.0 for k in range(4)})
    assert m.access_memo() == {}          # past the limit: emptied when asked for


def test_a_bad_head_state_is_still_refused():
    with pytest.raises(ConfigError, match="head state 'spinning'"):
        get_model("ps1-worst-2x").access_s(1, 2, head_state="spinning")


@settings(max_examples=examples(200), deadline=None)
@given(st.sampled_from(DISC_MODELS), st.integers(0, CD_CAPACITY_SECTORS - 60),
       st.integers(0, 48), st.integers(-30, 80), st.sampled_from(list(HeadState)),
       st.booleans())
def test_the_worst_access_over_a_window_is_the_worst_of_its_heads(name, lo, width, off, state,
                                                                   seek):
    # the analyzer's span probes ask for the worst over 49 heads at once; a WorstOf
    # inlines its drives there: the same value as asking head by head
    m = get_model(name)
    hi, to = lo + width, max(lo + off, 0)
    fn = m.seek_s if seek else m.access_s
    assert m.worst_access_s(lo, hi, to, head_state=state, seek=seek) == \
        max(fn(h, to, head_state=state) for h in range(lo, hi + 1))
