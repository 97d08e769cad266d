"""The linker's batched paths (issue 16) give what the per-entry code they replaced gave:
string tables, the hashed text, section and symbol names, and the profile parse kept
beside the bytecode cache."""

import marshal
import shutil
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gamevm_build.errors import ConfigError
from gamevm_build.link import elf32
from gamevm_build.link.modformat import _StrTab, _string_table, _table_text
from gamevm_build.project import profile as P

names = st.lists(st.sampled_from(["", "a", "main", "f0_a", ".text", "é", "日本"]) |
                 st.text(max_size=6), max_size=40)


@given(names)
def test_string_table_is_the_one_add_builds(seq):
    one_by_one = _StrTab()
    offsets = [one_by_one.add(n) for n in seq]
    data, index = _string_table(seq)
    assert data == bytes(one_by_one.data)
    assert [index[n] for n in seq] == offsets


cells = st.one_of(st.integers(-2**40, 2**40), st.text(max_size=5), st.none())


@given(st.lists(st.tuples(cells, cells, cells, cells) | st.tuples(cells, cells, cells, cells, cells)
                | st.tuples(cells, cells, cells, cells, cells, cells), max_size=30))
def test_hashed_text_is_the_f_string_per_row(rows):
    expected = "".join(f"R{r[0]},{r[1]},{r[2]},{r[3]}\0" for r in rows).encode()
    assert _table_text("R%s,%s,%s,%s\0", rows, lambda r: r[:4]) == expected
    assert _table_text("R%s,%s,%s,%s\0", iter(rows), lambda r: r[:4]) == expected


@given(st.lists(st.text(alphabet="ab.\xe9\x00", max_size=4), max_size=8), st.data())
def test_names_found_by_split_are_the_ones_cstr_reads(parts, data):
    table = "\0".join(parts) + data.draw(st.sampled_from(["", "\0", "xy"]))
    found = elf32._names_at(table)
    for offset in range(len(table) + 2):
        try:
            expected = elf32._cstr(table, offset, "t.o", "symbol [1]")
        except Exception:             # refused: _names_at leaves it to _cstr
            assert offset not in found
            continue
        assert found.get(offset, expected) == expected


@pytest.fixture
def profile_copy(tmp_path, monkeypatch):
    """The psx profile copied into a directory of its own, Python writing bytecode."""
    path = tmp_path / "psx.toml"
    shutil.copy(P.PROFILE_DIR / "psx.toml", path)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    return path


def test_profile_parse_is_kept_and_used_while_its_text_is_unchanged(profile_copy):
    first = P._profile_table(profile_copy)
    cache = P._cache_file(profile_copy)
    assert cache.parent == profile_copy.parent / "__pycache__" and cache.is_file()
    text, kept = marshal.loads(cache.read_bytes())
    assert kept == first and text == profile_copy.read_text()
    # a kept parse is only used for the text it was made from
    cache.write_bytes(marshal.dumps((text, {**kept, "title": "kept"})))
    assert P._profile_table(profile_copy)["title"] == "kept"
    profile_copy.write_text(text.replace('title = "', 'title = "Edited '))
    assert P._profile_table(profile_copy)["title"].startswith("Edited ")


@pytest.mark.parametrize("damage", [b"", b"\x00garbage", marshal.dumps(["not", "a pair"])])
def test_a_damaged_kept_parse_is_parsed_again(profile_copy, damage):
    expected = P._profile_table(profile_copy)
    P._cache_file(profile_copy).write_bytes(damage)
    assert P._profile_table(profile_copy) == expected


@pytest.mark.parametrize("kind", ["fifo", "directory", "oversized"])
def test_a_kept_parse_that_is_not_a_small_regular_file_is_parsed_again(profile_copy, kind):
    """What stands where the parse is kept is only read when it is a regular file within
    the bound: a FIFO there cannot hang the command, nor a huge file flood it."""
    import os
    expected = P._profile_table(profile_copy)
    cache = P._cache_file(profile_copy)
    cache.unlink()
    if kind == "fifo":
        os.mkfifo(cache)
    elif kind == "directory":
        cache.mkdir()
    else:
        cache.write_bytes(marshal.dumps((profile_copy.read_text(), {"name": "huge"}))
                          + bytes(P._CACHE_LIMIT))
    assert P._profile_table(profile_copy) == expected


def test_nothing_is_kept_without_bytecode_writing_or_a_writable_directory(profile_copy,
                                                                          monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    P._profile_table(profile_copy)
    assert not P._cache_file(profile_copy).exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    (profile_copy.parent / "__pycache__").write_text("a file, not a directory")
    assert P._profile_table(profile_copy)["name"] == "psx"


def test_kept_under_the_pycache_prefix(profile_copy, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "prefix"))
    P._profile_table(profile_copy)
    cache = P._cache_file(profile_copy)
    assert cache.is_file() and str(cache).startswith(str(tmp_path / "prefix"))


def test_a_bad_profile_is_refused_even_with_a_kept_parse_of_its_old_text(profile_copy):
    P._profile_table(profile_copy)
    profile_copy.write_text("name = [")
    with pytest.raises(ConfigError, match=r"psx\.toml: cannot read target profile: "):
        P._profile_table(profile_copy)
