"""The four emission formats of GameVM code (seed §1.3, §2.2): STC, DTC, ITC and TTC.

This module is the one definition of the formats: what a thread is, where it lives
(section names), which relocations each kind of section may carry, and the TTC token
widths.  The linker's check (:func:`check_object`), the module metadata (``emission``),
``gamevm inspect``, ``gamevm thread`` (:mod:`gamevm_build.link.threadc`) and
docs/formats.md all read it.

Thread sections are recognised by name: ``.gvm.thread`` and ``.gvm.thread.*`` hold
threads (and ITC code fields), ``.gvm.ttc_table`` and ``.gvm.ttc_table.*`` TTC's
token-to-address tables.  A section named ``.gvm.thread.<format>`` also says which
format its object was made for, so an object of another format is refused by name.
Everything outside those sections (primitives, C, the exported word descriptors) is
native code and data, relocated as any module is.

Relocations are classed by type, per CPU family:

* ``word``: an absolute 32-bit word (``R_MIPS_32``, ``R_68K_32``, ``R_ARM_ABS32``) --
  an address in a list;
* ``call``: the CPU's call/jump instructions (``R_MIPS_26``; ARM ``bl``/``b``; the
  68000's ``bsr``, whose ``jsr abs.l`` carries ``R_68K_32`` and so is a ``word`` too:
  on the 68000 the type alone cannot tell a ``jsr`` from a ``.long``, which is why
  data threads must also be non-executable sections);
* ``other``: everything else (MIPS ``%hi``/``%lo``, 68000 shorts, ARM ``TARGET1``...).
"""

from __future__ import annotations

from ..errors import ConfigError, RelocationError, location
from ..record import Record

#: relocation types that are one absolute 32-bit word (a list entry), by CPU family
WORD_TYPES = {"mips": frozenset({2}), "m68k": frozenset({1}), "arm": frozenset({2})}
#: relocation types of call and jump instructions, by CPU family
CALL_TYPES = {"mips": frozenset({4}),                       # R_MIPS_26 (jal, j)
              "m68k": frozenset({1, 5, 6}),                 # jsr abs.l (R_68K_32), bsr.w/.b
              "arm": frozenset({1, 10, 28, 29, 30, 102, 103})}   # bl, b, Thumb bl/b

THREAD_PREFIX = ".gvm.thread"
TABLE_PREFIX = ".gvm.ttc_table"


class Emission(Record, frozen=True):
    """One emission format."""

    name: str
    title: str
    #: what one thread is
    thread: str
    #: what the module's relocation table holds, for people (docs, inspect)
    relocates: str
    #: thread sections hold native code (SHF_EXECINSTR) rather than data
    native_thread: bool
    #: relocation classes a thread section may carry: None = whatever native code may
    thread_relocs: frozenset | None
    #: whether the format has a token table section (TTC)
    table: bool = False
    #: bytes of the narrowest token (TTC), else 0
    token_bytes: int = 0
    #: the token widths a thread may use (TTC: 1 or 2 bytes, see TOKEN_ENTRIES), else ()
    token_widths: tuple = ()
    #: bytes of one cell of a thread (DTC/ITC address lists), else 0
    cell_bytes: int = 0


FORMATS: dict[str, Emission] = {f.name: f for f in (
    Emission("stc", "subroutine threaded",
             "native code: a call instruction per primitive or word",
             "the call relocations of each CPU (and whatever else native code needs)",
             native_thread=True, thread_relocs=None),
    Emission("dtc", "direct threaded",
             "a list of code addresses (32-bit words), each followed by its inline operand",
             "one word relocation per code address in the lists",
             native_thread=False, thread_relocs=frozenset({"word"}), cell_bytes=4),
    Emission("itc", "indirect threaded",
             "a list of addresses of code fields, each code field holding a code address",
             "one word relocation per list entry and per code field",
             native_thread=False, thread_relocs=frozenset({"word"}), cell_bytes=4),
    Emission("ttc", "token threaded",
             "a list of tokens (bytes or halfwords), each an index into the module's token "
             "table",
             "the token table's entries and data pointers; the thread itself none",
             native_thread=False, thread_relocs=frozenset(), table=True, token_bytes=1,
             token_widths=(1, 2)),
)}
#: TTC token width (bytes) -> table entries a token of that width can name.  A 2-byte
#: token is two bytes, low first, like every multi-byte field of a TTC stream: read a byte
#: at a time, it needs no alignment and no halfword load (the 3DO's ARM60 has none).
TOKEN_ENTRIES = {1: 256, 2: 65536}


def token_width(entries: int, requested: int | None = None) -> int | None:
    """The TTC token width for a token table of ``entries`` entries: ``requested`` if its
    tokens name them all, else None; without a request the narrowest that does (None when
    even 2-byte tokens are too few)."""
    if requested is not None:
        if requested not in TOKEN_ENTRIES:
            raise ConfigError(f"TTC token width {requested!r}: one of "
                              f"{', '.join(map(str, TOKEN_ENTRIES))} (bytes)")
        return requested if entries <= TOKEN_ENTRIES[requested] else None
    return next((w for w, n in TOKEN_ENTRIES.items() if entries <= n), None)


#: what a module without an ``emission`` key is: every native module
DEFAULT = "stc"
NAMES = tuple(FORMATS)
#: the metadata key recording a module's format (left out for stc, the default)
METADATA_KEY = "emission"


class EmissionError(RelocationError):
    """A relocation or section the module's declared emission format does not allow (exit 1)."""


def get(name: str | None) -> Emission:
    """The format called ``name`` (None: the default, stc)."""
    name = DEFAULT if name is None else name
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"emission format {name!r}: one of {', '.join(NAMES)}") from None


def of_metadata(meta: dict) -> str:
    """A module's format from its metadata: the ``emission`` key, absent meaning stc."""
    value = meta.get(METADATA_KEY, DEFAULT)
    return value if isinstance(value, str) else repr(value)


def metadata_entry(name: str) -> dict:
    """What the metadata gets for format ``name``: nothing for stc, so native modules
    stay byte-identical to those linked before formats existed."""
    return {} if get(name).name == DEFAULT else {METADATA_KEY: name}


_GVM_PREFIX = ".gvm."
assert THREAD_PREFIX.startswith(_GVM_PREFIX) and TABLE_PREFIX.startswith(_GVM_PREFIX)


def section_kind(name: str) -> tuple[str, str | None] | None:
    """``("thread" | "table", format named in the section or None)``, or None for an
    ordinary section."""
    for kind, prefix in (("thread", THREAD_PREFIX), ("table", TABLE_PREFIX)):
        if name == prefix:
            return kind, None
        if name.startswith(prefix + "."):
            suffix = name[len(prefix) + 1:].split(".", 1)[0]
            return kind, suffix if suffix in FORMATS else None
    return None


def reloc_classes(family: str, rtype: int) -> frozenset:
    """The classes of relocation type ``rtype`` of CPU family ``family``."""
    classes = set()
    if rtype in WORD_TYPES.get(family, ()):
        classes.add("word")
    if rtype in CALL_TYPES.get(family, ()):
        classes.add("call")
    return frozenset(classes or {"other"})


def check_object(elf, family: str, fmt: Emission, type_name) -> None:
    """Refuse the first thread or table section of ``elf`` that format ``fmt`` does not allow.

    ``type_name(number)`` names a relocation type.  Raises :class:`EmissionError` naming
    the object, section, offset, symbol and format.
    """
    for sec in elf.sections:
        # both prefixes start ".gvm.": every other section is passed over at one test
        kind = (section_kind(sec.name) if sec.name.startswith(_GVM_PREFIX) and sec.alloc
                else None)
        if kind is None:
            continue
        # imported here, past the test every section of an ordinary object fails: an
        # import statement per object cost a 500-object link ~4 M instructions
        from . import elf32 as E
        what, named = kind
        if named is not None and named != fmt.name:
            raise EmissionError(
                f"{location(elf.name, sec.name)}: a {named.upper()} thread section in a module "
                f"declared {fmt.name.upper()}; link it with --emission {named} "
                f"(GAMEVM_EMISSION='{named}') or rebuild it with gamevm thread --format "
                f"{fmt.name}", obj=elf.name, section=sec.name)
        if what == "table" and not fmt.table:
            raise EmissionError(
                f"{location(elf.name, sec.name)}: a TTC token table in a module declared "
                f"{fmt.name.upper()}; only TTC modules have token tables (--emission ttc)",
                obj=elf.name, section=sec.name)
        executable = bool(sec.flags & E.SHF_EXECINSTR)
        if what == "thread" and executable != fmt.native_thread:
            need = ("native code (an executable section: .section "
                    f"{sec.name},\"ax\")" if fmt.native_thread else
                    f"data (a non-executable section: .section {sec.name},\"a\")")
            raise EmissionError(
                f"{location(elf.name, sec.name)}: {fmt.name.upper()} threads are {need}; "
                "this one is " + ("code" if executable else "data") + "; declare the "
                "module's format with --emission (GAMEVM_EMISSION)", obj=elf.name,
                section=sec.name)
        allowed = fmt.thread_relocs if what == "thread" else frozenset({"word"})
        if allowed is None:
            continue
        for rsec in elf.sections:
            if rsec.type not in (E.SHT_REL, E.SHT_RELA) or rsec.info != sec.index:
                continue
            for r in elf.relocations(rsec):
                classes = reloc_classes(family, r.type)
                if r.type == 0 or classes & allowed and "other" not in classes:
                    continue
                sym = elf.symbols[r.sym].name or None
                tname = type_name(r.type)
                where = location(elf.name, sec.name, r.offset, sym)
                if what == "table":
                    why = "a TTC token table holds only word relocations (addresses)"
                elif not allowed:
                    why = ("TTC threads have no relocations: put the address in the token "
                           "table (.gvm.ttc_table) and name it by its token")
                else:
                    why = (f"{fmt.name.upper()} threads hold only word relocations (code "
                           "addresses in a list), not calls or instruction fields")
                raise EmissionError(
                    f"{where}: {tname} in a {fmt.name.upper()} module; {why}",
                    obj=elf.name, section=sec.name, offset=r.offset, symbol=sym, rtype=tname)
