"""gamevm_build.record: the value classes the link path uses instead of dataclasses."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from gamevm_build.link import elf32
from gamevm_build.project.profile import Profile, load_profile
from gamevm_build.record import Factory, Record


class Point(Record, frozen=True):
    x: int
    y: int = 0
    label: str = ""
    _uncompared = ("label",)


class Bag(Record):
    name: str
    items: list = Factory(list)


def test_construction_by_position_keyword_and_default():
    assert (Point(1, 2).x, Point(1, 2).y) == (1, 2)
    assert Point(x=3).y == 0
    assert Point(1, label="a") == Point(1, 0, "b")          # label is not compared
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        Point()
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        Point(1, z=2)
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        Point(1, x=2)
    with pytest.raises(TypeError, match="takes 3 arguments, 4 given"):
        Point(1, 2, "a", 4)


def test_frozen_fields_refuse_assignment_and_hash_like_equality():
    p = Point(1, 2)
    with pytest.raises(AttributeError, match="frozen Point"):
        p.x = 5
    with pytest.raises(AttributeError, match="frozen Point"):
        del p.y
    assert hash(Point(1, 2, "a")) == hash(Point(1, 2, "b"))
    assert len({Point(1, 2), Point(1, 2), Point(2, 1)}) == 2
    assert Point(1, 2) != Bag("x") and Point(1, 2) != (1, 2)


def test_mutable_records_are_unhashable_and_get_fresh_factory_defaults():
    a, b = Bag("a"), Bag("b")
    a.items.append(1)
    assert b.items == [] and a.items == [1]
    a.name = "renamed"                                      # not frozen
    with pytest.raises(TypeError):
        hash(a)


def test_repr_replace_copy_and_pickle():
    p = Point(1, 2, "a")
    assert repr(p) == "Point(x=1, y=2, label='a')"
    assert p.replace(y=7) == Point(1, 7) and p.replace(y=7).label == "a"
    assert copy.deepcopy(p) == p and pickle.loads(pickle.dumps(p)) == p
    elf = elf32.ElfFile("o.o", b"", "little", 1, 8, 0, 0)
    assert "_relocs" not in repr(elf) and "name='o.o'" in repr(elf)


def test_profile_replace_keeps_every_other_field_and_equality_ignores_source():
    psx = load_profile("psx")
    other = psx.replace(runtime_isa="")
    assert other == psx and hash(other) == hash(psx) and other is not psx
    assert psx.replace(source=Path("/elsewhere.toml")) == psx
    assert psx.replace(stack_size=psx.stack_size + 4) != psx
    with pytest.raises(AttributeError):
        psx.name = "n64"
    assert isinstance(psx, Profile) and psx.main_ram is psx.ram[0]


def test_slotted_elf_records_compare_by_fields():
    s = elf32.Symbol(1, "f", 0, 4, 1, 2, 0, 1)
    assert s == elf32.Symbol(1, "f", 0, 4, 1, 2, 0, 1) != elf32.Symbol(2, "f", 0, 4, 1, 2, 0, 1)
    assert not hasattr(s, "__dict__")
    assert elf32.Section(1, ".text", 1, 6, 0, 0x34, 0, 0, 0, 4, 0).data == b""


def test_a_module_link_imports_neither_dataclasses_nor_typing():
    """The point of the module (issue 16): ``gamevm module`` of objects alone imports
    neither, so a change that brings one of them back into the link's imports shows here."""
    code = ("import sys; from gamevm_build.cli import build_parser; "
            "build_parser('module'); import gamevm_build.link.linker, "
            "gamevm_build.commands.module, gamevm_build.arch.mips; "
            "print(sorted(m for m in ('dataclasses', 'typing', 'inspect') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
