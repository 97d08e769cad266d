"""The two byte streams inside a module that the runtime decodes itself, generated: the
metadata note's JSON text (gvm_meta.c) and the packed relocations (gvm_relpack.c).

Fresh mutation samples of the C runtime (bench/mutation_c.py, docs/testing.md) kept
finding survivors in these two readers at a rate well above the rest of the runtime: of
the 20 sites of gvm_meta.c and gvm_relpack.c in the last two samples, 10 survived. Tests
written one survivor at a time covered one edge each. These properties generate the
streams instead, valid ones and broken ones alike, and load each with the reference
loader and the runtime over the same console state: the same status, the same modules in
RAM (tests/test_runtime_c_fields.Both).  Edges a property reaches only by chance are
swept too (raw UTF-8, number literals, sites at section edges, padded numbers, imports
out of order).

Their first run found a bug: the runtime read an escaped surrogate pair
(``\\udbff\\udfff``) as two 3-byte characters where JSON (and the reference) reads
one 4-byte one, so a need named past U+FFFF, escaped as ``json.dumps`` writes it, was
lsFileNotFound on the console.

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

from conftest import examples, section_header
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.link.modformat import NOTE_NAME, NT_GAMEVM_MODULE
from gamevm_build.link.packrel import _sleb, _uleb
from gamevm_build.runtime.reference import TLoadStatus
from test_runtime_c_fields import Both
from test_target_runtime import MODULES, host_load, target_resident

SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])


# --- a module with one section replaced -----------------------------------------------------

def section_replaced(data: bytes, name: str, content: bytes) -> bytes:
    """``data`` with section ``name``'s bytes made ``content``, placed at the end of the
    file (4-byte aligned) and its header's offset and size changed to match."""
    e = "<" if data[5] == 1 else ">"
    at, head = section_header(data, name)
    out = bytearray(data) + bytes(-len(data) % 4)
    head[4], head[5] = len(out), len(content)
    struct.pack_into(e + "10I", out, at, *head)
    return bytes(out + content)


# --- the metadata text ---------------------------------------------------------------------

#: a need named with characters of one to four UTF-8 bytes at their ranges' edges (one
#: past U+FFFF first: an escaped pair at a string's start): the file exists (a copy of
#: physics), so only a parser that decoded the name finds it
WIDE = "\U00010000w\x7f\x80\u07ff\u0800\ud7ff\ue000\uffff\U0010ffff"
#: raw UTF-8 at the edges of each length's range, valid and not (overlong, surrogates,
#: past U+10FFFF, cut short, a continuation byte alone), placed after a quote
UTF8 = (b"\x7f", b"\xc2\x80", b"\xc1\xbf", b"\xdf\xbf", b"\xe0\xa0\x80", b"\xe0\x9f\xbf",
        b"\xed\x9f\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xee\x80\x80", b"\xef\xbf\xbf",
        b"\xf0\x90\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80",
        b"\xf5\x80\x80\x80", b"\x80", b"\xe0\xa0", b"\xf0\x90\x80", b"\xc2", b"\xc2\xc2\x80",
        b"\xe1\x80\xc0", b"\xf1\x80\x80\x7f",
        # bytes that lead no sequence, before three continuations that would spell a
        # character in range if they did (gvm_meta.c:utf8_len:lcr_3 took every byte
        # that leads no 2- or 3-byte sequence for a 4-byte lead)
        b"\x81\x80\x80\x80", b"\xc0\x90\x80\x80", b"\xc1\x80\x80\x80",
        b"\xf8\x90\x80\x80", b"\xfc\x80\x80\x80",
        # a 4-byte lead of each value of its three bits (0xF0 and 0xF4 above): U+40000,
        # U+80000 and U+FFFFF (gvm_meta.c:utf8_len:const_25 dropped the lead's low bit:
        # U+40000 became U+00000, an overlong form)
        b"\xf1\x80\x80\x80", b"\xf2\x80\x80\x80", b"\xf3\xbf\xbf\xbf")
#: JSON's edge for raw bytes in a string: control characters must be escaped
CONTROL = (b"\x00", b"\x01", b"\x1f", b"\x20")
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


#: a JSON number literal of any form (integer, fraction, exponent; every digit)
NUMBER = r"-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?"


class Raw(str):
    """JSON text written as it is: a number literal of any form, valid or not."""


def number_literals(value: int):
    """Literals for a member whose value is ``value``: the same number written other
    ways, numbers near 32 bits' edges, and what JSON does not allow."""
    return st.one_of(
        st.sampled_from((str(value), f"{value}.0", f"{value}e0", f"{value}E+00", f"0{value}",
                         f"-{value}", "-0", f"{value}0", str(value * 2), str(value - 1))),
        st.from_regex(NUMBER, fullmatch=True),
        st.sampled_from(("4294967295", "4294967296", "4294967297", "4294967290",
                         "4294967299", "42949672950", "429496729", "429496730", "01", "1.",
                         ".5", "-", "+1", "1e", "1e+", "--1", "0x10", "1_0", "00", "-01")))


class Pairs(list):
    """A JSON object written as these ``(key, value)`` pairs, in order, duplicates kept."""


json_leaves = st.one_of(
    st.none(), st.booleans(), st.from_regex(NUMBER, fullmatch=True).map(Raw),
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
    if isinstance(value, Raw):
        return value
    if isinstance(value, str):
        return escaped(draw, value)
    if isinstance(value, float) and value == int(value) and draw(st.booleans()):
        return draw(st.sampled_from((f"{int(value)}.0", f"{int(value)}e0", f"{int(value)}E+00")))
    return json.dumps(value)


@st.composite
def init_tables(draw, size: int):
    """An ``init`` member: tables of known kinds and others, each at the image's edges."""
    tables = Pairs()
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("ctors", "dtors", "init_array", "fini_array", "ctor",
                                     "init_arra", "")))
        off = draw(st.sampled_from((0, 4, 2, size - 4, size, size + 4, size // 2 & ~3,
                                    0xFFFFFFFC)))
        room = max(size - off, 0) // 4
        count = draw(st.sampled_from((0, 1, 2, room, room + 1, room // 2, room // 2 + 1,
                                      0x3FFFFFFF, 0x40000000, 0x7FFFFFFF, 0xFFFFFFFF)))
        tables.append((kind, draw(st.sampled_from(([off, count], [off], [off, count, 0],
                                                   [off, count], [off, count])))))
    return tables


@st.composite
def metadata_texts(draw, meta: Pairs):
    """Text of the metadata ``meta`` changed as the module docstring says, and a label."""
    pairs = Pairs(meta)
    changes = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("set", "add", "drop", "twice", "need", "number",
                                     "init")))
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
        elif kind == "number":
            key = draw(st.sampled_from(("format", "image_size", "align")))
            value = dict(pairs).get(key, 1)
            pairs.append((key, Raw(draw(number_literals(value if type(value) is int else 1)))))
        elif kind == "init":
            pairs.append(("init", draw(init_tables(dict(meta)["image_size"]))))
        elif kind == "need":
            pairs.append(("needs", ["physics", WIDE][:draw(st.integers(0, 2))]))
        changes.append(kind)
    text = write(draw, pairs).encode()
    quotes = [i + 1 for i, b in enumerate(text) if b == ord('"')]
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 2)))):
        at = draw(st.sampled_from(quotes))
        text = text[:at] + draw(st.sampled_from(UTF8)) + text[at:]
        changes.append(f"utf8 @{at}")
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
    _at, head = section_header(data, ".note.gamevm")
    raw = data[head[4] + 12 + len(NOTE_NAME) + (-len(NOTE_NAME) % 4):head[4] + head[5]]
    return json.loads(raw.rstrip(b"\0"), object_pairs_hook=hook)


class Victim(NamedTuple):
    """Both loaders and the module they load changed (named, not dumped, in a report)."""
    both: Both
    data: bytes

    def __repr__(self) -> str:
        return f"Victim({self.both.target}, {len(self.data)} bytes)"


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


@settings(max_examples=examples(250), **SLOW)
@given(st.data())
def test_metadata_written_any_way_gets_the_host_status(meta_console, data):
    both, boss = meta_console
    e = "<" if boss[5] == 1 else ">"
    text, changes = data.draw(metadata_texts(metadata_of(boss)))
    found = both.disagreement(f"{changes} {text!r}",
                              section_replaced(boss, ".note.gamevm", note(text, e)))
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
    victim = section_replaced(boss, ".note.gamevm", note(text, e))
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
#: past the table or of the unknown unit, a site past the stored image or across a
#: section's end, a HI16 partner outside the image, or bytes changed once it was written
FLAWS = (None,) * 7 + ("type", "index", "unit", "past", "straddle", "partner", "bytes")
ADDENDS = (0, 1, -1, 0x7FFFFFFF, -0x80000000, 0x1234, -4)


@st.composite
def relpack_streams(draw, s: Stream):
    """A ``.gvm.relpack`` for the module ``s`` describes, valid or with one flaw (see the
    module docstring), and the flaw."""
    flaw = draw(st.sampled_from(FLAWS))
    flawed = draw(st.integers(0, 5))              # the group that has it (if there is one)
    end = max(e for _s, e in s.spans)
    table = draw(st.lists(st.sampled_from(s.types), min_size=1, max_size=len(s.types),
                          unique=True))
    if flaw == "type":
        table.insert(draw(st.integers(0, len(table))),
                     draw(st.sampled_from((0, 3, 127, 128, 255, 256))))
    out = bytearray(uleb(len(table)) + b"".join(uleb(t) for t in table))
    group = 0
    busy = draw(st.sets(st.integers(0, s.nimports), min_size=1, max_size=3))   # with sites
    for target in range(s.nimports + 1):
        groups = draw(st.sampled_from((1, 1, 2, 3))) if target in busy else 0
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
            if bad == "straddle":
                _start, stop = draw(st.sampled_from(s.spans))
                offsets.append((stop - draw(st.integers(1, 3))) // unit * unit)
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
                        low, high = draw(st.sampled_from(((low - 2, low - 1),
                                                          (high + 1, high + 2))))
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
    _at, head = section_header(packed, ".gvm.relpack")
    stream = packed[head[4]:head[4] + head[5]]
    count, types = stream[0], tuple(stream[1:1 + stream[0]])     # ULEBs of one byte here
    assert count < 8 and all(t < 0x80 for t in types)
    spans = tuple((start, start + len(content)) for name, (start, content)
                  in module.sections.items() if name != ".bss" and content)
    hi16 = 5 if target in ("psx", "n64") else None      # R_MIPS_HI16 pairs with a LO16
    if hi16 is not None:                                 # R_MIPS_32, _26, _HI16, _LO16
        types = tuple(sorted({*types, 2, 4, 5, 6}))
    return Victim(Both(target, kernel, directory, out), packed), \
        Stream(types, len(module.imports), spans, hi16)


@settings(max_examples=examples(250), **SLOW)
@given(st.data())
def test_packed_relocations_written_any_way_get_the_host_status(packed_console, data):
    (both, packed), stream = packed_console
    content, changes = data.draw(relpack_streams(stream))
    found = both.disagreement(f"{changes} {content.hex()}",
                              section_replaced(packed, ".gvm.relpack", content))
    assert found is None, found


def test_raw_utf8_at_every_edge_in_every_string_gets_the_host_status(meta_console):
    """Each of UTF8's sequences and each CONTROL byte in a string of every role (a
    member's name, an unknown member's value, the module's name, a need's name), after
    its first character: the parser takes what Python's strict UTF-8 decoder and JSON
    reader take.  The property reaches these only by chance (the survivor
    gvm_meta.c:utf8_len:ror_14, a raw U+DFFF taken as a character, was not reached by its
    derandomized examples; gvm_meta.c:string:const_7 took a raw 0x1F after a plain
    character)."""
    both, boss = meta_console
    e = "<" if boss[5] == 1 else ">"
    base = metadata_of(boss, dict)
    found = []
    for seq in UTF8 + CONTROL:
        for role in ("key", "value", "name", "need"):
            meta = json.dumps({**base, "zz": "v"}, separators=(",", ":")).encode()
            at = {"key": b'"zz"', "value": b'"v"', "name": b'"boss"',
                  "need": b'"physics"'}[role]
            where = meta.index(at) + 2
            text = meta[:where] + seq + meta[where:]
            found.append(both.disagreement(f"{seq!r} in the {role}",
                                           section_replaced(boss, ".note.gamevm", note(text, e))))
    both.finish([f for f in found if f], f"{both.target} boss")


def single_group(table: list[int], index: int, sites: list[tuple[int, int]],
                 nimports: int, *, explicit: bool = True, shift: int = 0) -> bytes:
    """A stream of one group of the module's own sites ``(offset, value)``, in units of
    ``1 << shift`` bytes (offsets that are multiples of it)."""
    out = bytearray(uleb(len(table)) + b"".join(uleb(t) for t in table))
    out.append(index | explicit << 3 | shift << 4 | 0x80)
    out += uleb(len(sites))
    prev = 0
    for off, value in sites:
        out += uleb((off - prev) >> shift) + sleb(value)
        prev = off
    return bytes(out + b"\xff" * nimports)


def test_a_site_at_every_section_edge_gets_the_host_status(packed_console):
    """A site of every type of the console at every section's edges (4 bytes before its
    end to 3 after; its start, when it is not the image's), alone, after a site in the
    same section (where the runtime looks first) and after one in another section; and a
    HI16's partner at the image's edges.  The property reaches each of these only now and
    then (the survivor gvm_relpack.c:site_ok:aor_2, a site across a section's end taken,
    was not reached by its derandomized examples)."""
    (both, packed), s = packed_console
    found = []
    starts = [start for start, _stop in s.spans]
    for t in s.types:
        for _start, stop in s.spans:
            for off in [*range(stop - 4, stop + 4), *(a for a in starts if a)]:
                for before in (None, stop - 8, starts[0] if stop != s.spans[0][1] else None,
                               s.spans[-1][0]):
                    sites = [(b, 0) for b in (before,) if b is not None and b < off]
                    stream = single_group([t], 0, [*sites, (off, 0)], s.nimports)
                    label = f"type {t} at {off:#x} after {sites}"
                    found.append(both.disagreement(
                        label, section_replaced(packed, ".gvm.relpack", stream)))
    if s.hi16 is not None:
        end = max(stop for _start, stop in s.spans)
        for off in (0, 4, end - 8, end - 4):
            for partner in (-(off // 2) - 1, -(off // 2), (end - 4 - off) // 2,
                            (end - 4 - off) // 2 + 1):
                stream = single_group([s.hi16], 0, [(off, partner)], s.nimports,
                                      explicit=False)
                found.append(both.disagreement(
                    f"HI16 at {off:#x}, partner {partner:+}",
                    section_replaced(packed, ".gvm.relpack", stream)))
    both.finish([f for f in found if f], f"{both.target} boss packed")


@pytest.mark.any_console
def test_a_site_in_units_next_to_the_images_end_gets_the_host_status(packed_console):
    """Sites in units of 2 and 4 bytes at the last unit boundaries below the end of the
    stored image, every type of the console.  boss's empty .data is moved from 1232 to
    the end of its .rodata, so that on the 68000 the stored image ends at 1222 (not a
    multiple of 4): a 16- or 8-bit field at 1220 lies inside it and loads.  Marked
    any_console: the 68000's fields of 1 and 2 bytes are the only ones that fit there,
    so a psx test cannot tell (the survivor gvm_relpack.c:relpack_walk:ror_12,
    ``delta > room >> shift`` made ``>=``, refused the last unit)."""
    (both, packed), s = packed_console
    end = max(stop for _start, stop in s.spans)
    at, head = section_header(packed, ".data")
    assert head[5] == 0 and head[3] >= end
    e = "<" if packed[5] == 1 else ">"
    packed = packed[:at + 12] + struct.pack(e + "I", end) + packed[at + 16:]
    table = sorted({*s.types, *((1, 2, 3) if both.target == "segacd" else ())})
    found = []
    for i, t in enumerate(table):
        for shift in (1, 2):
            last = (end - 1) >> shift << shift
            for off in (last - (1 << shift), last, last + (1 << shift)):
                stream = single_group(table, i, [(off, 0)], s.nimports, shift=shift)
                found.append(both.disagreement(
                    f"type {t} at {off:#x} in units of {1 << shift}",
                    section_replaced(packed, ".gvm.relpack", stream)))
    both.finish([f for f in found if f], f"{both.target} boss packed")


def test_a_table_of_seven_types_the_most_gets_the_host_status(packed_console):
    """A table may list seven types (docs/format.md), a type more than once: a group of
    its first and of its seventh loads alike on both, and an eighth type is refused by
    both.  The generated tables list each of a console's few types at most once, so they
    never reach seven (the survivor gvm_relpack.c:relpack_walk:const_2, a table of six,
    trapped in the checked build only past the sixth)."""
    (both, packed), s = packed_console
    start, stop = s.spans[0]
    site = (start + 3) // 4 * 4
    assert site + 4 <= stop
    found = []
    for count, index in ((7, 0), (7, 6), (8, 0)):
        table = [s.types[i % len(s.types)] for i in range(count)]
        stream = single_group(table, index, [(site, 0x10)], s.nimports)
        label = f"{count} types, a group of the type at {index}"
        found.append(both.disagreement(label, section_replaced(packed, ".gvm.relpack", stream)))
        lm, status = host_load(both.host, "victim")
        assert status == (TLoadStatus.lsSuccess if count == 7 else TLoadStatus.lsBadFormat)
        if lm is not None:
            both.host.unload(lm.handle)
    both.finish([f for f in found if f], f"{both.target} boss packed")


#: number literals with every digit in every part, and what JSON does not allow
LITERALS = tuple(form.format(d) for d in "0123456789" for form in (
    "{}", "1{}", "-{}", "0.{}", "1.0{}", "1e{}", "1E+{}", "1e-1{}", "{}.5", "-{}e1")) + (
    "01", "1.", ".5", "-", "+1", "1e", "1e+", "--1", "0x10", "00", "-01", "1.e1", "1e1.5",
    "4294967295", "4294967296", "42949672951", "-0", "-0.0", "1E400", "123456789012345678")


def test_number_literals_of_every_form_get_the_host_status(meta_console):
    """Each of LITERALS as an unknown member's value and as ``align``'s: the parser takes
    what JSON takes and reads the value as Python's json does.  Written for the survivor
    gvm_meta.c:number:ror_30 (a fraction's digit loop stopping before a 9)."""
    both, boss = meta_console
    e = "<" if boss[5] == 1 else ">"
    base = json.dumps(metadata_of(boss, dict), separators=(",", ":"))
    found = []
    for literal in LITERALS:
        for text in (base[:-1] + f',"zz":[{literal}]}}', base[:-1] + f',"align":{literal}}}'):
            found.append(both.disagreement(
                text[-30:], section_replaced(boss, ".note.gamevm", note(text.encode(), e))))
    both.finish([f for f in found if f], f"{both.target} boss")


def uleb_padded(value: int, size: int, last: int = 0) -> bytes:
    """``value`` (< 128) as a ULEB128 of ``size`` bytes, ``last`` or'ed into its last."""
    return bytes([value | 0x80] + [0x80] * (size - 2) + [last]) if size > 1 else bytes([value])


def test_numbers_padded_to_any_length_get_the_host_status(packed_console):
    """Every number of a one-site stream (the type count, the type, the site's delta)
    written as a ULEB128 of 1 to 6 bytes, and 5-byte ones whose last byte sets bits past
    32: both loaders take up to 5 bytes of a number that fits.  Written for the survivor
    gvm_relpack.c:rp_uleb:const_22 (a sixth byte's refusal made a 0 read without one)."""
    (both, packed), s = packed_console
    t, site = s.types[0], s.spans[0][0] + 8
    found = []
    for which in range(3):
        for size, last in [*((n, 0) for n in range(1, 7)), (5, 0x0F), (5, 0x10), (5, 0x70)]:
            nums = [uleb(1), uleb(t), uleb(site)]
            value = (1, t, site)[which]
            if value >= 0x80:
                continue
            nums[which] = uleb_padded(value, size, last)
            stream = nums[0] + nums[1] + bytes([0x08 | 0x40 | 0x80]) + nums[2] + sleb(0) + \
                b"\xff" * s.nimports
            found.append(both.disagreement(f"number {which} in {size} bytes, last {last:#x}",
                                           section_replaced(packed, ".gvm.relpack", stream)))
    found.append(both.disagreement("no types, a 6-byte count", section_replaced(
        packed, ".gvm.relpack", b"\x80" * 5 + b"\xff" * (s.nimports + 1))))
    both.finish([f for f in found if f], f"{both.target} boss packed")


def test_imports_out_of_name_order_get_the_host_status(packed_console):
    """A packed module's relocations name its imports by rank in name order, so the
    symbol table must list them sorted, each once: each import given the name of the one
    before it (a duplicate) and the two swapped (out of order), and an undefined symbol
    of type STT_SECTION (refused before the ranks are counted).  Written for the
    survivor gvm_relpack.c:relpack_read:ror_5 (a duplicate name taken as in order)."""
    (both, packed), _s = packed_console
    e = "<" if packed[5] == 1 else ">"
    _at, head = section_header(packed, ".symtab")
    rows = range(head[4], head[4] + head[5], 16)
    imports = [r for r in rows if r != head[4] and packed[r + 12] & 15 != 3
               and struct.unpack_from(e + "H", packed, r + 14)[0] == 0]
    assert len(imports) > 3
    found = []
    for a, b in zip(imports, imports[1:]):
        name_a, name_b = packed[a:a + 4], packed[b:b + 4]
        for label, na, nb in (("twice", name_a, name_a), ("swapped", name_b, name_a)):
            data = bytearray(packed)
            data[a:a + 4], data[b:b + 4] = na, nb
            found.append(both.disagreement(f"imports at {a:#x} and {b:#x} {label}", bytes(data)))
    for a in imports[:2] + imports[-1:]:            # not an import: a section's symbol
        data = bytearray(packed)
        data[a + 12] = data[a + 12] & 0xF0 | 3
        found.append(both.disagreement(f"the import at {a:#x} of type STT_SECTION", bytes(data)))
    both.finish([f for f in found if f], f"{both.target} boss packed")
