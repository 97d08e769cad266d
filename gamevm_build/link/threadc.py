"""``gamevm thread``'s compiler: a minimal stack language to GNU ``as`` source in one of the
four emission formats (docs/formats.md), standing in for GameVM's LLIR back end.

The source form::

    \\ a comment to the end of the line;  ( a comment )
    extern NAME N        a C function (resident or module) of N int arguments (0-3)
                         returning an int; NAME in a definition calls it
    buffer NAME BYTES    a zeroed array in .bss, exported as NAME; NAME pushes its address
    : NAME ... ;         a word: integer literals, + - * and or xor < = dup drop swap
                         over rot @ !, if else then, begin until, begin while repeat,
                         calls of words and externs
    export NAME N        the descriptor NAME (struct gvm_thread_word): gvm_thread_call
                         runs word NAME with N arguments and returns the top of the stack

DTC, ITC and TTC output is the same for every console (``.4byte``/``.byte`` lists); only
STC, native code, differs per CPU family.  TTC tokens are 1 or 2 bytes
(:data:`emission.TOKEN_ENTRIES`): asked for, or the narrowest that names the token table
(:func:`ttc_token_width`); the width goes into each exported word's descriptor.  The formats' definitions are
:mod:`gamevm_build.link.emission`; the interpreter is ``runtime/gvm_thread.c``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import CompileError, ConfigError
from . import emission

#: source word -> primitive (gvm_p_NAME in the resident)
BUILTINS = {"+": "add", "-": "sub", "*": "mul", "and": "and", "or": "or", "xor": "xor",
            "<": "lt", "=": "eq", "dup": "dup", "drop": "drop", "swap": "swap",
            "over": "over", "rot": "rot", "@": "fetch", "!": "store"}
CONTROL = ("if", "else", "then", "begin", "until", "while", "repeat")
FORMAT_NUMBER = {"stc": 0, "dtc": 1, "itc": 2, "ttc": 3}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_NUMBER = re.compile(r"-?(0x[0-9a-fA-F]+|[0-9]+)$")


class ThreadSourceError(CompileError):
    """The thread source cannot be compiled (exit 1): names the file, line and word."""


@dataclass
class Word:
    name: str
    line: int
    ops: list = field(default_factory=list)     # (kind, arg[, arg2])


@dataclass
class Program:
    words: dict = field(default_factory=dict)        # name -> Word, in definition order
    externs: dict = field(default_factory=dict)      # name -> arity
    buffers: dict = field(default_factory=dict)      # name -> bytes
    exports: dict = field(default_factory=dict)      # name -> arity


def _tokens(text: str, path: str):
    """``(word, line)`` pairs, comments removed."""
    for n, line in enumerate(text.splitlines(), 1):
        depth = 0
        for tok in line.split():
            if tok == "\\" and not depth:
                break                             # a comment to the end of the line
            if tok == "(":
                depth += 1
            elif tok == ")" and depth:
                depth -= 1
            elif not depth:
                yield tok, n
        if depth:
            raise ThreadSourceError(f"{path}:{n}: a '(' comment is not closed on its line",
                                    source=path)


def parse(text: str, path: str = "<thread>") -> Program:
    prog = Program()
    toks = list(_tokens(text, path))
    i = 0

    def fail(line, msg):
        raise ThreadSourceError(f"{path}:{line}: {msg}", source=path)

    def take(line, what):
        nonlocal i
        if i >= len(toks):
            fail(line, f"expected {what} at the end of the file")
        tok = toks[i]
        i += 1
        return tok

    def name_of(tok, line, what):
        if not _NAME.match(tok) or tok in BUILTINS or tok in CONTROL:
            fail(line, f"'{tok}' cannot name {what}: use letters, digits and '_'")
        if tok in prog.words or tok in prog.externs or tok in prog.buffers:
            fail(line, f"'{tok}' is defined twice")
        return tok

    def count(tok, line, what, top):
        if not tok.isdigit() or not 0 <= int(tok) <= top:
            fail(line, f"{what} must be a number from 0 to {top}, not '{tok}'")
        return int(tok)

    pending = []                                  # (word, line) to resolve after parsing
    while i < len(toks):
        tok, line = toks[i]
        i += 1
        if tok == "extern":
            n, _ = take(line, "a name")
            a, _ = take(line, "an argument count")
            prog.externs[name_of(n, line, "an extern")] = count(a, line, "an extern's arity", 3)
        elif tok == "buffer":
            n, _ = take(line, "a name")
            b, _ = take(line, "a size in bytes")
            if not b.isdigit() or int(b) < 1:
                fail(line, f"a buffer's size must be a positive number, not '{b}'")
            prog.buffers[name_of(n, line, "a buffer")] = (int(b) + 3) & ~3
        elif tok == "export":
            n, _ = take(line, "a word name")
            a, _ = take(line, "an argument count")
            prog.exports[n] = count(a, line, "an export's argument count", 3)
            pending.append((n, line, "export"))
        elif tok == ":":
            n, _ = take(line, "a word name")
            word = Word(name_of(n, line, "a word"), line)
            prog.words[word.name] = word
            stack, labels = [], 0
            while True:
                t, ln = take(line, f"';' ending word '{word.name}'")
                if t == ";":
                    break
                if t == ":":
                    fail(ln, f"':' inside word '{word.name}': end it with ';' first")
                if t in BUILTINS:
                    word.ops.append(("prim", BUILTINS[t]))
                elif _NUMBER.match(t):
                    value = int(t, 0)
                    if not -2**31 <= value < 2**32:
                        fail(ln, f"literal {t} does not fit 32 bits")
                    word.ops.append(("lit", value - 2**32 if value >= 2**31 else value))
                elif t in ("if", "begin"):
                    labels += 1
                    stack.append((t, labels, ln))
                    if t == "if":
                        word.ops.append(("zbranch", labels))
                    else:
                        word.ops.append(("label", labels))
                elif t in ("else", "then", "until", "while", "repeat"):
                    want = {"else": "if", "then": ("if", "else"), "until": "begin",
                            "while": "begin", "repeat": "while"}[t]
                    if not stack or stack[-1][0] not in (want if isinstance(want, tuple)
                                                         else (want,)):
                        fail(ln, f"'{t}' without a matching "
                                 f"'{want if isinstance(want, str) else 'if'}'")
                    kind, label, _ = stack.pop()
                    if t == "else":
                        labels += 1
                        word.ops += [("branch", labels), ("label", label)]
                        stack.append(("else", labels, ln))
                    elif t == "then":
                        word.ops.append(("label", label))
                    elif t == "until":
                        word.ops.append(("zbranch", label))
                    elif t == "while":
                        labels += 1
                        word.ops.append(("zbranch", labels))
                        stack.append(("while", (label, labels), ln))
                    else:                       # repeat
                        begin, end = label
                        word.ops += [("branch", begin), ("label", end)]
                elif _NAME.match(t):
                    word.ops.append(("ref", t, ln))
                    pending.append((t, ln, "ref"))
                else:
                    fail(ln, f"unknown word '{t}'")
            if stack:
                kind, _, ln = stack[-1]
                fail(ln, f"'{kind}' in word '{word.name}' is not closed")
        else:
            fail(line, f"'{tok}' outside a definition: expected ':', extern, buffer or export")
    for name, line, what in pending:
        if what == "export" and name not in prog.words:
            fail(line, f"export of '{name}', which no ':' defines")
        if what == "ref" and not (name in prog.words or name in prog.externs
                                  or name in prog.buffers):
            fail(line, f"unknown word '{name}': define it with ':', or declare it "
                       "with extern (a C function) or buffer")
    # references become calls, C calls or addresses
    for word in prog.words.values():
        ops = []
        for op in word.ops:
            if op[0] == "ref":
                name = op[1]
                if name in prog.words:
                    op = ("call", name)
                elif name in prog.externs:
                    op = ("ccall", name, prog.externs[name])
                else:
                    op = ("addr", name)
            ops.append(op)
        word.ops = ops
    if not prog.exports:
        raise ThreadSourceError(f"{path}: exports nothing: add 'export NAME N' for a word "
                                "callers run", source=path)
    return prog


def _w(name: str) -> str:
    return f"gvm_w_{name}"


# --------------------------------------------------------------------------- data formats

def _cells(word: Word, fmt: str) -> list[str]:
    """A DTC or ITC thread as ``.4byte`` operands; branch offsets are bytes from the
    operand cell to the target (known here: every entry is one cell)."""
    prim = (lambda p: f"gvm_cf_{p}") if fmt == "itc" else (lambda p: f"gvm_p_{p}")
    cells: list = ["gvm_p_docol"] if fmt == "itc" else []     # ITC: the code field
    labels, fixups = {}, []
    for op in word.ops:
        kind = op[0]
        if kind == "prim":
            cells.append(prim(op[1]))
        elif kind == "lit":
            cells += [prim("lit"), str(op[1])]
        elif kind == "addr":
            cells += [prim("lit"), op[1]]
        elif kind == "call":
            cells += [_w(op[1])] if fmt == "itc" else [prim("call"), _w(op[1])]
        elif kind == "ccall":
            cells += [prim(f"ccall{op[2]}"), op[1]]
        elif kind in ("branch", "zbranch"):
            cells.append(prim(kind))
            fixups.append((len(cells), op[1]))
            cells.append(None)
        elif kind == "label":
            labels[op[1]] = len(cells)
    cells.append(prim("exit"))
    for at, label in fixups:
        cells[at] = str(4 * (labels[label] - at))
    return cells


def _ttc_items(word: Word) -> list:
    """A TTC thread before its token width is known: ``("tok", symbol)`` (a token naming a
    table entry), ``("bytes", [...])`` (an operand), ``("off", label)`` (a 2-byte branch
    offset) and ``("label", n)``."""
    out: list = []
    for op in word.ops:
        kind = op[0]
        if kind == "prim":
            out.append(("tok", f"gvm_p_{op[1]}"))
        elif kind == "lit":
            out += [("tok", "gvm_p_lit"),
                    ("bytes", list((op[1] & 0xFFFFFFFF).to_bytes(4, "little")))]
        elif kind == "addr":
            out += [("tok", "gvm_p_tlit"), ("tok", op[1])]
        elif kind == "call":
            out += [("tok", "gvm_p_call"), ("tok", _w(op[1]))]
        elif kind == "ccall":
            out += [("tok", f"gvm_p_ccall{op[2]}"), ("tok", op[1])]
        elif kind in ("branch", "zbranch"):
            out += [("tok", f"gvm_p_{kind}"), ("off", op[1])]
        elif kind == "label":
            out.append(("label", op[1]))
    out.append(("tok", "gvm_p_exit"))
    return out


def ttc_table(prog: Program) -> dict:
    """The token table of ``prog``'s TTC threads: symbol -> token, in first-use order."""
    table: dict = {}
    for word in prog.words.values():
        for item in _ttc_items(word):
            if item[0] == "tok" and item[1] not in table:
                table[item[1]] = len(table)
    return table


def ttc_token_width(prog: Program, requested: int | None = None,
                    source: str = "<thread>") -> tuple[int, int]:
    """``(table entries, token width in bytes)`` of ``prog`` as TTC: ``requested`` (1 or
    2), or the narrowest width whose tokens name every entry."""
    entries = len(ttc_table(prog))
    width = emission.token_width(entries, requested)
    if width is None:
        widest = max(emission.TOKEN_ENTRIES)
        if requested is not None and requested < widest:
            raise ThreadSourceError(
                f"{source}: {entries} table entries; a {requested}-byte token names at most "
                f"{emission.TOKEN_ENTRIES[requested]}: use --token-width {widest} "
                f"(GAMEVM_TOKEN_WIDTH={widest}) or leave the width to gamevm thread",
                source=source)
        raise ThreadSourceError(
            f"{source}: {entries} table entries; a {widest}-byte token names at most "
            f"{emission.TOKEN_ENTRIES[widest]}: split the program into modules",
            source=source)
    return entries, width


def _tokens_ttc(word: Word, table: dict, width: int, source: str) -> list[int]:
    """A TTC thread as bytes: tokens of ``width`` bytes and operands, every multi-byte
    field little-endian (read a byte at a time: no alignment, no halfword loads, which
    the 3DO's ARM60 lacks)."""
    out: list = []
    labels, fixups = {}, []
    for item in _ttc_items(word):
        kind = item[0]
        if kind == "tok":
            out += list(table[item[1]].to_bytes(width, "little"))
        elif kind == "bytes":
            out += item[1]
        elif kind == "off":
            fixups.append((len(out), item[1]))
            out += [None, None]
        elif kind == "label":
            labels[item[1]] = len(out)
    for at, label in fixups:
        delta = labels[label] - at
        if not -0x8000 <= delta < 0x8000:
            raise ThreadSourceError(f"{source}:{word.line}: word '{word.name}': a branch spans "
                                    f"{delta} bytes, more than a TTC offset's 16 bits: split "
                                    "the word", source=source)
        out[at:at + 2] = (delta & 0xFFFF).to_bytes(2, "little")
    return out


# --------------------------------------------------------------------------- STC, per CPU

def _stc_mips(word: Word) -> list[str]:
    out = [f"{_w(word.name)}:", "addiu $sp, $sp, -32", "sw $ra, 28($sp)", "sw $s1, 24($sp)",
           "sw $s2, 20($sp)"]
    for op in word.ops:
        kind = op[0]
        if kind == "prim":
            out.append(f"jal gvm_p_{op[1]}")
        elif kind == "lit":
            out += [f"li $a0, {op[1]}", "jal gvm_s_push"]
        elif kind == "addr":
            out += [f"la $a0, {op[1]}", "jal gvm_s_push"]
        elif kind == "call":
            out.append(f"jal {_w(op[1])}")
        elif kind == "ccall":
            n = op[2]
            regs = ["$a0", "$s1", "$s2"][:n]
            for reg in reversed(regs):            # the top of the stack is the last argument
                out += ["jal gvm_s_pop", f"move {reg}, $v0"]
            out += [f"move $a{k}, {reg}" for k, reg in enumerate(regs) if k]
            out += [f"jal {op[1]}", "move $a0, $v0", "jal gvm_s_push"]
        elif kind == "branch":
            out.append(f"b .L{word.name}_{op[1]}")
        elif kind == "zbranch":
            out += ["jal gvm_s_pop", f"beqz $v0, .L{word.name}_{op[1]}"]
        elif kind == "label":
            out.append(f".L{word.name}_{op[1]}:")
    out += ["lw $s2, 20($sp)", "lw $s1, 24($sp)", "lw $ra, 28($sp)", "addiu $sp, $sp, 32",
            "jr $ra"]
    return out


def _stc_m68k(word: Word) -> list[str]:
    out = [f"{_w(word.name)}:"]
    push = ["jsr gvm_s_push", "addq.l #4, %sp"]
    for op in word.ops:
        kind = op[0]
        if kind == "prim":
            out.append(f"jsr gvm_p_{op[1]}")
        elif kind == "lit":
            out += [f"move.l #{op[1]}, -(%sp)", *push]
        elif kind == "addr":
            out += [f"pea {op[1]}", *push]
        elif kind == "call":
            out.append(f"bsr.w {_w(op[1])}")
        elif kind == "ccall":
            n = op[2]
            # popped top first and pushed: the first argument ends lowest, as C wants
            out += ["jsr gvm_s_pop", "move.l %d0, -(%sp)"] * n
            out.append(f"jsr {op[1]}")
            if n:
                out.append(f"lea {4 * n}(%sp), %sp")
            out += ["move.l %d0, -(%sp)", *push]
        elif kind == "branch":
            out.append(f"bra.w .L{word.name}_{op[1]}")
        elif kind == "zbranch":
            out += ["jsr gvm_s_pop", "tst.l %d0", f"beq.w .L{word.name}_{op[1]}"]
        elif kind == "label":
            out.append(f".L{word.name}_{op[1]}:")
    out.append("rts")
    return out


def _stc_arm(word: Word) -> list[str]:
    out = [f"{_w(word.name)}:", "stmfd sp!, {r4, r5, r6, lr}"]
    for op in word.ops:
        kind = op[0]
        if kind == "prim":
            out.append(f"bl gvm_p_{op[1]}")
        elif kind == "lit":
            out += [f"ldr r0, ={op[1]}", "bl gvm_s_push"]
        elif kind == "addr":
            out += [f"ldr r0, ={op[1]}", "bl gvm_s_push"]
        elif kind == "call":
            out.append(f"bl {_w(op[1])}")
        elif kind == "ccall":
            n = op[2]
            regs = ["r4", "r5", "r6"][:n]
            for reg in reversed(regs):
                out += ["bl gvm_s_pop", f"mov {reg}, r0"]
            out += [f"mov r{k}, {reg}" for k, reg in enumerate(regs)]
            out += [f"bl {op[1]}", "bl gvm_s_push"]
        elif kind == "branch":
            out.append(f"b .L{word.name}_{op[1]}")
        elif kind == "zbranch":
            out += ["bl gvm_s_pop", "cmp r0, #0", f"beq .L{word.name}_{op[1]}"]
        elif kind == "label":
            out.append(f".L{word.name}_{op[1]}:")
    # ARMv4T: return with bx so a Thumb caller gets back to Thumb
    out += ["ldmfd sp!, {r4, r5, r6, lr}", "bx lr", ".ltorg"]
    return out


STC = {"mips": _stc_mips, "m68k": _stc_m68k, "arm": _stc_arm}


# --------------------------------------------------------------------------- assembly

def _ind(lines):
    """Instructions indented under their labels, for whoever reads the .s."""
    return [line if line.endswith(":") else "    " + line for line in lines]


def compile_program(prog: Program, fmt: str, family: str, source: str = "<thread>",
                    token_width: int | None = None) -> str:
    """GNU ``as`` source for ``prog`` in emission format ``fmt`` for CPU family ``family``;
    ``token_width`` (TTC only): bytes per token, 1 or 2, None for the narrowest that
    names the token table."""
    spec = emission.get(fmt)
    if token_width is not None and not spec.token_widths:
        raise ConfigError(f"a token width is for TTC threads only, not "
                          f"{spec.name.upper()}: drop --token-width (GAMEVM_TOKEN_WIDTH)")
    objtype = "%object"          # every family's gas takes it ('@' starts an ARM comment)
    width = ttc_token_width(prog, token_width, source)[1] if spec.table else 0
    tokens = f", {width}-byte tokens" if width else ""
    out = [f"/* generated by gamevm thread from {source}: {spec.name.upper()} "
           f"({spec.title}{tokens}); docs/formats.md */"]
    table = ttc_table(prog) if spec.table else {}
    if spec.native_thread:
        out.append(f'.section {emission.THREAD_PREFIX}.{spec.name},"ax"')
        if family == "arm":
            out.append(".arm")
        out.append(".balign 4")
        for word in prog.words.values():
            out += _ind(STC[family](word))
    else:
        out.append(f'.section {emission.THREAD_PREFIX}.{spec.name},"a"')
        for word in prog.words.values():
            if spec.cell_bytes:
                out += [".balign 4", f"{_w(word.name)}:"]
                out += [f"    .4byte {c}" for c in _cells(word, spec.name)]
            else:
                data = _tokens_ttc(word, table, width, source)
                out.append(f"{_w(word.name)}:")
                for k in range(0, len(data), 16):
                    out.append("    .byte " + ", ".join(str(b) for b in data[k:k + 16]))
        if spec.table:
            out += [f'.section {emission.TABLE_PREFIX},"a"', ".balign 4", "gvm_ttc_table:"]
            out += [f"    .4byte {sym}  /* token {k} */" for sym, k in table.items()]
    if prog.buffers:
        out += [".bss", ".balign 4"]
        for name, size in prog.buffers.items():
            out += [f".globl {name}", f".type {name}, {objtype}", f".size {name}, {size}",
                    f"{name}:", f"    .space {size}"]
    out += ['.section .rodata.gvm_words,"a"', ".balign 4"]
    for name, nargs in prog.exports.items():
        tbl = "gvm_ttc_table" if spec.table else "0"
        # struct gvm_thread_word: format, code, table, then nargs and the token width as
        # bytes (the interpreter learns a TTC thread's width here)
        out += [f".globl {name}", f".type {name}, {objtype}", f".size {name}, 16",
                f"{name}:", f"    .4byte {FORMAT_NUMBER[spec.name]}, {_w(name)}, {tbl}",
                f"    .byte {nargs}, {width}, 0, 0"]
    return "\n".join(out) + "\n"


def compile_source(text: str, fmt: str, family: str, path: str = "<thread>",
                   token_width: int | None = None) -> str:
    return compile_program(parse(text, path), fmt, family, path, token_width)


def read_source(path) -> str:
    """The text of the thread source ``path``, read as every gamevm input is
    (:func:`gamevm_build.fileutil.read_input`: a regular file of bounded size, so a FIFO
    or a device cannot hang or flood the read); ConfigError (exit 2) when it cannot be
    read or is not UTF-8."""
    from ..fileutil import read_input
    try:
        return read_input(path, "thread source").decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the thread source: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the thread source is not UTF-8 text (byte "
                          f"{exc.start}: 0x{exc.object[exc.start]:02x})") from None
