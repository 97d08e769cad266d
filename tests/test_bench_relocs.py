"""Packed relocations take at most 2.0 bytes each (issue 14), per console, on the example
game, the test corpus and real C libraries (stb_image and stb_c_lexer from Debian's
libstb-dev) built as modules: ``bench/bench_relocs.py`` links and measures them.

Without libstb-dev the library set is skipped, saying so; in CI (``CI=true``), where
``tools/bootstrap`` installs it, its absence fails instead.
"""

from __future__ import annotations

import os
import sys

import pytest

from conftest import ALL_TARGETS, REPO

sys.path.insert(0, str(REPO / "bench"))

import bench_relocs  # noqa: E402


@pytest.mark.parametrize("target", ALL_TARGETS)
@pytest.mark.parametrize("name", bench_relocs.SETS)
def test_each_set_packs_into_two_bytes_a_relocation(target, name):
    if name == "library" and not bench_relocs.library_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"libstb-dev is not installed ({bench_relocs.STB_DIR}): "
                        "tools/bootstrap installs it in CI")
        pytest.skip(f"libstb-dev is not installed ({bench_relocs.STB_DIR}/stb_image.h "
                    "missing): apt-get install libstb-dev (tools/bootstrap does)")
    f = bench_relocs.measure(target, [name])[name]
    # something to measure: the library alone has hundreds of relocations
    assert f["relocations"] >= (150 if name == "library" else 60), f
    assert f["rela"] == 12.0 and f["plain"] > f["rela"]
    assert f["packed"] <= bench_relocs.GOAL, (target, name, f)
