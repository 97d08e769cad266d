"""The CD game's sources agree with themselves (the build is CI's: .ci/run, docs/cdgame.md).

Its module list (examples/cdgame/modules.py) is what the SConscript builds and both
configurations place; the generated assets are deterministic, shaped to compress like
real data (neither like zeros nor like noise), and add up to more than 4 MiB.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import REPO

CD = REPO / "examples" / "cdgame"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"cdgame_{name}", CD / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("config", ["cdgame.json", "cdgame-n64.json"])
def test_the_configurations_place_every_module_the_build_makes(config):
    from gamevm_build.project.config import load_config
    modules = _load("modules")
    raw = json.loads((CD / config).read_text())
    assert set(raw["modules"]) == {"engine", *modules.modules()}
    assert len(raw["modules"]) >= 30 and len(raw["scenes"]) >= 10 and raw["streams"]
    regions = {r["name"]: r for r in raw["memoryMap"]["regions"]}
    assert {"LevelA", "LevelB", "MusicA", "MusicB"} <= set(regions)
    assert regions["LevelA"]["pair"] == "LevelB" and regions["MusicA"]["pair"] == "MusicB"
    for name, spec in raw["modules"].items():
        assert spec["region"] in regions, name
        for need in modules.needs(name):
            assert need in raw["modules"], (name, need)
    cfg = load_config(CD / config, module_files={n: str(CD / "missing.elf")
                                                 for n in raw["modules"]})
    assert len(cfg.transitions) == len(raw["transitions"])


def test_the_assets_are_deterministic_and_compress_like_real_data():
    import lz4.block
    assets, modules = _load("assets"), _load("modules")
    total = 0
    ratios = {}
    for name, kind in modules.modules().items():
        parts = assets.parts(name, kind, big=False)
        data = b"".join(parts.values())
        total += len(data)
        if kind not in ratios:
            assert assets.parts(name, kind, big=False) == parts           # deterministic
            if kind != "music":                                           # bytes only
                assert assets.parts(name, kind, big=True) != parts        # byte order
            ratios[kind] = len(data) / len(lz4.block.compress(data, mode="high_compression",
                                                              store_size=False))
    assert total > 4 << 20
    assert all(1.2 < r < 4 for r in ratios.values()), ratios
