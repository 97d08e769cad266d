"""The two byte streams inside a module that the runtime decodes itself, generated: the
metadata note's JSON text (gvm_meta.c) and the packed relocations (gvm_relpack.c).

Fresh mutation samples of the C runtime (bench/mutation_c.py, docs/testing.md) kept
finding survivors in these two readers at a rate well above the rest of the runtime (18 of
20 sampled sites of gvm_meta.c and gvm_relpack.c killed across two samples would have been
95%; 10 were). Tests written one survivor at a time covered one edge each. These
properties generate the streams instead, valid ones and broken ones alike, and load each
with the reference loader and the runtime over the same console state: the same status,
the same modules in RAM (tests/test_runtime_c_fields.Both).

* The metadata: the module's own members written every way JSON allows (each character
  of a string raw or escaped, any whitespace between tokens), members added, dropped,
  doubled or given any JSON value, then a byte or two changed.  A need named with
  characters of one to four UTF-8 bytes resolves only if the parser decoded it right.
* The packed relocations: streams written from the layout in gamevm_build.link.packrel's
  docstring with sites anywhere in the module and past it, every type the console has,
  units of 1 to 8 bytes, explicit addends, HI16 partners before and after their site,
  one group or many per target, then a byte or two changed.

A new note or stream of any length is placed at the end of the file and its section
header pointed at it, so the rest of the module is as linked.
"""

from __future__ import annotations

import json
import struct
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import examples
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.link.modformat import NOTE_NAME, NT_GAMEVM_MODULE
from gamevm_build.link.packrel import _sleb, _uleb
from gamevm_build.runtime.reference import TLoadStatus
from test_runtime_c_fields import Both
from test_target_runtime import MODULES, target_resident

SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])


# --- a module with one section replaced -----------------------------------------------------

def sections(data: bytes) -> dict[str, tuple[int, list[int]]]:
    """Each section's name: its header's file offset and its ten fields."""
    e = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(e + "I", data, 32)
    shnum, shstrndx = struct.unpack_from(e + "HH", data, 48)
    heads = [list(struct.unpack_from(e + "10I", data, shoff + 40 * i)) for i in range(shnum)]
    names = heads[shstrndx][4]
    return {data[names + h[0]:data.index(b"\0", names + h[0])].decode(): (shoff + 40 * i, h)
            for i, h in enumerate(heads)}


def with_section(data: bytes, name: str, content: bytes) -> bytes:
    """``data`` with section ``name``'s bytes made ``content``, placed at the end of the
    file (4-byte aligned) and its header's offset and size changed to match."""
    e = "<" if data[5] == 1 else ">"
    at, head = sections(data)[name]
    out = bytearray(data) + bytes(-len(data) % 4)
    head[4], head[5] = len(out), len(content)
    struct.pack_into(e + "10I", out, at, *head)
    return bytes(out + content)


# --- the metadata text ---------------------------------------------------------------------

#: a need named with characters of one to four UTF-8 bytes at their ranges' edges: the
#: file exists (a copy of physics), so only a parser that decoded the name finds it
WIDE = "w\x7f\x80\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff"
SPACES = st.text(" \t\n\r", max_size=2)
#: what a byte of the text may become: JSON's punctuation, escapes' letters and digits,
#: and the bytes at the edges of UTF-8's lead and continuation ranges
BYTES = b'"\\/{}[],:.-+eE0189aAfFuUnbtr \t\n\x00\x01\x1f\x7f\x80\xbf\xc0\xc1\xc2\xdf\xe0\xed' \
        b'\xef\xf0\xf4\xf5\xff'


def escaped(draw, text: str) -> str:
    """``text`` as a JSON string, each character raw or escaped as ``draw`` picks."""
    out = ['"']
    short = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n",
             "\r": "\\r", "\t": "\\t"}
    for ch in text:
        must = ch in '"\\' or ord(ch) < 0x20
        how = draw(st.sampled_from(("raw", "u", "U", "short"))) if not must else \
            draw(st.sampled_from(("u", "U", "short")))
        if how == "short" and ch in short:
            out.append(short[ch])
        elif how in ("u", "U") or must:
            units = [ord(ch)] if ord(ch) < 0x10000 else \
                [0xD800 + ((ord(ch) - 0x10000) >> 10), 0xDC00 + ((ord(ch) - 0x10000) & 0x3FF)]
            out.extend(f"\\u{u:04x}" if how == "u" else f"\\u{u:04X}" for u in units)
        else:
            out.append(ch)
    return "".join(out) + '"'


class Pairs(list):
    """A JSON object written as these ``(key, value)`` pairs, in order, duplicates kept."""


json_leaves = st.one_of(
    st.none(), st.booleans(),
    st.sampled_from((0, 1, 4, 8, 16, 65536, 131072, 0x7FFFFFFF, 0xFFFFFFFF, 0x100000000,
                     4294967296 * 10, -1, -0.0, 0.5, 1e2, 12.5e-1)),
    st.integers(-(1 << 40), 1 << 40),
    st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=6),
    st.sampled_from(("psx", "n64", "physics", "boss", WIDE, "", "x")))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.lists(st.tuples(st.text(max_size=4), inner), max_size=3)
                            .map(Pairs)),
    max_leaves=8)


def write(draw, value) -> str:
    """``value`` as JSON text, strings escaped and whitespace placed as ``draw`` picks."""
    sp = lambda: draw(SPACES)  # noqa: E731
    if isinstance(value, Pairs):
        inner = ",".join(f"{sp()}{escaped(draw, k)}{sp()}:{sp()}{write(draw, v)}{sp()}"
                         for k, v in value)
        return "{" + (inner or sp()) + "}"
    if isinstance(value, list):
        return "[" + (",".join(sp() + write(draw, v) + sp() for v in value) or sp()) + "]"
    if isinstance(value, str):
        return escaped(draw, value)
    if isinstance(value, float) and value == int(value) and draw(st.booleans()):
        return draw(st.sampled_from((f"{int(value)}.0", f"{int(value)}e0", f"{int(value)}E+00")))
    return json.dumps(value)


@st.composite
def metadata_texts(draw, meta: Pairs):
    """Text of the metadata ``meta`` changed as the module docstring says, and a label."""
    pairs = Pairs(meta)
    changes = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("set", "add", "drop", "twice", "need")))
        i = draw(st.integers(0, len(pairs)))
        if kind == "set" and pairs:
            key = pairs[i % len(pairs)][0]
            pairs[i % len(pairs)] = (key, draw(json_values))
        elif kind == "add":
            pairs.insert(i, (draw(st.text(max_size=5)), draw(json_values)))
        elif kind == "drop" and pairs:
            pairs.pop(i % len(pairs))
        elif kind == "twice" and pairs:
            key = pairs[i % len(pairs)][0]
            pairs.insert(draw(st.integers(0, len(pairs))), (key, draw(json_values)))
        elif kind == "need":
            pairs.append(("needs", ["physics", WIDE][:draw(st.integers(0, 2))]))
        changes.append(kind)
    text = write(draw, pairs).encode()
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 2)))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(("set", "insert", "cut")))
        byte = bytes([draw(st.sampled_from(BYTES))])
        text = text[:at] + (byte if how != "cut" else b"") + \
            text[at + (how != "insert"):]
        changes.append(f"{how} @{at}")
    return text, changes


def note(text: bytes, e: str) -> bytes:
    """An ELF note of the GameVM kind whose descriptor is ``text``, NUL-padded."""
    desc = text + bytes(-len(text) % 4)
    return (struct.pack(e + "III", len(NOTE_NAME), len(desc), NT_GAMEVM_MODULE) + NOTE_NAME
            + bytes(-len(NOTE_NAME) % 4) + desc)


def metadata_of(data: bytes, hook=Pairs):
    """The module's metadata, its objects as ``hook`` makes them from their pairs."""
    _at, head = sections(data)[".note.gamevm"]
    raw = data[head[4] + 12 + len(NOTE_NAME) + (-len(NOTE_NAME) % 4):head[4] + head[5]]
    return json.loads(raw.rstrip(b"\0"), object_pairs_hook=hook)


@pytest.fixture(scope="module", params=["psx", "n64", "segacd"])
def meta_console(request, example_game, tmp_path_factory):
    """Both loaders over the same console, physics loaded, a copy of physics reachable as
    WIDE; boss as the victim."""
    target = request.param
    out = example_game(target)
    kernel = target_resident(out, target, [out / f"{m}.elf" for m in MODULES])
    directory = tmp_path_factory.mktemp(f"streams-{target}")
    (directory / f"{WIDE}.elf").write_bytes((out / "physics.elf").read_bytes())
    return Victim(Both(target, kernel, directory, out), (out / "boss.elf").read_bytes())


class Victim(NamedTuple):
    """Both loaders and the module they load changed (named, not dumped, in a report)."""
    both: Both
    data: bytes

    def __repr__(self) -> str:
        return f"Victim({self.both.target}, {len(self.data)} bytes)"


@settings(max_examples=examples(250), **SLOW)
@given(st.data())
def test_metadata_written_any_way_gets_the_host_status(meta_console, data):
    both, boss = meta_console
    e = "<" if boss[5] == 1 else ">"
    text, changes = data.draw(metadata_texts(metadata_of(boss)))
    found = both.disagreement(f"{changes} {text!r}",
                              with_section(boss, ".note.gamevm", note(text, e)))
    assert found is None, found


def test_a_need_named_with_surrogate_pair_escapes_is_the_character_they_pair(meta_console):
    """``"\\ud83d\\ude00"`` in JSON is one character, U+1F600 (RFC 8259 section 7), as
    Python's json reads it.  The runtime wrote each half as a 3-byte sequence of its own
    (CESU-8), so a need named with characters past U+FFFF escaped (as ``json.dumps``
    writes them by default) was lsFileNotFound on the console and loaded on the host.
    Found by test_metadata_written_any_way_gets_the_host_status."""
    both, boss = meta_console
    e = "<" if boss[5] == 1 else ">"
    meta = metadata_of(boss, dict)
    meta["needs"].append(WIDE)
    text = json.dumps(meta, separators=(",", ":")).encode()     # ensure_ascii: pairs
    assert b"\\udbff\\udfff" in text
    victim = with_section(boss, ".note.gamevm", note(text, e))
    assert both.disagreement("a need escaped", victim) is None
    (both.search / "victim.elf").write_bytes(victim)
    handle, status = both.tl.load_module("victim")
    assert status == TLoadStatus.lsSuccess          # the need's file was found
    both.tl.unload_module(handle)


# --- the packed relocations ----------------------------------------------------------------

def uleb(v: int) -> bytes:
    out = bytearray()
    _uleb(out, v)
    return bytes(out)


def sleb(v: int) -> bytes:
    out = bytearray()
    _sleb(out, v)
    return bytes(out)


class Stream(NamedTuple):
    """What a packed stream for a module may name: its console's relocation types (the
    MIPS HI16 among them or not), its imports, and its sections with contents (their
    start and end offsets in the image)."""
    types: tuple[int, ...]
    nimports: int
    spans: tuple[tuple[int, int], ...]
    hi16: int | None


#: what is wrong with a stream, if anything: a type the console lacks, a group of a type
#: past the table or of the unknown unit, a site past the stored image, a HI16 partner
#: outside it, or bytes changed once it was written
FLAWS = (None,) * 6 + ("type", "index", "unit", "past", "partner", "bytes")
ADDENDS = (0, 1, -1, 0x7FFFFFFF, -0x80000000, 0x1234, -4)


@st.composite
def relpack_streams(draw, s: Stream):
    """A ``.gvm.relpack`` for the module ``s`` describes, valid or with one flaw (see the
    module docstring), and the flaw."""
    flaw = draw(st.sampled_from(FLAWS))
    flawed = draw(st.integers(0, 15))             # the group that has it (if there is one)
    end = max(e for _s, e in s.spans)
    table = draw(st.lists(st.sampled_from(s.types), min_size=1, max_size=len(s.types),
                          unique=True))
    if flaw == "type":
        table.insert(draw(st.integers(0, len(table))),
                     draw(st.sampled_from((0, 3, 127, 128, 255, 256))))
    out = bytearray(uleb(len(table)) + b"".join(uleb(t) for t in table))
    group = 0
    for _target in range(s.nimports + 1):
        groups = draw(st.sampled_from((0, 0, 1, 1, 2, 3)))
        if not groups:
            out.append(0xFF)
        for g in range(groups):
            bad = flaw if group == flawed else None
            group += 1
            index = len(table) if bad == "index" else draw(st.integers(0, len(table) - 1))
            explicit = draw(st.booleans())
            shift = 3 if bad == "unit" else draw(st.sampled_from((0, 1, 2, 2)))
            count = draw(st.sampled_from((1, 1, 2, 3, 5, 0)))
            one = count == 1 and draw(st.booleans())
            out.append(index | explicit << 3 | shift << 4 | one << 6 | (g == groups - 1) << 7)
            if not one:
                out += uleb(count)
            unit = 1 << shift
            offsets = []
            for _ in range(count):
                start, stop = draw(st.sampled_from(s.spans))
                if stop - start >= 4:
                    offsets.append(draw(st.integers(-(-start // unit), (stop - 4) // unit))
                                   * unit)
            if bad == "past":
                offsets.append(draw(st.integers(end - 3, end + 8)) // unit * unit)
            prev = 0
            t = table[index] if index < len(table) else None
            for off in sorted(offsets):
                out += uleb((off - prev) >> shift)
                prev = off
                if explicit:
                    out += sleb(draw(st.sampled_from(ADDENDS)))
                elif t == s.hi16:
                    low, high = -(off // 2), (end - 4 - off) // 2
                    if bad == "partner":
                        low, high = draw(st.sampled_from(((low - 2, low - 1), (high + 1, high + 2))))
                    out += sleb(draw(st.integers(low, high)))
    changes = [flaw] if flaw != "bytes" else []
    for _ in range(draw(st.integers(1, 2)) if flaw == "bytes" else 0):
        at = draw(st.integers(0, len(out)))
        how = draw(st.sampled_from(("set", "insert", "cut")))
        byte = bytes([draw(st.sampled_from((0, 1, 0x7F, 0x80, 0xFF, 0x40, 0xC0)))])
        out = out[:at] + (byte if how != "cut" else b"") + out[at + (how != "insert"):]
        changes.append(f"{how} {byte.hex()} @{at}")
    return bytes(out), changes


@pytest.fixture(scope="module", params=["psx", "segacd"])
def packed_console(request, example_game, tmp_path_factory):
    """Both loaders over the same console, physics loaded; boss packed as the victim, and
    what a stream for it may name."""
    from gamevm_build.link.module import read_module
    from gamevm_build.link.shipform import convert
    target = request.param
    out = example_game(target)
    kernel = target_resident(out, target, [out / f"{m}.elf" for m in MODULES])
    directory = tmp_path_factory.mktemp(f"relpack-{target}")
    packed = convert((out / "boss.elf").read_bytes(), "packed")
    module = read_module(packed)
    _at, head = sections(packed)[".gvm.relpack"]
    stream = packed[head[4]:head[4] + head[5]]
    count, types = stream[0], tuple(stream[1:1 + stream[0]])     # ULEBs of one byte here
    assert count < 8 and all(t < 0x80 for t in types)
    spans = tuple((start, start + len(content)) for name, (start, content)
                  in module.sections.items() if name != ".bss" and content)
    hi16 = 5 if target in ("psx", "n64") else None
    if hi16 is not None:
        types = tuple(sorted({*types, 2, 4, 5, 6}))
    return Victim(Both(target, kernel, directory, out), packed), \
        Stream(types, len(module.imports), spans, hi16)


@settings(max_examples=examples(250), **SLOW)
@given(st.data())
def test_packed_relocations_written_any_way_get_the_host_status(packed_console, data):
    (both, packed), stream = packed_console
    content, changes = data.draw(relpack_streams(stream))
    found = both.disagreement(f"{changes} {content.hex()}",
                              with_section(packed, ".gvm.relpack", content))
    assert found is None, found
