"""Profiles are data: every bundled profile loads, and bad ones fail naming the key."""

import pytest
import unicorn

from gamevm_build.errors import ConfigError
from gamevm_build.project.profile import _parse_profile, available_targets, load_profile
from gamevm_build.link.toolchain import find_toolchain


@pytest.mark.parametrize("name", available_targets())
def test_bundled_profile_is_complete(name):
    p = load_profile(name)
    assert p.name == name
    # the unicorn constants the emulator will use exist in this unicorn
    consts = getattr(unicorn, f"{p.unicorn_arch.split('_')[2].lower()}_const", None)
    assert hasattr(unicorn, p.unicorn_arch)
    assert all(hasattr(unicorn, m) for m in p.unicorn_mode)
    assert consts is not None and hasattr(consts, p.unicorn_cpu)
    assert p.ram_region_for(p.resident_base) is not None
    assert p.ram_region_for(p.stack_top - 4, 4) is not None
    assert find_toolchain(name).prefix in p.toolchain_prefixes


def test_unknown_target_lists_known_ones():
    with pytest.raises(ConfigError, match=r"unknown target 'nes': choose one of .*n64.*psx"):
        load_profile("nes")


def test_profile_missing_key_names_it(tmp_path):
    good = load_profile("psx").source.read_text()
    bad = tmp_path / "x.toml"
    bad.write_text("\n".join(l for l in good.splitlines() if not l.startswith("clock_hz")))
    with pytest.raises(ConfigError, match=r"x\.toml \[cpu\]: missing key 'clock_hz'"):
        _parse_profile(bad)


def test_prefix_override(monkeypatch):
    monkeypatch.setenv("GAMEVM_PSX_PREFIX", "no-such-prefix-")
    find_toolchain.cache_clear()
    try:
        with pytest.raises(Exception, match=r"no-such-prefix-gcc.*GAMEVM_PSX_PREFIX"):
            find_toolchain("psx")
    finally:
        find_toolchain.cache_clear()


@pytest.mark.parametrize("value", ["zx0", ["lz4", "zip"], [1], None])
def test_a_profile_s_codecs_must_be_a_list_of_known_codecs(value):
    from gamevm_build.errors import ConfigError
    from gamevm_build.project.profile import _codecs
    with pytest.raises(ConfigError, match="codecs: a list of lz4 and zx0"):
        _codecs(value, "x.toml")
    assert _codecs(["zx0", "lz4", "lz4"], "x.toml") == ("lz4", "zx0")
