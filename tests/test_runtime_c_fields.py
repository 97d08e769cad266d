"""Every field of a module's headers and metadata at its edges: the C runtime gives the
reference loader's status, RAM and modules.

The corrupted-modules property (tests/test_target_runtime.py) draws 40 random changes per
console, and mutation testing's fresh samples of the runtime kept finding checks no
random change reaches: a table's last entry, the first symbol, a visibility byte, an
offset one past its bound. This sweep is the systematic complement: each field of the ELF
header, of every program and section header, of the symbols of each kind (the first, the
last, the last local, the first import and export), of the first and the last relocation
of every table and of the metadata note's header and name is set, one at a time, to the
values at its edges (0, 1, one less, one more, its top bit flipped, all ones; and for
a relocation's symbol and type, the first, the last and one past the last), and the
module is loaded by both loaders over the same console state.  The metadata note's JSON
gets the same treatment member by member (every JSON type, numbers at their 32-bit
edges, init tables at the image's edges, 15 to 17 needs, nesting to the parser's limit,
malformed text).  Every disagreement is collected and reported together, naming the
field and the value.

Its first run found a disagreement on every console: a module whose `.text` section was
moved over its metadata note (`sh_offset` 0 or 1) loads on both, but the runtime copied
the note's bytes as its JSON parser had left them (strings unescaped and NUL-terminated
in place, in the first read's buffer) where the reference copies the file's bytes. The
runtime now parses a copy of the note.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from conftest import ALL_TARGETS
from example_game import example_game  # noqa: F401  (fixture)
from gamevm_build.errors import EmulationError
from gamevm_build.runtime.reference import TLoadStatus
from test_target_runtime import Consoles, MODULES, host_load, same_modules, target_resident

SHT_SYMTAB, SHT_NOTE, SHT_REL, SHT_RELA = 2, 7, 9, 4

EHDR = (("e_type", 16, 2), ("e_machine", 18, 2), ("e_version", 20, 4),
        ("e_entry", 24, 4), ("e_phoff", 28, 4), ("e_shoff", 32, 4), ("e_flags", 36, 4),
        ("e_ehsize", 40, 2), ("e_phentsize", 42, 2), ("e_phnum", 44, 2),
        ("e_shentsize", 46, 2), ("e_shnum", 48, 2), ("e_shstrndx", 50, 2))
PHDR = ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags",
        "p_align")
SHDR = ("sh_name", "sh_type", "sh_flags", "sh_addr", "sh_offset", "sh_size", "sh_link",
        "sh_info", "sh_addralign", "sh_entsize")
SYM = (("st_name", 0, 4), ("st_value", 4, 4), ("st_size", 8, 4), ("st_info", 12, 1),
       ("st_other", 13, 1), ("st_shndx", 14, 2))


def edges(value: int, width: int) -> list[int]:
    """The values at a ``width``-byte field's edges, around its ``value``."""
    top = 1 << (8 * width)
    near = {0, 1, value - 1, value + 1, value ^ (top >> 1), top - 1}
    return sorted(v % top for v in near if v % top != value)


def fields(data: bytes):
    """Yield ``(label, offset, width, values)`` for every field the sweep changes."""
    order = "<" if data[5] == 1 else ">"

    def word(at: int, width: int) -> int:
        return struct.unpack_from(order + {1: "B", 2: "H", 4: "I"}[width], data, at)[0]

    for i in range(9):                # EI_PAD, the rest, is read by neither
        yield f"e_ident[{i}]", i, 1, edges(data[i], 1)
    for name, at, width in EHDR:
        yield name, at, width, edges(word(at, width), width)
    phoff, shoff = word(28, 4), word(32, 4)
    for p in range(word(44, 2)):
        for k, name in enumerate(PHDR):
            at = phoff + 32 * p + 4 * k
            yield f"program header {p} {name}", at, 4, edges(word(at, 4), 4)
    sections = [struct.unpack_from(order + "10I", data, shoff + 40 * s)
                for s in range(word(48, 2))]
    for s, header in enumerate(sections):
        for k, name in enumerate(SHDR):
            yield f"section {s} {name}", shoff + 40 * s + 4 * k, 4, edges(header[k], 4)
    symbols = next((h[5] // 16 for h in sections if h[1] == SHT_SYMTAB), 0)
    for s, header in enumerate(sections):
        kind, offset, size = header[1], header[4], header[5]
        if kind == SHT_SYMTAB:
            for n in chosen_symbols(data, order, offset, size // 16, header[7]):
                for name, at, width in SYM:
                    at += offset + 16 * n
                    yield f"symbol {n} {name}", at, width, edges(word(at, width), width)
        elif kind in (SHT_REL, SHT_RELA) and size:
            entry = 12 if kind == SHT_RELA else 8
            for n in sorted({0, size // entry - 1}):
                at = offset + entry * n
                yield f"section {s} relocation {n} r_offset", at, 4, edges(word(at, 4), 4)
                info = word(at + 4, 4)
                values = {info + 1, info - 1, info & 0xFF, (info & 0xFF) | 0xFFFFFF00} | {
                    (sym << 8) | (info & 0xFF) for sym in (0, symbols - 1, symbols)} | {
                    (info & ~0xFF) | t for t in (0, 255)}
                yield (f"section {s} relocation {n} r_info", at + 4, 4,
                       sorted(v & 0xFFFFFFFF for v in values if v & 0xFFFFFFFF != info))
                if kind == SHT_RELA:
                    yield (f"section {s} relocation {n} r_addend", at + 8, 4,
                           edges(word(at + 8, 4), 4))
        elif kind == SHT_NOTE and size >= 12:
            for k, name in enumerate(("n_namesz", "n_descsz", "n_type")):
                at = offset + 4 * k
                yield f"section {s} note {name}", at, 4, edges(word(at, 4), 4)
            for k in range(min(word(offset, 4), size - 12)):      # "GameVM\0"
                at = offset + 12 + k
                yield f"section {s} note name[{k}]", at, 1, edges(data[at], 1)


def chosen_symbols(data: bytes, order: str, offset: int, count: int, first_global: int):
    """The symbols whose fields the sweep changes: the null symbol, the first and the last,
    the last local and the first global, the first defined and the first undefined global
    (an export and an import), and the first of each other type."""
    chosen = {0, 1, count - 1, first_global - 1, first_global}
    seen = set()
    for n in range(first_global, count):
        shndx, = struct.unpack_from(order + "H", data, offset + 16 * n + 14)
        kind = (shndx == 0, data[offset + 16 * n + 12] & 0xF)
        if kind not in seen:
            seen.add(kind)
            chosen.add(n)
    return sorted(n for n in chosen if 0 <= n < count)


def changed(data: bytes, at: int, width: int, value: int) -> bytes:
    order = "little" if data[5] == 1 else "big"
    return data[:at] + value.to_bytes(width, order) + data[at + width:]


def crashes(call) -> bool:
    """Whether ``call`` crashed the emulated console."""
    try:
        call()
    except EmulationError:
        return True
    return False


class Both(Consoles):
    """A reference loader and the runtime over the same console state (physics loaded on
    both, which boss needs), loading ``victim.elf`` from ``directory`` alike."""

    def __init__(self, target: str, kernel: Path, directory: Path, out: Path):
        (directory / "physics.elf").write_bytes((out / "physics.elf").read_bytes())
        super().__init__(target, kernel, directory)

    def disagreement(self, label: str, data: bytes) -> str | None:
        """Load ``data`` with both; what differed (status, RAM), or None. Both are left
        as they were (a module loaded is unloaded)."""
        (self.search / "victim.elf").write_bytes(data)
        lm, status = host_load(self.host, "victim")
        try:
            handle, t_status = self.tl.load_module("victim")
        except EmulationError as exc:
            # a constructor that faults is a crash on the console (lsInitFailed on the
            # reference): the console is then started again
            self.restart()
            if status == TLoadStatus.lsInitFailed:
                return None
            return f"{label}: host {status.name}, target crashed: {exc}"
        found = None
        if t_status != status:
            found = f"{label}: host {status.name}, target {t_status.name}"
        elif status == TLoadStatus.lsSuccess:
            try:
                same_modules(self.host, self.tl)
            except AssertionError as exc:
                found = f"{label}: loaded differently: {exc}"
        host_crash = lm is not None and crashes(lambda: self.host.unload(lm.handle))
        target_crash = (t_status == TLoadStatus.lsSuccess and
                        crashes(lambda: self.tl.unload_module(handle)))
        if host_crash or target_crash:          # a destructor that faults
            self.restart()
            if host_crash != target_crash and not found:
                found = f"{label}: unloading crashed the {'host' if host_crash else 'target'} only"
        return found

    def finish(self, found: list[str], what: str) -> None:
        assert not found, f"{what}: {len(found)} disagreements:\n" + "\n".join(found)
        same_modules(self.host, self.tl)


@pytest.fixture(scope="module", params=ALL_TARGETS)
def console(request, example_game, tmp_path_factory):
    target = request.param
    out = example_game(target)
    kernel = target_resident(out, target, [out / f"{m}.elf" for m in MODULES])
    return target, out, kernel, tmp_path_factory.mktemp(f"fields-{target}")


def sweep_headers(console, victim: str) -> None:
    target, out, kernel, directory = console
    both = Both(target, kernel, directory, out)
    data = (out / f"{victim}.elf").read_bytes()
    found = [d for label, at, width, values in fields(data) for value in values
             if (d := both.disagreement(f"{label} = {value:#x}",
                                        changed(data, at, width, value)))]
    both.finish(found, f"{target} {victim}")


def test_every_header_field_of_a_module_with_imports_gets_the_host_status(console):
    sweep_headers(console, "boss")


# its exports are read by code every console shares: swept on a little-endian console and
# a big-endian one (a sweep takes 10 to 30 s)
@pytest.mark.parametrize("console", ["psx", "segacd"], indirect=True)
def test_every_header_field_of_a_module_with_exports_gets_the_host_status(console):
    sweep_headers(console, "physics")


# --- the metadata note: every member at its edges ---------------------------------------

#: what each member is set to in turn: every JSON type, and numbers at 32- and 64-bit edges
#: (0x100000004: ten digits past the largest nine-digit prefix that fits, 429496729; taken
#: for 4 when the parser multiplies before it saturates)
VALUES = (None, True, False, 0, 1, -1, 2, 3, 0.5, 1e2, -0.0, 0x7FFFFFFF, 0x80000000,
          0xFFFFFFFF, 0x100000000, 0x100000004, 1 << 64, "", "x", "psx", [], [0], [0, 0],
          [4, 1], [0, 0, 0], ["physics"], {}, {"ctors": [0, 0]})


def json_text(value) -> str:
    import json
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def metadata_variants(meta: dict):
    """Yield ``(label, text)``: the metadata ``meta`` (its ``hash`` left out: neither
    loader checks it here) with one member changed, dropped or doubled, or written
    another way a JSON reader must take alike."""
    import copy
    base = {k: v for k, v in meta.items() if k != "hash"}
    size = base["image_size"]
    numbers = {"image_size": (size - 1, size + 1, size * 2), "align": (4, 8, 32, 65536, 131072),
               "format": (2,)}
    for key in base:
        for value in VALUES + numbers.get(key, ()):
            yield f"{key} = {json_text(value)}", json_text({**base, key: value})
        rest = {k: v for k, v in base.items() if k != key}
        yield f"no {key}", json_text(rest)
        member = f'"{key}":{json_text(base[key])}'
        yield f"{key} twice, the first bad", "{" + f'"{key}":[[]],' + json_text(base)[1:]
        yield f"{key} twice, the last bad", json_text(base)[:-1] + f',"{key}":[[]]' + "}"
        yield f"{key} spaced", json_text(base).replace(member, f' "{key}" :\t{json_text(base[key])} ')
    tables = {"ctors": None, "dtors": None, "init_array": None, "fini_array": None, "other": None}
    for table in tables:
        for off, count in ((0, 0), (0, 1), (4, 1), (size - 4, 1), (size, 0), (size, 1),
                           (size - 4, 2), (2, 0), (0, 0x3FFFFFFF), (0, 0x40000000)):
            variant = copy.deepcopy(base)
            variant.setdefault("init", {})[table] = [off, count]
            yield f"init.{table} = [{off}, {count}]", json_text(variant)
    for n in (15, 16, 17):
        yield f"{n} needs", json_text({**base, "needs": [f"n{i}" for i in range(n)]})
    # 17 needs in a list left open, the other members after it: read as 16 and a
    # stray string, the text would be an object again
    rest = json_text({k: v for k, v in base.items() if k != "needs"})
    yield "17 needs, the list left open", \
        '{"needs":[' + ",".join(f'"{chr(97 + i)}"' for i in range(17)) + "," + rest[1:]
    for value in VALUES + ({"a": False, "b": [True, None, "s", -1, {}]},):
        yield f"an unknown member = {json_text(value)}", json_text({**base, "zz": value})
    for depth in (30, 31, 32, 33):
        yield f"an unknown member {depth} deep", json_text(base)[:-1] + ',"deep":' + \
            "[" * depth + "]" * depth + "}"
    for raw in ('"\\u0000"', '"\\ud800"', '"\\ud83d\\ude00"', '"a\\u00e9"', "NaN", "-Infinity",
                "01", "1.", ".5", "1e", "-", "true ", "nul", "[1,]", "{\"a\":1,}"):
        yield f"an unknown member of {raw}", json_text(base)[:-1] + f',"zz":{raw}' + "}"
    for raw in (json_text(base) + " x", json_text(base) + "}", "\ufeff" + json_text(base),
                "[" + json_text(base) + "]", json_text(base).replace('"name"', '"na\\u006de"'),
                # a key cut at a NUL escape, the colon right after it (no closing quote),
                # and no key at all before the colon
                json_text(base)[:-1] + ',"\\u0000:1}',
                json_text(base)[:-1] + ',"init":{"\\u0000:[0,0]}}',
                json_text(base)[:-1] + ',:1}', json_text(base)[:-1] + ',"init":{:[0,0]}}'):
        yield f"text {raw[:12]!r}...", raw


def with_metadata(data: bytes, text: str) -> bytes | None:
    """``data`` with its metadata text made ``text``, padded with spaces to the old
    length (the file keeps its layout), or None when ``text`` is longer."""
    start = data.index(b'{"align"')
    end = data.index(b"\0", start)
    new = text.encode()
    if len(new) > end - start:
        return None
    return data[:start] + new + b" " * (end - start - len(new)) + data[end:]


def test_every_metadata_member_at_its_edges_gets_the_host_status(console):
    """The metadata parser (gvm_meta.c) against the reference's (module.check_metadata):
    each member of boss's metadata set to every JSON type and to numbers at their edges,
    dropped, doubled and spaced; init tables of every kind at the image's edges; 15 to 17
    needs; nesting to the parser's limit; malformed JSON."""
    import json
    target, out, kernel, directory = console
    both = Both(target, kernel, directory, out)
    data = (out / "boss.elf").read_bytes()
    start = data.index(b'{"align"')
    meta = json.loads(data[start:data.index(b"\0", start)])
    tried = [(label, new) for label, text in metadata_variants(meta)
             if (new := with_metadata(data, text)) is not None]
    assert len(tried) > 200 and "17 needs, the list left open" in dict(tried)
    found = [d for label, new in tried if (d := both.disagreement(label, new))]
    both.finish(found, f"{target} boss")
