"""Disassembler check that code uses only instructions the console's CPU has.

The emulator (unicorn) runs more than the real CPUs do: its 68000 model
executes 68020 instructions and addressing modes, its ARM models know every
later architecture.  And gcc cannot target the consoles' CPUs exactly: Debian's
m68k libgcc is built for the 68020, and ``-march=armv4`` (the oldest arm-none-eabi
supports) allows the halfword loads and long multiplies the 3DO's ARM60 (ARMv3)
lacks.  So objects and linked residents are disassembled with capstone and
every instruction the CPU does not have is reported, with a hint how to avoid it.

Each CPU is data (:data:`ISAS`): forbidden mnemonic patterns with their
hints, plus a few operand features; what decides "the CPU has it" otherwise is

* m68k: capstone's own 68000 mode, which refuses the 68010/68020/FPU opcodes
  (but not the 68020 addressing modes, hence the operand features); wider
  modes then only name what it refused;
* ARM: an allow-list of the architecture's mnemonics, since capstone decodes
  every ARM architecture at once.

ARM code is told apart from literal pools and Thumb code by the ELF mapping
symbols (``$a``, ``$t``, ``$d``).  m68k code has none, so decoding restarts at
every symbol, and gcc's switch tables (which follow their ``jmp``) are skipped.

capstone and pyelftools are imported inside the functions: the CLI starts
without them.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from os import PathLike

__all__ = ["ISAS", "IsaViolation", "check_code", "check_elf", "check_elf32"]


@dataclass(frozen=True)
class IsaViolation:
    """One instruction the CPU does not have.

    Attributes
    ----------
    section : str
        Section name, e.g. ``".text"``.
    offset : int
        Offset of the instruction in the section (its address in an executable).
    function : str or None
        Nearest preceding function symbol in that section.
    function_offset : int or None
        Offset of the instruction from ``function``.
    instruction : str
        The instruction as capstone prints it (mnemonic and operands).
    hint : str
        Why the CPU cannot run it and how to avoid it.
    """

    section: str
    offset: int
    function: str | None
    function_offset: int | None
    instruction: str
    hint: str

    def describe(self, obj: str) -> str:
        """One-line message, e.g. ``a.o: .text+0x38 <sh+0x0>: ldrsh r0, [r0, #2]: hint``."""
        where = f"{obj}: {self.section}+0x{self.offset:x}"
        if self.function is not None:
            where += f" <{self.function}+0x{self.function_offset:x}>"
        return f"{where}: {self.instruction}: {self.hint}"


@dataclass(frozen=True)
class Isa:
    """What one CPU executes, as data for the checker.

    Attributes
    ----------
    family : str
        ``"m68k"`` or ``"arm"``: which scanner and ELF machine apply.
    forbidden : dict
        Regular expression (matched against the whole mnemonic) -> hint.  m68k
        matches capstone's mnemonic with its size (``"mulu.l"``), ARM the
        base name without condition or ``s`` suffix (``"ldrh"``).
    features : dict
        Operand or encoding feature (see ``_m68k_features``, ``_arm_features``) -> hint.
    other : str
        Hint for anything else the CPU lacks.
    modes : tuple of str
        m68k: capstone modes, first the CPU itself, then wider ones that name
        the instructions it refuses.
    arm, thumb : frozenset of str, or None
        ARM: base names the CPU has in ARM / Thumb state; ``thumb=None``: no
        Thumb state at all (``features["thumb"]`` is the hint).
    """

    family: str
    forbidden: dict[str, str]
    features: dict[str, str]
    other: str
    modes: tuple[str, ...] = ()
    arm: frozenset[str] = frozenset()
    thumb: frozenset[str] | None = None

    def hint_for(self, mnemonic: str) -> str | None:
        """Hint of the first forbidden pattern matching ``mnemonic``, or None."""
        return next((hint for pattern, hint in self.forbidden.items()
                     if re.fullmatch(pattern, mnemonic)), None)


_M68K_020 = ("a 68020 instruction (hand-written asm or a library built for the 68020, "
             "such as Debian's m68k libgcc): rebuild it with -m68000")

_ARMV3 = frozenset("""
    and eor sub subs rsb add adc sbc rsc tst teq cmp cmn orr mov movs bic mvn adr
    lsl lsr asr ror rrx mul mla b bl svc swp swpb mrs msr
    ldr str ldrb strb ldrt strt ldrbt strbt push pop ldm ldmda ldmdb ldmib stm stmda stmdb stmib
    cdp ldc ldcl stc stcl mcr mrc udf trap""".split())
# udf/trap are the permanently undefined encodings (__builtin_trap): they trap on every ARM.
_ARMV4 = _ARMV3 | {"ldrh", "strh", "ldrsh", "ldrsb", "umull", "smull", "umlal", "smlal"}
_THUMB_V4T = frozenset("""
    adc add adr and asr b bic bl bx cmn cmp eor ldm ldr ldrb ldrh ldrsb ldrsh lsl lsr
    mov movs mul mvn orr pop push ror rsb sbc stm str strb strh sub subs svc tst udf""".split())

#: ARMv5/v5TE mnemonics gcc or libraries may emit (the rest falls to ``Isa.other``)
_V5 = r"blx|clz|ldrd|strd|pld|bkpt|q(d?add|d?sub)|sm(la|ul)[bt][bt]|sm(la|ul)w[bt]|smlal[bt][bt]"

#: The CPUs, by the name profiles give in ``[elf] isa``.
ISAS: dict[str, Isa] = {
    "m68000": Isa(
        family="m68k",
        modes=("M68K_000", "M68K_040", "M68K_020"),   # 040 knows the most; only 020 has callm/rtm
        forbidden={
            r"(mul|div)[su]l?\.l": "the 68000 multiplies and divides only 16-bit operands: "
                                   "32-bit multiply/divide is 68020 code; build with -m68000 "
                                   "so gcc calls __mulsi3/__divsi3",
            r"extb\.l": "extb.l is 68020+: use ext.w then ext.l",
            r"bf[a-z]+": "bit-field instructions are 68020+: " + _M68K_020,
            # capstone also names the 68030's MMU instructions (pmove, pflush) fmove
            r"f[a-z]+(\.[bwlsdxp])?": "the 68000 has no FPU or MMU (line-F coprocessor "
                                      "instructions): use -msoft-float and a soft-float "
                                      "library built for the 68000",
            r"movec|moves(\.[bwl])?": "movec/moves are 68010+ (the 68000 has no VBR, SFC or DFC)",
            (r"(cas2?|chk2|cmp2)(\.[bwl])?|pack|unpk|rtd|bkpt|callm|rtm|link\.l"
             r"|trap(cc|cs|eq|f|ge|gt|hi|le|ls|lt|mi|ne|pl|t|vc|vs)(\.[wl])?"):
                "this is " + _M68K_020,
        },
        features={
            "long_branch": "32-bit branch displacements are 68020+: the 68000 branches "
                           "+-32 KiB; reach far code with jsr/jmp",
            "full_extension": "memory-indirect and base-displacement addressing are 68020+: "
                              "the 68000 has only (d8,An,Xn)",
            "scaled_index": "a scaled index (Xn*2/4/8) is "
                            "68020+: the 68000 has only (d8,An,Xn)",
        },
        other="not a 68000 instruction or addressing mode (68010+, FPU or MMU): "
              "code built for a later CPU; compile and assemble with -m68000",
    ),
    "armv3": Isa(
        family="arm",
        arm=_ARMV3,
        thumb=None,
        forbidden={
            r"ldrs?ht?|strht?|ldrsbt?": "the ARM60 has no halfword or signed-byte loads/stores: "
                                        "avoid 16-bit types and signed char here "
                                        "(use int or unsigned char)",
            r"[us]m(ull|lal)": ("the ARM60 has no long multiply: avoid 64-bit multiplication here (gcc also "
                                 "uses it to divide by a constant: divide by a variable instead)"),
            r"bx": "the ARM60 has no BX: return with mov pc, lr (build with -march=armv4, "
                   "gamevm_build links with the v4bx fix)",
            _V5: "an ARMv5+ instruction, and the ARM60 is ARMv3: build with -march=armv4 -marm",
        },
        features={"thumb": "the ARM60 has no Thumb state: compile with -marm"},
        other="not an ARMv3 instruction (the ARM60 is ARMv3): build with -march=armv4 -marm "
              "and check inline asm and libraries",
    ),
    "armv4t": Isa(
        family="arm",
        arm=_ARMV4 | {"bx"},
        thumb=_THUMB_V4T,
        forbidden={
            _V5: "an ARMv5+ instruction, and the ARM7TDMI is ARMv4T: build with -mcpu=arm7tdmi",
        },
        features={"thumb2": "a 32-bit Thumb-2 instruction: the ARM7TDMI has only 16-bit Thumb "
                            "(and the BL pair); build with -mcpu=arm7tdmi"},
        other="not an ARMv4T instruction (the ARM7TDMI is ARMv4T): build with -mcpu=arm7tdmi "
              "and check inline asm and libraries",
    ),
}

#: e_machine each family's files must have, as a number and as pyelftools names it
_MACHINE = {"m68k": (4, "EM_68K"), "arm": (40, "EM_ARM")}

_UNDEFINED = "an undefined instruction (or data in code without a $d mapping symbol)"


def _isa(name: str) -> Isa:
    try:
        return ISAS[name]
    except KeyError:
        raise ValueError(f"unknown isa '{name}'; known: {', '.join(ISAS)}") from None


def _text(insn) -> str:
    return f"{insn.mnemonic} {insn.op_str}".strip()


def _one(md, data: bytes, pos: int, end: int, base: int):
    """The instruction at data[pos], decoded within data[:end], or None."""
    insn = next(md.disasm(data[pos:min(end, pos + 24)], base + pos, 1), None)
    return insn if insn is not None and insn.id != 0 else None   # m68k: id 0 is "dc.w"


class _Functions:
    """Nearest preceding function symbol of an address in one section."""

    def __init__(self, funcs):
        funcs = sorted(funcs)
        self.addrs = [a for a, _ in funcs]
        self.names = [n for _, n in funcs]

    def at(self, addr: int) -> tuple[str | None, int | None]:
        i = bisect.bisect_right(self.addrs, addr) - 1
        return (self.names[i], addr - self.addrs[i]) if i >= 0 else (None, None)


# --- m68k -----------------------------------------------------------------------------

def _m68k_regions(start: int, end: int, symbols) -> list[tuple[int, int]]:
    """Code ranges of one section: decoding restarts at every symbol.

    An instruction never spans a symbol, so restarting there resynchronizes
    after anything that is not code; OBJECT symbols mark data to skip.
    """
    code = {start: True}
    for value, size, kind in symbols:
        if start <= value < end:
            if kind == "OBJECT":
                code[value] = False
                if size and value + size < end:
                    code.setdefault(value + size, True)
            elif kind in ("FUNC", "NOTYPE"):
                code.setdefault(value, True)
    cuts = sorted(code) + [end]
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if code[a]]


def _m68k_features(insn, m68k):
    """Operand features of a decoded instruction (keys of ``Isa.features``)."""
    full = {m68k.M68K_AM_AREGI_INDEX_BASE_DISP, m68k.M68K_AM_PCI_INDEX_BASE_DISP,
            m68k.M68K_AM_MEMI_POST_INDEX, m68k.M68K_AM_MEMI_PRE_INDEX,
            m68k.M68K_AM_PC_MEMI_POST_INDEX, m68k.M68K_AM_PC_MEMI_PRE_INDEX}
    for i, op in enumerate(insn.operands):
        if op.type == m68k.M68K_OP_BR_DISP:
            # dbcc reports a 4-byte displacement size too; only bcc.l/bra.l/bsr.l have one
            if op.br_disp.disp_size == 4 and insn.mnemonic.endswith(".l"):
                yield "long_branch"
        elif op.type == m68k.M68K_OP_MEM:
            if op.address_mode in full and not _brief_zero_disp(insn, i, m68k):
                yield "full_extension"
            elif op.mem.scale > 1:
                yield "scaled_index"


#: extension words of an operand by addressing mode, but the indexed ones (read from
#: their extension word) and immediates (by size)
_M68K_EXT_WORDS = {"M68K_AM_REGI_ADDR_DISP": 1, "M68K_AM_PCI_DISP": 1,
                   "M68K_AM_ABSOLUTE_DATA_SHORT": 1, "M68K_AM_ABSOLUTE_DATA_LONG": 2}


def _m68k_extension_offsets(insn, m68k) -> list[int]:
    """Where each operand's first extension word is, in the instruction's bytes.

    The 68000 keeps them in order after the opcode word: a movem's register mask first,
    then the source's (an immediate's one or two words; none for addq and subq, whose
    immediate is in the opcode), then the destination's.  An indexed operand has one
    word in the brief format, and in the full format that word, then its base and outer
    displacements as the word's own size fields say.
    """
    code = bytes(insn.bytes)
    at = 2 + 2 * any(op.type == m68k.M68K_OP_REG_BITS for op in insn.operands)
    quick = insn.mnemonic.split(".")[0] in ("addq", "subq")
    indexed = {m68k.M68K_AM_AREGI_INDEX_8_BIT_DISP, m68k.M68K_AM_AREGI_INDEX_BASE_DISP,
               m68k.M68K_AM_PCI_INDEX_8_BIT_DISP, m68k.M68K_AM_PCI_INDEX_BASE_DISP,
               m68k.M68K_AM_MEMI_POST_INDEX, m68k.M68K_AM_MEMI_PRE_INDEX,
               m68k.M68K_AM_PC_MEMI_POST_INDEX, m68k.M68K_AM_PC_MEMI_PRE_INDEX}
    offsets = []
    for op in insn.operands:
        offsets.append(at)
        if op.type == m68k.M68K_OP_IMM:
            at += 0 if quick else 2 * (1 + (insn.op_size.size == 4))
        elif op.type == m68k.M68K_OP_MEM and op.address_mode in indexed:
            word = int.from_bytes(code[at:at + 2], "big")
            size = lambda bits: (0, 0, 1, 2)[bits & 3]          # noqa: E731  null/word/long
            at += 2 * (1 + (size(word >> 4) + size(word) if word & 0x100 else 0))
        elif op.type == m68k.M68K_OP_MEM:
            at += 2 * next((n for name, n in _M68K_EXT_WORDS.items()
                            if op.address_mode == getattr(m68k, name)), 0)
    return offsets


def _brief_zero_disp(insn, i: int, m68k) -> bool:
    """Whether "base displacement" operand ``i`` is really the 68000's (0,An,Xn).

    capstone reports a brief extension word with a zero displacement as the
    68020's base-displacement mode, and the full-format (0,An,Xn) decodes to
    the same fields; only the operand's own extension word (bit 8 clear, low
    byte 0), found by position, tells.
    """
    mem = insn.operands[i].mem
    if mem.in_disp or mem.out_disp or not mem.base_reg or not mem.index_reg:
        return False
    is_a = mem.index_reg >= m68k.M68K_REG_A0
    number = mem.index_reg - (m68k.M68K_REG_A0 if is_a else m68k.M68K_REG_D0)
    word = (is_a << 15 | number << 12 | mem.index_size << 11
            | {2: 1, 4: 2, 8: 3}.get(mem.scale, 0) << 9).to_bytes(2, "big")
    at = _m68k_extension_offsets(insn, m68k)[i]       # only now: few operands get here
    return bytes(insn.bytes)[at:at + 2] == word


def _switch_table_end(data: bytes, pos: int, end: int) -> int:
    """End of the gcc switch table at data[pos] (16-bit offsets from its start).

    gcc -m68000 emits ``jmp (2,pc,d0.w)`` followed by ``.word .Lcase-.Ltable``
    entries; the case code begins right after the table, so the table ends at
    the nearest positive target seen while reading it.
    """
    stop, p = end, pos
    while p + 2 <= stop:
        entry = int.from_bytes(data[p:p + 2], "big", signed=True)
        if entry > 0:
            stop = min(stop, pos + entry)
        p += 2
    return p


def _scan_m68k(isa: Isa, data: bytes, base: int, regions):
    """Yield (address, instruction text, hint) for each violation in the regions."""
    import capstone
    from capstone import m68k

    decoders = []
    for mode in isa.modes:
        md = capstone.Cs(capstone.CS_ARCH_M68K,
                         getattr(capstone, "CS_MODE_" + mode) | capstone.CS_MODE_BIG_ENDIAN)
        md.detail = True
        decoders.append(md)
    cpu, wider = decoders[0], decoders[1:]
    tables = set()
    for start, end in regions:
        pos = start
        while pos + 2 <= end:
            if pos in tables:
                pos = _switch_table_end(data, pos, end)
                continue
            insn = _one(cpu, data, pos, end, base)
            refused = insn is None
            if refused:
                # Refused by the CPU's own mode: name it with a wider one.
                insn = next(filter(None, (_one(md, data, pos, end, base) for md in wider)), None)
                if insn is None:
                    yield base + pos, f"dc.w ${data[pos:pos + 2].hex()}", isa.other
                    pos += 2
                    continue
            hint = isa.hint_for(insn.mnemonic) or next(
                (isa.features[f] for f in _m68k_features(insn, m68k) if f in isa.features), None)
            if hint or refused:
                yield base + pos, _text(insn), hint or isa.other
            if refused and "invalid" in insn.op_str:
                # capstone mis-sizes some FPU operands; what follows would be noise.
                break
            pos += insn.size
            op = insn.operands[0] if insn.mnemonic == "jmp" else None
            # The table is data: decoded, its offsets look like (68020) instructions.
            # It may start a new region (-fPIC gives its label a symbol).
            if (op is not None and op.address_mode == m68k.M68K_AM_PCI_INDEX_8_BIT_DISP
                    and insn.address + 2 + op.mem.disp == base + pos):
                tables.add(pos)


# --- ARM ------------------------------------------------------------------------------

_MAPPING = re.compile(r"\$([adt])(\..*)?")


def _arm_regions(start: int, end: int, symbols) -> list[tuple[int, int, str, bool]]:
    """(start, end, state, tolerant) ranges of one section; state is "a", "t" or "d".

    With mapping symbols, they say what each range holds.  Without, the code
    is taken as ARM, Thumb from each Thumb function symbol (bit 0 set) to the
    next function, and ``tolerant`` says undecodable words are data to skip.
    """
    marks = sorted((value, m.group(1)) for name, value, kind in symbols
                   if (m := _MAPPING.fullmatch(name)) and start <= value < end)
    tolerant = not marks
    if tolerant:
        marks = sorted({value & ~1: "t" if value & 1 else "a" for name, value, kind in symbols
                        if kind == "FUNC" and start <= value & ~1 < end}.items())
    if not marks or marks[0][0] > start:
        marks.insert(0, (start, "a"))
    cuts = marks + [(end, "")]
    return [(a, b, state, tolerant) for (a, state), (b, _) in zip(cuts, cuts[1:]) if a < b]


def _arm_features(insn, thumb: bool):
    """Encoding features of a decoded instruction (keys of ``Isa.features``)."""
    # Thumb-1's only 32-bit instruction is the BL prefix/suffix pair.
    if thumb and insn.size == 4 and insn.insn_name() != "bl":
        yield "thumb2"


def _data_words(word: int, previous: int, address: int, thumb: bool) -> range:
    """Addresses of the data words the instruction ``word`` at ``address`` reads.

    Without mapping symbols, this is how literal pools and gcc's ARM switch
    tables (``cmp rN, #max``; ``ldrls pc, [pc, rN, lsl #2]``; ``b default``;
    the table) are told from code.  ``previous`` is the instruction before.
    """
    if thumb:
        if word & 0xF800 == 0x4800 and word <= 0xFFFF:      # ldr rt, [pc, #imm8 * 4]
            return _word_at(((address + 4) & ~3) + (word & 0xFF) * 4)
        return range(0)
    if word & 0x0F3F0000 == 0x051F0000:                     # ldr(b) rt, [pc, #+-imm12]
        offset = word & 0xFFF
    elif word & 0x0E5F0090 == 0x005F0090 and word & 0x60:   # ldrh/ldrsh/ldrsb rt, [pc, #+-imm8]
        offset = (word >> 4) & 0xF0 | word & 0xF
    elif (word & 0x0FFFFFF0 == 0x079FF100                   # ldr pc, [pc, rm, lsl #2]
          and previous & 0x0FF0F000 == 0x03500000           # cmp rm, #imm
          and (previous >> 16) & 0xF == word & 0xF):
        rotate, imm = (previous >> 7) & 0x1E, previous & 0xFF
        cases = ((imm >> rotate) | (imm << (32 - rotate))) & 0xFFFFFFFF if rotate else imm
        return range(address + 8, address + 8 + 4 * (cases + 1), 4)
    else:
        return range(0)
    return _word_at((address + 8 + (offset if word & 0x00800000 else -offset)) & ~3)


def _word_at(address: int) -> range:
    return range(address, address + 4, 4)


def _scan_arm(isa: Isa, data: bytes, base: int, regions, functions: _Functions,
              big_endian: bool):
    """Yield (address, instruction text, hint) for each violation in the regions."""
    import capstone

    order = capstone.CS_MODE_BIG_ENDIAN if big_endian else capstone.CS_MODE_LITTLE_ENDIAN
    arm = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM | order)
    thumb = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | order)
    byteorder = "big" if big_endian else "little"
    thumb_reported = set()
    literals = set()            # without mapping symbols: data words code was seen to read
    for start, end, state, tolerant in regions:
        if state == "d":
            continue
        is_thumb = state == "t"
        md, step = (thumb, 2) if is_thumb else (arm, 4)
        allowed = isa.thumb if is_thumb else isa.arm
        pos, previous = start, 0
        while pos + step <= end:
            if tolerant and base + pos in literals:
                pos += 4
                continue
            insn = _one(md, data, pos, end, base)
            text = (_text(insn) if insn else
                    f".{'short' if is_thumb else 'word'} 0x{data[pos:pos + step].hex()}")
            if allowed is None:
                # No Thumb state: once per function is enough.
                function = functions.at(base + pos)[0]
                if function not in thumb_reported:
                    thumb_reported.add(function)
                    yield base + pos, text, isa.features["thumb"]
                pos += insn.size if insn else step
                continue
            if insn is None:
                if not tolerant:
                    yield base + pos, text, _UNDEFINED
                pos += step
                continue
            if tolerant:
                word = int.from_bytes(insn.bytes, byteorder)
                literals.update(_data_words(word, previous, insn.address, is_thumb))
                previous = word
            name = insn.insn_name()
            hint = isa.hint_for(name) or next(
                (isa.features[f] for f in _arm_features(insn, is_thumb) if f in isa.features), None)
            if hint is None and name not in allowed:
                hint = isa.other
            if hint:
                yield base + pos, _text(insn), hint
            pos += insn.size


# --- entry points ---------------------------------------------------------------------

def check_code(sections, symbols, *, isa: str, big_endian: bool) -> list[IsaViolation]:
    """Instructions in ``sections`` that the CPU ``isa`` does not have.

    Parameters
    ----------
    sections : iterable of (str, int, bytes)
        Executable sections as ``(name, address, data)``; address 0 in an object.
    symbols : iterable of (str, int, int, str, str)
        ``(name, value, size, type, section_name)`` as in an ELF symbol table;
        type is ``"FUNC"``, ``"OBJECT"``, ``"NOTYPE"``, ...  Bit 0 of an ARM
        function's value marks Thumb code.
    isa : str
        A key of :data:`ISAS`: ``"m68000"``, ``"armv3"`` or ``"armv4t"``.
    big_endian : bool
        Byte order of the code (m68k code is always big-endian).

    Returns
    -------
    list of IsaViolation
        In section order, then by offset.  Empty when the CPU runs everything.
    """
    spec = _isa(isa)
    arm = spec.family == "arm"
    symbols = list(symbols)
    out = []
    for name, address, data in sections:
        data = bytes(data)
        end = address + len(data)
        mine = [(sym, value, size, kind) for sym, value, size, kind, sec in symbols
                if sec == name and sym]
        functions = _Functions((value & ~1 if arm else value, sym)
                               for sym, value, size, kind in mine if kind == "FUNC")
        if arm:
            regions = [(a - address, b - address, state, tolerant) for a, b, state, tolerant
                       in _arm_regions(address, end, [(s, v, k) for s, v, _, k in mine])]
            found = _scan_arm(spec, data, address, regions, functions, big_endian)
        else:
            regions = [(a - address, b - address)
                       for a, b in _m68k_regions(address, end, [(v, z, k) for _, v, z, k in mine])]
            found = _scan_m68k(spec, data, address, regions)
        for addr, text, hint in found:
            function, function_offset = functions.at(addr)
            out.append(IsaViolation(name, addr, function, function_offset, text, hint))
    return out


def check_elf(path_or_bytes: str | PathLike | bytes, *, isa: str) -> list[IsaViolation]:
    """:func:`check_code` on the executable sections of an ELF object or executable.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike or bytes
        The file, or its contents.
    isa : str
        A key of :data:`ISAS`.

    Returns
    -------
    list of IsaViolation
        Offsets are section offsets in a relocatable object, addresses in an executable.

    Raises
    ------
    ValueError
        If the file is for another CPU family than ``isa``.
    """
    import io

    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as f:
            data = f.read()
    elf = ELFFile(io.BytesIO(data))
    spec = _isa(isa)
    if elf["e_machine"] != _MACHINE[spec.family][1]:
        raise ValueError(f"{elf['e_machine']} code cannot be checked as {isa}")
    names = [s.name for s in elf.iter_sections()]
    sections = [(s.name, s["sh_addr"], s.data()) for s in elf.iter_sections()
                if s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR and s["sh_type"] != "SHT_NOBITS"]
    symtab = elf.get_section_by_name(".symtab")
    symbols = []
    if isinstance(symtab, SymbolTableSection):
        for sym in symtab.iter_symbols():
            shndx = sym["st_shndx"]
            if isinstance(shndx, int) and 0 < shndx < len(names):
                symbols.append((sym.name, sym["st_value"], sym["st_size"],
                                sym["st_info"]["type"].removeprefix("STT_"), names[shndx]))
    return check_code(sections, symbols, isa=isa, big_endian=not elf.little_endian)


_STT = {0: "NOTYPE", 1: "OBJECT", 2: "FUNC", 3: "SECTION", 4: "FILE"}


def check_elf32(elf, *, isa: str) -> list[IsaViolation]:
    """:func:`check_code` on a file parsed by :func:`gamevm_build.link.elf32.parse`.

    Without symbols (``want_symbols=False``) ARM code has no mapping symbols
    and gets the weaker fallback (literal pools decoded as code).
    """
    spec = _isa(isa)
    if elf.e_machine != _MACHINE[spec.family][0]:
        raise ValueError(f"{elf.name}: e_machine {elf.e_machine} cannot be checked as {isa}")
    SHF_EXECINSTR, SHT_NOBITS = 0x4, 8
    sections = [(s.name, s.addr, s.data) for s in elf.sections
                if s.flags & SHF_EXECINSTR and s.type != SHT_NOBITS]
    n = len(elf.sections)
    symbols = [(s.name, s.value, s.size, _STT.get(s.type, str(s.type)), elf.sections[s.shndx].name)
               for s in elf.symbols if 0 < s.shndx < n]
    return check_code(sections, symbols, isa=isa, big_endian=elf.endian == "big")
